"""The pruning methods: one module each, registering a PruneMethod on import (as the fine-tuning methods
and quantization schemes do); nothing else branches on method names."""
import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

from lab.errors import LabError


@dataclass(frozen=True)
class PruneMethod:
    name: str
    prune: Callable  # prune(module, sparsity, input_norm or None, pattern) -> None, zeroes module.weight in place
    needs_calibration: bool = False  # True: needs the input norms of each layer on calibration text
    paper: str = ""


METHODS: dict[str, PruneMethod] = {}
ORDER = ("magnitude", "wanda")


def register_method(method: PruneMethod) -> PruneMethod:
    METHODS[method.name] = method
    return method


def methods() -> dict[str, PruneMethod]:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return METHODS


def method_names() -> list[str]:
    known = methods()
    return [n for n in ORDER if n in known] + sorted(set(known) - set(ORDER))


def get_method(name: str) -> PruneMethod:
    known = methods()
    if name not in known:
        raise LabError("unknown_prune_method", method=name, methods=", ".join(method_names()))
    return known[name]
