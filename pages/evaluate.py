"""The Evaluate tab: pairwise win rates with a judge, an arena where the class votes, and accuracy metrics.

Three sub-tabs beside the lesson: "Win rates" submits a judge run and shows its leaderboard, position
bias, heatmap, ratings and length plots; "Arena" draws anonymous battles from a finished judge run's
answers, stores votes and shows the live class leaderboard and judge-vs-human agreement; "Accuracy"
submits an evaluate run over a task. Logic lives in lab/evaluate/ (view.py builds every table and figure).
"""
import random

import gradio as gr
from lab.runs import runner
from lab.errors import LabError
from lab.evaluate import arena, view
from lab.evaluate.judges import JUDGES
from lab.evaluate.metrics import METRICS
from lab.evaluate.prompt_sets import prompt_set_names
from lab.present.home_view import model_choices
from lab.present.i18n import t
from lab.classroom import downloads
from lab.runs.job_view import run_spec
from lab.evaluate.plots import EMPTY
from lab.present.plots import empty_figure
from pages.forms import SpecForm
from pages.job_panel import JobPanel
from pages.widgets import LessonPicker, PresetRow, RunButton, shows_errors, upload_box, result_table
from pages.ui import K, session_lang, viewer, warn

JUDGE_MAIN = ("n_prompts", "max_new_tokens", "baseline", "seed")
EVAL_MAIN = ("n_questions", "shots", "max_new_tokens")
LESSON_REGISTRIES = [JUDGES, METRICS]  # one lesson per registered entry


def build(ui) -> None:
    with ui.make(gr.Tab, label=K("tab.evaluate"), id="evaluate", elem_id="tab-evaluate"):
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Tabs():
                    with ui.make(gr.Tab, label=K("evaluate.tab_judge"), id="evaluate-judge") as judge_tab:
                        judge_parts = _judge_tab(ui)
                    with ui.make(gr.Tab, label=K("evaluate.tab_arena"), id="evaluate-arena"):
                        _arena_tab(ui)
                    with ui.make(gr.Tab, label=K("evaluate.tab_metrics"), id="evaluate-metrics",
                                 elem_id="evaluate-metrics-tab") as metrics_tab:
                        metric = _metrics_tab(ui)
            with gr.Column(scale=2):
                ui.lesson("evaluate")
                pick = LessonPicker(ui, LESSON_REGISTRIES, value="judge_logprob", label=K("evaluate.judge_lesson"),
                                    elem_id="evaluate-lesson-pick").dropdown
    judge_parts["judge"].change(lambda name: gr.update(value=f"judge_{name}"), [judge_parts["judge"]], [pick])
    metric.change(lambda name: gr.update(value=f"metric_{name}"), [metric], [pick])
    # each sub-tab shows its own lesson: Accuracy its metric's, Win rates its judge's
    metrics_tab.select(lambda name: gr.update(value=f"metric_{name}"), [metric], [pick], show_progress="hidden")
    judge_tab.select(lambda name: gr.update(value=f"judge_{name}"), [judge_parts["judge"]], [pick],
                     show_progress="hidden")


def _preset_row(ui, kind: str) -> PresetRow:
    return PresetRow(ui, "evaluate", (f"evaluate-{kind}-preset", f"evaluate-{kind}-load", f"evaluate-{kind}-preset-note"),
                     kind=kind, label=K("evaluate.preset"), button=K("evaluate.load_preset"), blank=False,
                     dropdown_scale=4)


def _judge_tab(ui) -> dict:
    choices = view.contestant_choices()
    _, default_model = model_choices()
    preset_row = _preset_row(ui, "judge")
    with gr.Row():
        contestants = ui.make(gr.Dropdown, choices=choices, value=[default_model, f"{default_model}@plain"],
                              multiselect=True, allow_custom_value=True, label=K("evaluate.contestants"),
                              info=K("evaluate.contestants_info"), elem_id="evaluate-contestants", scale=4)
        refresh = ui.make(gr.Button, value=K("evaluate.refresh"), size="sm", scale=1, elem_id="evaluate-refresh")
    with gr.Row():
        prompt_set = ui.make(gr.Dropdown, choices=prompt_set_names(), value="chatterbot", allow_custom_value=True,
                             label=K("evaluate.prompt_set"), info=K("evaluate.prompt_set_info"), elem_id="evaluate-prompt-set")
        upload_box(ui, prompt_set, label=K("evaluate.upload"), file_types=(".jsonl", ".csv"), height=90,
                   elem_id="evaluate-upload")
    with gr.Row():
        judge = ui.make(gr.Dropdown, choices=JUDGES.names(), value="logprob", label=K("field.judge"),
                        info=K("evaluate.judge_info"), elem_id="evaluate-judge")
        judge_model = ui.make(gr.Dropdown, choices=[c[1] for c in choices], value=default_model, allow_custom_value=True,
                              label=K("field.judge_model"), info=K("evaluate.judge_model_info"), elem_id="evaluate-judge-model")
    form = SpecForm(ui, "judge", exclude=("contestants", "prompt_set", "judge", "judge_model"), render=False)
    form.render(include=JUDGE_MAIN, columns=4)
    with ui.make(gr.Accordion, label=K("evaluate.settings"), open=False):
        form.render(exclude=JUDGE_MAIN, columns=2)
    run = RunButton(ui, K("evaluate.run_judge"), elem_id="evaluate-run-judge")
    bias = gr.Markdown("", elem_id="evaluate-bias")
    leaderboard = result_table(ui, view.leaderboard_frame(None, "en"),
                               elem_id="evaluate-leaderboard", render=False)
    ratings = gr.Plot(empty_figure("en", EMPTY), elem_id="evaluate-ratings", render=False, show_label=False)
    heatmap = gr.Plot(empty_figure("en", EMPTY), elem_id="evaluate-heatmap", render=False, show_label=False)
    length_plot = gr.Plot(empty_figure("en", EMPTY), elem_id="evaluate-length", render=False, show_label=False)
    lc_table = gr.Dataframe(value=view.length_control_frame(None, "en"), interactive=False, wrap=True,
                            elem_id="evaluate-lc", render=False)
    pairs = gr.Dataframe(value=view.pairs_frame(None, "en"), interactive=False, wrap=True, elem_id="evaluate-pairs",
                         render=False)
    invalid = gr.Dataframe(value=view.invalid_frame(None, "en"), interactive=False, wrap=True, elem_id="evaluate-invalid",
                           render=False)
    reused = gr.Markdown("", elem_id="evaluate-reused")
    lc_notes = gr.Markdown("", elem_id="evaluate-lc-notes", render=False)

    def show(result, lang):
        return [view.bias_markdown(result, lang), view.reuse_markdown(result, lang), view.leaderboard_frame(result, lang),
                view.ratings_plot(result, lang), view.heatmap(result, lang), view.length_plot(result, lang),
                view.length_control_frame(result, lang), view.lc_notes_markdown(result, lang),
                view.pairs_frame(result, lang), view.invalid_frame(result, lang)]

    panel = JobPanel(ui, "evaluate-judge", show_result=show,
                     result_outputs=[bias, reused, leaderboard, ratings, heatmap, length_plot, lc_table, lc_notes, pairs,
                                     invalid])
    shown_run = ui.make(gr.Dropdown, choices=view.arena_sources(), value=None, label=K("evaluate.show_run"),
                        info=K("evaluate.show_run_info"), elem_id="evaluate-show-run")
    ui.make(gr.Markdown, value=K("evaluate.leaderboard"))
    leaderboard.render()
    ratings.render()
    heatmap.render()
    ui.make(gr.Markdown, value=K("evaluate.length_title"))
    length_plot.render()
    lc_table.render()
    lc_notes.render()
    ui.make(gr.Markdown, value=K("evaluate.pairs_title"))
    pairs.render()
    with ui.make(gr.Accordion, label=K("evaluate.invalid_title"), open=False):
        invalid.render()
    with gr.Row():
        export = ui.make(gr.Button, value=K("evaluate.export_answers"), size="sm", scale=0, min_width=200,
                         elem_id="evaluate-export-answers")
        exported = ui.make(gr.File, label=K("evaluate.exported_answers"), file_count="multiple", visible=False,
                           interactive=False, elem_id="evaluate-exported-answers")

    @shows_errors(outputs=None, lang_at=1)
    def export_answers(run_id, lang, visitor, token):
        if not run_id:
            return gr.update(visible=False)
        folder = runner.read(run_id, viewer(visitor, token))  # the browser's run id, checked for this viewer
        files = [folder.artifact_path(name) for name in view.ANSWER_FILES if folder.artifact_path(name).is_file()]
        if not files:
            raise LabError("arena_no_answers", run_id=run_id)
        return gr.update(value=[downloads.copy_for_download(path) for path in files], visible=True)

    export.click(export_answers, [panel.run_id, ui.lang, ui.visitor, ui.token], [exported])

    @shows_errors(outputs=1 + len(panel.outputs()))
    def submit(lang, visitor, names, prompts, judge_name, judge_model_name, *values):
        spec = form.spec(values, extra={"contestants": [str(n).strip() for n in (names or [])],
                                        "prompt_set": (prompts or "").strip(), "judge": judge_name,
                                        "judge_model": (judge_model_name or "").strip()}, owner=visitor or "")
        run_id = runner.submit(spec, owner=visitor or "")
        return panel.started(run_id, session_lang(lang))

    (run.on_click(submit, [ui.lang, ui.visitor, contestants, prompt_set, judge, judge_model, *form.inputs()],
                  [panel.run_id, *panel.outputs()]))
    def refresh_lists(visitor, token):
        seen = viewer(visitor, token)
        choices = view.contestant_choices(seen)
        return [gr.update(choices=choices), gr.update(choices=[c[1] for c in choices]),
                gr.update(choices=view.arena_sources(seen))]

    refresh.click(refresh_lists, [ui.visitor, ui.token], [contestants, judge_model, shown_run])
    ui.on_load(lambda lang, visitor, token: refresh_lists(visitor, token), [ui.visitor, ui.token],
               [contestants, judge_model, shown_run])
    # a finished run (from the CLI, a classmate, an earlier lesson) shown in the same panel
    ui.hurry(shown_run.input(lambda run_id, lang: panel.started(run_id, session_lang(lang)) if run_id
                             else [gr.skip()] * (1 + len(panel.outputs())), [shown_run, ui.lang],
                             [panel.run_id, *panel.outputs()]))

    def restore(lang, run_id, visitor, token):
        spec = run_spec(run_id, viewer(visitor, token)) if run_id else None
        if not spec or spec.get("kind") != "judge":
            return [gr.skip()] * (4 + len(form.inputs()))
        return [gr.update(value=spec.get("contestants")), gr.update(value=spec.get("prompt_set")),
                gr.update(value=spec.get("judge")), gr.update(value=spec.get("judge_model")), *form.fill(spec)]

    ui.on_load(restore, [panel.run_id, ui.visitor, ui.token], [contestants, prompt_set, judge, judge_model, *form.inputs()])

    def fill_preset(preset, lang):
        return restore_values(preset.specs[0])

    def restore_values(spec):
        return [gr.update(value=spec.get("contestants")), gr.update(value=spec.get("prompt_set")),
                gr.update(value=spec.get("judge")), gr.update(value=spec.get("judge_model", default_model)),
                *form.fill(spec)]

    preset_row.on_load(fill_preset, [contestants, prompt_set, judge, judge_model, *form.inputs()])
    return {"judge": judge}


def _arena_tab(ui) -> None:
    ui.make(gr.Markdown, value=K("evaluate.arena_intro"))
    with gr.Row():
        source = ui.make(gr.Dropdown, choices=view.arena_sources(), value=None, label=K("evaluate.arena_source"),
                         info=K("evaluate.arena_source_info"), elem_id="evaluate-arena-source", scale=4)
        refresh = ui.make(gr.Button, value=K("evaluate.refresh"), size="sm", scale=1, elem_id="evaluate-arena-refresh")
    battle = gr.State(None)  # server-side: the voter never sees which contestant is which
    prompt = gr.Markdown("", elem_id="evaluate-arena-prompt")
    with gr.Row():
        left = ui.make(gr.Textbox, label=K("evaluate.answer_a"), lines=6, interactive=False, elem_id="evaluate-arena-a")
        right = ui.make(gr.Textbox, label=K("evaluate.answer_b"), lines=6, interactive=False, elem_id="evaluate-arena-b")
    with gr.Row():
        buttons = {vote: ui.make(gr.Button, value=K(f"evaluate.vote_{vote}"), elem_id=f"evaluate-vote-{vote}",
                                 variant="primary" if vote in ("left", "right") else "secondary")
                   for vote in arena.VOTES}
        skip = ui.make(gr.Button, value=K("evaluate.vote_skip"), elem_id="evaluate-vote-skip", size="sm")
    standing = gr.Markdown("", elem_id="evaluate-arena-standing")
    board = gr.Dataframe(value=view.arena_state("", "en")["frame"], interactive=False, wrap=True,
                         elem_id="evaluate-arena-board")
    board_plot = gr.Plot(empty_figure("en", EMPTY), elem_id="evaluate-arena-plot", show_label=False)
    shown = gr.State("")
    rng = random.Random()

    def board_updates(source_run, lang, signature=None):
        state = view.arena_state(source_run or "", session_lang(lang))
        if signature is not None and state["signature"] == signature:
            return [gr.skip()] * 4
        return [state["text"], state["frame"], state["figure"], state["signature"]]

    def new_battle(source_run, lang):
        lang = session_lang(lang)
        drawn = view.draw_battle(source_run, rng) if source_run else None
        if drawn is None:
            message = "" if not source_run else t("evaluate.arena_empty", lang)
            return [None, message, "", ""]
        shown = [drawn["left_text"] or t("evaluate.empty_answer", lang), drawn["right_text"] or t("evaluate.empty_answer", lang)]
        return [drawn, t("evaluate.arena_prompt", lang, prompt=drawn["prompt"]), *shown]

    battle_outputs = [battle, prompt, left, right]
    board_outputs = [standing, board, board_plot, shown]

    def chosen(source_run, lang):
        return [*new_battle(source_run, lang), *board_updates(source_run, lang)]

    source.change(chosen, [source, ui.lang], battle_outputs + board_outputs)
    refresh.click(lambda visitor, token: gr.update(choices=view.arena_sources(viewer(visitor, token))),
                  [ui.visitor, ui.token], [source])
    skip.click(new_battle, [source, ui.lang], battle_outputs)

    for vote, button in buttons.items():
        def voted(source_run, current, lang, visitor, token, vote=vote):
            lang = session_lang(lang)
            if source_run and current:
                try:
                    if arena.record_vote(source_run, current, vote, voter=visitor or "",
                                         viewer=viewer(visitor, token)) == "replaced":
                        gr.Info(t("evaluate.vote_replaced", lang))
                except LabError as error:
                    warn(error, lang)
            return chosen(source_run, lang)

        button.click(voted, [source, battle, ui.lang, ui.visitor, ui.token], battle_outputs + board_outputs)
    # the class votes from many browsers: every tick redraws the leaderboard when the vote count changed
    ui.poll(lambda source_run, lang, signature: board_updates(source_run, lang, signature) if source_run
            else [gr.skip()] * 4, [source, ui.lang, shown], board_outputs)
    ui.on_language(lambda lang, source_run: board_updates(source_run, lang)[:3], [source], board_outputs[:3])


def _metrics_tab(ui) -> None:
    from lab.tasks import save_upload, task_names

    _, default_model = model_choices()
    preset_row = _preset_row(ui, "evaluate")
    with gr.Row():
        model = ui.make(gr.Dropdown, choices=[c[1] for c in view.contestant_choices() if "@" not in c[1]],
                        value=default_model, allow_custom_value=True, label=K("field.model"),
                        info=K("evaluate.model_info"), elem_id="evaluate-model")
        task = ui.make(gr.Dropdown, choices=task_names(), value="tweet_sentiment", allow_custom_value=True,
                       label=K("field.task"), info=K("evaluate.task_info"), elem_id="evaluate-task")
    with gr.Row():
        metric = ui.make(gr.Radio, choices=METRICS.names(), value="multiple_choice", label=K("field.metric"),
                         info=K("evaluate.metric_info"), elem_id="evaluate-metric")
        upload_box(ui, task, label=K("evaluate.task_upload"), file_types=(".jsonl", ".yaml", ".yml", ".zip", ".json", ".csv"),
                   save=save_upload, height=90, file_count="multiple", elem_id="evaluate-task-upload")
    form = SpecForm(ui, "evaluate", exclude=("model", "task", "metric"), render=False)
    form.render(include=EVAL_MAIN, columns=3)
    with ui.make(gr.Accordion, label=K("evaluate.settings"), open=False):
        form.render(exclude=EVAL_MAIN, columns=2)
    run = RunButton(ui, K("evaluate.run_metrics"), elem_id="evaluate-run-metrics")
    figures = gr.Dataframe(value=view.evaluate_frame(None, "en"), interactive=False, elem_id="evaluate-figures", render=False)
    examples = gr.Dataframe(value=view.examples_frame(None, "en"), interactive=False, wrap=True,
                            elem_id="evaluate-examples", render=False)
    panel = JobPanel(ui, "evaluate-metrics", show_result=lambda result, lang: [view.evaluate_frame(result, lang),
                                                                                 view.examples_frame(result, lang)],
                     result_outputs=[figures, examples])
    figures.render()
    examples.render()

    @shows_errors(outputs=1 + len(panel.outputs()))
    def submit(lang, visitor, model_name, task_name, metric_name, *values):
        spec = form.spec(values, extra={"model": (model_name or "").strip(), "task": (task_name or "").strip(),
                                        "metric": metric_name}, owner=visitor or "")
        run_id = runner.submit(spec, owner=visitor or "")
        return panel.started(run_id, session_lang(lang))

    run.on_click(submit, [ui.lang, ui.visitor, model, task, metric, *form.inputs()], [panel.run_id, *panel.outputs()])

    def fill_preset(preset, lang):
        spec = preset.specs[0]
        return [gr.update(value=spec.get("model", default_model)), gr.update(value=spec.get("task")),
                gr.update(value=spec.get("metric")), *form.fill(spec)]

    preset_row.on_load(fill_preset, [model, task, metric, *form.inputs()])
    return metric
