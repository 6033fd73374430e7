"""Prompt tuning: trainable "soft prompt" embeddings before the input, nothing else (Lester et al., 2021).

Initialised from the embedding of a text (the task's instruction) it starts closer to something useful.
"""
from lab.finetune.methods import Method, peft_wrap, register_method


def apply(model, spec, info):
    from peft import PromptTuningConfig

    init = {}
    if spec.prompt_init_text.strip():
        init = dict(prompt_tuning_init="TEXT", prompt_tuning_init_text=spec.prompt_init_text,
                    tokenizer_name_or_path=info["location"])
    return peft_wrap(model, PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=spec.num_virtual_tokens,
                                               **init))


register_method(Method("prompt", apply, settings=("num_virtual_tokens", "prompt_init_text"), learning_rate=3e-2,
                       can_merge=False, paper="https://arxiv.org/abs/2104.08691"))
