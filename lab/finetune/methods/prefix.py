"""Prefix tuning: trainable key/value vectors prepended at every layer (Li & Liang, 2021).

With `prefix_projection` the prefix comes out of a small MLP, which trains more stably.
Nothing is added to the weights, so it cannot be merged.
"""
from lab.finetune.methods import Method, peft_wrap, register_method


def apply(model, spec, info):
    from peft import PrefixTuningConfig

    return peft_wrap(model, PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=spec.num_virtual_tokens,
                                               prefix_projection=spec.prefix_projection,
                                               encoder_hidden_size=spec.encoder_hidden_size))


register_method(Method("prefix", apply, settings=("num_virtual_tokens", "prefix_projection", "encoder_hidden_size"),
                       learning_rate=1e-2, can_merge=False, paper="https://arxiv.org/abs/2101.00190"))
