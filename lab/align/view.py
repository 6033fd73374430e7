"""What the Align tab shows, as data: presets, starting points, live curves, before/after tables and the
margin histogram. Pure functions over the run store and run folders (no Gradio, no torch), tested directly.
"""

import pandas as pd
from lab.runs import runner, store
from lab.runs.folder import RunFolder
from lab.present.i18n import t
from lab.present.plots import COLORS, axis_title, empty_figure, layout, metric_curves
from lab.present.formatting import format_number
from lab.runs.runs_view import kind_text

LESSONS = ("align_reward", "align_dpo", "align_ppo", "align_grpo", "align_rloo", "align_raft", "align_lifecycle")  # the lessons beside the tab, besides align.md
STARTING_KINDS = ("finetune", "dpo", "grpo", "rloo", "raft")  # runs whose artifacts/adapter/ DPO or RL can start from








def lesson_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"align.lesson.{name}", lang), name) for name in LESSONS]


def starting_choices(lang: str, viewer=None) -> list[tuple[str, str]]:
    """The base model, then every finished fine-tune or DPO run this viewer may see (their adapters load
    the same way). viewer None: an anonymous visitor (shared runs only), for widgets built at start."""
    from lab.classroom.access import Viewer

    choices = [(t("align.start_base", lang), "")]
    for row in runner.list_runs(viewer or Viewer(), statuses=("succeeded",)):
        if row["kind"] not in STARTING_KINDS:
            continue
        folder = RunFolder(row["id"])
        if not folder.artifact_path("adapter/lab_finetune.json").is_file():
            continue
        spec = folder.read_spec()
        parts = [kind_text(row["kind"], lang), spec.get("method") or spec.get("name") or "", row["id"]]
        choices.append((" · ".join(part for part in parts if part), row["id"]))
    return choices


def run_signature(run_id: str, lang: str) -> str:
    """Changes whenever the curves would: status and the run's files (not its log)."""
    if not run_id:
        return f"{lang}|"
    row = store.get_run(run_id)
    if row is None:
        return f"{lang}|{run_id}|missing"
    return f"{lang}|{row['status']}|{RunFolder(run_id).signature(log=False)}"


def metrics_frame(run_id: str) -> pd.DataFrame:
    return pd.DataFrame(runner.metrics(run_id)) if run_id and store.get_run(run_id) else pd.DataFrame()


def curve(frame: pd.DataFrame, metric: str, lang: str, label_key: str = "align.curve.this_run"):
    return metric_curves({t(label_key, lang): frame}, metric, lang)


def paired_curve(frame: pd.DataFrame, columns: dict[str, str], metric: str, lang: str):
    """Several columns of one run as lines of one figure (e.g. the chosen and the rejected answers' reward)."""
    frames = {t(label_key, lang): frame.rename(columns={column: metric})[["step", metric]]
              for column, label_key in columns.items() if column in frame.columns and "step" in frame.columns}
    return metric_curves(frames, metric, lang) if frames else empty_figure(lang)


def dpo_curves(run_id: str, lang: str) -> list:
    """Loss, reward accuracy, chosen vs rejected implicit reward, and the KL to the reference, against step."""
    frame = metrics_frame(run_id)
    if frame.empty:
        return [empty_figure(lang)] * 4
    rewards = paired_curve(frame, {"reward_chosen": "align.curve.chosen", "reward_rejected": "align.curve.rejected"},
                           "implicit_reward", lang)
    return [curve(frame, "loss", lang), curve(frame, "reward_accuracy", lang), rewards, curve(frame, "kl", lang)]


def reward_curves(run_id: str, lang: str) -> list:
    frame = metrics_frame(run_id)
    if frame.empty:
        return [empty_figure(lang)] * 2
    return [curve(frame, "loss", lang), curve(frame, "reward_accuracy", lang)]


def margin_histogram(margins: dict[str, list], lang: str, title_key: str):
    """Overlaid histograms of the per-pair margins before and after training; right of 0 = ranked as people did."""
    import plotly.graph_objects as go

    frame = pd.DataFrame([(stage, value) for stage, values in margins.items() for value in values or []],
                         columns=["stage", "margin"])
    if frame.empty:
        return empty_figure(lang)
    figure = go.Figure()
    for index, (stage, group) in enumerate(frame.groupby("stage", sort=False)):
        figure.add_trace(go.Histogram(x=list(group["margin"]), name=t(f"align.stage.{stage}", lang), opacity=0.6,
                                      nbinsx=20, marker_color=COLORS[index % len(COLORS)]))
    figure.add_vline(x=0, line_dash="dash", line_color="#6b7280")
    figure = layout(figure, t(title_key, lang), axis_title("margin", lang), t("align.pairs", lang))
    figure.update_layout(barmode="overlay", hovermode="closest")
    return figure


def reward_margins(run_id: str) -> dict:
    if not run_id:
        return {}
    return RunFolder(run_id).read_artifact_json("margins.json", {}) or {}


def dpo_margins(run_id: str) -> dict:
    """log π(chosen) − log π(rejected) per held-out pair, before and after DPO."""
    logps = RunFolder(run_id).read_artifact_json("held_out_logps.json", {}) if run_id else {}
    return {stage: [c - r for c, r in pairs] for stage, pairs in (logps or {}).items()}


def _cell(value) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else format_number(value)


def before_after_frame(metrics: dict, rows: list[tuple[str, str, str]], lang: str) -> pd.DataFrame:
    """(label key, figure before, figure after) -> a table: what, before, after."""
    records = [[t(key, lang), _cell(metrics.get(before)), _cell(metrics.get(after))] for key, before, after in rows
               if metrics.get(before) is not None or metrics.get(after) is not None]
    columns = [t(f"align.col.{c}", lang) for c in ("figure", "before", "after")]
    return pd.DataFrame(records, columns=columns, dtype=object)


DPO_ROWS = [("align.row.margin", "margin_before", "margin_after"),
            ("align.row.pair_accuracy", "pair_accuracy_before", "pair_accuracy_after"),
            ("align.row.task_accuracy", "accuracy_before", "accuracy_after")]
REWARD_ROWS = [("align.row.reward_accuracy", "reward_accuracy_before", "reward_accuracy"),
               ("align.row.reward_margin", "margin_mean_before", "margin_mean")]


def dpo_summary(result: dict | None, lang: str) -> tuple[pd.DataFrame, str]:
    """The before/after table and a line of the DPO-only figures (win rate, KL, held-out reward accuracy)."""
    metrics = (result or {}).get("metrics") or {}
    table = before_after_frame(metrics, DPO_ROWS, lang)
    if not metrics:
        return table, ""
    line = t("align.dpo_line", lang, reward_accuracy=_cell(metrics.get("held_out_reward_accuracy")),
             log_ratio=_cell(metrics.get("held_out_log_ratio")), kl=_cell(metrics.get("kl_final")),
             steps=_cell(metrics.get("steps")))
    if metrics.get("win_rate") is not None:
        line += " " + t("align.win_line", lang, win_rate=_cell(metrics["win_rate"]), wins=metrics.get("wins", 0),
                        ties=metrics.get("ties", 0), losses=metrics.get("losses", 0))
    return table, line


def answers_frame(result: dict | None, lang: str) -> pd.DataFrame:
    """Prompt, the answer before DPO, the answer after, and (checkable tasks) the right answer."""
    from lab.align.judging import is_correct

    outputs = ((result or {}).get("outputs") or {}).get("outputs") or []
    columns = [t(f"align.col.{c}", lang) for c in ("prompt", "before", "after", "right_answer")]
    rows = []
    for item in outputs:
        right = item.get("answer")
        mark = (lambda text: f"{'✓' if is_correct(text, right) else '✗'} {text}") if right else (lambda text: text)
        rows.append([item.get("prompt", ""), mark(item.get("before", "")), mark(item.get("after", "")), right or ""])
    return pd.DataFrame(rows, columns=columns, dtype=object)


def reward_summary(result: dict | None, lang: str) -> pd.DataFrame:
    return before_after_frame((result or {}).get("metrics") or {}, REWARD_ROWS, lang)


def samples_frame(result: dict | None, lang: str) -> pd.DataFrame:
    """The sample answers and their rewards, best first."""
    samples = ((result or {}).get("outputs") or {}).get("samples") or []
    rows = sorted(([s["answer"], format_number(s["reward"])] for s in samples), key=lambda r: -float(r[1]))
    return pd.DataFrame(rows, columns=[t(f"align.col.{c}", lang) for c in ("answer", "reward")], dtype=object)


def preview_markdown(summary: dict, lang: str) -> str:
    text = t("align.preview_summary", lang, train=summary["train"], held_out=summary["held_out"],
             longest=summary["longest"])
    if summary["checkable"]:
        text += " " + t("align.preview_checkable", lang)
    if summary["too_long"]:
        text += " " + t("align.preview_too_long", lang, count=summary["too_long"])
    return text


def preview_frame(summary: dict | None, lang: str) -> pd.DataFrame:
    rows = [[r["prompt"], r["chosen"], r["rejected"]] for r in (summary or {}).get("rows", [])]
    return pd.DataFrame(rows, columns=[t(f"align.col.{c}", lang) for c in ("prompt", "chosen", "rejected")],
                        dtype=object)
