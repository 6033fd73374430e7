"""The fine-tuning methods: one module each, registering a Method in METHODS on import.

Adding a method is adding a file here with `METHODS.register("name", Method(...))`, plus its two
lessons (assets/lessons/<lang>/method_<name>.md) and its two labels (`finetune.method.<name>` in
assets/i18n/<lang>/finetune.json); nothing else branches on method names. A Method owns its settings
as a small dataclass (`group`, composed into FinetuneSpec by lab.specs.compose, flat), names the ones
it reads from other methods' groups (`reads`; the form shows a method's settings only while it is
chosen), says what it can do (merge into the base, needs a 4-bit base), its usual learning rate, and
how to apply it.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

from lab.registry import Registry
from lab.specs import group_fields


@dataclass(frozen=True)
class Method:
    apply: Callable  # apply(model, spec, model_info) -> model with only the method's parameters trainable
    group: Optional[type] = None  # dataclass of the FinetuneSpec settings this method owns
    reads: tuple = ()  # settings owned by another method's group that this one reads too
    learning_rate: float = 1e-3  # a rate that makes loss fall within a short CPU budget
    can_merge: bool = True  # False: the learned parameters cannot be folded into the base weights
    quantized_base: bool = False  # the base is loaded in 4-bit (QLoRA)
    loss_from_model: bool = False  # its forward adds a term to the label loss (AdaLoRA): no labelled-only loss
    refuse: Optional[Callable] = None  # refuse(model or None, spec) -> LabError or None: at spec time, then on the loaded model
    callbacks: Callable = field(default=lambda model, spec: [])  # extra Trainer callbacks (AdaLoRA)
    save: Optional[Callable] = None  # save(model, folder) when PeftModel.save_pretrained does not apply
    load: Optional[Callable] = None  # load(base_model, folder) -> model, the inverse of save
    optimizer: Optional[Callable] = None  # optimizer(model, spec, learning_rate) when AdamW with one rate does not do (LoRA+)
    # model_type values (config.json) peft refuses or breaks on with this method, e.g. ("gpt2",) for methods
    # that cannot wrap GPT-2's Conv1D layers; the static architecture × method table (lab/finetune/architecture.py)
    refused_architectures: tuple = ()
    trains_all: bool = False  # every weight trains (full fine-tuning): the memory estimate counts gradients for all
    size_vs_lora: float = 1.0  # trainable parameters relative to LoRA at the same r, for methods reading lora_r (memory estimate)
    needs_gpu: bool = False  # peft runs its initialisation on cuda/xpu only (LoftQ)

    @property
    def settings(self) -> tuple:
        """Every FinetuneSpec field this method reads besides the common training ones."""
        return group_fields(self.group) + tuple(self.reads)


# Listed in the UI from "everything trains" to "a few vectors train"; the spec composes the groups in this order.
METHODS = Registry("fine-tuning method", package="lab.finetune.methods", lesson_prefix="method_",
                   label_prefix="finetune.method.", error="unknown_method",
                   order=("full", "bitfit", "lora", "rslora", "loraplus", "pissa", "olora", "dora", "qlora", "loftq",
                          "adalora", "vera", "loha", "lokr", "oft", "ia3", "adapter", "prefix", "prompt", "ptuning"))


def target_modules(spec):
    """The spec's comma-separated module names, or None to let peft pick its default for the model type."""
    names = [n.strip() for n in (spec.target_modules or "").split(",") if n.strip()]
    return names or None


def peft_wrap(model, peft_config):
    from peft import get_peft_model

    return get_peft_model(model, peft_config)
