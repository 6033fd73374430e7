"""The Runs tab: every run (yours marked), the selected run's details, cancel / re-run / delete,
and a comparison of several runs (their figures in one table, their curves overlaid).

Everything is read from the job table and the run folders, so a page reload (or an app restart)
shows the same runs; the app's timer refreshes the table while jobs run.
"""
import gradio as gr
from lab.classroom import access
from lab.runs import runner, store
from lab.errors import LabError
from lab.present.plots import empty_figure, metric_curves
from lab.runs.runs_view import (TABLE_WIDTHS, compare_frame, curve_names, find_runs, kind_choices, metric_records,
                                run_choices, run_label, runs_frame, status_choices, table_signature)
from pages.run_detail import RunDetail
from pages.classroom import Classroom
from pages.ui import K, session_lang, viewer, warn
from pages.widgets import ConfirmButton, error_html, shows_errors

TABLE_LIMIT = 200


def _rows(visitor: str, token: str, mine_only: bool, search: str = "", kind: str = "", status: str = "",
          lang: str = "en") -> list[dict]:
    """The table's rows, searched and filtered on the server (others' private runs never leave SQLite)."""
    rows = find_runs(viewer(visitor, token), search, kind or "", status or "", lang, limit=TABLE_LIMIT)
    return [r for r in rows if access.is_mine(r["owner"], visitor)] if mine_only else rows


def build(ui) -> None:
    with ui.make(gr.Tab, label=K("tab.runs"), id="runs", elem_id="tab-runs") as tab:
        with ui.make(gr.Accordion, label=K("runs.about"), open=False):
            ui.lesson("runs")
        with gr.Row(equal_height=True, elem_id="runs-filters"):
            search = ui.make(gr.Textbox, label=K("runs.search"), placeholder=K("runs.search_hint"), scale=3,
                             min_width=220, elem_id="runs-search")
            kind = ui.make(gr.Dropdown, choices=kind_choices("en"), value="", label=K("runs.filter.kind"), scale=2,
                           min_width=160, elem_id="runs-kind")
            status = ui.make(gr.Dropdown, choices=status_choices("en"), value="", label=K("runs.filter.status"),
                             scale=2, min_width=140, elem_id="runs-status")
            mine_only = ui.make(gr.Checkbox, label=K("runs.mine_only"), value=False, scale=1, min_width=140,
                                elem_id="runs-mine")
            refresh = ui.make(gr.Button, value=K("runs.refresh"), size="sm", scale=0, min_width=120)
        table = gr.Dataframe(runs_frame([], "en"), interactive=False, wrap=True, max_height=620, show_label=False,
                             column_widths=list(TABLE_WIDTHS), elem_id="runs-table")
        ui.make(gr.Markdown, value=K("runs.hint"), elem_classes=["note"])
        with gr.Row(equal_height=True, elem_id="runs-actions"):
            selected = ui.make(gr.Textbox, label=K("runs.selected"), interactive=False, scale=3, min_width=280,
                               elem_id="runs-selected")
            cancel = ConfirmButton(ui, K("runs.cancel"), confirm_key="runs.cancel_confirm", variant="stop", size="md",
                                   scale=1, min_width=110, elem_id="runs-cancel")  # asks before it cancels
            buttons = {"rerun": ("secondary", "runs.rerun"), "delete": ("secondary", "runs.delete"),
                       "add-compare": ("secondary", "runs.add_compare")}
            rerun, delete, add = (ui.make(gr.Button, value=K(key), variant=variant, size="md", scale=1,
                                          min_width=110, elem_id=f"runs-{name}")
                                  for name, (variant, key) in buttons.items())
        action_error = gr.HTML("", visible=False, elem_id="runs-actions-error", elem_classes=["run-error-box"],
                               padding=False)
        with gr.Tabs():
            with ui.make(gr.Tab, label=K("runs.details"), id="runs-details"):
                detail = RunDetail(ui)
            with ui.make(gr.Tab, label=K("runs.compare"), id="runs-compare"):
                with gr.Row():
                    picks = ui.make(gr.Dropdown, choices=[], value=[], multiselect=True, label=K("runs.compare_pick"),
                                    info=K("runs.compare_pick_info"), scale=3, elem_id="runs-compare-pick")
                    metric = ui.make(gr.Dropdown, choices=[], value=None, label=K("runs.compare_metric"), scale=1,
                                     elem_id="runs-compare-metric")
                compare_table = gr.Dataframe(compare_frame([], "en"), interactive=False, wrap=True, show_label=False,
                                             elem_id="runs-compare-table")
                compare_plot = gr.Plot(empty_figure("en", "plot.pick_runs"), show_label=False,
                                       elem_id="runs-compare-plot")
        classroom = Classroom(ui)
        table_shown, ids_shown = gr.State(""), gr.State("")  # inside the Tab (see test_every_child_of_the_tab_bar_is_a_tab)

    # -- the table: redrawn when what it shows changed (cheap: one SQLite query, small JSON files) --
    def draw_table(lang, visitor, token, mine, words, kind_name, status_name, shown, ids, force=False):
        lang = session_lang(lang)
        rows = _rows(visitor, token, mine, words, kind_name, status_name, lang)
        signature = (f"{lang}|{visitor}|{viewer(visitor, token).role}|{mine}|{words}|{kind_name}|{status_name}|"
                     f"{table_signature(rows)}")
        id_list = ",".join(r["id"] for r in rows)
        table_update = gr.skip() if signature == shown and not force else runs_frame(rows, lang, visitor)
        picks_update = gr.skip() if id_list == ids and not force else gr.update(choices=run_choices(rows))
        if any(r["status"] in store.ACTIVE for r in rows):
            runner.ensure_dispatcher()  # a dispatcher that died is replaced (a no-op while one holds the lease)
        return table_update, signature, picks_update, id_list

    table_io = ([ui.lang, ui.visitor, ui.token, mine_only, search, kind, status, table_shown, ids_shown],
                [table, table_shown, picks, ids_shown])
    ui.poll(draw_table, *table_io)

    def redraw_table(lang, visitor, token, mine, words, kind_name, status_name, shown, ids):
        return draw_table(lang, visitor, token, mine, words, kind_name, status_name, shown, ids, force=True)

    ui.on_language(redraw_table, table_io[0][1:], table_io[1])
    ui.on_language(lambda lang: [gr.update(choices=kind_choices(lang)), gr.update(choices=status_choices(lang))],
                   [], [kind, status])
    for control in (mine_only, kind, status):
        control.change(redraw_table, *table_io)
    search.submit(redraw_table, *table_io)
    search.change(redraw_table, *table_io, trigger_mode="always_last", show_progress="hidden")
    tab.select(redraw_table, *table_io, show_progress="hidden")  # fresh at once, whatever the timer's pace

    # -- selecting a run shows its details; the timer keeps an active run's details live ----------
    def on_select(event: gr.SelectData):
        row = event.row_value or []
        return row[0] if row else gr.skip()

    table.select(on_select, None, selected)
    who = [ui.visitor, ui.token]
    selected.change(detail.render, [selected, ui.lang, *who], detail.outputs())
    ui.poll(detail.poll, [selected, ui.lang, detail.shown, *who], detail.outputs())
    ui.on_language(lambda lang, run_id, visitor, token: detail.render(run_id, lang, visitor, token), [selected, *who],
                   detail.outputs())

    # -- actions on the selected run; errors come back as toasts in the chosen language ----------
    # a refusal shows as a toast and as a red line right under the row of buttons
    def act(action, run_id, lang, visitor, token):
        lang = session_lang(lang)
        hidden = gr.update(value="", visible=False)
        try:
            if not run_id:
                raise LabError("no_run_selected")
            who = viewer(visitor, token)  # the runner refuses others' runs (lab/classroom/access.py), not only this page
            if action == "cancel":
                runner.cancel(run_id, viewer=who)
                return gr.skip(), hidden
            if action == "rerun":
                return runner.rerun(run_id, owner=visitor or "", viewer=who), hidden
            runner.delete(run_id, viewer=who)
            return "", hidden
        except LabError as error:
            warn(error, lang)
            return gr.skip(), gr.update(value=error_html(error, lang), visible=True)

    for button, action in ((cancel, "cancel"), (rerun, "rerun"), (delete, "delete")):
        def acted(run_id, lang, visitor, token, action=action):
            return act(action, run_id, lang, visitor, token)

        clicked = (button.on_click(acted, selected, [selected, ui.lang, *who], [selected, action_error])
                   if button is cancel else button.click(acted, [selected, ui.lang, *who], [selected, action_error]))
        clicked.then(redraw_table, *table_io).then(detail.render, [selected, ui.lang, *who], detail.outputs())
        ui.hurry(clicked)
    refresh.click(redraw_table, *table_io).then(detail.render, [selected, ui.lang, *who], detail.outputs())

    @shows_errors(lang_at=1)
    def resume(run_id, lang, visitor, token):
        from lab.finetune import resume as resume_api

        return resume_api.resume(run_id, owner=visitor or "", viewer=viewer(visitor, token))  # the new run is selected

    resumed = detail.resume.click(resume, [selected, ui.lang, *who], selected)
    resumed.then(redraw_table, *table_io).then(detail.render, [selected, ui.lang, *who], detail.outputs())
    ui.hurry(resumed)

    # -- comparing runs: one table of figures, curves of one metric overlaid --------------------
    def draw_compare(run_ids, chosen, lang, visitor="", token=""):
        lang = session_lang(lang)
        seen = viewer(visitor, token)
        run_ids = [r for r in (run_ids or []) if (row := store.get_run(r)) is not None and access.can_see(row, seen)]
        frames = {run_label(store.get_run(run_id)): metric_records(run_id) for run_id in run_ids}
        names = curve_names(frames)
        chosen = chosen if chosen in names else ("loss" if "loss" in names else (names[0] if names else None))
        figure = (metric_curves(frames, chosen, lang) if chosen
                  else empty_figure(lang, "plot.no_data" if run_ids else "plot.pick_runs"))
        return compare_frame(run_ids, lang, seen), figure, gr.update(choices=names, value=chosen)

    compare_io = ([picks, metric, ui.lang, *who], [compare_table, compare_plot, metric])
    picks.change(draw_compare, *compare_io)
    metric.input(draw_compare, *compare_io)
    refresh.click(draw_compare, *compare_io)
    ui.on_language(lambda lang, run_ids, chosen, visitor, token: draw_compare(run_ids, chosen, lang, visitor, token),
                   [picks, metric, *who], compare_io[1])

    def add_to_compare(run_id, run_ids):
        run_ids = list(run_ids or [])
        return run_ids + [run_id] if run_id and run_id not in run_ids else gr.skip()

    add.click(add_to_compare, [selected, picks], picks)
    classroom.wire(selected, picks, redraw_table, table_io)
