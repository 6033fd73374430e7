"""The Generate tab: pick a model, write prompts, set decoding, run it as a job, read the outputs."""
import gradio as gr
from lab.runs import runner
from lab.present.home_view import model_choices
from lab.runs.job_view import generation_frame as outputs_frame
from lab.runs.job_view import run_spec
from lab.specs import KINDS
from pages.forms import SpecForm
from pages.job_panel import JobPanel
from pages.widgets import RunButton, result_table, shows_errors
from pages.ui import K, session_lang, viewer

def build(ui) -> None:
    with ui.make(gr.Tab, label=K("tab.generate"), id="generate", elem_id="tab-generate"):
        if "generate" not in KINDS:
            ui.make(gr.Markdown, value=K("generate.unavailable"))
            return
        choices, default = model_choices()
        with gr.Row():
            with gr.Column(scale=3):
                model = ui.make(gr.Dropdown, choices=choices, value=default, allow_custom_value=True,
                                label=K("generate.model"), info=K("generate.model_info"), elem_id="generate-model")
                form = SpecForm(ui, "generate", exclude=("model",), render=False)
                form.render(include=("prompts",))
                with ui.make(gr.Accordion, label=K("generate.settings"), open=False, elem_id="generate-settings"):
                    form.render(exclude=("prompts", "name", "seed"), columns=2)
                    form.render(include=("name", "seed"), columns=2)
                run = RunButton(ui, K("generate.run"), elem_id="generate-run")  # a refusal shows under it
                table = result_table(ui, outputs_frame(None, "en"), wide=(0, 1), label=K("generate.outputs"),
                                     elem_id="generate-outputs", render=False)
                panel = JobPanel(ui, "generate", show_result=lambda result, lang: [outputs_frame(result, lang)],
                                 result_outputs=[table])
                table.render()
            with gr.Column(scale=2):
                ui.lesson("generate")

    @shows_errors(outputs=1 + len(panel.outputs()))
    def submit(lang, visitor, model_name, *values):
        spec = form.spec(values, extra={"model": (model_name or "").strip()}, owner=visitor or "")
        run_id = runner.submit(spec, owner=visitor or "")
        return panel.started(run_id, session_lang(lang))

    run.on_click(submit, [ui.lang, ui.visitor, model, *form.inputs()], [panel.run_id, *panel.outputs()], form=form)

    def restore(lang, run_id, visitor, token):
        """After a reload, show the settings of the run the panel re-attached to."""
        spec = run_spec(run_id, viewer(visitor, token)) if run_id else None
        if not spec or spec.get("kind") != "generate":
            return [gr.skip()] * (1 + len(form.inputs()))
        return [gr.update(value=spec.get("model", default)), *form.fill(spec)]

    ui.on_load(restore, [panel.run_id, ui.visitor, ui.token], [model, *form.inputs()])
