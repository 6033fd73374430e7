"""A tab's window on the job it submitted: progress bar, ETA, status, error, and its result when done.

The run id is kept in gr.BrowserState, so a page reload re-attaches to a running job; the app's
timer polls job_status() (an SQLite row and two small JSON files) and skips when nothing changed.

    panel = JobPanel(ui, "generate", show_result=render_outputs, result_outputs=[table])
    run.click(submit, [...], [panel.run_id, *panel.outputs()])   # submit returns panel.started(run_id, lang)
"""
import html
from typing import Callable

import gradio as gr
from lab.runs import runner, store
from lab.errors import LabError
from lab.runs.job_view import job_status
from pages.ui import K, session_lang, viewer, warn
from pages.widgets import ConfirmButton


def status_html(status: dict | None) -> str:
    if not status:
        return '<div class="job-status job-none"></div>'
    percent = max(0.0, min(100.0, status["fraction"] * 100))
    error = f'<div class="job-error">{html.escape(status["error"])}</div>' if status.get("error") else ""
    return (f'<div class="job-status job-{html.escape(status["status"])}">'
            f'<div class="job-bar"><div class="job-fill" style="width: {percent:.1f}%"></div></div>'
            f'<div class="job-text">{html.escape(status["text"])}</div>{error}</div>')


class JobPanel:
    def __init__(self, ui, name: str, show_result: Callable, result_outputs: list):
        """show_result(result or None, lang) -> updates for result_outputs (None clears them)."""
        self.ui = ui
        self.show_result = show_result
        self.result_outputs = list(result_outputs)
        self.run_id = ui.state(f"{name}-run", "")
        self.shown = gr.State("")  # what the widgets show now: the timer skips while it is unchanged
        with gr.Row(elem_classes=["job-row"]):
            self.html = gr.HTML(status_html(None), elem_id=f"{name}-status", elem_classes=["job-panel"])
            self.confirm = ConfirmButton(ui, K("job.cancel"), confirm_key="job.cancel_confirm", variant="stop",
                                         size="sm", scale=0, min_width=120, visible=False, elem_id=f"{name}-cancel")
            self.cancel = self.confirm.button
        # the first click asks ("Click again to cancel"), the second cancels
        self.confirm.on_click(self._cancel, self.run_id, [self.run_id, ui.lang, ui.visitor, ui.token],
                              [self.html, self.shown, *self.result_outputs])
        # the run id is the browser's: every read checks it against this session's viewer
        ui.poll(self.poll, [self.run_id, ui.lang, self.shown, ui.visitor, ui.token], self.outputs())
        ui.on_language(lambda lang, run_id, visitor, token: self.render(run_id, lang, "", viewer(visitor, token)),
                       [self.run_id, ui.visitor, ui.token], self.outputs())

    def outputs(self) -> list:
        return [self.html, self.cancel, self.shown, *self.result_outputs]

    def render(self, run_id: str, lang: str, shown: str, seen) -> list:
        lang = session_lang(lang)
        if not run_id:
            return [status_html(None), gr.update(visible=False), "", *self.show_result(None, lang)]
        status = job_status(run_id, lang, seen)
        signature = f"{run_id}|{lang}|{status['text']}|{status['error']}"
        if signature == shown:
            return [gr.skip()] * len(self.outputs())
        if status["status"] == "missing":  # deleted in the Runs tab: nothing to show any more
            return [status_html(None), gr.update(visible=False), signature, *self.show_result(None, lang)]
        if status["terminal"]:
            results = self.show_result(status["result"] if status["status"] == "succeeded" else None, lang)
        else:
            results = [gr.skip()] * len(self.result_outputs)
        return [status_html(status), gr.update(visible=not status["terminal"]), signature, *results]

    def poll(self, run_id, lang, shown, visitor="", token=""):
        if not run_id:
            return [gr.skip()] * len(self.outputs())
        return self.render(run_id, lang, shown, viewer(visitor, token))

    def started(self, run_id: str, lang: str) -> list:
        """What a submit handler returns for [panel.run_id, *panel.outputs()]: the run, outputs cleared.
        Nothing of the run is read here: the next poll reads it, checked against the viewer."""
        lang = session_lang(lang)
        waiting = {"status": "queued", "fraction": 0.0, "text": K("job.waiting").render(lang), "error": ""}
        return [run_id, status_html(waiting), gr.update(visible=True), "", *self.show_result(None, lang)]

    def _cancel(self, run_id, lang, visitor="", token=""):
        """The confirmed cancel; updates for the panel but its button (ConfirmButton resets its text)."""
        lang = session_lang(lang)
        if run_id:
            try:
                if runner.get(run_id, viewer(visitor, token))["status"] in store.ACTIVE:
                    runner.cancel(run_id, viewer=viewer(visitor, token))  # only your own (or the teacher's)
            except LabError as error:
                warn(error, lang)
        updates = self.render(run_id, lang, "", viewer(visitor, token))
        return [updates[0], *updates[2:]]
