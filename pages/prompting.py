"""The Prompting tab: pick a task and strategies, run them on the same questions, read accuracy with
intervals, the curves (k, n, tokens) and every prompt and answer. Logic lives in lab/prompting/view.py."""
import gradio as gr
from lab.runs import runner
from lab.present.home_view import model_choices
from lab.runs.job_view import job_status, run_spec
from lab.present.plots import empty_figure
from lab.prompting import view
from lab.prompting.strategies import STRATEGIES
from lab.tasks import save_upload
from pages.forms import SpecForm
from pages.job_panel import JobPanel
from pages.ui import K, session_lang, viewer
from pages.widgets import LessonPicker, PresetRow, RunButton, shows_errors, upload_box, result_table

STRATEGY_LESSONS = STRATEGIES  # the lesson picker walks the registry

MAIN = ("questions", "k", "selection", "n_paths", "k_values", "seed")
CRAFT = ("system_prompt", "instruction", "instruction_placement", "output_format", "use_chat_template")
EXCLUDED = ("model", "task", "strategies", "name")
DEFAULT_STRATEGIES = ["zero_shot", "few_shot", "zero_shot_cot", "few_shot_cot"]


def build(ui) -> None:
    with ui.make(gr.Tab, label=K("tab.prompting"), id="prompting", elem_id="tab-prompting"):
        choices, default_model = model_choices()
        with gr.Row():
            with gr.Column(scale=3):
                preset_row = PresetRow(ui, "prompting", ("prompting-preset", "prompting-load-preset",
                                                         "prompting-preset-note"),
                                       label=K("prompting.preset"), button=K("prompting.load_preset"),
                                       info=K("prompting.preset_info"))
                with gr.Row():
                    model = ui.make(gr.Dropdown, choices=choices, value=default_model, allow_custom_value=True,
                                    label=K("generate.model"), info=K("generate.model_info"), elem_id="prompting-model")
                    task = ui.make(gr.Dropdown, choices=view.task_choices("en"), value="arithmetic_1digit",
                                   allow_custom_value=True, label=K("prompting.task"), info=K("prompting.task_info"),
                                   elem_id="prompting-task")
                task_note = gr.Markdown(view.task_description("arithmetic_1digit", "en"), elem_id="prompting-task-note")
                upload_box(ui, task, label=K("prompting.upload"), elem_id="prompting-upload", file_types=(".jsonl",),
                           save=save_upload, type="filepath", height=90)
                strategies = ui.make(gr.CheckboxGroup, choices=view.strategy_choices("en"), value=DEFAULT_STRATEGIES,
                                     label=K("prompting.strategies"), info=K("prompting.strategies_info"),
                                     elem_id="prompting-strategies")
                form = SpecForm(ui, "prompt", exclude=EXCLUDED, render=False)
                form.render(include=MAIN, columns=3)
                with ui.make(gr.Accordion, label=K("prompting.craft"), open=False, elem_id="prompting-craft"):
                    form.render(include=CRAFT, columns=2)
                with ui.make(gr.Accordion, label=K("prompting.more_settings"), open=False):
                    form.render(exclude=MAIN + CRAFT, columns=2)
                with gr.Row():
                    run = RunButton(ui, K("prompting.run"), elem_id="prompting-run")
                    compare_all = RunButton(ui, K("prompting.compare_all"), elem_id="prompting-compare-all",
                                            variant="secondary")
            with gr.Column(scale=2):
                ui.lesson("prompting")
                LessonPicker(ui, [STRATEGY_LESSONS], label=K("prompting.strategy_lesson"),
                             elem_id="prompting-lesson-pick", value="strategy_zero_shot")

        reveal = gr.Markdown("", elem_id="prompting-reveal", render=False)
        table = result_table(ui, view.strategy_frame(None, "en"),
                             elem_id="prompting-table", render=False)
        bars = gr.Plot(empty_figure("en"), elem_id="prompting-accuracy", render=False, show_label=False)
        k_plot = gr.Plot(empty_figure("en"), elem_id="prompting-k-curve", render=False, show_label=False)
        n_plot = gr.Plot(empty_figure("en"), elem_id="prompting-n-curve", render=False, show_label=False)
        cost_plot = gr.Plot(empty_figure("en"), elem_id="prompting-cost", render=False, show_label=False)
        normalisation = gr.Markdown("", elem_id="prompting-normalisation", render=False)
        traces_table = gr.Dataframe(value=view.traces_frame([], "en"), interactive=False, wrap=True,
                                    elem_id="prompting-traces", render=False, max_height=520)
        shown_run = gr.State("")

        def show(result, lang):
            run_id = ((result or {}).get("outputs") or {}).get("run_id", "")
            traces = view.read_traces(run_id) if result else []
            return [view.reveal_markdown(result, lang), view.strategy_frame(result, lang),
                    view.accuracy_bars(result, lang), view.k_curve(result, lang), view.n_curve(result, lang),
                    view.cost_figure(result, lang), view.normalisation_markdown(result, lang),
                    view.traces_frame(traces, lang), run_id]

        result_outputs = [reveal, table, bars, k_plot, n_plot, cost_plot, normalisation, traces_table, shown_run]
        panel = JobPanel(ui, "prompting", show_result=show, result_outputs=result_outputs)
        ui.make(gr.Markdown, value=K("prompting.results"))
        reveal.render()
        table.render()
        with gr.Row():
            bars.render()
            cost_plot.render()
        with gr.Row():
            k_plot.render()
            n_plot.render()
        normalisation.render()
        ui.make(gr.Markdown, value=K("prompting.traces_title"))
        with gr.Row():
            trace_strategy = ui.make(gr.Dropdown, choices=[("—", "")] + view.strategy_choices("en"), value="",
                                     label=K("prompting.trace_strategy"), elem_id="prompting-trace-strategy")
            only_wrong = ui.make(gr.Checkbox, value=False, label=K("prompting.only_wrong"),
                                 elem_id="prompting-only-wrong")
            trace_row = ui.make(gr.Number, value=None, precision=0, label=K("prompting.trace_row"),
                                info=K("prompting.trace_row_info"), elem_id="prompting-trace-row")
        traces_table.render()
        detail = gr.Markdown(view.trace_detail([], None, "en")[0], elem_id="prompting-detail")
        with ui.make(gr.Accordion, label=K("prompting.exact_prompt"), open=False, elem_id="prompting-prompt-box"):
            prompt_box = gr.Code(value="", language=None, interactive=False, elem_id="prompting-prompt", lines=8)
        with gr.Row():
            paths_table = gr.Dataframe(value=view.trace_detail([], None, "en")[2], interactive=False, wrap=True,
                                       elem_id="prompting-paths")
            votes_plot = gr.Plot(empty_figure("en", "prompting.plot.no_votes"), elem_id="prompting-votes", show_label=False)

    # -- events ----------------------------------------------------------------------------------
    @shows_errors(outputs=2 + len(panel.outputs()))
    def submit(lang, visitor, model_name, task_name, chosen, *values):
        """[the strategies shown, panel.run_id, *panel outputs]; a refused spec shows why and changes nothing."""
        spec = form.spec(values, extra={"model": (model_name or "").strip(), "task": (task_name or "").strip(),
                                        "strategies": list(chosen or [])}, owner=visitor or "")
        run_id = runner.submit(spec, owner=visitor or "")
        return [gr.update(value=list(chosen)), *panel.started(run_id, session_lang(lang))]

    inputs = [ui.lang, ui.visitor, model, task, strategies, *form.inputs()]
    outputs = [strategies, panel.run_id, *panel.outputs()]
    run.on_click(submit, inputs, outputs)
    # one click: every strategy on the same questions
    compare_all.on_click(lambda lang, visitor, model_name, task_name, _chosen, *values: submit(
        lang, visitor, model_name, task_name, STRATEGIES.names(), *values), inputs, outputs)

    def redraw_result(lang, run_id, visitor, token):
        result = job_status(run_id, lang, viewer(visitor, token))["result"] if run_id else None
        return show(result if (result or {}).get("status") == "succeeded" else None, lang)

    ui.on_language(redraw_result, [panel.run_id, ui.visitor, ui.token], result_outputs)
    ui.on_language(lambda lang, name: [gr.update(choices=view.task_choices(lang)), view.task_description(name, lang),
                                       gr.update(choices=view.strategy_choices(lang)),
                                       gr.update(choices=[("—", "")] + view.strategy_choices(lang))],
                   [task], [task, task_note, strategies, trace_strategy])
    task.change(lambda name, lang: view.task_description(name or "", session_lang(lang)), [task, ui.lang], [task_note])

    def filter_traces(run_id, name, wrong, lang):
        return view.traces_frame(view.read_traces(run_id), session_lang(lang), name or "", bool(wrong))

    for control in (trace_strategy, only_wrong):
        control.change(filter_traces, [shown_run, trace_strategy, only_wrong, ui.lang], [traces_table])

    def pick_row(event: gr.SelectData):
        row = getattr(event, "row_value", None)
        return row[0] if row else gr.skip()

    traces_table.select(pick_row, None, [trace_row])

    def show_detail(run_id, index, lang):
        lang = session_lang(lang)
        traces = view.read_traces(run_id)
        summary, prompt, paths = view.trace_detail(traces, index, lang)
        return [summary, prompt, paths, view.vote_histogram(traces, index, lang)]

    trace_row.change(show_detail, [shown_run, trace_row, ui.lang], [detail, prompt_box, paths_table, votes_plot])
    ui.on_language(lambda lang, run_id, index: show_detail(run_id, index, lang), [shown_run, trace_row],
                   [detail, prompt_box, paths_table, votes_plot])

    def apply_preset(preset, lang):
        spec = preset.build()[0].to_dict()
        return [gr.update(value=spec["strategies"]), gr.update(value=spec["task"]),
                gr.update(value=spec["model"]), *form.fill(spec)]

    preset_row.on_load(apply_preset, [strategies, task, model, *form.inputs()])

    def restore(lang, run_id, visitor, token):
        """After a reload, show the settings of the run the panel re-attached to."""
        spec = run_spec(run_id, viewer(visitor, token)) if run_id else None
        if not spec or spec.get("kind") != "prompt":
            return [gr.skip()] * (3 + len(form.inputs()))
        return [gr.update(value=spec.get("model", default_model)), gr.update(value=spec.get("task")),
                gr.update(value=spec.get("strategies")), *form.fill(spec)]

    ui.on_load(restore, [panel.run_id, ui.visitor, ui.token], [model, task, strategies, *form.inputs()])

