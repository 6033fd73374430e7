"""The widgets every tab shares, so that a tab only says what is its own:

    row = PresetRow(ui, "finetune", ids=("finetune-preset", "finetune-load-preset", "finetune-preset-note"), ...)
    row.on_load(lambda preset, lang: [...updates...], outputs)        # one preset loader: lab/classroom/presets.py
    LessonPicker(ui, [METHODS], label=K("finetune.method_lesson"), elem_id="finetune-lesson-pick")
    upload_box(ui, dataset, label=K("finetune.upload"), elem_id="finetune-upload")    # one saver: lab/classroom/uploads.py
    run = RunButton(ui, K("finetune.run"), elem_id="finetune-run"); run.on_click(submit, inputs, outputs)
    @shows_errors(outputs=3)                                         # a LabError becomes a toast, outputs stay
    table = result_table(ui, view.table_frame(None, "en"), wide=("Prompt",), elem_id="quantize-table")

A RunButton's click always polls fast right after (ui.hurry): without it a new run's first progress
waits for the slow tick (up to 5 s).
"""
import functools
import html
from typing import Callable, Optional

import gradio as gr

from lab.classroom import presets
from lab.classroom.uploads import save_upload
from lab.errors import LabError
from lab.present.i18n import lesson, t
from lab.present.table_layout import CONTAINER_PX, column_widths
from lab.present.form_fields import error_text
from pages.ui import K, session_lang, warn


def shows_errors(outputs: Optional[int] = None, lang_at: int = 0):
    """Decorate a handler so that a LabError it raises is shown as a toast in the visitor's language
    (positional argument `lang_at`) and changes nothing: `outputs` skips (one bare skip for None).
    A RunButton's on_click unwraps it and also shows the message right under the button."""
    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def handler(*args):
            try:
                return fn(*args)
            except LabError as error:
                warn(error, session_lang(args[lang_at] if len(args) > lang_at else None))
                return gr.skip() if outputs is None else [gr.skip()] * outputs
        handler.lab_raw, handler.lab_lang_at = fn, lang_at
        return handler
    return decorate


def error_html(error, lang: str) -> str:
    """A refusal as the red line under the button that was pressed (fields named as the form labels them)."""
    message = error_text(error, lang) if hasattr(error, "key") else str(error)
    return f'<div class="run-error" role="alert">{html.escape(message)}</div>'


class RunButton:
    """A primary button that queues a job; its click always hurries the timer to the new run's progress.
    A refusal (LabError) shows as a red message right under the button, as well as a toast; with a form
    (pages/forms.SpecForm), the fields the message names are highlighted and their accordion opened."""

    def __init__(self, ui, value, elem_id: str, variant: str = "primary", **kwargs):
        self.ui = ui
        # button and message stacked in their own column, so that in a row the message is under the button
        with gr.Column(scale=kwargs.pop("scale", None) or 1, min_width=160, elem_classes=["run-button-stack"]):
            self.button = ui.make(gr.Button, value=value, variant=variant, elem_id=elem_id, **kwargs)
            self.error = gr.HTML("", visible=False, elem_id=f"{elem_id}-error", elem_classes=["run-error-box"],
                                 padding=False)

    def on_click(self, fn: Callable, inputs: list, outputs: list, form=None, **kwargs):
        raw, lang_at = getattr(fn, "lab_raw", fn), getattr(fn, "lab_lang_at", 0)
        count = len(outputs)
        marked = form.marked_outputs() if form is not None else []

        def handler(*args):
            lang = session_lang(args[lang_at] if len(args) > lang_at else None)
            try:
                result = raw(*args)
            except LabError as error:
                warn(error, lang)
                named = [v for k, v in error.params.items() if k in ("field", "other") and isinstance(v, str)]
                return ([gr.skip()] * count + [gr.update(value=error_html(error, lang), visible=True)]
                        + (form.mark(named) if form is not None else []))
            values = [result] if count == 1 else list(result or []) if count else []
            return values + [gr.update(value="", visible=False)] + (form.mark([]) if form is not None else [])

        event = self.button.click(handler, inputs, list(outputs) + [self.error] + marked, **kwargs)
        self.ui.hurry(event)
        return event


class ConfirmButton:
    """A button that acts on its second click for the same target (e.g. cancel a run): the first click only
    turns its text into the question ("Click again to cancel run …"); a new target (another run selected,
    a new run started) asks again. Server-side, so no browser dialog is needed.

        cancel = ConfirmButton(ui, K("runs.cancel"), confirm_key="runs.cancel_confirm", elem_id="runs-cancel")
        cancel.on_click(fn, target=selected, inputs=[selected, ui.lang, ...], outputs=[...], lang_at=1)
    """

    def __init__(self, ui, value: K, confirm_key: str, **kwargs):
        self.ui, self.value, self.confirm_key = ui, value, confirm_key
        self.button = ui.make(gr.Button, value=value, **kwargs)
        self.armed = gr.State("")  # the target the question was asked for

    def asking(self, target: str, lang: str) -> dict:
        return gr.update(value=t(self.confirm_key, lang, target=target))

    def reset(self, lang: str) -> dict:
        return gr.update(value=self.value.render(session_lang(lang)))

    def on_click(self, fn: Callable, target, inputs: list, outputs: list, lang_at: int = 1, **kwargs):
        """fn(*inputs) -> updates for outputs, run on the second click for the target's current value (at once
        when the target is empty: fn says what is missing). Returns the event."""
        count = len(outputs)

        def handler(armed, target_value, *args):
            lang = session_lang(args[lang_at] if len(args) > lang_at else None)
            if target_value and armed != target_value:
                return [gr.skip()] * count + [self.asking(target_value, lang), target_value]
            result = fn(*args)
            values = [result] if count == 1 else list(result or []) if count else []
            return values + [self.reset(lang), ""]

        event = self.button.click(handler, [self.armed, target, *inputs], [*outputs, self.button, self.armed], **kwargs)
        target.change(lambda lang: (self.reset(lang), ""), [self.ui.lang], [self.button, self.armed],
                      show_progress="hidden", queue=False)
        return event


class PresetRow:
    """A tab's preset dropdown, its load button and (optionally) the note saying what the preset does.
    Choices come from lab/classroom/presets.py (the tab's folder, of one kind) with titles in the
    visitor's language; ids = (dropdown, button, note) elem_ids (None: no such elem_id / no note)."""

    def __init__(self, ui, tab: str, ids: tuple, label, button, info=None, kind: Optional[str] = None,
                 blank: bool = True, note: bool = True, value=None, dropdown_scale: int = 3, **kwargs):
        self.ui, self.tab, self.kind, self.blank = ui, tab, kind, blank
        dropdown_id, button_id, note_id = ids
        extra = {"info": info} if info is not None else {}
        with gr.Row(equal_height=False):
            self.dropdown = ui.make(gr.Dropdown, choices=self.choices("en"), value="" if value is None and blank else value,
                                    label=label, elem_id=dropdown_id, scale=dropdown_scale, **extra, **kwargs)
            self.button = ui.make(gr.Button, value=button, size="sm", scale=1, min_width=100, elem_id=button_id)
        self.note = gr.Markdown("", elem_id=note_id) if note else None
        ui.on_language(lambda lang: gr.update(choices=self.choices(lang)), [], [self.dropdown])

    def choices(self, lang: str) -> list:
        return ([("—", "")] if self.blank else []) + presets.choices(self.tab, lang, self.kind)

    def on_load(self, fill: Callable, outputs: list) -> None:
        """Load button: fill(preset, lang) -> updates for `outputs` (the note, when shown, comes first)."""
        shown = ([self.note] if self.note is not None else []) + list(outputs)

        @shows_errors(outputs=len(shown), lang_at=1)
        def apply(preset_id, lang):
            lang = session_lang(lang)
            if not preset_id:
                return [gr.skip()] * len(shown)
            preset = presets.load(preset_id)
            return ([presets.note(preset, lang)] if self.note is not None else []) + list(fill(preset, lang))

        self.button.click(apply, [self.dropdown, self.ui.lang], shown)


class Listed:
    """A registry not yet converted to lab.registry.Registry, seen through its API (names, label_key,
    lesson_name). The lead deletes these adapters once every registry is a Registry (issue 16)."""

    def __init__(self, names: Callable, label_prefix: str, lesson_prefix: str):
        self._names, self.label_prefix, self.lesson_prefix = names, label_prefix, lesson_prefix

    def names(self) -> list[str]:
        return list(self._names())

    def label_key(self, name: str) -> str:
        return f"{self.label_prefix}{name}"

    def lesson_name(self, name: str) -> str:
        return f"{self.lesson_prefix}{name}"


class LessonPicker:
    """A dropdown of one lesson per entry of some registries (labels through i18n), and the lesson shown.
    Values are lesson names (e.g. "method_lora"), so one picker can span two registries."""

    def __init__(self, ui, registries: list, label, elem_id: str, value: Optional[str] = None,
                 lesson_elem_id: Optional[str] = None):
        choices = [(K(registry.label_key(name)), registry.lesson_name(name))
                   for registry in registries for name in registry.names()]
        self.default = value or choices[0][1]
        self.dropdown = ui.make(gr.Dropdown, choices=choices, value=self.default, label=label, elem_id=elem_id)
        self.lesson = gr.Markdown(lesson(self.default, "en"), elem_classes=["lesson"], elem_id=lesson_elem_id)
        self.dropdown.change(lambda name, lang: lesson(name or self.default, session_lang(lang)),
                             [self.dropdown, ui.lang], [self.lesson])
        ui.on_language(lambda lang, name: lesson(name or self.default, lang), [self.dropdown], [self.lesson])


class LabeledNumber(gr.Number):
    """A gr.Number whose minimum/maximum refusal names the field: "Training steps: -1 is less than the minimum
    (1)" instead of Gradio's bare "Value -1 is less than minimum value 1". Build it through ui.make with a K
    label (number_field below); the message is in the browser's
    language (its Accept-Language: the refusal comes before any handler sees the lab's language)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lab_label = self.label  # the English label; lab_label_key below gives the translated one

    def preprocess(self, payload):
        if payload is None:
            return None
        for bound, key, outside in ((self.minimum, "number_below", lambda b: payload < b),
                                    (self.maximum, "number_above", lambda b: payload > b)):
            if bound is not None and outside(bound):
                lang = request_lang()
                field = t(self.lab_label_key, lang) if getattr(self, "lab_label_key", None) else self.lab_label
                raise gr.Error(t(f"error.{key}", lang, field=field or "", value=f"{payload:g}", bound=f"{bound:g}"),
                               title=t("app.warning_title", lang))
        return self.round_to_precision(payload, self.precision)


def number_field(ui, label: K, **kwargs) -> LabeledNumber:
    """A number input whose limits are refused naming the field (LabeledNumber), labelled in the visitor's language."""
    box = ui.make(LabeledNumber, label=label, **kwargs)
    box.lab_label_key = label.key
    return box


def request_lang() -> str:
    """The language the browser asks for ("zh" or "en"), where no handler has the lab's chosen language yet."""
    from gradio.context import LocalContext

    request = LocalContext.request.get(None)
    accepted = (request.headers.get("accept-language", "") if request is not None and request.headers else "").lower()
    return "zh" if accepted.startswith("zh") else "en"


def upload_box(ui, target, label, elem_id: str, file_types=(".jsonl", ".json", ".csv"), save: Callable = save_upload,
               **kwargs):
    """A file box whose upload is saved (save(path, visitor) -> stored path) and put into `target`.
    Its label sits above the drop zone and the zone grows to its text (class "upload-box" in
    assets/style.css): a fixed height used to let the label cover "Drop File Here" and cut "Click to Upload"."""
    kwargs.pop("height", None)  # the zone sizes itself; a fixed height clips its text
    classes = kwargs.pop("elem_classes", None) or []
    box = ui.make(gr.File, label=label, file_types=list(file_types), elem_id=elem_id,
                  elem_classes=["upload-box", *([classes] if isinstance(classes, str) else classes)], **kwargs)

    @shows_errors(outputs=None, lang_at=1)
    def uploaded(file, lang, visitor):
        if not file:
            return gr.skip()
        paths = [f if isinstance(f, str) else f.name for f in file] if isinstance(file, list) else \
            (file if isinstance(file, str) else file.name)  # file_count="multiple" gives a list
        return gr.update(value=save(paths, visitor or ""))

    box.upload(uploaded, [box, ui.lang, ui.visitor], [target])
    return box


def result_table(ui, value, wide=(), container_px: int = CONTAINER_PX, **kwargs) -> gr.Dataframe:
    """A read-only result table whose columns are sized to its content (lab/present/table_layout.py): no
    header broken inside a word, long text wrapped, and every column visible or reachable with a visible
    scroll cue. The widths follow each new value (and language) the page puts in it. wide: columns (header
    or index) that hold long text even while the table is empty; container_px: the width it usually gets."""
    kwargs.setdefault("interactive", False)
    kwargs.setdefault("wrap", True)
    classes = kwargs.pop("elem_classes", None) or []
    table = ui.make(gr.Dataframe, value=value, column_widths=column_widths(value, wide, container_px),
                    elem_classes=["result-table", *([classes] if isinstance(classes, str) else classes)], **kwargs)

    def fit(frame):
        if frame is None or not hasattr(frame, "columns"):
            return gr.skip()
        return gr.update(column_widths=column_widths(frame, wide, container_px))

    table.change(fit, [table], [table], show_progress="hidden", queue=False)
    return table
