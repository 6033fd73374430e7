"""Spec fields shared by the "pretrain" and "scaling_sweep" kinds: architecture knobs and training
settings of a tiny from-scratch model. A dataclass mixed into both specs, so the help texts and
limits are written once.
"""
from dataclasses import dataclass

from lab.errors import LabError
from lab.pretrain.architecture import MULTIPLE, NORM_PLACEMENTS, NORMS, POSITIONS, architecture, supported
from lab.pretrain.tokenizer import TOKENIZERS
from lab.specs import setting


@dataclass
class TinyModelFields:
    norm: str = setting("rmsnorm", choices=list(NORMS),
                        en="Normalisation: RMSNorm rescales each vector by its size (Llama); LayerNorm also subtracts the mean and has a bias (GPT-2).",
                        zh="归一化方式:RMSNorm 只按向量的大小缩放(Llama);LayerNorm 还会减去均值并带偏置(GPT-2)。")
    positions: str = setting("rotary", choices=list(POSITIONS),
                             en="How the model knows word order: rotary embeddings rotate queries and keys by position (Llama); learned embeddings add a trained vector per position (GPT-2).",
                             zh="模型如何知道词序:旋转位置编码按位置旋转 query 和 key(Llama);可学习位置编码给每个位置加一个训练出的向量(GPT-2)。")
    norm_placement: str = setting("pre", choices=list(NORM_PLACEMENTS),
                                  en="Pre-LN normalises the input of each block (stable, used today); post-LN normalises after the residual sum (the original Transformer; needs warm-up).",
                                  zh="Pre-LN 在每个模块的输入处归一化(稳定,当今常用);Post-LN 在残差相加之后归一化(原始 Transformer,需要预热)。")
    mlp_ratio: float = setting(4.0, minimum=1.0, maximum=8.0,
                               en="MLP width as a multiple of the model width (4 is usual; a SwiGLU MLP gets 2/3 of it, keeping the parameter count).",
                               zh="MLP 宽度是模型宽度的几倍(通常为 4;SwiGLU 的 MLP 取其 2/3,参数量不变)。")
    context: int = setting(128, minimum=16, maximum=4096,
                           en="Context length: tokens the model sees at once (bytes, for the byte tokenizer).",
                           zh="上下文长度:模型一次看到的 token 数(使用字节分词器时即字节数)。")
    tokenizer: str = setting("byte", choices=list(TOKENIZERS),
                             en="byte: 256 byte values, nothing to learn. bpe: a byte-level BPE the lab trains on the training text (vocab_size tokens). A big vocabulary would make the embedding most of a tiny model.",
                             zh="byte:256 个字节值,无需训练。bpe:实验室在训练文本上训练的字节级 BPE(vocab_size 个 token)。词表太大会让嵌入层占据小模型的大部分参数。")
    vocab_size: int = setting(2048, minimum=300, maximum=32768,
                              en="Vocabulary size of the bpe tokenizer (ignored for byte).",
                              zh="bpe 分词器的词表大小(byte 时忽略)。")
    batch_size: int = setting(16, minimum=1, maximum=4096, en="Sequences per training step, in all (with several processes each takes an equal share).",
                         zh="每个训练步的序列总数(多进程时各进程平分)。")
    learning_rate: float = setting(3e-3, minimum=1e-6, maximum=1.0,
                                   en="Peak learning rate of AdamW; tiny models take larger rates than big ones (1e-3 to 1e-2).",
                                   zh="AdamW 的峰值学习率;小模型能承受比大模型更大的学习率(1e-3 到 1e-2)。")
    warmup_fraction: float = setting(0.05, minimum=0.0, maximum=0.5,
                                     en="Share of the steps spent ramping the learning rate up from zero.",
                                     zh="学习率从零线性升高所占的步数比例。")
    min_lr_fraction: float = setting(0.1, minimum=0.0, maximum=1.0,
                                     en="The cosine schedule ends at this fraction of the peak rate, exactly at the run's last step.",
                                     zh="余弦调度在训练最后一步恰好降到峰值学习率的这个比例。")
    weight_decay: float = setting(0.1, minimum=0.0, maximum=1.0,
                                  en="AdamW weight decay on weight matrices (not on norms or biases).",
                                  zh="AdamW 对权重矩阵的权重衰减(不作用于归一化层和偏置)。")
    eval_tokens: int = setting(32768, minimum=256, maximum=10_000_000,
                               en="Held-out tokens the final loss is measured on (the same ones for every model).",
                               zh="用来测量最终损失的留出 token 数(所有模型都用同一批)。")
    device: str = setting("auto", choices=["auto", "cpu", "cuda"],
                          en="Where to train: auto takes a GPU when there is one.", zh="训练设备:auto 表示有 GPU 就用 GPU。")
    precision: str = setting("fp32", choices=["fp32", "bf16"],
                             en="fp32, or bf16 autocast (faster on GPUs and recent CPUs, same loss curves in practice).",
                             zh="fp32,或 bf16 自动混合精度(在 GPU 和较新的 CPU 上更快,实践中损失曲线相同)。")

    def check_architecture(self):
        if architecture(self.norm, self.positions, self.norm_placement) is None:
            raise LabError("pretrain_unsupported_architecture", norm=self.norm, positions=self.positions,
                           placement=self.norm_placement, supported=supported())

    def check_shape(self, width: int, depth: int, heads: int, where: str = "") -> None:
        if width % MULTIPLE:
            raise LabError("pretrain_width_multiple", where=where, width=width, multiple=MULTIPLE)
        if depth < 1:
            raise LabError("pretrain_bad_depth", where=where, depth=depth)
        if heads < 1 or width % heads:
            raise LabError("pretrain_heads_divide", where=where, width=width, heads=heads)
        if self.positions == "rotary" and (width // heads) % 2:
            raise LabError("pretrain_rotary_head_dim", where=where, head_dim=width // heads)

    def train_settings(self, tokens: int, seed: int):
        from lab.pretrain.train import TrainSettings

        return TrainSettings(tokens=tokens, batch_size=self.batch_size, context=self.context,
                             learning_rate=self.learning_rate, warmup_fraction=self.warmup_fraction,
                             min_lr_fraction=self.min_lr_fraction, weight_decay=self.weight_decay,
                             eval_tokens=self.eval_tokens, seed=seed, device=self.device, precision=self.precision)
