"""How a spec's fields become form widgets and back, without Gradio: the logic under pages/forms.py.

describe(spec_class) says, per field, which widget fits (checkbox, dropdown, integer, number, text,
lines) with its default, choices and bounds; to_spec(kind, values) turns widget values back into a
validated spec, so a bad value comes back as a LabError the UI shows in the chosen language.
"""
import dataclasses
import types
import typing
from dataclasses import dataclass

from lab.errors import LabError
from lab.present.i18n import t
from lab.specs import Spec, spec_class, spec_from_dict


@dataclass(frozen=True)
class FieldInfo:
    name: str
    widget: str  # "checkbox" | "dropdown" | "integer" | "number" | "text" | "lines"
    default: object
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    optional: bool = False  # None is allowed (an empty box means None)
    item_type: type | None = None  # list fields: the type of one item (int and float items are parsed)


def _unwrap(annotation):
    """(inner type, optional) for X | None; (annotation, False) otherwise."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return inner[0], len(inner) < len(typing.get_args(annotation))
    return annotation, False


def describe(cls: type[Spec]) -> list[FieldInfo]:
    hints = typing.get_type_hints(cls)
    infos = []
    for f in dataclasses.fields(cls):
        annotation, optional = _unwrap(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        meta = f.metadata
        if meta.get("choices") is not None:
            widget = "dropdown"
        elif annotation is bool:
            widget = "checkbox"
        elif annotation is int:
            widget = "integer"
        elif annotation is float:
            widget = "number"
        elif typing.get_origin(annotation) is list:
            widget = "lines"
        else:
            widget = "text"
        item = (typing.get_args(annotation) or (None,))[0] if widget == "lines" else None
        infos.append(FieldInfo(f.name, widget, default, tuple(meta["choices"]) if meta.get("choices") else None,
                               meta.get("minimum"), meta.get("maximum"), optional, item))
    return infos


def field_label(name: str, lang: str) -> str:
    """The field's name for people (assets/i18n/<lang>/fields.json: "field.<name>")."""
    key = f"field.{name}"
    text = t(key, lang)
    return name.replace("_", " ").capitalize() if text == key else text


def error_text(error: LabError, lang: str) -> str:
    """A LabError's message with the field named as the form labels it ("Max new tokens", not max_new_tokens)."""
    params = dict(error.params)
    for key in ("field", "other"):  # a cross-field message names both fields as the form labels them
        if isinstance(params.get(key), str):
            name = params[key].split("[")[0]
            if t(f"field.{name}", lang) != f"field.{name}":
                params[key] = field_label(name, lang)
    return t(f"error.{error.key}", lang, **params)


def to_widget(info: FieldInfo, value):
    """A spec value as its widget shows it (a list of lines becomes one text, one item per line)."""
    if info.widget == "lines":
        return "\n".join(str(v) for v in (value or []))
    if value is None and info.widget == "text":
        return ""
    return value


def from_widget(info: FieldInfo, value):
    """A widget's value as the spec wants it; empty optional fields become None."""
    if info.widget == "lines":
        text = str(value or "")
        if info.item_type in (int, float):  # a list of numbers: one per line, or "0, 1, 2"
            text = text.replace(",", "\n")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if info.item_type in (int, float):
            return [_number(info, index, line) for index, line in enumerate(lines)]
        return lines
    if info.widget in ("integer", "number"):
        if value is None or value == "":
            if info.optional:
                return None
            raise LabError("missing_value", field=info.name)
        if info.widget == "integer" and isinstance(value, float):
            if not value.is_integer():
                raise LabError("not_whole_number", field=info.name, value=value)
            return int(value)
        return value
    if info.widget == "text":
        text = "" if value is None else str(value)
        return None if (info.optional and not text.strip()) else text
    return value


def _number(info: FieldInfo, index: int, line: str):
    try:
        return info.item_type(line)
    except ValueError:
        if info.item_type is int:
            raise LabError("not_whole_number", field=info.name, value=line) from None
        raise LabError("bad_type", field=f"{info.name}[{index}]", expected=info.item_type.__name__,
                       got=repr(line)[:40]) from None


def to_spec(kind: str, values: dict, extra: dict | None = None, owner: str | None = None) -> Spec:
    """Widget values (field name -> value) plus fixed extras -> a validated spec (raises LabError).
    owner: the visitor submitting it; in Space mode the files and runs the data names are checked
    first (lab.classroom.space_mode.check_data), since building the spec validates them by reading."""
    infos = {info.name: info for info in describe(spec_class(kind))}
    data = {"kind": kind, **(extra or {})}
    for name, value in values.items():
        data[name] = from_widget(infos[name], value) if name in infos else value
    if owner is not None:
        from lab.classroom import space_mode

        space_mode.check_data(data, owner)
    spec = spec_from_dict(data)
    if owner is not None:  # a form's submission: what fails in a second fails here, beside the button
        from lab.classroom.precheck import check_inputs

        check_inputs(spec)
    return spec
