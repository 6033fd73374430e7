"""The pruning methods: one module each, registering a PruneMethod in METHODS on import (as the
fine-tuning methods and quantization schemes do); nothing else branches on method names. Each has
two lessons (assets/lessons/<lang>/prune_<name>.md) and two labels (`quantize.lesson.prune_<name>`).

Two shapes of method:
    per layer     prune(module, sparsity, input_norm or None, pattern): each linear layer at the same share
                  (magnitude, Wanda)
    whole model   prune_model(model, sparsity, norms, spec) -> dict: the method plans across layers first
                  (OWL gives each decoder layer its own share) and returns what it chose (shown in the tab)
A method may own settings (`group`, a dataclass composed flat into PruneSpec, with an optional
`check(spec)`), and says which patterns it supports (2:4 is a fixed pattern: a method that sets its own
per-layer shares has nothing to plan there)."""
from dataclasses import dataclass
from typing import Callable, Optional

from lab.registry import Registry
from lab.specs import group_fields

PATTERNS = ("unstructured", "2:4")


@dataclass(frozen=True)
class PruneMethod:
    prune: Optional[Callable] = None  # prune(module, sparsity, input_norm or None, pattern) -> None, zeroes module.weight in place
    needs_calibration: bool = False  # True: needs the input norms of each layer on calibration text
    prune_model: Optional[Callable] = None  # prune_model(model, sparsity, norms, spec) -> dict of what it chose
    patterns: tuple = PATTERNS  # the patterns it can prune ("unstructured", "2:4")
    group: Optional[type] = None  # dataclass of the PruneSpec settings this method reads

    @property
    def settings(self) -> tuple:
        return group_fields(self.group)

    def apply(self, model, sparsity: float, pattern: str, norms: dict, spec=None) -> dict:
        """Prune the whole model in place (every linear layer but the output layer); returns what a
        whole-model method chose ({} for a per-layer method)."""
        if self.prune_model is not None:
            return self.prune_model(model, sparsity, norms, spec) or {}
        from lab.modeling.layers import linear_layers

        for name, module in linear_layers(model):
            self.prune(module, sparsity, norms.get(name) if self.needs_calibration else None, pattern)
        return {}


METHODS = Registry("pruning method", package="lab.prune.methods", order=("magnitude", "wanda", "owl"),
                   lesson_prefix="prune_", label_prefix="quantize.lesson.prune_", error="unknown_prune_method")
