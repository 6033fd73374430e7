"""Build Gradio inputs from a spec dataclass, and turn their values back into a validated spec.

    form = SpecForm(ui, "generate", exclude=("model",))
    run.click(lambda lang, *values: runner.submit(form.spec(values)), [ui.lang, *form.inputs()], ...)

bool -> Checkbox, choices -> Dropdown, int/float -> Number with min/max, str -> Textbox, list[str] ->
a multi-line Textbox (one item per line). Labels come from fields.json and `info=` from the spec's
help metadata, both in the chosen language (registered with the page's language registry).
"""
import gradio as gr
from gradio.context import Context

from lab.present.form_fields import FieldInfo, describe, field_label, to_spec, to_widget
from lab.specs import Spec, spec_class


def widget(info: FieldInfo, label: str, help_text: str, **kwargs):
    """The Gradio input for one field, in English until the language registry says otherwise."""
    common = {"label": label, "info": help_text, "elem_id": kwargs.pop("elem_id", None), **kwargs}
    value = to_widget(info, info.default)
    if info.widget == "checkbox":
        return gr.Checkbox(value=value, **common)
    if info.widget == "dropdown":
        return gr.Dropdown(choices=list(info.choices), value=value, **common)
    if info.widget in ("integer", "number"):
        # no minimum/maximum here: Gradio would refuse "Value -1 is less than minimum value 1" without
        # naming the field; the spec refuses it naming the field, under the Run button (pages/widgets.py)
        return gr.Number(value=value,
                         precision=0 if info.widget == "integer" else None,
                         step=1 if info.widget == "integer" else _step(info), **common)
    if info.widget == "lines":
        return gr.Textbox(value=value, lines=4, max_lines=20, **common)
    return gr.Textbox(value=value, lines=1, **common)


def _step(info: FieldInfo) -> float:
    """A spinner step that suits the field: 0.05 for values up to about 1 (temperature, top_p), else 0.1."""
    upper = info.maximum if info.maximum is not None else max(1.0, abs(info.default or 0) * 10)
    return 0.05 if upper <= 2 else 0.1


class SpecForm:
    """The widgets of one job kind's spec fields, built in declaration order."""

    def __init__(self, ui, kind: str, include=None, exclude=(), prefix: str | None = None, render: bool = True):
        self.kind = kind
        self.cls: type[Spec] = spec_class(kind)
        infos = [i for i in describe(self.cls) if (include is None or i.name in include) and i.name not in exclude]
        if include is not None:
            infos.sort(key=lambda i: list(include).index(i.name))
        self.infos = {i.name: i for i in infos}
        self.widgets = {}
        self.holders = {}  # field name -> the Accordion it was rendered in (opened when an error names it)
        for info in infos:
            component = widget(info, field_label(info.name, "en"), self.cls.help(info.name, "en"),
                               elem_id=f"{prefix or kind}-{info.name}", render=render)
            ui.add(component, self._render(info.name))
            self.widgets[info.name] = component

    def _render(self, name: str):
        return lambda lang: gr.update(label=field_label(name, lang), info=self.cls.help(name, lang))

    def render(self, include=None, exclude=(), columns: int = 1) -> None:
        """Place widgets built with render=False here (so a page can split a form, e.g. into an accordion),
        `columns` side by side."""
        chosen = [c for name, c in self.widgets.items() if (include is None or name in include) and name not in exclude]
        holder = Context.block  # an Accordion when the page renders this part of the form inside one
        if isinstance(holder, gr.Accordion):
            for name, component in self.widgets.items():
                if any(component is c for c in chosen):
                    self.holders[name] = holder
        if columns <= 1:
            for component in chosen:
                component.render()
            return
        for start in range(0, len(chosen), columns):
            with gr.Row(equal_height=True):
                for component in chosen[start:start + columns]:
                    component.render()

    def show_only(self, shown, among) -> list:
        """Updates that show the widgets of `among` named in `shown` and hide the rest of `among` (e.g. a
        "method settings" section showing the chosen methods' settings only); outputs: self.widgets_of(among)."""
        return [gr.update(visible=name in shown) for name in among]

    def marked_outputs(self) -> list:
        """The outputs mark() updates: each accordion holding fields, then every widget."""
        accordions = list({id(a): a for a in self.holders.values()}.values())
        return accordions + list(self.widgets.values())

    def mark(self, names) -> list:
        """Updates for marked_outputs(): open the accordions holding the named fields and outline those
        fields in red (elem class "field-error"); no names clears the marks."""
        names = [n.split("[")[0] for n in names]
        accordions = list({id(a): a for a in self.holders.values()}.values())
        opened = {id(self.holders[n]) for n in names if n in self.holders}
        return ([gr.update(open=True) if id(a) in opened else gr.skip() for a in accordions]
                + [gr.update(elem_classes=["field-error"] if name in names else []) for name in self.widgets])

    def widgets_of(self, names) -> list:
        return [self.widgets[name] for name in names]

    def inputs(self) -> list:
        return list(self.widgets.values())

    def values(self, values) -> dict:
        """Widget values in inputs() order -> {field name: value}."""
        return dict(zip(self.widgets, values))

    def spec(self, values, extra: dict | None = None, owner: str | None = None) -> Spec:
        """A validated spec from widget values (raises LabError, which the page shows translated); owner:
        the submitting visitor, whose references are checked before the spec is built (Space mode)."""
        return to_spec(self.kind, self.values(values), extra, owner)

    def fill(self, spec_data: dict) -> list:
        """Updates that put a spec's values into the widgets (e.g. to load a run's settings)."""
        return [gr.update(value=to_widget(info, spec_data.get(name, info.default)))
                for name, info in self.infos.items()]
