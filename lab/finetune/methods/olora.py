"""OLoRA: LoRA started from an orthonormal (QR) basis of each weight (Büyükakyüz, 2024,
https://arxiv.org/abs/2406.01775).

Like PiSSA it moves part of W into the adapter at the start (W = W_res + B₀A₀, so the model is unchanged),
with a QR decomposition instead of an SVD. peft 0.21 builds it on GPT-2's Conv1D layers but the forward
pass then fails on the transposed shapes, so the lab refuses that combination before the job starts.
"""
from lab.finetune.methods import METHODS, Method, peft_wrap
from lab.finetune.methods._initial_adapter import remember_initial, save_converted
from lab.finetune.methods.lora import LoraSettings, lora_config
from lab.specs import group_fields


def apply(model, spec, info):
    return remember_initial(peft_wrap(model, lora_config(spec, init_lora_weights="olora")))


METHODS.register("olora", Method(apply, reads=group_fields(LoraSettings), learning_rate=1e-3, save=save_converted,
                                 refused_architectures=("gpt2",)))
