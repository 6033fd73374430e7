"""One registry class for every kind of entry the lab has: job kinds, PEFT methods, quantization
schemes, prune methods, prompt strategies, exemplar selections, answer filters, judges, metrics.

    METHODS = Registry("fine-tuning method", package="lab.finetune.methods", lesson_prefix="method_",
                       label_prefix="finetune.method.", error="unknown_method", order=("full", "lora", ...))
    METHODS.register("lora", entry)        # or @FILTERS.decorator("none", wrap) on a function
    METHODS.get("lora")                    # LabError `error` naming the unknown name and the known ones
    METHODS.names()                        # in display order: `order` first, then the rest sorted
    METHODS.entries(); "lora" in METHODS   # name -> entry in display order; membership
    METHODS.settings_of(["lora", "qlora"]) # spec fields those entries read (entries with `.settings`)

`package`: a package whose modules register entries on import; they are imported on first use (lazy),
so adding an entry is adding a file there. Every registry made with this class is listed by
`all_registries()`, so the lesson, label and i18n tests iterate every entry of every registry: a
new entry without its lessons or labels fails a test. (Modelled on lm-eval's lm_eval/api/registry.py.)
"""
import importlib
import pkgutil
from typing import Callable, Iterator, Optional

from lab.errors import LabError

_ALL: list["Registry"] = []
# Modules that define registries; importing them creates (and fills) every registry in the lab.
REGISTRY_MODULES = (
    "lab.specs", "lab.finetune.methods", "lab.quantize.schemes", "lab.prune.methods",
    "lab.prompting.strategies", "lab.modeling.filters", "lab.evaluate.judges", "lab.evaluate.metrics",
    "lab.evaluate.prompt_sets", "lab.align.rewards",
)


class Registry:
    def __init__(self, what: str, package: Optional[str] = None, order: tuple = (),
                 lesson_prefix: Optional[str] = None, label_prefix: Optional[str] = None,
                 skip_private: bool = True, error: str = "unknown_entry"):
        self.what = what  # "finetune method": named in the unknown-name error
        self.error = error  # LabError key of the unknown-name error; its message may use {name}, {names}, {what}
        self.package = package
        self.order = tuple(order)
        self.lesson_prefix = lesson_prefix  # lesson of entry NAME: assets/lessons/<lang>/<prefix>NAME.md
        self.label_prefix = label_prefix  # i18n key of entry NAME's label: <prefix>NAME
        self.skip_private = skip_private
        self._entries: dict = {}
        self._loaded = package is None
        _ALL.append(self)

    def register(self, name: str, entry):
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.what}: a registry name must be a non-empty string, got {name!r}")
        self._entries[name] = entry
        return entry

    def decorator(self, name: str, wrap: Optional[Callable] = None):
        """@registry.decorator("name") registers the decorated function (or wrap(function))."""
        def register(function):
            self.register(name, wrap(function) if wrap else function)
            return function
        return register

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        package = importlib.import_module(self.package)
        for module in pkgutil.iter_modules(package.__path__):
            if not (self.skip_private and module.name.startswith("_")):
                importlib.import_module(f"{self.package}.{module.name}")

    def names(self) -> list[str]:
        self._load()
        return [n for n in self.order if n in self._entries] + sorted(set(self._entries) - set(self.order))

    def entries(self) -> dict:
        """Name -> entry, in display order."""
        return {name: self._entries[name] for name in self.names()}

    def get(self, name: str):
        self._load()
        if name not in self._entries:
            raise LabError(self.error, what=self.what, name=str(name)[:100], names=", ".join(sorted(self._entries)))
        return self._entries[name]

    def __contains__(self, name) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def settings_of(self, names=None) -> tuple:
        """The spec fields the named entries (default: all) read, each once, in display order: for
        registries whose entries own settings (finetune methods, quantization schemes; `entry.settings`)."""
        chosen = [n for n in self.names() if names is None or n in names]
        return tuple(dict.fromkeys(f for n in chosen for f in self._entries[n].settings))

    def groups(self) -> list:
        """The settings groups the entries own (`entry.group`, a dataclass), each once, in display order."""
        return list(dict.fromkeys(e.group for e in self.entries().values() if getattr(e, "group", None)))

    def lesson_name(self, name: str) -> Optional[str]:
        return f"{self.lesson_prefix}{name}" if self.lesson_prefix is not None else None

    def label_key(self, name: str) -> Optional[str]:
        return f"{self.label_prefix}{name}" if self.label_prefix is not None else None

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {len(self._entries)} entries)"


def all_registries() -> list[Registry]:
    """Every registry of the lab, each filled (for the tests that check lessons and labels)."""
    for module in REGISTRY_MODULES:
        importlib.import_module(module)
    for registry in _ALL:
        registry.names()
    return list(_ALL)
