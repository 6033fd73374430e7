"""IA3: learned vectors that rescale keys, values and the feed-forward activations (Liu et al., 2022,
https://arxiv.org/abs/2205.05638)."""
from lab.finetune.methods import METHODS, Method, peft_wrap


def apply(model, spec, info):
    from peft import IA3Config

    return peft_wrap(model, IA3Config(task_type="CAUSAL_LM"))


METHODS.register("ia3", Method(apply, learning_rate=1e-2))
