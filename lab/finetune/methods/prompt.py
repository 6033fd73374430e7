"""Prompt tuning: trainable "soft prompt" embeddings before the input, nothing else (Lester et al., 2021,
https://arxiv.org/abs/2104.08691).

Initialised from the embedding of a text (the task's instruction) it starts closer to something useful.
"""
from dataclasses import dataclass

from lab.finetune.methods import METHODS, Method, peft_wrap
from lab.specs import setting


@dataclass
class PromptSettings:
    """Prompt tuning's initialisation (its length, num_virtual_tokens, is prefix tuning's setting)."""

    prompt_init_text: str = setting("", en="Prompt tuning: start the soft prompt from this text's embeddings (empty = random).",
                                    zh="提示微调:用这段文字的嵌入初始化软提示(留空为随机)。")


def apply(model, spec, info):
    from peft import PromptTuningConfig

    init = {}
    if spec.prompt_init_text.strip():
        init = dict(prompt_tuning_init="TEXT", prompt_tuning_init_text=spec.prompt_init_text,
                    tokenizer_name_or_path=info["location"])
    return peft_wrap(model, PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=spec.num_virtual_tokens,
                                               **init))


METHODS.register("prompt", Method(apply, group=PromptSettings, reads=("num_virtual_tokens",), learning_rate=3e-2,
                                  can_merge=False))
