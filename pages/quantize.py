"""The Quantize & compress tab: one model under int8, 4-bit, bf16, round-to-nearest, GPTQ, SmoothQuant W8A8
and QAT side by side (memory, speed, perplexity, accuracy, answers, bits × method), the look-inside views
(weight histogram with the code points, per-layer weight or output error, activation outliers before and
after smoothing), and a magnitude-vs-Wanda sparsity sweep; the lesson beside.

The comparison and the sweep are jobs ("quantize", "prune"); the logic behind the widgets is in
lab/quantize/view.py.
"""
import gradio as gr
from lab.runs import runner
from lab.prune import view as prune_view
from lab.prune.methods import METHODS as PRUNE_METHODS
from lab.prune.structured_run import recovery_spec
from lab.quantize import view
from lab.quantize.default_model import DEFAULT_QUANTIZE_MODEL
from lab.quantize.schemes import SCHEMES
from lab.specs import KINDS
from pages.forms import SpecForm
from pages.job_panel import JobPanel
from pages.ui import K, session_lang, viewer
from pages.widgets import LessonPicker, PresetRow, RunButton, number_field, shows_errors, result_table

Q_MAIN = SCHEMES.settings_of()  # every scheme's own options (lab/quantize/schemes/<name>.py)
Q_DEFAULT_SCHEMES = ["fp32", "bf16", "int8", "nf4", "fp4", "rtn"]
Q_EXCLUDED = ("model", "schemes", "name")
P_EXCLUDED = ("model", "methods", "name")
P_MAIN = ("sparsities", "two_four", *PRUNE_METHODS.settings_of())  # OWL's M and λ beside the sparsities
P_DEFAULT_METHODS = ["magnitude", "wanda"]  # the spec's default; OWL needs targets ≥ 2λ (its preset has them)
S_EXCLUDED = ("model", "name")
S_MAIN = ("head_mode", "importance", "ratio", "heads", "channels")


def build(ui) -> None:
    with ui.make(gr.Tab, label=K("tab.quantize"), id="quantize", elem_id="tab-quantize"):
        if not {"quantize", "prune"} <= set(KINDS):
            ui.make(gr.Markdown, value=K("app.coming_soon"))
            ui.lesson("quantize")
            return
        with gr.Row(equal_height=False):
            model = ui.make(gr.Dropdown, choices=view.model_choices(), value=DEFAULT_QUANTIZE_MODEL,
                            allow_custom_value=True, label=K("quantize.page.model"),
                            info=K("quantize.page.model_info"), elem_id="quantize-model", scale=5)
            refresh = ui.make(gr.Button, value=K("quantize.page.refresh"), size="sm", scale=1, min_width=100,
                              elem_id="quantize-refresh")
        model_note = gr.Markdown(view.model_warning(DEFAULT_QUANTIZE_MODEL, "en"), elem_id="quantize-model-note")
        with gr.Tabs(elem_id="quantize-modes"):
            with ui.make(gr.Tab, label=K("quantize.page.compare_tab")):
                with gr.Row():
                    with gr.Column(scale=3):
                        q_preset = PresetRow(ui, "quantize", ("quantize-preset", "quantize-load-preset", None),
                                             kind="quantize", label=K("quantize.page.preset"),
                                             button=K("quantize.page.load_preset"), blank=False, note=False,
                                             dropdown_scale=5)
                        schemes = ui.make(gr.CheckboxGroup, choices=SCHEMES.names(), value=Q_DEFAULT_SCHEMES,
                                          label=K("quantize.page.schemes"), info=K("quantize.page.schemes_info"),
                                          elem_id="quantize-schemes")
                        q_form = SpecForm(ui, "quantize", exclude=Q_EXCLUDED, render=False)
                        for name in Q_MAIN:  # the checked schemes' options only; schemes.change below follows
                            q_form.widgets[name].visible = name in SCHEMES.settings_of(Q_DEFAULT_SCHEMES)
                        with ui.make(gr.Accordion, label=K("quantize.page.scheme_settings"), open=False):
                            q_form.render(include=Q_MAIN, columns=2)
                        with ui.make(gr.Accordion, label=K("quantize.page.measure_settings"), open=False):
                            q_form.render(exclude=Q_MAIN, columns=2)
                        q_run = RunButton(ui, K("quantize.page.run"), elem_id="quantize-run")
                        q_summary = gr.Markdown("", elem_id="quantize-summary", render=False)
                        q_table = result_table(ui, view.table_frame(None, "en"), render=False,
                                               elem_id="quantize-table")
                        q_answers = result_table(ui, view.answers_frame(None, "en"), wide=(2,),
                                                 render=False, elem_id="quantize-answers")
                        q_plots = [gr.Plot(render=False, elem_id=f"quantize-plot-{name}", show_label=False) for name in view.FIGURES]
                        histogram_index = view.FIGURES.index("histogram")

                        def show_compare(result, lang):
                            run_id = ((result or {}).get("outputs") or {}).get("run_id", "")
                            return [view.summary(result, run_id, lang), view.table_frame(result, lang),
                                    view.answers_frame(result, lang), *view.figures(result, run_id, lang)]

                        q_panel = JobPanel(ui, "quantize", show_result=show_compare,
                                           result_outputs=[q_summary, q_table, q_answers, *q_plots])
                        q_summary.render()
                    with gr.Column(scale=2):
                        ui.lesson("quantize")
                        LessonPicker(ui, [SCHEMES], label=K("quantize.page.entry_lesson"), elem_id="quantize-lesson-pick",
                                     lesson_elem_id="quantize-entry-lesson")
                q_table.render()
                with gr.Tabs(elem_id="quantize-figures"):
                    for name, plot in zip(view.FIGURES, q_plots):
                        with ui.make(gr.Tab, label=K(f"quantize.figure.{name}")):
                            if name == "errors":
                                error_metric = ui.make(
                                    gr.Radio, choices=[(K(f"quantize.plot.{m}"), m) for m in view.ERROR_METRICS],
                                    value="rel_error", label=K("quantize.page.error_metric"),
                                    elem_id="quantize-error-metric")
                            if name == "histogram":
                                normalization = ui.make(
                                    gr.Radio, choices=[(K(f"quantize.plot.normalization.{n}"), n) for n in view.NORMALIZATIONS],
                                    value="absmax64", label=K("quantize.page.normalization"),
                                    elem_id="quantize-normalization")
                            plot.render()
                ui.make(gr.Markdown, value=K("quantize.page.answers_title"))
                q_answers.render()
            with ui.make(gr.Tab, label=K("quantize.page.prune_tab")):
                with gr.Row():
                    with gr.Column(scale=3):
                        p_preset = PresetRow(ui, "quantize", ("prune-preset", "prune-load-preset", None), kind="prune",
                                             label=K("quantize.page.preset"), button=K("quantize.page.load_preset"),
                                             note=False, dropdown_scale=5)
                        methods = ui.make(gr.CheckboxGroup, choices=PRUNE_METHODS.names(), value=P_DEFAULT_METHODS,
                                          label=K("quantize.page.methods"), elem_id="prune-methods")
                        p_form = SpecForm(ui, "prune", exclude=P_EXCLUDED, render=False)
                        p_form.render(include=P_MAIN, columns=2)
                        with ui.make(gr.Accordion, label=K("quantize.page.measure_settings"), open=False):
                            p_form.render(exclude=P_MAIN, columns=2)
                        p_run = RunButton(ui, K("quantize.page.prune_run"), elem_id="prune-run")
                        p_summary = gr.Markdown("", elem_id="prune-summary", render=False)
                        p_table = gr.Dataframe(view.sweep_frame(None, "en"), interactive=False, render=False,
                                               elem_id="prune-table")
                        p_plot = gr.Plot(render=False, elem_id="prune-plot", show_label=False)
                        p_owl = gr.Plot(render=False, elem_id="prune-owl-plot", show_label=False)
                        p_panel = JobPanel(ui, "prune", show_result=lambda result, lang: [
                            view.prune_summary(result, lang), view.sweep_frame(result, lang),
                            view.prune_figure(result, lang), prune_view.owl_figure(result, lang)],
                            result_outputs=[p_summary, p_table, p_plot, p_owl])
                        p_summary.render()
                    with gr.Column(scale=2):
                        LessonPicker(ui, [PRUNE_METHODS], label=K("quantize.page.entry_lesson"),
                                     elem_id="prune-lesson-pick", lesson_elem_id="prune-entry-lesson")
                p_plot.render()
                ui.make(gr.Markdown, value=K("prune.page.owl_plot_note"))
                p_owl.render()
                p_table.render()
            with ui.make(gr.Tab, label=K("prune.page.structured_tab")):
                with gr.Row():
                    with gr.Column(scale=3):
                        s_preset = PresetRow(ui, "quantize", ("structured-preset", "structured-load-preset", None),
                                             kind="prune_structured", label=K("quantize.page.preset"),
                                             button=K("quantize.page.load_preset"), note=False, dropdown_scale=5)
                        s_form = SpecForm(ui, "prune_structured", exclude=S_EXCLUDED, render=False)
                        s_form.render(include=S_MAIN, columns=2)
                        with ui.make(gr.Accordion, label=K("quantize.page.measure_settings"), open=False):
                            s_form.render(exclude=S_MAIN, columns=2)
                        s_run = RunButton(ui, K("prune.page.structured_run"), elem_id="structured-run")
                        s_summary = gr.Markdown("", elem_id="structured-summary", render=False)
                        s_table = gr.Dataframe(prune_view.structured_frame(None, None, "en"), interactive=False,
                                               render=False, elem_id="structured-table")
                        s_plot = gr.Plot(render=False, elem_id="structured-plot", show_label=False)
                        s_panel = JobPanel(ui, "prune_structured", show_result=lambda result, lang: [
                            prune_view.structured_summary(result, None, lang),
                            prune_view.structured_frame(result, None, lang),
                            prune_view.recovery_figure(result, None, lang)],
                            result_outputs=[s_summary, s_table, s_plot])
                        s_summary.render()
                        ui.make(gr.Markdown, value=K("prune.page.recovery_note"))
                        with gr.Row(equal_height=True):
                            r_steps = number_field(ui, K("prune.page.recovery_steps"), value=60, precision=0, minimum=1,
                                                  maximum=1000, elem_id="recovery-steps", scale=1)
                            r_run = RunButton(ui, K("prune.page.recovery_run"), elem_id="recovery-run")

                        def show_recovery(result, lang):
                            source = prune_view.source_result(result)
                            if source is None:
                                return [gr.skip()] * 3
                            return [prune_view.structured_summary(source, result, lang),
                                    prune_view.structured_frame(source, result, lang),
                                    prune_view.recovery_figure(source, result, lang)]

                        r_panel = JobPanel(ui, "prune_recovery", show_result=show_recovery,
                                           result_outputs=[s_summary, s_table, s_plot])
                    with gr.Column(scale=2):
                        ui.lesson("prune_structured")
                s_table.render()
                s_plot.render()

    def submitter(form, panel, listed: str | None):
        """A Run handler: the form's spec with the model and the checked schemes/methods, submitted
        (listed None: no checkbox list, the form's values follow the model)."""
        @shows_errors(outputs=1 + len(panel.outputs()))
        def submit(lang, visitor, model_name, *values):
            extra = {"model": (model_name or "").strip()}
            if listed is not None:
                extra[listed], values = list(values[0] or []), values[1:]
            spec = form.spec(values, extra=extra, owner=visitor or "")
            run_id = runner.submit(spec, owner=visitor or "")
            return panel.started(run_id, session_lang(lang))
        return submit

    def load_preset(preset, _lang):
        data = preset.specs[0]
        return [gr.update(value=data.get("model", DEFAULT_QUANTIZE_MODEL)), gr.update(value=data.get("schemes")),
                *q_form.fill(data)]

    def redraw(index):
        """Redraw one figure of the followed run with the chosen histogram normalization and error metric."""
        def handler(lang, visitor, token, run_id, normalization, metric):
            result = runner.read(run_id, viewer(visitor, token)).read_result() if run_id else None
            if not result or result.get("status") != "succeeded":
                return gr.skip()
            return view.figures(result, run_id, session_lang(lang), normalization, metric)[index]
        return handler

    q_run.on_click(submitter(q_form, q_panel, "schemes"), [ui.lang, ui.visitor, model, schemes, *q_form.inputs()],
                   [q_panel.run_id, *q_panel.outputs()])
    p_run.on_click(submitter(p_form, p_panel, "methods"), [ui.lang, ui.visitor, model, methods, *p_form.inputs()],
                   [p_panel.run_id, *p_panel.outputs()])
    @shows_errors(outputs=1 + len(r_panel.outputs()))
    def recover(lang, visitor, token, run_id, steps):
        spec = recovery_spec(run_id or "", viewer(visitor, token), steps=int(steps or 60))
        return r_panel.started(runner.submit(spec, owner=visitor or ""), session_lang(lang))

    s_run.on_click(submitter(s_form, s_panel, None), [ui.lang, ui.visitor, model, *s_form.inputs()],
                   [s_panel.run_id, *s_panel.outputs()])
    r_run.on_click(recover, [ui.lang, ui.visitor, ui.token, s_panel.run_id, r_steps], [r_panel.run_id, *r_panel.outputs()])
    q_preset.on_load(load_preset, [model, schemes, *q_form.inputs()])
    p_preset.on_load(lambda preset, _lang: [gr.update(value=preset.specs[0].get("model", DEFAULT_QUANTIZE_MODEL)),
                                            gr.update(value=preset.specs[0].get("methods")), *p_form.fill(preset.specs[0])],
                     [model, methods, *p_form.inputs()])
    s_preset.on_load(lambda preset, _lang: [gr.update(value=preset.specs[0].get("model", DEFAULT_QUANTIZE_MODEL)),
                                            *s_form.fill(preset.specs[0])], [model, *s_form.inputs()])
    schemes.change(lambda chosen: q_form.show_only(SCHEMES.settings_of(chosen or []), Q_MAIN), [schemes],
                   q_form.widgets_of(Q_MAIN))
    normalization.change(redraw(histogram_index), [ui.lang, ui.visitor, ui.token, q_panel.run_id, normalization, error_metric],
                         [q_plots[histogram_index]])
    errors_index = view.FIGURES.index("errors")
    error_metric.change(redraw(errors_index), [ui.lang, ui.visitor, ui.token, q_panel.run_id, normalization, error_metric],
                        [q_plots[errors_index]])
    model.change(lambda lang, name: view.model_warning(name, session_lang(lang)), [ui.lang, model], [model_note])
    refresh.click(lambda visitor, token: gr.update(choices=view.model_choices(viewer(visitor, token))),
                  [ui.visitor, ui.token], [model])
    ui.on_load(lambda lang, visitor, token: gr.update(choices=view.model_choices(viewer(visitor, token))),
               [ui.visitor, ui.token], [model])
    ui.on_language(lambda lang, name: view.model_warning(name, lang), [model], [model_note])
