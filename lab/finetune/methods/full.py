"""Full fine-tuning: every weight trains. The reference point every PEFT method is compared with."""
from lab.finetune.methods import Method, register_method


def apply(model, spec, info):
    for parameter in model.parameters():
        parameter.requires_grad = True
    return model


register_method(Method("full", apply, learning_rate=1e-4, paper="https://arxiv.org/abs/1801.06146"))
