"""OFT: orthogonal fine-tuning, W' = R·W with R a trained block-diagonal rotation (Qiu et al., 2023,
https://arxiv.org/abs/2306.07280).

A rotation keeps the angles between the weight's neurons (its "hyperspherical energy"), which the authors
argue preserves what the model knew. `oft_r` blocks per layer; peft 0.21 wants exactly one of r and
oft_block_size, so the lab passes oft_block_size=0. Refused on GPT-2's Conv1D layers.
"""
from dataclasses import dataclass

from lab.finetune.methods import METHODS, Method, peft_wrap, target_modules
from lab.specs import setting


@dataclass
class OftSettings:
    """How many rotation blocks each adapted matrix gets."""

    oft_r: int = setting(8, en="OFT: number of rotation blocks per layer (the layer's input width must divide by it); more blocks = fewer parameters.",
                         zh="OFT:每层的旋转块个数(层的输入宽度须能被它整除);块越多参数越少。", minimum=1, maximum=4096)


def apply(model, spec, info):
    from peft import OFTConfig

    return peft_wrap(model, OFTConfig(task_type="CAUSAL_LM", r=spec.oft_r, oft_block_size=0,
                                      module_dropout=spec.lora_dropout, target_modules=target_modules(spec)))


METHODS.register("oft", Method(apply, group=OftSettings, reads=("lora_dropout", "target_modules"), learning_rate=1e-3,
                               refused_architectures=("gpt2",)))
