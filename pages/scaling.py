"""The Scaling-laws tab: fit Kaplan's and Chinchilla's laws to an uploaded CSV, the shipped example or
the lab's own sweep of tiny models; read the fitted parameters with bootstrap intervals and every
plot; then predict the loss of a new (N, D) and train that model to see the measured point land.

Fitting, sweeping and verifying are jobs ("scaling", "scaling_sweep", "pretrain"); the logic behind
the widgets is in lab/scaling/view.py.
"""

import gradio as gr

from lab.runs import runner
from lab.errors import LabError
from lab.kinds.scaling import EXAMPLE_CSV
from lab.scaling import view
from lab.scaling.data import points_from_records, read_points_file
from lab.specs import KINDS, spec_from_dict
from pages.forms import SpecForm
from pages.job_panel import JobPanel
from lab.classroom import presets
from lab.classroom.uploads import save_upload
from pages.widgets import RunButton, number_field, shows_errors, result_table
from pages.ui import K, session_lang, viewer, warn

FIT_FIELDS = ("huber_delta", "bootstrap_samples", "max_iterations", "compute_budget", "kaplan_irreducible", "seed")
PREDICTION = view.FIGURES.index("prediction")


def stored_upload(path: str, visitor: str = "") -> str:
    """The uploaded CSV kept in the data folder, named by its content (the job reads it later, in another process)."""
    return save_upload(path, visitor, (".csv", ".tsv", ".txt"), "scaling_no_csv", by_hash=True)


def build(ui) -> None:
    with ui.make(gr.Tab, label=K("tab.scaling"), id="scaling", elem_id="tab-scaling"):
        if not {"scaling", "scaling_sweep", "pretrain"} <= set(KINDS):
            ui.make(gr.Markdown, value=K("app.coming_soon"))
            ui.lesson("scaling")
            return
        with gr.Row():
            with gr.Column(scale=3):
                ui.make(gr.Markdown, value=K("scaling.page.data_title"))
                source = ui.make(gr.Radio, choices=[(K("scaling.page.source_example"), "example"),
                                                    (K("scaling.page.source_upload"), "upload"),
                                                    (K("scaling.page.source_sweep"), "sweep")],
                                 value="example", label=K("scaling.page.source"), elem_id="scaling-source")
                upload = ui.make(gr.File, label=K("scaling.page.upload"), file_types=[".csv", ".tsv", ".txt"],
                                 type="filepath", elem_id="scaling-upload")
                with gr.Row(equal_height=True):
                    sweep = ui.make(gr.Dropdown, choices=view.sweep_choices(), value=None, label=K("scaling.page.sweep"),
                                    info=K("scaling.page.sweep_info"), elem_id="scaling-sweep", scale=4)
                    refresh = ui.make(gr.Button, value=K("scaling.page.refresh"), size="sm", scale=1,
                                      elem_id="scaling-refresh")
                with ui.make(gr.Accordion, label=K("scaling.page.fit_settings"), open=False, elem_id="scaling-settings"):
                    form = SpecForm(ui, "scaling", include=FIT_FIELDS, prefix="scaling-fit", render=False)
                    form.render(columns=2)
                fit = RunButton(ui, K("scaling.page.fit"), elem_id="scaling-fit")
                summary = gr.Markdown("", elem_id="scaling-summary", render=False)
                table = result_table(ui, view.parameter_table({}, "en"), render=False,
                                     elem_id="scaling-params")
                figures = [gr.Plot(render=False, elem_id=f"scaling-plot-{name}", show_label=False) for name in view.FIGURES]

                prediction_text = gr.Markdown("", elem_id="scaling-prediction", render=False)
                predict_plot = gr.Plot(render=False, elem_id="scaling-predict-plot", show_label=False)
                default_n, default_d = view.predict_defaults(read_points_file(EXAMPLE_CSV))  # the example's middle
                n_box = number_field(ui, K("scaling.page.predict_n"), value=default_n, minimum=0,
                                elem_id="scaling-predict-n", render=False)
                d_box = number_field(ui, K("scaling.page.predict_d"), value=default_d, minimum=0,
                                elem_id="scaling-predict-d", render=False)
                verify_note = gr.Markdown(K("scaling.page.verify_blocked", reason=view.verify_reason(
                    None, default_n, default_d, "en")).render("en"), elem_id="scaling-verify-note", render=False)

                def show_fit(result, lang):
                    if result is None:  # a new fit started: nothing of the previous one stays on screen
                        return ["", view.parameter_table({}, lang), "", gr.skip(), gr.skip(), None,
                                *[None] * len(figures)]
                    # Predict starts from the middle of the fitted data, not from a fixed guess far outside it
                    n, d = view.predict_defaults(points_from_records(result["outputs"]["points"]))
                    drawn = view.figures(result, lang, n, d)
                    return [view.summary(result, lang), view.parameter_table(result["metrics"], lang),
                            view.predict_text(result, n, d, lang), n, d, drawn[PREDICTION], *drawn]

                panel = JobPanel(ui, "scaling", show_result=show_fit,
                                 result_outputs=[summary, table, prediction_text, n_box, d_box, predict_plot, *figures])
                summary.render()
                table.render()
                with gr.Tabs(elem_id="scaling-figures"):
                    for name, plot in zip(view.FIGURES, figures):
                        with ui.make(gr.Tab, label=K(f"scaling.figure.{name}")):  # no elem_id: only top tabs have one
                            plot.render()

                ui.make(gr.Markdown, value=K("scaling.page.predict_title"))
                with gr.Row(equal_height=True):
                    n_box.render()
                    d_box.render()
                with gr.Row():
                    predict = ui.make(gr.Button, value=K("scaling.page.predict"), elem_id="scaling-predict")
                    verify = RunButton(ui, K("scaling.page.verify"), elem_id="scaling-verify", variant="secondary",
                                       interactive=False)  # on once a sweep's fit can train (N, D): verify_state
                verify_note.render()
                prediction_text.render()
                predict_plot.render()
                verify_text = gr.Markdown("", elem_id="scaling-verify-text", render=False)
                verify_plot = gr.Plot(render=False, elem_id="scaling-verify-plot", show_label=False)

                def show_verify(result, lang):
                    point = view.verified_point(result) if result else None
                    fit_result = runner.result(point[0]) if point else None
                    if not point or not fit_result or fit_result.get("status") != "succeeded":
                        return ["", None]
                    _, n, d, measured = point
                    text = view.predict_text(fit_result, n, d, lang) + "\n\n" + K("scaling.page.measured",
                                                                                   loss=f"{measured:.4f}").render(lang)
                    return [text, view.prediction_figure(fit_result, lang, n, d, measured)]

                verify_panel = JobPanel(ui, "scaling-verify", show_result=show_verify,
                                        result_outputs=[verify_text, verify_plot])
                verify_text.render()
                verify_plot.render()

                with ui.make(gr.Accordion, label=K("scaling.page.sweep_title"), open=False, elem_id="scaling-sweep-box"):
                    ui.make(gr.Markdown, value=K("scaling.page.sweep_intro"))
                    preset = ui.make(gr.Dropdown, choices=presets.choices("scaling", "en"), value="scaling/cpu_10min",
                                     label=K("scaling.page.preset"), elem_id="scaling-preset")
                    ui.on_language(lambda lang: gr.update(choices=presets.choices("scaling", lang)), [], [preset])
                    train_sweep = RunButton(ui, K("scaling.page.train_sweep"), elem_id="scaling-train-sweep",
                                            variant="secondary")
                    sweep_note = gr.Markdown("", elem_id="scaling-sweep-note", render=False)

                    def show_sweep(result, lang):
                        if result is None:
                            return ["", gr.skip()]
                        metrics = result["metrics"]
                        note = K("scaling.page.sweep_done", points=int(metrics.get("n_points", 0)),
                                 alpha=f"{metrics.get('alpha', float('nan')):.3f}",
                                 beta=f"{metrics.get('beta', float('nan')):.3f}").render(lang)
                        return [note, gr.update(choices=view.sweep_choices())]

                    sweep_panel = JobPanel(ui, "scaling-sweep", show_result=show_sweep, result_outputs=[sweep_note, sweep])
                    sweep_note.render()
            with gr.Column(scale=2):
                ui.lesson("scaling")

    def submit_fit(lang, visitor, source_value, upload_path, sweep_run, *values):
        """A refusal (LabError) goes to the fit button's own message line (RunButton.on_click)."""
        lang = session_lang(lang)
        extra = {"source": "sweep" if source_value == "sweep" else "csv", "csv": EXAMPLE_CSV, "sweep_run": ""}
        if source_value == "upload":
            if not upload_path:
                raise LabError("scaling_no_csv")
            read_points_file(upload_path)  # a bad file is refused here, naming its column and row
            extra["csv"] = stored_upload(upload_path, visitor or "")
        elif source_value == "sweep":
            extra["sweep_run"] = sweep_run or ""
        run_id = runner.submit(form.spec(values, extra=extra, owner=visitor or ""), owner=visitor or "")
        return panel.started(run_id, lang)

    def predict_now(lang, fit_run, n_params, tokens):
        lang = session_lang(lang)
        result = runner.result(fit_run) if fit_run else None
        if not result or result.get("status") != "succeeded":
            warn(LabError("scaling_no_fit_yet"), lang)
            return [gr.skip()] * 3
        if not n_params or not tokens or n_params <= 0 or tokens <= 0:
            warn(LabError("scaling_predict_pair", n=n_params, d=tokens), lang)
            return [gr.skip()] * 3
        figure = view.prediction_figure(result, lang, n_params, tokens)  # under the button and in the figure tabs
        return [view.predict_text(result, n_params, tokens, lang), figure, figure]

    def verify_state(lang, fit_run, n_params, tokens):
        """The verify button on only when the fit came from a sweep and (N, D) trains here; else off, saying why."""
        reason = view.verify_reason(fit_run, n_params, tokens, session_lang(lang))
        note = K("scaling.page.verify_blocked", reason=reason).render(session_lang(lang)) if reason else ""
        return [gr.update(interactive=not reason), note]

    def submit_verify(lang, visitor, fit_run, n_params, tokens):
        lang = session_lang(lang)
        fitted = runner.result(fit_run) if fit_run else None  # read once
        if not fitted or fitted.get("status") != "succeeded":
            raise LabError("scaling_no_fit_yet")
        run_id = runner.submit(spec_from_dict(view.verify_spec(fit_run, n_params or 0, tokens or 0)),
                               owner=visitor or "")
        return verify_panel.started(run_id, lang)

    @shows_errors(outputs=1 + len(sweep_panel.outputs()))
    def submit_sweep(lang, visitor, preset_id):
        run_id = runner.submit(presets.load(preset_id or "").build()[0], owner=visitor or "")
        return sweep_panel.started(run_id, session_lang(lang))

    fit.on_click(submit_fit, [ui.lang, ui.visitor, source, upload, sweep, *form.inputs()], [panel.run_id, *panel.outputs()],
                 form=form)
    refresh.click(lambda visitor, token: gr.update(choices=view.sweep_choices(viewer(visitor, token))),
                  [ui.visitor, ui.token], [sweep])
    ui.on_load(lambda lang, visitor, token: gr.update(choices=view.sweep_choices(viewer(visitor, token))),
               [ui.visitor, ui.token], [sweep])
    predict.click(predict_now, [ui.lang, panel.run_id, n_box, d_box], [prediction_text, predict_plot, figures[PREDICTION]])
    verify_io = ([ui.lang, panel.run_id, n_box, d_box], [verify.button, verify_note])
    for trigger in (n_box.change, d_box.change, panel.run_id.change, panel.shown.change):
        trigger(verify_state, *verify_io)
    ui.on_language(lambda lang, fit_run, n, d: verify_state(lang, fit_run, n, d), verify_io[0][1:], verify_io[1])
    verify.on_click(submit_verify, [ui.lang, ui.visitor, panel.run_id, n_box, d_box],
                 [verify_panel.run_id, *verify_panel.outputs()])
    train_sweep.on_click(submit_sweep, [ui.lang, ui.visitor, preset], [sweep_panel.run_id, *sweep_panel.outputs()])
