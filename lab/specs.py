"""Typed job specs: one dataclass per job kind, shared by the UI, the CLI and the worker.

Every field has a default and help text in English and Chinese (`setting(default, en=..., zh=...)`),
and each spec validates itself in `__post_init__`, naming the bad value. A spec is JSON:
{"kind": "generate", "prompts": [...], ...}. Unknown fields and wrong types are errors, never ignored.
"""
import dataclasses
import hashlib
import math
import json
import typing
from dataclasses import dataclass, field

from lab.errors import LabError
from lab.registry import Registry


def setting(default, en: str, zh: str, choices=None, minimum=None, maximum=None):
    """A spec field with help in both languages; `choices`, `minimum`, `maximum` are checked on build."""
    meta = {"help": {"en": en, "zh": zh}, "choices": choices, "minimum": minimum, "maximum": maximum}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: json.loads(json.dumps(default)), metadata=meta)
    return field(default=default, metadata=meta)


def compose(*groups):
    """Class decorator, placed under @dataclass: adds the fields of each settings group to the spec, flat.

    A group is a small dataclass a method or scheme declares next to its code (e.g. LoRA's rank, alpha,
    dropout, target modules); its fields follow the spec's own, group by group, so the spec's JSON (and
    spec_hash(), which is computed on that flat form) is the same as if they were written in the spec.
    A group may define `check(spec)`, a static method that raises LabError naming a bad value; it runs
    after the spec's own validate().
    """
    def add(cls):
        annotations = cls.__dict__.get("__annotations__", {})
        for group in groups:
            for f in dataclasses.fields(group):
                if f.name in annotations:
                    raise TypeError(f"{cls.__name__}: field {f.name} of {group.__name__} is already a field")
                annotations[f.name] = f.type
                setattr(cls, f.name, field(default=f.default, default_factory=f.default_factory, metadata=f.metadata))
        cls.__annotations__ = annotations
        cls.setting_groups = tuple(groups)
        return cls
    return add


def group_fields(group) -> tuple:
    """The field names of a settings group, in declaration order."""
    return tuple(f.name for f in dataclasses.fields(group)) if group else ()

def weights_dtype_setting():
    """The `dtype` field of every kind that loads a model to run it (lab.modeling.models.load_model decides "auto")."""
    return setting("auto", en="Number format of the weights: auto (bf16 where the processor has bf16 instructions, else fp32), fp32 (exact), bf16 (half the memory), fp16 (GPU).",
                   zh="权重的数值格式:auto(处理器支持 bf16 指令时用 bf16,否则用 fp32)、fp32(精确)、bf16(内存减半)、fp16(用于 GPU)。",
                   choices=["auto", "fp32", "bf16", "fp16"])


def device_setting():
    """The `device` field of every kind that runs a model."""
    return setting("auto", en="Where the model runs: auto (a GPU if there is one, else the CPU), cpu, or cuda.",
                   zh="模型运行的位置:auto(有 GPU 就用 GPU,否则用 CPU)、cpu 或 cuda。", choices=["auto", "cpu", "cuda"])

# Settings added after runs were stored, at the value every older run had: processes (lab/runs/distributed.py),
# the export kind's format and GGUF type (an older export wrote an HF folder).
# Settings added after results were stored, at the default they were added with: while a spec holds that
# default, the setting is left out of spec_hash(), so results stored before it existed are still replayed.
HASH_NEUTRAL_DEFAULTS = {
    "processes": "1", "format": "hf", "gguf_type": "f16",  # several processes; GGUF export (issue 24)
    "loraplus_lr_ratio": 16.0, "loftq_bits": 4, "loftq_iter": 1, "vera_r": 256, "oft_r": 8,  # LoRA variants (23)
    "reuse_answers": True, "answers_from": "",  # judge answers computed once (issue 22)
    "owl_m": 5.0, "owl_lambda": 0.08,  # OWL (issue 20)
    "gptq_bits": [2, 3, 4], "gptq_group_size": 64, "gptq_act_order": False, "gptq_damp_percent": 0.01,
    "calibration_texts": 4, "smoothquant_alphas": [0.5, 0.75], "smoothquant_activations": ["per_token", "per_tensor"],
    "qat_bits": [2, 3], "qat_group_size": 64, "qat_method": "full", "qat_steps": 60, "qat_batch_size": 8,
    "qat_learning_rate": 0.0002,  # GPTQ, SmoothQuant, QAT (issue 19)
    "int8_more_thresholds": [],  # LLM.int8 at several thresholds in one run (issue 25)
    "torch_compile": False,  # fine-tuning's torch.compile lever (issue 18)
}


@dataclass
class Spec:
    """Fields every job has. Subclasses set `kind` and add their own fields."""

    kind: typing.ClassVar[str] = ""
    needs_torch: typing.ClassVar[bool] = True  # the dispatcher pre-imports the ML stack for these
    graceful_cancel: typing.ClassVar[bool] = False  # True: SIGTERM sets ctx.cancel_requested; the job stops itself
    cancel_grace_seconds: typing.ClassVar[float] = 5.0  # then SIGKILL
    setting_groups: typing.ClassVar[tuple] = ()  # settings groups added by @compose (their check() runs too)

    name: str = setting("", en="A name for this run, shown in the Runs tab.", zh="本次运行的名称,显示在“运行记录”页。")
    seed: int = setting(0, en="Random seed: the same seed and settings give the same result.",
                        zh="随机种子:相同的种子和设置会得到相同的结果。", minimum=0)

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            meta = f.metadata
            numbers = value if isinstance(value, list) else [value]
            if any(isinstance(v, float) and not math.isfinite(v) for v in numbers):  # NaN passes every < and >
                raise LabError("not_finite", field=f.name, value=value)
            if meta.get("choices") is not None and value not in meta["choices"]:
                raise LabError("bad_choice", field=f.name, value=value, choices=", ".join(map(str, meta["choices"])))
            if meta.get("minimum") is not None and isinstance(value, (int, float)) and value < meta["minimum"]:
                raise LabError("too_small", field=f.name, value=value, minimum=meta["minimum"])
            if meta.get("maximum") is not None and isinstance(value, (int, float)) and value > meta["maximum"]:
                raise LabError("too_large", field=f.name, value=value, maximum=meta["maximum"])
        self.validate()
        for group in self.setting_groups:
            if hasattr(group, "check"):
                group.check(self)

    def validate(self):
        """Checks across fields; subclasses raise LabError naming the bad value."""

    @classmethod
    def example(cls) -> "Spec":
        """A complete spec that runs; kinds that need a user's choice (a run id) override it."""
        return cls()

    @property
    def deterministic(self) -> bool:
        """True when the same spec always gives the same result, so a stored result may be replayed."""
        return True

    def to_dict(self) -> dict:
        return {"kind": self.kind, **dataclasses.asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def spec_hash(self) -> str:
        """Hash of everything that changes the result (the run's name does not). Settings added after results
        were stored leave the hash as it was while they hold their default (HASH_NEUTRAL_DEFAULTS)."""
        data = self.to_dict()
        data.pop("name", None)
        for name, default in HASH_NEUTRAL_DEFAULTS.items():
            if name in data and data[name] == default:
                del data[name]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def help(cls, field_name: str, lang: str = "en") -> str:
        for f in dataclasses.fields(cls):
            if f.name == field_name:
                return f.metadata.get("help", {}).get(lang) or f.metadata.get("help", {}).get("en", "")
        raise KeyError(field_name)


def _check_type(name: str, value, annotation):
    """Return value converted to the annotated type, or raise LabError('bad_type')."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union:
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check_type(name, value, inner[0])
    if origin is list:
        if not isinstance(value, list):
            raise LabError("bad_type", field=name, expected="list", got=type(value).__name__)
        return [_check_type(f"{name}[{i}]", v, args[0] if args else typing.Any) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise LabError("bad_type", field=name, expected="object", got=type(value).__name__)
        return value
    if annotation is typing.Any:
        return value
    if annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif annotation is str:
        if isinstance(value, str):
            return value
    else:
        return value
    raise LabError("bad_type", field=name, expected=annotation.__name__, got=type(value).__name__)


@dataclass
class Kind:
    spec_class: type
    run: typing.Callable  # run(spec, ctx) -> dict of figures (merged into the result's "metrics")

    @property
    def module(self) -> str:
        return self.run.__module__


# Job kinds, one module each in lab/kinds/ ending with KINDS.register(XSpec.kind, Kind(XSpec, run));
# those modules import no torch at module level (the app imports them to build forms).
KINDS = Registry("job kind", package="lab.kinds", label_prefix="kind.", error="unknown_kind")


def spec_class(kind: str) -> type:
    return KINDS.get(kind).spec_class


def spec_from_dict(data) -> Spec:
    """Build a spec from JSON data; unknown fields and wrong types raise LabError with one line."""
    if not isinstance(data, dict):
        raise LabError("spec_not_object", got=type(data).__name__)
    data = dict(data)
    kind = data.pop("kind", None)
    if not kind:
        raise LabError("missing_kind")
    cls = spec_class(kind)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise LabError("unknown_field", field=unknown[0], kind=kind, fields=", ".join(fields))
    values = {name: _check_type(name, value, hints[name]) for name, value in data.items()}
    return cls(**values)


def spec_from_json(text: str) -> Spec:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LabError("bad_json", detail=f"line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    return spec_from_dict(data)


def example_spec(kind: str) -> Spec:
    """The example spec of a kind: every field, at its default where it has a usable one."""
    return spec_class(kind).example()
