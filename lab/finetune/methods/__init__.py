"""The fine-tuning methods: one module each, registering a Method on import.

Adding a method is adding a file here with `register_method(Method(...))`; nothing else branches on
method names. A Method says which spec settings it reads (the UI shows only those), what it can do
(merge into the base, needs CUDA, needs a 4-bit base), its usual learning rate, and how to apply it.
"""
import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable, Optional

from lab.errors import LabError


@dataclass(frozen=True)
class Method:
    name: str
    apply: Callable  # apply(model, spec, model_info) -> model with only the method's parameters trainable
    settings: tuple = ()  # FinetuneSpec fields this method reads, besides the common training ones
    learning_rate: float = 1e-3  # a rate that makes loss fall within a short CPU budget
    can_merge: bool = True  # False: the learned parameters cannot be folded into the base weights
    quantized_base: bool = False  # the base is loaded in 4-bit (QLoRA)
    needs_cuda: bool = False
    paper: str = ""
    refuse: Optional[Callable] = None  # refuse(model or None, spec) -> LabError or None: at spec time, then on the loaded model
    callbacks: Callable = field(default=lambda model, spec: [])  # extra Trainer callbacks (AdaLoRA)
    save: Optional[Callable] = None  # save(model, folder) when PeftModel.save_pretrained does not apply
    load: Optional[Callable] = None  # load(base_model, folder) -> model, the inverse of save


METHODS: dict[str, Method] = {}


def register_method(method: Method) -> Method:
    METHODS[method.name] = method
    return method


def methods() -> dict[str, Method]:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return METHODS


def get_method(name: str) -> Method:
    known = methods()
    if name not in known:
        raise LabError("unknown_method", method=name, methods=", ".join(known))
    return known[name]


# The order methods are listed in the UI: from "everything trains" to "a few vectors train".
ORDER = ("full", "bitfit", "lora", "dora", "qlora", "adalora", "ia3", "adapter", "prefix", "prompt", "ptuning")


def method_names() -> list[str]:
    known = methods()
    return [n for n in ORDER if n in known] + sorted(set(known) - set(ORDER))


def target_modules(spec):
    """The spec's comma-separated module names, or None to let peft pick its default for the model type."""
    names = [n.strip() for n in (spec.target_modules or "").split(",") if n.strip()]
    return names or None


def peft_wrap(model, peft_config):
    from peft import get_peft_model

    return get_peft_model(model, peft_config)
