"""What the Align tab's GRPO / RLOO / RAFT sub-tab shows, as data: the live reward curve with its spread,
the share of groups with no signal, the KL to the start, answer length, the table of sampled answers, and
the before/after summary. Pure functions over the run API (no Gradio, no torch), tested directly.
"""
import pandas as pd

from lab.align.view import metrics_frame
from lab.present.formatting import format_number
from lab.present.i18n import t
from lab.present.plots import COLORS, axis_title, empty_figure, layout, metric_curves
from lab.runs.folder import RunFolder

KINDS = ("grpo", "rloo", "raft")
SAMPLE_ROWS = 24  # the newest sampled answers shown


def reward_figure(frame: pd.DataFrame, lang: str):
    """Mean reward per step, with a band of ± one standard deviation of the sampled answers' rewards."""
    import plotly.graph_objects as go

    if frame.empty or "reward_mean" not in frame.columns:
        return empty_figure(lang)
    data = frame.dropna(subset=["reward_mean"]).sort_values("step")
    figure = go.Figure()
    if "reward_std" in data.columns:
        band = data.dropna(subset=["reward_std"])
        figure.add_trace(go.Scatter(x=list(band["step"]) + list(band["step"])[::-1],
                                    y=list(band["reward_mean"] + band["reward_std"])
                                    + list(band["reward_mean"] - band["reward_std"])[::-1],
                                    fill="toself", line={"width": 0}, fillcolor="rgba(37,99,235,0.15)",
                                    name=t("align.rl_curve_spread", lang), hoverinfo="skip"))
    figure.add_trace(go.Scatter(x=data["step"], y=data["reward_mean"], mode="lines+markers",
                                name=t("align.rl_curve_reward", lang), line={"color": COLORS[0]}))
    return layout(figure, t("align.rl_curve_title", lang), t("align.rl_step", lang), axis_title("reward_mean", lang))


def rl_curves(run_id: str, lang: str) -> list:
    """[reward ± spread, share of groups with equal rewards, KL to the start, answer length] against step."""
    frame = metrics_frame(run_id)
    if frame.empty:
        return [empty_figure(lang)] * 4
    label = {t("align.curve.this_run", lang): frame}
    return [reward_figure(frame, lang), metric_curves(label, "zero_std_share", lang),
            metric_curves(label, "kl", lang), metric_curves(label, "completion_length", lang)]


def samples_frame(run_id: str, lang: str) -> pd.DataFrame:
    """The newest sampled answers with their rewards (GRPO/RLOO: samples.json; RAFT: the kept answers)."""
    columns = [t(f"align.rl_col_{c}", lang) for c in ("step", "prompt", "completion", "reward")]
    rows = []
    if run_id:
        folder = RunFolder(run_id)
        rows = folder.read_artifact_json("samples.json", None) or [
            {**row, "step": row.get("round")} for row in folder.read_artifact_json("raft_kept.json", None) or []]
    rows = rows[-SAMPLE_ROWS:]
    return pd.DataFrame([[r.get("step"), r.get("prompt"), r.get("completion"), r.get("reward")] for r in rows],
                        columns=columns)


def _interval(pair) -> str:
    return f"[{format_number(pair[0])}, {format_number(pair[1])}]" if pair else "-"


def rl_summary(result: dict | None, lang: str) -> str:
    """One line: held-out reward and accuracy before → after with 95% Wilson intervals, the no-signal share."""
    metrics = (result or {}).get("metrics") or {}
    if "held_out_reward_after" not in metrics:
        return ""
    common = {"before": format_number(metrics["held_out_reward_before"]),
              "after": format_number(metrics["held_out_reward_after"]),
              "zero": format_number(metrics.get("zero_std_share_mean", "-"))}
    if "accuracy_after" not in metrics:
        return t("align.rl_summary_no_accuracy", lang, **common)
    return t("align.rl_summary", lang, **common, acc_before=format_number(metrics["accuracy_before"]),
             acc_after=format_number(metrics["accuracy_after"]),
             int_before=_interval(metrics.get("accuracy_before_interval")),
             int_after=_interval(metrics.get("accuracy_after_interval")),
             seconds=format_number(metrics.get("seconds_per_step", "-")))



def reward_run_choices(lang: str, viewer=None) -> list[tuple[str, str]]:
    """"—" (a rule reward), then every finished reward-model run this viewer may see."""
    from lab.classroom.access import Viewer
    from lab.runs import runner

    choices = [("—", "")]
    for row in runner.list_runs(viewer or Viewer(), statuses=("succeeded",)):
        if row["kind"] == "reward":
            choices.append((f"{t('kind.reward', lang)} · {row['id']}", row["id"]))
    return choices
