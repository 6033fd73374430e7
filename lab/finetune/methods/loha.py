"""LoHa: the update is the element-wise (Hadamard) product of two low-rank matrices (Hyeon-Woo et al.,
2022, FedPara, https://arxiv.org/abs/2108.06098; popular through LyCORIS).

ΔW = (B₁A₁) ⊙ (B₂A₂): twice LoRA's parameters at the same r, but the product can reach rank r², so it
expresses more per parameter. peft 0.21 refuses GPT-2's Conv1D layers.
"""
from lab.finetune.methods import METHODS, Method, peft_wrap, target_modules


def apply(model, spec, info):
    from peft import LoHaConfig

    return peft_wrap(model, LoHaConfig(task_type="CAUSAL_LM", r=spec.lora_r, alpha=spec.lora_alpha,
                                       rank_dropout=spec.lora_dropout, target_modules=target_modules(spec)))


METHODS.register("loha", Method(apply, reads=("lora_r", "lora_alpha", "lora_dropout", "target_modules"), learning_rate=1e-3, size_vs_lora=2.0,
                                refused_architectures=("gpt2",)))
