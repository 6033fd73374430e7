"""Spec fields the "reward" and "dpo" kinds share (data, budget, LoRA), declared once with their help."""
import dataclasses
from dataclasses import dataclass

from lab.modeling.models import DEFAULT_MODEL
from lab.specs import setting


def model_field():
    return setting(DEFAULT_MODEL, en="The model to align: an offline model name, a local folder or a hub id.",
                   zh="要对齐的模型:离线模型名称、本地文件夹或 Hub 模型 ID。")


def dataset_field():
    return setting("arithmetic", en="Preference pairs: a built-in set (arithmetic: a right sum chosen over a wrong one; "
                   "chatterbot: an on-topic reply over an off-topic one) or an uploaded JSONL with prompt, chosen, rejected.",
                   zh="偏好数据:内置数据集(arithmetic:正确的算式答案优于错误的;chatterbot:切题的回复优于离题的),"
                   "或上传含 prompt、chosen、rejected 字段的 JSONL 文件。")


def max_length_field():
    return setting(128, en="Longest prompt + answer in tokens; a longer pair is refused with its line number.",
                   zh="提示加回答的最大 token 数;更长的样本对会被拒绝并给出行号。", minimum=16, maximum=32768)


def batch_size_field():
    return setting(4, en="Preference pairs per step, in all (each pair is two sequences: chosen and rejected; with several processes each takes an equal share).",
                   zh="每步的偏好对总数(每对包含两条序列:被选中的和被拒绝的;多进程时各进程平分)。", minimum=1, maximum=512)


def eval_pairs_field(default: int = 40):
    return setting(default, en="Held-out pairs (never trained on) scored before and after training.",
                   zh="训练前后评估所用的留出样本对数(从不参与训练)。", minimum=1, maximum=10000)


@dataclass
class AdapterTraining:
    """The settings every align training kind (DPO, reward, RL) shares: the LoRA adapter it trains, the
    number format and remote code. A settings group: each spec composes it (lab.specs.compose), flat."""

    lora_r: int = setting(8, en="LoRA rank: the width of the low-rank update. Higher = more capacity and parameters.",
                          zh="LoRA 秩:低秩更新的宽度。越高容量和参数越多。", minimum=1, maximum=1024)
    lora_alpha: int = setting(16, en="LoRA scale: the update is multiplied by alpha / r (usually 2*r).",
                              zh="LoRA 缩放:更新量乘以 alpha / r(通常取 2*r)。", minimum=1)
    lora_dropout: float = setting(0.0, en="Dropout on the LoRA input (DPO switches dropout off, so 0 is usual).",
                                  zh="LoRA 输入上的 dropout(DPO 会关闭 dropout,通常取 0)。", minimum=0.0, maximum=0.9)
    target_modules: str = setting("", en="Comma-separated layer names to adapt (e.g. q_proj,v_proj); empty = peft's default for the model.",
                                  zh="要适配的层名,用逗号分隔(如 q_proj,v_proj);留空使用 peft 对该模型的默认值。")
    dtype: str = setting("auto", en="Number format for training: auto = bf16 mixed precision where the hardware has native bf16, else fp32.",
                         zh="训练数值格式:auto 表示硬件原生支持 bf16 时用 bf16 混合精度,否则用 fp32。", choices=["auto", "bf16", "fp32"])
    trust_remote_code: bool = setting(False, en="Run Python code shipped with a hub model. Only for models you trust.",
                                      zh="运行 Hub 模型自带的 Python 代码。仅对可信模型开启。")


LORA = tuple(f.name for f in dataclasses.fields(AdapterTraining))[:4]  # the LoRA settings, for forms




def check_model_and_data(spec) -> None:
    """A well-formed model name, and a built-in data name or an existing file (its lines are checked by the job)."""
    from pathlib import Path

    from lab.align.data import BUILTIN
    from lab.errors import LabError
    from lab.modeling.models import check_model_name

    check_model_name(spec.model)
    if spec.dataset not in BUILTIN and not Path(spec.dataset).is_file():
        raise LabError("pref_not_found", dataset=spec.dataset, builtin=", ".join(BUILTIN))
