"""PiSSA: LoRA started from the principal singular vectors of each weight (Meng et al., 2024,
https://arxiv.org/abs/2404.02948).

A and B start as the top-r singular directions of W (W = W_res + B₀A₀), and the frozen base keeps the
residual W_res: the model computes exactly what it did, but the adapter trains the directions that
matter most, so loss usually falls faster than with LoRA's zero-initialised B. Saved as a plain LoRA
of rank 2r on the original weights (lab/finetune/methods/_initial_adapter.py).
"""
from lab.finetune.methods import METHODS, Method, peft_wrap
from lab.finetune.methods._initial_adapter import remember_initial, save_converted
from lab.finetune.methods.lora import LoraSettings, lora_config
from lab.specs import group_fields


def apply(model, spec, info):
    # "pissa" takes a full SVD of each adapted matrix: under a second for a 135M model on CPU
    return remember_initial(peft_wrap(model, lora_config(spec, init_lora_weights="pissa")))


METHODS.register("pissa", Method(apply, reads=group_fields(LoraSettings), learning_rate=1e-3, save=save_converted))
