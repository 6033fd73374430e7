"""IA3: learned vectors that rescale keys, values and the feed-forward activations (Liu et al., 2022)."""
from lab.finetune.methods import Method, peft_wrap, register_method


def apply(model, spec, info):
    from peft import IA3Config

    return peft_wrap(model, IA3Config(task_type="CAUSAL_LM"))


register_method(Method("ia3", apply, learning_rate=1e-2, paper="https://arxiv.org/abs/2205.05638"))
