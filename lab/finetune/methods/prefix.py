"""Prefix tuning: trainable key/value vectors prepended at every layer (Li & Liang, 2021,
https://arxiv.org/abs/2101.00190).

With `prefix_projection` the prefix comes out of a small MLP, which trains more stably.
Nothing is added to the weights, so it cannot be merged.
"""
from dataclasses import dataclass

from lab.finetune.methods import METHODS, Method, peft_wrap
from lab.specs import setting


@dataclass
class PrefixSettings:
    """Prefix tuning's settings; prompt tuning and P-tuning read num_virtual_tokens, P-tuning encoder_hidden_size."""

    num_virtual_tokens: int = setting(16, en="Prefix / prompt / P-tuning: how many learned vectors are put before the input.",
                                      zh="前缀/提示/P-tuning:在输入前加入的可学习向量个数。", minimum=1, maximum=512)
    prefix_projection: bool = setting(False, en="Prefix tuning: produce the prefix with a small MLP (more stable, more parameters).",
                                      zh="前缀微调:用小型 MLP 生成前缀(更稳定,参数更多)。")
    encoder_hidden_size: int = setting(128, en="P-tuning / prefix projection: hidden width of the prompt encoder.",
                                       zh="P-tuning / 前缀投影:提示编码器的隐藏层宽度。", minimum=1)


def apply(model, spec, info):
    from peft import PrefixTuningConfig

    return peft_wrap(model, PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=spec.num_virtual_tokens,
                                               prefix_projection=spec.prefix_projection,
                                               encoder_hidden_size=spec.encoder_hidden_size))


METHODS.register("prefix", Method(apply, group=PrefixSettings, learning_rate=1e-2, can_merge=False))
