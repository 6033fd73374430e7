"""BitFit: only bias terms train (Ben Zaken et al., 2021,
https://arxiv.org/abs/2106.10199).

GPT-2 has biases in every layer, so they train in place. Llama-style models (SmolLM2) have none:
there peft's BEFT adds zero-initialised biases to the linear layers and trains only those, which
starts from exactly the base model's behaviour. peft cannot merge BEFT biases into bias-free layers, so
the lab treats BitFit as not mergeable (on GPT-2 the saved result is the whole tuned model anyway).
"""
from lab.finetune.methods import METHODS, Method, peft_wrap, target_modules


def own_biases(model) -> list:
    return [p for name, p in model.named_parameters() if name.endswith(".bias")]


def apply(model, spec, info):
    biases = own_biases(model)
    if biases:
        for parameter in model.parameters():
            parameter.requires_grad = False
        for parameter in biases:
            parameter.requires_grad = True
        return model
    from peft import BeftConfig

    return peft_wrap(model, BeftConfig(task_type="CAUSAL_LM", target_modules=target_modules(spec) or "all-linear"))


METHODS.register("bitfit", Method(apply, reads=("target_modules",), learning_rate=3e-3, can_merge=False))
