"""Full fine-tuning: every weight trains. The reference point every PEFT method is compared with
(as in ULMFiT, Howard & Ruder, 2018, https://arxiv.org/abs/1801.06146)."""
from lab.finetune.methods import METHODS, Method


def apply(model, spec, info):
    for parameter in model.parameters():
        parameter.requires_grad = True
    return model


METHODS.register("full", Method(apply, learning_rate=1e-4, trains_all=True))
