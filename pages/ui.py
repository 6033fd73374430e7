"""The language mechanism of the app: every visible text is registered with how to render it.

Pages build widgets through `ui.make(gr.Button, value=K("generate.run"))`: the widget is created
in English, and the registry remembers (widget, render) so that one handler can return gr.update(...)
for every registered widget in the other language. Texts that depend on data (the runs table, plots,
a job's status) are redrawn by functions a page registers with `ui.on_language(fn, inputs, outputs)`.
`ui.redraw(lang, ...)` does both in one event, on page load and on every switch (app.py wires it).
The chosen language and the visitor key live in gr.BrowserState; pages that follow running jobs
register a poller with `ui.poll`, and one gr.Timer event runs them all.
"""
from dataclasses import dataclass, field
from typing import Callable

import gradio as gr

from lab.present.i18n import LANGUAGES, lesson, t
from lab.runs.runs_view import any_active_run
from lab.present.form_fields import error_text

DEFAULT_LANG = "en"
FAST_TICK = 1.5  # seconds between polls while a run is queued or running
SLOW_TICK = 5.0  # ... while nothing is (new runs from the CLI or other visitors still show up)


class K:
    """An i18n key (with parameters) to be rendered in the current language."""

    def __init__(self, key: str, /, **params):
        self.key = key
        self.params = params

    def render(self, lang: str) -> str:
        return t(self.key, lang, **self.params)


def _render(value, lang: str):
    """Render K markers inside a value: a K, or a list of choices whose labels are Ks."""
    if isinstance(value, K):
        return value.render(lang)
    if isinstance(value, list):
        return [(_render(v[0], lang), v[1]) if isinstance(v, tuple) else _render(v, lang) for v in value]
    return value


def _has_key(value) -> bool:
    if isinstance(value, K):
        return True
    return isinstance(value, list) and any(isinstance(v, K) or (isinstance(v, tuple) and isinstance(v[0], K))
                                           for v in value)


@dataclass
class Refresher:
    fn: Callable  # fn(lang, *inputs) -> updates for outputs
    inputs: list
    outputs: list


@dataclass
class UI:
    """Shared by every page while the app is built: the registry, the browser states and the timer."""

    lang: gr.BrowserState = None  # "en" | "zh"
    visitor: gr.State = None  # the visitor key the server verified on page load: the owner of runs (server-side)
    credential: gr.BrowserState = None  # the signed credential the browser keeps so a reload keeps its runs
    token: gr.State = None  # a teacher's or admin's token, signed in per session in Runs → Classroom (server-side)
    timer: gr.Timer = None  # one event per tick runs every page's poller (see wire_timer)
    interval: gr.State = None  # the timer's current interval (FAST_TICK or SLOW_TICK)
    secret: str = ""  # encrypts BrowserState values (stable per data folder)
    texts: list = field(default_factory=list)  # (component, render(lang) -> gr.update)
    refreshers: list = field(default_factory=list)
    loaders: list = field(default_factory=list)
    pollers: list = field(default_factory=list)
    states: list = field(default_factory=list)  # per-browser values pages asked for (see state())

    @classmethod
    def create(cls, secret: str) -> "UI":
        """Inside gr.Blocks: the browser states (language, visitor key), the timer and its interval."""
        ui = cls(secret=secret)
        ui.lang = gr.BrowserState(None, storage_key="llm-lab-lang", secret=secret)
        # gr.State lives on the server (a browser cannot send its value); BrowserState lives in the
        # browser, readable by any script of the page (Gradio publishes its key): only the signed visitor
        # credential is kept there, never a token (lab/classroom/visitors.py).
        ui.visitor = gr.State("")
        ui.credential = gr.BrowserState("", storage_key="llm-lab-visitor", secret=secret)
        ui.token = gr.State("")
        ui.timer = gr.Timer(FAST_TICK)  # pages poll running jobs; slower while nothing runs (wire_timer)
        ui.interval = gr.State(FAST_TICK)
        return ui

    def add(self, component, render: Callable):
        self.texts.append((component, render))
        return component

    def make(self, cls, *args, **kwargs):
        """cls(*args, **kwargs) with K(...) values rendered in English, registered for a language change."""
        keyed = {name: value for name, value in kwargs.items() if _has_key(value)}
        component = cls(*args, **{name: _render(value, DEFAULT_LANG) for name, value in kwargs.items()})
        if keyed:
            self.add(component, lambda lang: gr.update(**{name: _render(v, lang) for name, v in keyed.items()}))
        return component

    def lesson(self, name: str, **kwargs):
        """A markdown lesson (assets/lessons/<lang>/<name>.md) that follows the language."""
        component = gr.Markdown(lesson(name, DEFAULT_LANG), elem_classes=["lesson"], **kwargs)
        return self.add(component, lambda lang: gr.update(value=lesson(name, lang)))

    def on_language(self, fn: Callable, inputs: list = (), outputs: list = ()):
        """fn(lang, *inputs) redraws data-dependent texts after a language change or a page load."""
        self.refreshers.append(Refresher(fn, list(inputs), list(outputs)))

    def on_load(self, fn: Callable, inputs: list = (), outputs: list = ()):
        """fn(lang, *inputs) runs once after the page loads (e.g. to put a re-attached run's settings back)."""
        self.loaders.append(Refresher(fn, list(inputs), list(outputs)))

    def poll(self, fn: Callable, inputs: list, outputs: list):
        """fn(*inputs) -> updates for outputs (gr.skip() where nothing changed), on every timer tick."""
        self.pollers.append(Refresher(fn, list(inputs), list(outputs)))

    def wire_timer(self) -> None:
        """One event per tick for all pollers: a browser makes one request per tick, not one per page.
        Ticks are fast while any run is queued or running, slow otherwise (each costs the server ~50 ms
        of CPU, which adds up on a 2-core Space with a class of visitors)."""
        inputs = [c for poller in self.pollers for c in poller.inputs] + [self.interval]
        outputs = [c for poller in self.pollers for c in poller.outputs] + [self.timer, self.interval]

        def tick(*values):
            updates, offset = [], 0
            for poller in self.pollers:
                updates.extend(poller.fn(*values[offset:offset + len(poller.inputs)]))
                offset += len(poller.inputs)
            interval = FAST_TICK if any_active_run() else SLOW_TICK
            if interval == values[-1]:
                return [*updates, gr.skip(), gr.skip()]
            return [*updates, gr.Timer(value=interval), interval]

        self.timer.tick(tick, inputs, outputs, concurrency_limit=None, trigger_mode="always_last",
                        show_progress="hidden")

    def hurry(self, event) -> None:
        """After `event` (e.g. a Run button's click) poll fast at once: a job was just queued."""
        event.then(lambda: (gr.Timer(value=FAST_TICK), FAST_TICK), None, [self.timer, self.interval],
                   show_progress="hidden")

    def state(self, name: str, default=None) -> gr.BrowserState:
        """A per-browser value that survives a reload (e.g. the run a tab is showing). It is placed at the
        top of the page by render_states(): inside a tab it would be read from the browser only once
        that tab is opened, too late for the page-load events that re-attach to a running job."""
        state = gr.BrowserState(default, storage_key=f"llm-lab-{name}", secret=self.secret, render=False)
        self.states.append(state)
        return state

    def render_states(self) -> None:
        for state in self.states:
            state.render()

    def components(self) -> list:
        return [component for component, _ in self.texts]

    def updates(self, lang: str) -> list:
        return [render(lang) for _, render in self.texts]

    # -- one event redraws everything: the registered texts and every page's refresher -------------
    def redraw_inputs(self) -> list:
        return [c for refresher in self.refreshers for c in refresher.inputs]

    def redraw_outputs(self) -> list:
        seen, outputs = set(), []
        for component in self.components() + [c for r in self.refreshers for c in r.outputs]:
            if id(component) not in seen:
                seen.add(id(component))
                outputs.append(component)
        return outputs

    def redraw(self, lang, *values) -> list:
        """Updates for redraw_outputs() in `lang`; a widget both labelled and filled gets one merged update."""
        lang = session_lang(lang)
        merged: dict[int, dict] = {}
        for component, update in zip(self.components(), self.updates(lang)):
            _merge(merged, component, update)
        offset = 0
        for refresher in self.refreshers:
            results = refresher.fn(lang, *values[offset:offset + len(refresher.inputs)])
            offset += len(refresher.inputs)
            if len(refresher.outputs) == 1 and not isinstance(results, (list, tuple)):
                results = [results]
            for component, update in zip(refresher.outputs, results):
                _merge(merged, component, update)
        return [gr.update(**merged.get(id(c), {})) for c in self.redraw_outputs()]


def _merge(merged: dict, component, update) -> None:
    """Fold one handler's result for a component (a gr.update dict or a plain value) into merged[id]."""
    if isinstance(update, dict) and update.get("__type__") == "update":
        props = {k: v for k, v in update.items() if k != "__type__"}
    else:
        props = {"value": update}
    merged.setdefault(id(component), {}).update(props)


def viewer(visitor, token=""):
    """Who is asking (lab.classroom.access.Viewer): the browser's visitor key and the role its token grants."""
    from lab.classroom.access import Viewer

    return Viewer.of(visitor, token)


def session_lang(lang) -> str:
    return lang if lang in LANGUAGES else DEFAULT_LANG


def warn(error, lang: str) -> None:
    """Show a LabError (or any error) as a toast in the chosen language (fields named as the form labels them)."""
    message = error_text(error, lang) if hasattr(error, "key") else str(error)
    gr.Warning(message, title=t("app.warning_title", lang))
