"""The detail view of one run in the Runs tab: summary, error, curves, live log, outputs, spec, files.

render() reads the run's row and files (lab.runs.runs_view.run_detail); the timer calls poll(), which
skips unless the run changed (status, or any of its files: RunFolder.signature).
"""
import gradio as gr
from lab.classroom import downloads
from lab.runs import store
from lab.runs.folder import RunFolder
from lab.errors import LabError
from lab.present.plots import empty_figure, metric_curves
from lab.runs.runs_view import curve_names, metric_records, run_detail
from pages.ui import K, session_lang, viewer


def _signature(run_id: str, lang: str) -> str:
    row = store.get_run(run_id)
    if row is None:
        return f"{run_id}|gone|{lang}"
    files = RunFolder(run_id).signature() if row["status"] in store.ACTIVE else ""
    return f"{run_id}|{row['status']}|{lang}|{files}"


def _shown(markdown: str):
    """A markdown update that hides the widget while it has nothing to say."""
    return gr.update(value=markdown, visible=bool(markdown))


class RunDetail:
    def __init__(self, ui):
        self.shown = gr.State("")
        self.summary = ui.make(gr.Markdown, value=K("runs.detail.none"), elem_id="run-summary")
        self.error = gr.Markdown("", elem_classes=["run-error"], elem_id="run-error", visible=False)
        with gr.Row():
            with gr.Column(scale=3):
                self.plot = gr.Plot(empty_figure("en", "plot.no_run"), show_label=False, elem_id="run-curves")
            with gr.Column(scale=2):
                self.log = ui.make(gr.Textbox, label=K("runs.detail.log"), lines=14, max_lines=14, autoscroll=True,
                                   interactive=False, elem_id="run-log")
        self.outputs_md = gr.Markdown("", elem_id="run-outputs", visible=False)
        with gr.Row(equal_height=True):  # a cancelled or failed fine-tune: resume, naming the checkpoint it picks
            self.resume_note = gr.Markdown("", elem_id="run-resume-note", visible=False)
            self.resume = ui.make(gr.Button, value=K("runs.resume"), variant="primary", visible=False, scale=0,
                                  min_width=220, elem_id="run-resume")
        with gr.Row():
            self.spec = ui.make(gr.Code, label=K("runs.detail.spec"), language="json", interactive=False, lines=10,
                                elem_id="run-spec")
            self.files = ui.make(gr.File, label=K("runs.detail.artifacts"), file_count="multiple", interactive=False,
                                 elem_id="run-files")

    def outputs(self) -> list:
        return [self.summary, self.error, self.plot, self.log, self.outputs_md, self.spec, self.files,
                self.resume_note, self.resume, self.shown]

    def render(self, run_id: str, lang: str, visitor: str = "", token: str = "") -> list:
        lang = session_lang(lang)
        if not run_id:
            return [K("runs.detail.none").render(lang), _shown(""), empty_figure(lang, "plot.no_run"), "",
                    _shown(""), "", None, _shown(""), gr.update(visible=False), ""]
        try:
            detail = run_detail(run_id, lang, viewer(visitor, token))  # others' private runs: "no such run"
        except LabError as error:
            return [error.message(lang), _shown(""), empty_figure(lang, "plot.no_run"), "", _shown(""), "", None,
                    _shown(""), gr.update(visible=False), ""]
        frame = metric_records(run_id)
        names = curve_names({run_id: frame})
        metric = "loss" if "loss" in names else (names[0] if names else "loss")
        error = f"**{K('runs.detail.error').render(lang)}** {detail['error']}" if detail["error"] else ""
        files = downloads.copies_for_download(detail["downloads"])
        if detail["tensorboard"]:  # the run's TensorBoard event files, zipped: unzip and `tensorboard --logdir .`
            files.append(downloads.copy_for_download(detail["tensorboard"], name=f"{run_id}-tensorboard"))
        return [detail["summary"], _shown(error), metric_curves({run_id: frame}, metric, lang), detail["log_tail"],
                _shown(detail["outputs"]), detail["spec_json"],
                files or None, *self._resume(run_id, lang, visitor, token),
                _signature(run_id, lang)]

    @staticmethod
    def _resume(run_id: str, lang: str, visitor: str, token: str) -> list:
        """The resume offer of a cancelled or failed fine-tune: which checkpoint it continues from."""
        from lab.finetune import resume
        from lab.present.i18n import t

        offer = resume.offer(run_id, viewer(visitor, token))
        if offer is None:
            return [_shown(""), gr.update(visible=False)]
        return [_shown(t("runs.resume_note", lang, **offer)), gr.update(visible=True)]

    def poll(self, run_id, lang, shown, visitor="", token=""):
        lang = session_lang(lang)
        if not run_id or _signature(run_id, lang) == shown:
            return [gr.skip()] * len(self.outputs())
        return self.render(run_id, lang, visitor, token)
