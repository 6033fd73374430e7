"""P-tuning: soft prompt vectors produced by a small trainable encoder (an MLP here; Liu et al., 2021,
https://arxiv.org/abs/2103.10385)."""
from lab.finetune.methods import METHODS, Method, peft_wrap


def apply(model, spec, info):
    from peft import PromptEncoderConfig

    return peft_wrap(model, PromptEncoderConfig(task_type="CAUSAL_LM", num_virtual_tokens=spec.num_virtual_tokens,
                                                encoder_hidden_size=spec.encoder_hidden_size))


METHODS.register("ptuning", Method(apply, reads=("num_virtual_tokens", "encoder_hidden_size"), learning_rate=1e-2,
                                   can_merge=False))
