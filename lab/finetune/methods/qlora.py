"""QLoRA: LoRA on a base model stored in 4-bit NormalFloat, with double quantization (Dettmers et al., 2023).

bitsandbytes 0.50 runs the 4-bit kernels and their backward on CPU as well as CUDA. The adapter can
be merged only into a full-precision copy of the base, so merge/export reloads the base unquantized.
"""
from lab.finetune.methods import Method, peft_wrap, register_method
from lab.finetune.methods.lora import LORA_SETTINGS, lora_config


def apply(model, spec, info):
    from peft import prepare_model_for_kbit_training

    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=spec.gradient_checkpointing)
    return peft_wrap(model, lora_config(spec))


register_method(Method("qlora", apply, settings=LORA_SETTINGS + ("quant_type", "double_quant"),
                       learning_rate=1e-3, quantized_base=True, paper="https://arxiv.org/abs/2305.14314"))
