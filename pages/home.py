"""The Home tab: the life of an LLM (lesson), the guided path (numbered steps, each a class preset with
locked settings and a "Predict, then run" question; ticked once this visitor has done it), the class
board of the chosen step, the models the lab knows and the machine.

Logic in lab/classroom/guided_path.py, lab/classroom/presets.py and lab/classroom/classboard.py; this file wires widgets.
"""
import gradio as gr
from lab.classroom import chains, classboard, downloads, guided_path, html_report, presets
from lab.errors import LabError
from lab.present.home_view import models_markdown
from lab.present.i18n import t
from lab.present.plots import empty_figure
from lab.present.system_status import status_markdown
from lab.present.formatting import parse_run_ids as parse_ids
from pages.ui import K, session_lang, viewer, warn


def _first_step() -> str:
    steps = guided_path.steps()
    return steps[0].preset.id if steps else ""


def build(ui) -> None:
    first = _first_step()
    step_runs = ui.state("home-step-runs", "")  # this browser's last runs of a step (a reload keeps them)
    with ui.make(gr.Tab, label=K("tab.home"), id="home", elem_id="tab-home"):
        with gr.Row():
            with gr.Column(scale=5):
                ui.lesson("home")
            with gr.Column(scale=4):
                # the step, its question and its Run button first: above the fold at 1440x900 (issue 25)
                ui.make(gr.Markdown, value=K("path.title"))
                step = ui.make(gr.Dropdown, choices=guided_path.step_choices("en"), value=first or None,
                               label=K("path.step"), info=K("path.open_tab"), elem_id="home-step")
                reveal = gr.Markdown(_reveal(first, None, "en"), elem_id="home-reveal", elem_classes=["predict"])
                run = ui.make(gr.Button, value=K("path.run"), variant="primary", elem_id="home-step-run")
                status = gr.Markdown("", elem_id="home-step-status")
                info = gr.Markdown(_info(first, "en"), elem_id="home-step-info")
                path = gr.Markdown(guided_path.path_markdown("", "en"), elem_id="home-path")
                ui.make(gr.Markdown, value=K("path.intro"), elem_classes=["note"])
                ui.make(gr.Markdown, value=K("home.models_title"))
                models = gr.Markdown(models_markdown("en"), elem_id="home-models", elem_classes=["models-table"])
                ui.make(gr.Markdown, value=K("home.models_note"), elem_classes=["note"])
                ui.make(gr.Markdown, value=K("home.system_title"))
                system = gr.Markdown(status_markdown("en"), elem_id="home-system")
                refresh = ui.make(gr.Button, value=K("home.refresh"), size="sm")
        with ui.make(gr.Accordion, label=K("board.title"), open=True, elem_id="home-board"):
            board_table = gr.Dataframe(value=_board(first, None, "en")[0], interactive=False, wrap=True,
                                       show_label=False, elem_id="home-board-table")
            board_plot = gr.Plot(empty_figure("en", "board.no_runs"), show_label=False, elem_id="home-board-plot")
            with gr.Row():
                board_refresh = ui.make(gr.Button, value=K("board.refresh"), size="sm", elem_id="home-board-refresh")
                board_report = ui.make(gr.Button, value=K("board.report"), size="sm", elem_id="home-board-report")
            board_file = gr.File(interactive=False, show_label=False, visible=False, elem_id="home-board-file")
        shown = gr.State("")  # inside the Tab: a State directly under gr.Tabs would count as a tab and shift the others

    # -- one function draws the path, the step and its board; the timer skips while nothing changed --
    def draw(lang, visitor, token, step_id, runs_text, signature=None):
        lang = session_lang(lang)
        seen = viewer(visitor, token)
        run_ids = parse_ids(runs_text)
        now = f"{lang}|{visitor}|{seen.role}|{step_id}|{_signature(step_id, run_ids)}"
        if signature is not None and now == signature:
            return [gr.skip()] * 7
        table, figure = _board(step_id, seen, lang)
        chain = guided_path.chain_of(step_id)
        if chain:  # the step runs a whole chain: where this visitor's chain is, and one row per chain run
            group = chains.latest_group(chain, visitor or "")
            table, runs_text = chains.board_frame(chain, seen, lang), chains.progress_markdown(group, lang) if group else ""
        else:
            runs_text = _status(run_ids, lang, seen)
        return [guided_path.path_markdown(visitor, lang), _info(step_id, lang), _reveal(step_id, seen, lang),
                runs_text, table, figure, now]

    outputs = [path, info, reveal, status, board_table, board_plot, shown]
    inputs = [ui.lang, ui.visitor, ui.token, step, step_runs]
    ui.poll(lambda *values: draw(*values), [*inputs, shown], outputs)
    ui.on_language(lambda lang, *values: draw(lang, *values) + [gr.update(choices=guided_path.step_choices(lang))],
                   inputs[1:], outputs + [step])
    step.change(draw, inputs, outputs)
    board_refresh.click(draw, inputs, outputs)

    def run_step(lang, visitor, step_id):
        lang = session_lang(lang)
        try:
            if not step_id:
                raise LabError("no_step_selected")
            chain = guided_path.chain_of(step_id)
            if chain:
                _, first = chains.start(chain, owner=visitor or "")
                run_ids = [first]
            else:
                _, run_ids = presets.submit(step_id, owner=visitor or "")
        except LabError as error:
            warn(error, lang)
            return gr.skip()
        gr.Info(t("path.started", lang, count=len(run_ids), title=presets.load(step_id).text("title", lang)))
        return ",".join(run_ids)

    clicked = run.click(run_step, [ui.lang, ui.visitor, step], [step_runs])
    clicked.then(draw, inputs, outputs)
    ui.hurry(clicked)

    def board_html(lang, visitor, token, step_id):
        lang = session_lang(lang)
        if not step_id:
            return gr.skip()
        preset, seen = presets.load(step_id), viewer(visitor, token)
        rows = classboard.board_rows(preset, seen)
        sections = [("text", preset.text("description", lang)),
                    ("text", classboard.reveal(preset, seen, lang, rows).replace("**", "").replace("*", "")),
                    ("table", classboard.board_frame(preset, seen, lang, rows)),
                    ("figure", classboard.board_figure(preset, seen, lang, rows))]
        html = html_report.html_report(t("report.board_title", lang, title=preset.text("title", lang)), sections, lang)
        path = html_report.write(html, f"board-{step_id.replace('/', '-')}.html")
        return gr.update(value=downloads.copy_for_download(path), visible=True)

    board_report.click(board_html, [ui.lang, ui.visitor, ui.token, step], board_file)

    def redraw(lang):
        return models_markdown(lang), status_markdown(lang)

    ui.on_language(redraw, [], [models, system])
    refresh.click(redraw, [ui.lang], [models, system])


def _status(run_ids: list[str], lang: str, seen) -> str:
    """This browser's runs of the step and, once they have answered, the answers the step compares."""
    return "\n\n".join(part for part in (guided_path.runs_markdown(run_ids, lang, seen),
                                          answers_markdown(run_ids, lang, seen)) if part)


def answers_markdown(run_ids: list[str], lang: str, seen) -> str:
    """The texts of the step's finished runs (e.g. step 1's greedy and sampled answers), one row per run, so
    that "distinct answers 3 vs 1" comes with the answers it counted. "" when no run has texts."""
    from lab.runs import runner
    from lab.runs.runs_view import markdown_table

    rows = []
    for run_id in runner.visible(run_ids, seen):  # ids from the browser: only this viewer's visible runs
        row = runner.get(run_id, seen)
        items = ((runner.read(run_id, seen).read_result() or {}).get("outputs") or {}).get("outputs")
        texts = [" ".join(str(item.get("text", "")).split()) for item in items or [] if isinstance(item, dict)]
        if row["status"] == "succeeded" and texts:
            rows.append({t("path.col.run", lang): row.get("name") or run_id,
                         t("path.col.answers", lang): " · ".join(f"“{text[:80]}”" for text in texts[:6])})
    return f"**{t('path.answers', lang)}**\n\n" + markdown_table(rows) if rows else ""


def _load(step_id: str):
    try:
        return presets.load(step_id) if step_id else None
    except LabError:
        return None


def _info(step_id: str, lang: str) -> str:
    preset = _load(step_id)
    return guided_path.settings_markdown(preset, lang) if preset else ""


def _reveal(step_id: str, seen, lang: str) -> str:
    preset = _load(step_id)
    return classboard.reveal(preset, seen, lang) if preset else ""


def _board(step_id: str, seen, lang: str):
    preset = _load(step_id)
    if preset is None:
        return classboard.board_frame(presets.Preset("", "", {}, {}, [{}]), seen, lang, rows=[]), \
            empty_figure(lang, "board.no_runs")
    rows = classboard.board_rows(preset, seen)
    return classboard.board_frame(preset, seen, lang, rows), classboard.board_figure(preset, seen, lang, rows)


def _signature(step_id: str, run_ids: list[str]) -> str:
    """Changes when the board, the ticks or the step's runs would: the preset's runs and their states."""
    from lab.runs import store

    if not step_id:
        return ""
    rows = store.list_runs(limit=5000, preset=step_id)
    active = [r["id"] for r in rows if r["status"] in store.ACTIVE] + run_ids
    live = "".join(str((r or {}).get("status")) + str(_progress(r)) for r in map(store.get_run, active))
    chain = guided_path.chain_of(step_id)
    if chain:  # a chain's later steps run under other presets: follow every chain run
        live += "".join(chains.signature(g["group"]) for g in chains.groups(chain))
    return f"{len(rows)}|{sum(r['status'] == 'succeeded' for r in rows)}|{live}"


def _progress(row) -> str:
    from lab.runs import runner

    return str(runner.progress(row["id"]).get("done", "")) if row and row["status"] == "running" else ""
