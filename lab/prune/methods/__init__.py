"""The pruning methods: one module each, registering a PruneMethod in METHODS on import (as the
fine-tuning methods and quantization schemes do); nothing else branches on method names. Each has
two lessons (assets/lessons/<lang>/prune_<name>.md) and two labels (`quantize.lesson.prune_<name>`)."""
from dataclasses import dataclass
from typing import Callable

from lab.registry import Registry


@dataclass(frozen=True)
class PruneMethod:
    prune: Callable  # prune(module, sparsity, input_norm or None, pattern) -> None, zeroes module.weight in place
    needs_calibration: bool = False  # True: needs the input norms of each layer on calibration text


METHODS = Registry("pruning method", package="lab.prune.methods", order=("magnitude", "wanda"),
                   lesson_prefix="prune_", label_prefix="quantize.lesson.prune_", error="unknown_prune_method")
