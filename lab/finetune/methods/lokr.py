"""LoKr: the update is a Kronecker product of a small matrix and a low-rank one (Yeh et al., 2023,
LyCORIS, https://arxiv.org/abs/2309.14859).

ΔW = C ⊗ (BA): the Kronecker product tiles a small block over the whole matrix, so very few numbers
describe a full-rank-looking update. peft 0.21 refuses GPT-2's Conv1D layers.
"""
from lab.finetune.methods import METHODS, Method, peft_wrap, target_modules


def apply(model, spec, info):
    from peft import LoKrConfig

    return peft_wrap(model, LoKrConfig(task_type="CAUSAL_LM", r=spec.lora_r, alpha=spec.lora_alpha,
                                       rank_dropout=spec.lora_dropout, target_modules=target_modules(spec)))


METHODS.register("lokr", Method(apply, reads=("lora_r", "lora_alpha", "lora_dropout", "target_modules"), learning_rate=1e-3, size_vs_lora=0.1,
                                refused_architectures=("gpt2",)))
