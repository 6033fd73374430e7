"""The Fine-tune tab: choose methods, data and a budget; watch them train side by side; chat, export.

One method gives one run; several give a comparison on equal budgets (same model, data, steps, seed).
"""
import gradio as gr
from lab.runs import runner
from lab.errors import LabError
from lab.finetune import compare, sweep, view
from lab.finetune.datasets import BUILTIN
from lab.finetune.methods import METHODS
from lab.classroom import downloads
from lab.present.formatting import parse_run_ids
from lab.present.home_view import model_choices
from lab.present.i18n import t
from lab.present.plots import empty_figure
from lab.specs import example_spec, spec_from_dict
from pages.forms import SpecForm
from pages.job_panel import JobPanel
from pages.ui import K, session_lang, viewer
from pages.widgets import LessonPicker, PresetRow, RunButton, shows_errors, upload_box, result_table

MAIN = ("max_steps", "batch_size", "learning_rate", "max_length", "seed")
METHOD_SETTINGS = METHODS.settings_of()  # every method's own settings (lab/finetune/methods/<name>.py)
EXCLUDED = ("model", "method", "dataset", "name", "resume_from")


def build(ui) -> None:
    with ui.make(gr.Tab, label=K("tab.finetune"), id="finetune", elem_id="tab-finetune"):
        runs_state = ui.state("finetune-runs", "")
        choices, default_model = model_choices()
        with gr.Row():
            with gr.Column(scale=3):
                preset_row = PresetRow(ui, "finetune", ("finetune-preset", "finetune-load-preset", "finetune-preset-note"),
                                       label=K("finetune.preset"), button=K("finetune.load_preset"),
                                       info=K("finetune.preset_info"))
                with gr.Row():
                    model = ui.make(gr.Dropdown, choices=choices, value=default_model, allow_custom_value=True,
                                    label=K("generate.model"), info=K("generate.model_info"), elem_id="finetune-model")
                    dataset = ui.make(gr.Dropdown, choices=list(BUILTIN), value="arithmetic", allow_custom_value=True,
                                      label=K("finetune.dataset"), info=K("finetune.dataset_info"),
                                      elem_id="finetune-dataset")
                with gr.Row():
                    upload_box(ui, dataset, label=K("finetune.upload"), elem_id="finetune-upload")
                    preview_button = ui.make(gr.Button, value=K("finetune.preview"), size="sm",
                                             elem_id="finetune-preview-button")
                # the preview opens right under its button (it used to open ~1,800 px lower)
                with ui.make(gr.Accordion, label=K("finetune.preview_title"), open=True, visible=False,
                             elem_id="finetune-preview-box") as preview_box:
                    preview_note = gr.Markdown("", elem_id="finetune-preview-note")
                    preview_tokens = gr.HighlightedText(value=[], show_legend=False, show_inline_category=False,
                                                        combine_adjacent=False, color_map={"answer": "#ffd54f"},
                                                        elem_id="finetune-preview")
                methods = ui.make(gr.CheckboxGroup, choices=view.method_choices("en"), value=["lora"],
                                  label=K("finetune.methods"), info=K("finetune.methods_info"),
                                  elem_id="finetune-methods")
                form = SpecForm(ui, "finetune", exclude=EXCLUDED, render=False)
                form.render(include=MAIN, columns=3)
                for name in METHOD_SETTINGS:  # LoRA's at first; methods.change below follows the choice
                    form.widgets[name].visible = name in METHODS.settings_of(["lora"])
                with ui.make(gr.Accordion, label=K("finetune.method_settings"), open=False):
                    form.render(include=METHOD_SETTINGS, columns=2)
                with ui.make(gr.Accordion, label=K("finetune.training_settings"), open=False):
                    form.render(exclude=MAIN + METHOD_SETTINGS, columns=2)
                estimate = gr.Markdown(view.estimate_markdown({**example_spec("finetune").to_dict(), "model": default_model},
                                                              ["lora"], "en"),
                                       elem_id="finetune-estimate")
                run = RunButton(ui, K("finetune.run"), elem_id="finetune-run")
                with ui.make(gr.Accordion, label=K("finetune.sweep.title"), open=False, elem_id="finetune-sweep-box"):
                    ui.make(gr.Markdown, value=K("finetune.sweep.info"), elem_classes=["note"])
                    with gr.Row():
                        sweep_boxes = {name: ui.make(gr.Textbox, value="", label=K(f"finetune.sweep.{name}"),
                                                     elem_id=f"finetune-sweep-{name}", min_width=120)
                                       for name in sweep.AXES}
                    with gr.Row(equal_height=True):
                        sweep_seeds = ui.make(gr.Slider, minimum=1, maximum=sweep.MAX_SEEDS, step=1, value=1,
                                              label=K("finetune.sweep.seeds"), elem_id="finetune-sweep-seeds", scale=2)
                        sweep_run = RunButton(ui, K("finetune.sweep.run"), elem_id="finetune-sweep-run",
                                              variant="secondary", scale=1)
            with gr.Column(scale=2):
                ui.lesson("finetune")
                LessonPicker(ui, [METHODS], label=K("finetune.method_lesson"), elem_id="finetune-lesson-pick",
                             value="method_lora")
        with ui.make(gr.Accordion, label=K("finetune.methods_table"), open=False):
            methods_table = ui.make(gr.Dataframe, value=view.methods_frame("en"), interactive=False, wrap=True)
        ui.make(gr.Markdown, value=K("finetune.results"))
        table = result_table(ui, view.group_frame([], "en"), container_px=1300, elem_id="finetune-table")
        measured = gr.Markdown("", elem_id="finetune-measured", elem_classes=["predict"])
        csv_button = ui.make(gr.DownloadButton, label=K("finetune.download_csv"), size="sm", elem_id="finetune-csv")
        with gr.Row():
            loss_plot = gr.Plot(empty_figure("en"), elem_id="finetune-loss", show_label=False)
            quality_plot = gr.Plot(empty_figure("en"), elem_id="finetune-quality", show_label=False)
        cost_plot = gr.Plot(empty_figure("en"), elem_id="finetune-cost", show_label=False)
        sweep_state = ui.state("finetune-sweep", "")
        with ui.make(gr.Accordion, label=K("finetune.sweep.title"), open=True, visible=True, elem_id="finetune-sweep-results"):
            sweep_note = gr.Markdown("", elem_id="finetune-sweep-note")
            sweep_runs = gr.Dataframe(value=view.sweep_table(sweep.sweep_frame([]), "en"), interactive=False, wrap=True,
                                      elem_id="finetune-sweep-table")
            ui.make(gr.Markdown, value=K("finetune.sweep.summary"))
            sweep_summary = gr.Dataframe(value=view.sweep_summary_table(sweep.sweep_frame([]), "train_loss_last", "en"),
                                         interactive=False,
                                         elem_id="finetune-sweep-summary")
            with gr.Row():
                sweep_overlay = gr.Plot(empty_figure("en"), elem_id="finetune-sweep-overlay", show_label=False)
                sweep_heatmap = gr.Plot(empty_figure("en"), elem_id="finetune-sweep-heatmap", show_label=False)
        sweep_shown = gr.State("")
        shown = gr.State("")
        ui.make(gr.Markdown, value=K("finetune.try_title"))
        with gr.Row():
            tuned_run = ui.make(gr.Dropdown, choices=[], label=K("finetune.try_run"), elem_id="finetune-tuned-run", scale=2)
            export_button = RunButton(ui, K("finetune.export"), elem_id="finetune-export", variant="secondary",
                                      interactive=False, scale=1)
            adapter_download = ui.make(gr.DownloadButton, label=K("finetune.download_adapter"), visible=False, scale=1)
        with gr.Row():  # the export kind's own settings: HF folder or GGUF file, and the GGUF number format
            export_form = SpecForm(ui, "export", include=("format", "gguf_type"), prefix="finetune-export")
        export_form.widgets["gguf_type"].visible = False  # shown when the format is gguf
        export_note = gr.Markdown("", elem_id="finetune-export-note")
        export_warning = gr.Markdown("", elem_id="finetune-export-warning", visible=False)
        # the export's progress and result right under its button (not under the answers table)
        export_result = gr.Markdown("", elem_id="finetune-export-result", render=False)
        gguf_download = ui.make(gr.DownloadButton, label=K("finetune.download_gguf"), visible=False,
                                elem_id="finetune-gguf-download", render=False)
        export_panel = JobPanel(ui, "finetune-export", show_result=_export_result,
                                result_outputs=[export_result, gguf_download])
        export_result.render()
        gguf_download.render()
        chat_prompts = ui.make(gr.Textbox, value="What is 23 + 45?\nWhat is 90 - 17?", lines=2,
                               label=K("finetune.try_prompts"), elem_id="finetune-chat-prompts")
        chat_button = RunButton(ui, K("finetune.try_button"), elem_id="finetune-chat", variant="secondary")
        chat_table = result_table(ui, view.chat_frame(None, "en"), wide=(1, 2), container_px=1300,
                                  elem_id="finetune-chat-table", render=False)
        chat_panel = JobPanel(ui, "finetune-chat", show_result=lambda result, lang: [view.chat_frame(result, lang)],
                              result_outputs=[chat_table])
        chat_table.render()

    # -- events ----------------------------------------------------------------------------------
    def group_of(lang, runs_text, visitor, token):
        """(lang, the runs this viewer may see among the browser's ids, the signature of what they show)."""
        lang = session_lang(lang)
        run_ids = runner.visible(parse_run_ids(runs_text), viewer(visitor, token))
        return lang, run_ids, f"{lang}|{view.group_signature(run_ids)}"

    def show_group(lang, runs_text, visitor, token, signature=None):
        """Table, plots, chat choices and the CSV for the runs of this tab; skipped while unchanged.
        The ids come from the browser: only the runs this viewer may see are shown."""
        lang, run_ids, now = group_of(lang, runs_text, visitor, token)
        if signature is not None and now == signature:
            return [gr.skip()] * 8
        frame = compare.comparison_frame(run_ids)
        csv_path = downloads.copy_for_download(view.export_csv(frame, run_ids)) if run_ids else None
        return [view.group_frame(run_ids, lang), compare.loss_curves(run_ids, lang) if run_ids else empty_figure(lang),
                compare.quality_vs_parameters(frame, lang), compare.cost_bars(frame, lang),
                gr.update(choices=view.finished_choices(run_ids, lang, viewer(visitor, token))), gr.update(value=csv_path),
                view.measured_answer(run_ids, lang), now]

    group_outputs = [table, loss_plot, quality_plot, cost_plot, tuned_run, csv_button, measured, shown]
    ui.poll(lambda runs_text, lang, visitor, token, signature: show_group(lang, runs_text, visitor, token, signature),
            [runs_state, ui.lang, ui.visitor, ui.token, shown], group_outputs)
    ui.on_language(lambda lang, runs_text, visitor, token: show_group(lang, runs_text, visitor, token),
                   [runs_state, ui.visitor, ui.token], group_outputs)
    ui.on_language(lambda lang: [view.methods_frame(lang), gr.update(choices=view.method_choices(lang))],
                   [], [methods_table, methods])
    # the "method settings" section shows the chosen methods' settings only (a preset's methods too)
    methods.change(lambda chosen: form.show_only(METHODS.settings_of(chosen or []), METHOD_SETTINGS), [methods],
                   form.widgets_of(METHOD_SETTINGS))

    @shows_errors(outputs=1 + len(group_outputs))
    def submit(lang, visitor, token, model_name, data, chosen, *values):
        lang = session_lang(lang)
        spec = form.spec(values, extra={"model": (model_name or "").strip(), "dataset": (data or "").strip(),
                                        "method": (chosen or ["lora"])[0]},  # validated once, then per method
                         owner=visitor or "")
        _, run_ids = compare.submit_comparison({k: v for k, v in spec.to_dict().items() if k != "method"},
                                               list(chosen or []), owner=visitor or "")
        return [",".join(run_ids), *show_group(lang, ",".join(run_ids), visitor, token)]

    run.on_click(submit, [ui.lang, ui.visitor, ui.token, model, dataset, methods, *form.inputs()],
                 [runs_state, *group_outputs], form=form)

    # -- the memory estimate before launch: redrawn when anything it depends on changes ------------------
    estimate_fields = ("batch_size", "max_length", "gradient_checkpointing", "dtype", "lora_r", "target_modules")

    def show_estimate(lang, model_name, chosen, *values):
        fields = dict(zip(estimate_fields, values), model=(model_name or "").strip())
        return view.estimate_markdown(fields, list(chosen or ["lora"]), session_lang(lang))

    estimate_inputs = [ui.lang, model, methods, *form.widgets_of(estimate_fields)]
    for widget in [model, methods, *form.widgets_of(estimate_fields)]:
        widget.change(show_estimate, estimate_inputs, estimate, show_progress="hidden")
    ui.on_language(show_estimate, estimate_inputs[1:], [estimate])

    # -- sweeps: a grid over a few settings as one comparison group ------------------------------------
    def show_sweep(lang, runs_text, visitor, token, signature=None):
        lang, run_ids, now = group_of(lang, runs_text, visitor, token)
        if signature is not None and now == signature:
            return [gr.skip()] * 6
        frame = sweep.sweep_frame(run_ids)
        note = t("finetune.sweep.count", lang, count=len(frame), steps=int(frame["max_steps"].fillna(0).sum())) \
            if run_ids else ""
        metric = sweep.final_metric(frame)
        return [note, view.sweep_table(frame, lang), view.sweep_summary_table(frame, metric, lang),
                sweep.loss_overlay(run_ids, lang) if run_ids else empty_figure(lang),
                sweep.heatmap(frame, lang, metric), now]

    sweep_outputs = [sweep_note, sweep_runs, sweep_summary, sweep_overlay, sweep_heatmap, sweep_shown]
    ui.poll(lambda runs_text, lang, visitor, token, signature: show_sweep(lang, runs_text, visitor, token, signature),
            [sweep_state, ui.lang, ui.visitor, ui.token, sweep_shown], sweep_outputs)
    ui.on_language(lambda lang, runs_text, visitor, token: show_sweep(lang, runs_text, visitor, token),
                   [sweep_state, ui.visitor, ui.token], sweep_outputs)

    @shows_errors(outputs=1 + len(sweep_outputs))
    def submit_sweep(lang, visitor, token, model_name, data, chosen, seeds, *values):
        lang = session_lang(lang)
        texts, values = dict(zip(sweep.AXES, values[:len(sweep.AXES)])), values[len(sweep.AXES):]
        axes = sweep.parse_axes(texts)
        spec = form.spec(values, extra={"model": (model_name or "").strip(), "dataset": (data or "").strip(),
                                        "method": (chosen or ["lora"])[0]}, owner=visitor or "")
        _, run_ids = sweep.submit_sweep(spec.to_dict(), axes, seeds=int(seeds or 1), owner=visitor or "",
                                        viewer=viewer(visitor, token))
        return [",".join(run_ids), *show_sweep(lang, ",".join(run_ids), visitor, token)]

    sweep_run.on_click(submit_sweep, [ui.lang, ui.visitor, ui.token, model, dataset, methods, sweep_seeds,
                                      *sweep_boxes.values(), *form.inputs()], [sweep_state, *sweep_outputs])

    def show_preview(lang, model_name, data, *values):
        from lab.finetune.preview import preview

        lang = session_lang(lang)
        settings = form.values(values)
        try:
            summary = preview((data or "").strip(), (model_name or "").strip(), int(settings["max_length"]),
                              bool(settings["answer_only"]))
        except LabError as error:
            return [gr.update(open=True, visible=True), error.message(lang), []]
        return [gr.update(open=True, visible=True), view.preview_markdown(summary, lang), view.preview_highlights(summary)]

    preview_button.click(show_preview, [ui.lang, model, dataset, *form.inputs()],
                         [preview_box, preview_note, preview_tokens])

    def apply_preset(preset, lang):
        spec = preset.build()[0].to_dict()
        chosen = list(dict.fromkeys(s.get("method", spec["method"]) for s in preset.specs))
        # a preset whose runs differ in a sweepable setting (the learning-rate sweep) fills the sweep boxes
        swept = sweep.preset_axes(preset.specs)
        boxes = [gr.update(value=", ".join(f"{v:g}" for v in swept.get(name, []))) for name in sweep.AXES]
        return [gr.update(value=chosen), gr.update(value=spec["dataset"]), *form.fill(spec), *boxes]

    preset_row.on_load(apply_preset, [methods, dataset, *form.inputs(), *sweep_boxes.values()])

    def pick_run(run_id, lang, visitor, token):
        if run_id and not runner.visible([run_id], viewer(visitor, token)):
            run_id = ""  # a value the browser made up: nothing to export or download
        can, note = view.export_state(run_id, session_lang(lang))
        path = view.adapter_zip(run_id)
        path = downloads.copy_for_download(path) if path else None
        return [gr.update(interactive=can), note, gr.update(value=path, visible=bool(path))]

    tuned_run.change(pick_run, [tuned_run, ui.lang, ui.visitor, ui.token], [export_button.button, export_note,
                                                                            adapter_download])

    def warn_export(run_id, lang, visitor, token, export_format, gguf_type):
        if run_id and not runner.visible([run_id], viewer(visitor, token)):
            run_id = ""
        text = view.export_warning(run_id, export_format, gguf_type, session_lang(lang))
        return [gr.update(value=text, visible=bool(text)), gr.update(visible=export_format == "gguf")]

    for trigger in (tuned_run, *export_form.inputs()):
        trigger.change(warn_export, [tuned_run, ui.lang, ui.visitor, ui.token, *export_form.inputs()],
                       [export_warning, export_form.widgets["gguf_type"]])

    @shows_errors(outputs=1 + len(chat_panel.outputs()))
    def chat(lang, visitor, run_id, prompts):
        if not run_id:
            raise LabError("finetune_pick_run")
        spec = spec_from_dict({"kind": "generate", "adapter": run_id, "compare_with_base": True,
                               "prompts": [p for p in (prompts or "").splitlines() if p.strip()],
                               "max_new_tokens": 48})
        new_run = runner.submit(spec, owner=visitor or "", use_cache=True)
        return chat_panel.started(new_run, session_lang(lang))

    chat_button.on_click(chat, [ui.lang, ui.visitor, tuned_run, chat_prompts], [chat_panel.run_id, *chat_panel.outputs()])

    @shows_errors(outputs=1 + len(export_panel.outputs()))
    def export(lang, visitor, run_id, *values):
        spec = export_form.spec(values, extra={"run_id": run_id or ""}, owner=visitor or "")
        new_run = runner.submit(spec, owner=visitor or "")
        return export_panel.started(new_run, session_lang(lang))

    export_button.on_click(export, [ui.lang, ui.visitor, tuned_run, *export_form.inputs()],
                           [export_panel.run_id, *export_panel.outputs()])


def _export_result(result, lang: str) -> list:
    """The export's summary and, for a GGUF, a download of a copy of the file (the panel follows only the
    run this session started, read through the run API with its viewer)."""
    path = view.export_file(result)
    copy = downloads.copy_for_download(path) if path else None
    return [view.export_summary(result, lang), gr.update(value=copy, visible=bool(copy))]
