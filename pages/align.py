"""The Align tab: preference pairs, a reward model, DPO, and the RL stage (GRPO, RLOO, RAFT).

Two experiments share the data controls: "DPO" (from the base model or a fine-tune run; live loss,
reward accuracy, chosen/rejected rewards and KL; answers side by side; one click to the Evaluate
tab's judge) and "Reward model" (held-out pair accuracy, margin histogram, rewards of sample answers).
"GRPO / RLOO / RAFT" (a rule or a reward-model run as the reward; live reward with its spread, the share of
groups with no signal, KL to the start, answer length, sampled answers; held-out accuracy before and after).
The lessons sit beside them. Logic lives in lab/align/; this module only wires events.
"""
import gradio as gr
from lab.runs import runner
from lab.align import fields, judging, rl_view, view
from lab.classroom import chains
from lab.align.data import BUILTIN
from lab.errors import LabError
from lab.present.home_view import model_choices
from lab.present.i18n import t
from lab.present.plots import empty_figure
from pages.forms import SpecForm
from pages.job_panel import JobPanel
from pages.ui import K, session_lang, viewer
from pages.widgets import LessonPicker, Listed, PresetRow, RunButton, shows_errors, upload_box

DPO_MAIN = ("beta", "loss_type", "max_steps", "batch_size", "learning_rate", "seed")
REWARD_MAIN = ("max_steps", "batch_size", "learning_rate", "use_lora", "seed")
RL_MAIN = {"grpo": ("reward", "num_generations", "batch_size", "temperature", "beta", "max_steps", "learning_rate",
                    "max_completion_length", "seed"),
           "rloo": ("reward", "num_generations", "batch_size", "temperature", "beta", "max_steps", "learning_rate",
                    "max_completion_length", "seed"),
           "raft": ("reward", "num_generations", "rounds", "prompts_per_round", "steps_per_round", "learning_rate",
                    "temperature", "max_completion_length", "seed")}
LORA = fields.LORA  # the LoRA settings, shown together
SHARED = ("model", "dataset", "name")  # set by the page's own widgets
LIFECYCLE = "align/lifecycle"  # the preset chain the RL sub-tab runs (assets/presets/align/chains/)


def build(ui) -> None:
    with ui.make(gr.Tab, label=K("tab.align"), id="align", elem_id="tab-align"):
        choices, default_model = model_choices()
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Row():
                    model = ui.make(gr.Dropdown, choices=choices, value=default_model, allow_custom_value=True,
                                    label=K("generate.model"), info=K("generate.model_info"), elem_id="align-model")
                    dataset = ui.make(gr.Dropdown, choices=list(BUILTIN), value="arithmetic", allow_custom_value=True,
                                      label=K("align.dataset"), info=K("align.dataset_info"), elem_id="align-dataset")
                with gr.Row():
                    upload_box(ui, dataset, label=K("align.upload"), elem_id="align-upload", height=90)
                    preview_button = ui.make(gr.Button, value=K("align.preview"), size="sm", elem_id="align-preview-button")
                with ui.make(gr.Accordion, label=K("align.preview_title"), open=False) as preview_box:
                    preview_state = gr.State(None)  # the summary shown, redrawn on a language switch
                    preview_note = gr.Markdown("", elem_id="align-preview-note")
                    preview_table = gr.Dataframe(value=view.preview_frame(None, "en"), interactive=False, wrap=True,
                                                 elem_id="align-preview-table")
                with gr.Tabs():
                    with ui.make(gr.Tab, label=K("align.tab_dpo"), id="align-dpo") as dpo_tab:  # no elem_id: only top-level tabs have one
                        dpo = _dpo_section(ui)
                    with ui.make(gr.Tab, label=K("align.tab_reward"), id="align-reward") as reward_tab:
                        reward = _reward_section(ui)
                    with ui.make(gr.Tab, label=K("align.tab_rl"), id="align-rl") as rl_tab:
                        rl = _rl_section(ui)
            with gr.Column(scale=2):
                ui.lesson("align")
                lesson_pick = LessonPicker(ui, [Listed(lambda: view.LESSONS, "align.lesson.", "")], value="align_dpo",
                                           label=K("align.lesson_pick"), elem_id="align-lesson-pick",
                                           lesson_elem_id="align-lesson").dropdown

        # the wiring stays inside the tab: a gr.State directly under gr.Tabs would count as a tab
        # -- shared: upload, preview, lessons ------------------------------------------------------------
        def show_preview(lang, model_name, data, max_length):
            from lab.align.data import preview

            lang = session_lang(lang)
            try:
                summary = preview((data or "").strip(), (model_name or "").strip(), int(max_length or 128))
            except LabError as error:
                return [gr.update(open=True), error.message(lang), view.preview_frame(None, lang), None]
            return [gr.update(open=True), view.preview_markdown(summary, lang), view.preview_frame(summary, lang), summary]

        preview_button.click(show_preview, [ui.lang, model, dataset, dpo["form"].widgets["max_length"]],
                             [preview_box, preview_note, preview_table, preview_state])
        ui.on_language(lambda lang, summary: [view.preview_markdown(summary, lang) if summary else gr.skip(),
                                              view.preview_frame(summary, lang)], [preview_state],
                       [preview_note, preview_table])
        dpo_tab.select(lambda: "align_dpo", None, [lesson_pick])  # the lesson beside follows the experiment shown
        reward_tab.select(lambda: "align_reward", None, [lesson_pick])
        rl_tab.select(lambda: "align_grpo", None, [lesson_pick])

        _wire_experiment(ui, dpo, model, dataset, "dpo", extra_inputs=[dpo["start"]],
                         extra_fields=lambda start: {"start_from": start or ""})
        _wire_experiment(ui, reward, model, dataset, "reward")
        _wire_judge(ui, dpo)

        def refresh_starts(lang, visitor, token):
            return gr.update(choices=view.starting_choices(session_lang(lang), viewer(visitor, token)))

        dpo["refresh"].click(refresh_starts, [ui.lang, ui.visitor, ui.token], [dpo["start"]])
        ui.on_language(refresh_starts, [ui.visitor, ui.token], [dpo["start"]])
        _wire_rl(ui, rl, model, dataset)


def _dpo_section(ui) -> dict:
    ui.make(gr.Markdown, value=K("align.dpo_intro"))
    preset = _preset_row(ui, "dpo")
    with gr.Row():
        start = ui.make(gr.Dropdown, choices=view.starting_choices("en"), value="", label=K("field.start_from"),
                        info=K("align.start_info"), elem_id="align-dpo-start", scale=3)
        refresh = ui.make(gr.Button, value=K("align.refresh_runs"), size="sm", scale=1, elem_id="align-dpo-refresh")
    form = _form(ui, "dpo", DPO_MAIN, exclude=("start_from",))
    run = RunButton(ui, K("align.run_dpo"), elem_id="align-dpo-run")
    summary_table = gr.Dataframe(value=view.dpo_summary(None, "en")[0], interactive=False, wrap=True,
                                 elem_id="align-dpo-summary", render=False)
    summary_line = gr.Markdown("", elem_id="align-dpo-line", render=False)
    answers = _answers_table("align-dpo-answers")
    margins = gr.Plot(empty_figure("en"), elem_id="align-dpo-margins", render=False, show_label=False)

    def show(result, lang):
        table, line = view.dpo_summary(result, lang)
        return [table, line, view.answers_frame(result, lang)]

    panel = JobPanel(ui, "align-dpo", show_result=show, result_outputs=[summary_table, summary_line, answers])
    loss_plot, accuracy_plot, rewards_plot, kl_plot = _curves(ui, "align-dpo", ("loss", "accuracy", "rewards", "kl"))
    ui.make(gr.Markdown, value=K("align.results"))
    summary_table.render()
    summary_line.render()
    margins.render()
    ui.make(gr.Markdown, value=K("align.answers"))
    answers.render()
    ui.make(gr.Markdown, value=K("align.try_generate"))
    judge = ui.make(gr.Button, value=K("align.judge_button"), elem_id="align-dpo-judge")
    judge_note = gr.Markdown("", elem_id="align-dpo-judge-note")
    return {"kind": "dpo", "form": form, "run": run, "panel": panel, "preset": preset, "start": start, "refresh": refresh, "judge": judge, "judge_note": judge_note,
            "plots": [loss_plot, accuracy_plot, rewards_plot, kl_plot, margins], "curves": view.dpo_curves,
            "margins": view.dpo_margins, "margins_title": "align.plot.dpo_margins"}


def _reward_section(ui) -> dict:
    ui.make(gr.Markdown, value=K("align.reward_intro"))
    preset = _preset_row(ui, "reward")
    form = _form(ui, "reward", REWARD_MAIN, below=("sample_prompt", "sample_answers"))
    run = RunButton(ui, K("align.run_reward"), elem_id="align-reward-run")
    summary_table = gr.Dataframe(value=view.reward_summary(None, "en"), interactive=False, wrap=True,
                                 elem_id="align-reward-summary", render=False)
    samples = gr.Dataframe(value=view.samples_frame(None, "en"), interactive=False, wrap=True,
                           elem_id="align-reward-samples", render=False)
    margins = gr.Plot(empty_figure("en"), elem_id="align-reward-margins", render=False, show_label=False)
    panel = JobPanel(ui, "align-reward", result_outputs=[summary_table, samples],
                     show_result=lambda result, lang: [view.reward_summary(result, lang), view.samples_frame(result, lang)])
    loss_plot, accuracy_plot = _curves(ui, "align-reward", ("loss", "accuracy"))
    ui.make(gr.Markdown, value=K("align.results"))
    summary_table.render()
    margins.render()
    ui.make(gr.Markdown, value=K("align.samples"))
    samples.render()
    return {"kind": "reward", "form": form, "run": run, "panel": panel, "preset": preset, "plots": [loss_plot, accuracy_plot, margins], "curves": view.reward_curves,
            "margins": view.reward_margins, "margins_title": "align.plot.reward_margins"}


def _preset_row(ui, kind: str):
    """A kind's preset dropdown, its load button, and the note saying what the loaded preset does."""
    return PresetRow(ui, "align", (f"align-{kind}-preset", f"align-{kind}-load-preset", None), kind=kind,
                     label=K("align.preset"), button=K("align.load_preset"), info=K("align.preset_info"))


def _form(ui, kind: str, main: tuple, below: tuple = (), exclude: tuple = ()) -> SpecForm:
    """The kind's settings: the main ones in columns, then `below`, LoRA and the rest in closed accordions."""
    form = SpecForm(ui, kind, exclude=SHARED + exclude, prefix=f"align-{kind}", render=False)
    form.render(include=main, columns=3)
    form.render(include=below)
    with ui.make(gr.Accordion, label=K("align.lora_settings"), open=False):
        form.render(include=LORA, columns=2)
    with ui.make(gr.Accordion, label=K("align.more_settings"), open=False):
        form.render(exclude=main + below + LORA, columns=2)
    return form


def _wire_experiment(ui, section: dict, model, dataset, kind: str, extra_inputs=(), extra_fields=None) -> None:
    """Submit, presets and live plots of one experiment (DPO or reward model)."""
    form, panel, plots = section["form"], section["panel"], section["plots"]
    shown = gr.State("")

    def figures(run_id, lang):
        return [*section["curves"](run_id, lang),
                view.margin_histogram(section["margins"](run_id), lang, section["margins_title"])]

    def poll(run_id, lang, signature):
        lang = session_lang(lang)
        now = view.run_signature(run_id, lang)
        if now == signature:
            return [gr.skip()] * (len(plots) + 1)
        return [*figures(run_id, lang), now]

    ui.poll(poll, [panel.run_id, ui.lang, shown], [*plots, shown])
    ui.on_language(lambda lang, run_id: [*figures(run_id, lang), view.run_signature(run_id, lang)],
                   [panel.run_id], [*plots, shown])

    @shows_errors(outputs=1 + len(panel.outputs()))
    def submit(lang, visitor, model_name, data, *values):
        extras, values = values[:len(extra_inputs)], values[len(extra_inputs):]
        fields = {"model": (model_name or "").strip(), "dataset": (data or "").strip()}
        fields.update(extra_fields(*extras) if extra_fields else {})
        run_id = runner.submit(form.spec(values, extra=fields, owner=visitor or ""), owner=visitor or "")
        return panel.started(run_id, session_lang(lang))

    section["run"].on_click(submit, [ui.lang, ui.visitor, model, dataset, *extra_inputs, *form.inputs()],
                            [panel.run_id, *panel.outputs()])

    def apply_preset(preset, lang):
        spec = preset.build()[0].to_dict()
        return [gr.update(value=spec["dataset"]), *form.fill(spec)]

    section["preset"].on_load(apply_preset, [dataset, *form.inputs()])


def _wire_judge(ui, section: dict, queued: str = "align.judge_queued", needs_run: str = "align.judge_needs_run") -> None:
    """One click: the start model and the DPO (or RL) run to the Evaluate tab's judge, when that kind exists."""

    said = gr.State(None)  # (key, params) of the note, so a language switch redraws it

    def send(lang, visitor, token, run_id):
        if not judging.judge_available():
            note = ("align.judge_unavailable", {})
        elif not run_id:
            note = (needs_run, {})
        else:
            try:
                note = (queued, {"run_id": judging.submit_judge(run_id, owner=visitor or "",
                                                                viewer=viewer(visitor, token))})
            except LabError as error:
                note = (f"error.{error.key}", error.params)
        return [t(note[0], session_lang(lang), **note[1]), note]

    section["judge"].click(send, [ui.lang, ui.visitor, ui.token, section["panel"].run_id], [section["judge_note"], said])
    ui.on_language(lambda lang, note: t(note[0], lang, **note[1]) if note else "", [said], [section["judge_note"]])


def _rl_section(ui) -> dict:
    """GRPO, RLOO and RAFT: one algorithm picker, each kind's own settings, one run panel and its live curves."""
    ui.make(gr.Markdown, value=K("align.rl_intro"))
    algorithm = ui.make(gr.Radio, choices=[(k.upper(), k) for k in rl_view.KINDS], value="grpo", label=K("align.rl_kind"),
                        info=K("align.rl_kind_info"), elem_id="align-rl-kind")
    presets = {}
    with gr.Row():
        start = ui.make(gr.Dropdown, choices=view.starting_choices("en"), value="", label=K("align.rl_start"),
                        info=K("align.rl_start_info"), elem_id="align-rl-start", scale=3)
        reward_run = ui.make(gr.Dropdown, choices=rl_view.reward_run_choices("en"), value="", label=K("align.rl_reward_run"),
                             info=K("align.rl_reward_run_info"), elem_id="align-rl-reward-run", scale=3)
        refresh = ui.make(gr.Button, value=K("align.refresh_runs"), size="sm", scale=1, elem_id="align-rl-refresh")
    forms, columns = {}, {}
    for kind in rl_view.KINDS:
        with gr.Column(visible=kind == "grpo") as columns[kind]:
            presets[kind] = _preset_row(ui, kind)
            forms[kind] = _form(ui, kind, RL_MAIN[kind], exclude=("start_from", "reward_run"))
    run = RunButton(ui, K("align.rl_start_button"), elem_id="align-rl-run")
    summary = gr.Markdown("", elem_id="align-rl-summary", render=False)
    answers = _answers_table("align-rl-answers")
    panel = JobPanel(ui, "align-rl", result_outputs=[summary, answers],
                     show_result=lambda result, lang: [rl_view.rl_summary(result, lang), view.answers_frame(result, lang)])
    reward_plot, zero_plot, kl_plot, length_plot = _curves(ui, "align-rl", ("reward", "zero-std", "kl", "length"))
    ui.make(gr.Markdown, value=K("align.rl_samples_title"))
    samples = gr.Dataframe(value=rl_view.samples_frame("", "en"), interactive=False, wrap=True, elem_id="align-rl-samples")
    ui.make(gr.Markdown, value=K("align.results"))
    summary.render()
    ui.make(gr.Markdown, value=K("align.answers"))
    answers.render()
    judge = ui.make(gr.Button, value=K("align.rl_judge_button"), elem_id="align-rl-judge")
    judge_note = gr.Markdown("", elem_id="align-rl-judge-note")
    with ui.make(gr.Accordion, label=K("align.chain_title"), open=False, elem_id="align-rl-chain"):
        ui.make(gr.Markdown, value=K("align.chain_intro"))
        chain_run = RunButton(ui, K("align.chain_start"), elem_id="align-rl-chain-run", variant="secondary")
        chain_progress = gr.Markdown("", elem_id="align-rl-chain-progress")
        chain_board = gr.Dataframe(value=chains.board_frame(LIFECYCLE, None, "en"), interactive=False, wrap=True,
                                   elem_id="align-rl-chain-board")
    return {"algorithm": algorithm, "start": start, "reward_run": reward_run, "refresh": refresh, "forms": forms,
            "columns": columns, "presets": presets, "run": run, "panel": panel, "samples": samples,
            "plots": [reward_plot, zero_plot, kl_plot, length_plot], "judge": judge, "judge_note": judge_note,
            "chain_run": chain_run, "chain_progress": chain_progress, "chain_board": chain_board}


def _wire_rl(ui, section: dict, model, dataset) -> None:
    forms, panel, plots, kinds = section["forms"], section["panel"], section["plots"], rl_view.KINDS
    shown = gr.State("")

    section["algorithm"].change(lambda kind: [gr.update(visible=k == kind) for k in kinds], [section["algorithm"]],
                                [section["columns"][k] for k in kinds])

    def figures(run_id, lang):
        return [*rl_view.rl_curves(run_id, lang), rl_view.samples_frame(run_id, lang)]

    def poll(run_id, lang, signature):
        lang = session_lang(lang)
        now = view.run_signature(run_id, lang)
        if now == signature:
            return [gr.skip()] * (len(plots) + 2)
        return [*figures(run_id, lang), now]

    ui.poll(poll, [panel.run_id, ui.lang, shown], [*plots, section["samples"], shown])
    ui.on_language(lambda lang, run_id: [*figures(run_id, lang), view.run_signature(run_id, lang)],
                   [panel.run_id], [*plots, section["samples"], shown])

    counts = [len(forms[k].inputs()) for k in kinds]

    @shows_errors(outputs=1 + len(panel.outputs()))
    def submit(lang, visitor, kind, model_name, data, start, reward_run, *values):
        offset = sum(counts[:kinds.index(kind)])
        own = values[offset:offset + counts[kinds.index(kind)]]
        fields = {"model": (model_name or "").strip(), "dataset": (data or "").strip(), "start_from": start or "",
                  "reward_run": reward_run or ""}
        spec = forms[kind].spec(own, extra=fields, owner=visitor or "")
        return panel.started(runner.submit(spec, owner=visitor or ""), session_lang(lang))

    section["run"].on_click(submit, [ui.lang, ui.visitor, section["algorithm"], model, dataset, section["start"],
                                     section["reward_run"], *[i for k in kinds for i in forms[k].inputs()]],
                            [panel.run_id, *panel.outputs()])

    for kind in kinds:
        def apply_preset(preset, lang, kind=kind):
            spec = preset.build()[0].to_dict()
            return [gr.update(value=spec["dataset"]), *forms[kind].fill(spec)]

        section["presets"][kind].on_load(apply_preset, [dataset, *forms[kind].inputs()])

    def refresh_runs(lang, visitor, token):
        lang, who = session_lang(lang), viewer(visitor, token)
        return [gr.update(choices=view.starting_choices(lang, who)), gr.update(choices=rl_view.reward_run_choices(lang, who))]

    section["refresh"].click(refresh_runs, [ui.lang, ui.visitor, ui.token], [section["start"], section["reward_run"]])
    ui.on_language(refresh_runs, [ui.visitor, ui.token], [section["start"], section["reward_run"]])
    _wire_judge(ui, section, queued="align.rl_judge_queued", needs_run="align.rl_judge_needs_run")
    _wire_chain(ui, section, model)


def _wire_chain(ui, section: dict, model) -> None:
    """The lifecycle chain on the Align tab's model: start it, then follow this visitor's newest chain run
    (each step is submitted by the dispatcher when the one before succeeded) and the class's chains."""
    group = gr.State("")
    shown = gr.State("")

    def draw(lang, visitor, token, chain_group, signature=None):
        lang, who = session_lang(lang), viewer(visitor, token)
        chain_group = chain_group or chains.latest_group(LIFECYCLE, visitor or "")
        now = f"{lang}|{chain_group}|{chains.signature(chain_group)}|{len(chains.groups(LIFECYCLE, who))}"
        if signature is not None and now == signature:
            return [gr.skip()] * 3
        return [chains.progress_markdown(chain_group, lang) if chain_group else "",
                chains.board_frame(LIFECYCLE, who, lang), now]

    outputs = [section["chain_progress"], section["chain_board"], shown]
    ui.poll(draw, [ui.lang, ui.visitor, ui.token, group, shown], outputs)
    ui.on_language(lambda lang, *values: draw(lang, *values), [ui.visitor, ui.token, group], outputs)

    @shows_errors(outputs=1)
    def start(lang, visitor, model_name):
        return chains.start(LIFECYCLE, owner=visitor or "", overrides={"model": (model_name or "").strip()})[0]

    section["chain_run"].on_click(start, [ui.lang, ui.visitor, model], [group]).then(
        lambda *values: draw(*values), [ui.lang, ui.visitor, ui.token, group], outputs)


def _curves(ui, prefix: str, names: tuple) -> list:
    """The live curves of an align run: a heading, then the plots two to a row (elem ids prefix-name)."""
    ui.make(gr.Markdown, value=K("align.curves"))
    plots = []
    for start in range(0, len(names), 2):
        with gr.Row():
            plots += [gr.Plot(empty_figure("en"), elem_id=f"{prefix}-{name}", show_label=False) for name in names[start:start + 2]]
    return plots


def _answers_table(elem_id: str):
    """Held-out prompts answered before and after training, side by side (rendered later by the caller)."""
    return gr.Dataframe(value=view.answers_frame(None, "en"), interactive=False, wrap=True,
                        column_widths=["16%", "37%", "37%", "10%"], elem_id=elem_id, render=False)
