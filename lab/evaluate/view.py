"""What the Evaluate tab shows, as data: tables and figures from a judge or evaluate run's result,
and the arena's live leaderboard. Pure reads of the runs' results and arena.db, in a language."""
import pandas as pd
from lab.runs.folder import RunFolder
from lab.errors import LabError
from lab.evaluate import arena, bradley_terry, plots
from lab.present.i18n import t

LEADERBOARD_COLUMNS = ("rank", "label", "rating", "interval", "wins", "ties", "losses", "invalid", "mean_chars")
PAIR_COLUMNS = ("a", "b", "wins", "ties", "losses", "invalid", "win_rate", "interval")
LC_COLUMNS = ("contestant", "baseline", "win_rate", "lc_win_rate", "length_coefficient", "games", "note")
INVALID_COLUMNS = ("a", "b", "order", "raw")
ARENA_COLUMNS = ("rank", "label", "rating", "interval", "games")
EVAL_COLUMNS = ("metric", "value")


def _frame(rows: list[list], columns, lang: str, area: str) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[t(f"evaluate.col.{c}", lang) for c in columns], dtype=object)


def _interval(low, high) -> str:
    return "" if low is None or high is None else f"[{low:.0f}, {high:.0f}]" if abs(high) > 2 else f"[{low:.2f}, {high:.2f}]"


def _fmt(value, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _outputs(result: dict | None) -> dict:
    return (result or {}).get("outputs") or {}


def labels(result: dict | None) -> dict:
    return _outputs(result).get("labels") or {}


def leaderboard_frame(result: dict | None, lang: str) -> pd.DataFrame:
    names = labels(result)
    rows = [[rank, names.get(r["name"], r["name"]), f"{r['rating']:.0f}", _interval(r["low"], r["high"]), r["wins"],
             r["ties"], r["losses"], r["invalid"], f"{r['mean_chars']:.0f}"]
            for rank, r in enumerate(_outputs(result).get("leaderboard") or [], start=1)]
    return _frame(rows, LEADERBOARD_COLUMNS, lang, "leaderboard")


def pairs_frame(result: dict | None, lang: str) -> pd.DataFrame:
    names = labels(result)
    rows = [[names.get(p["a"], p["a"]), names.get(p["b"], p["b"]), p["wins"], p["ties"], p["losses"], p["invalid"],
             _fmt(p["win_rate"]), _interval(p["low"], p["high"])] for p in _outputs(result).get("pairs") or []]
    return _frame(rows, PAIR_COLUMNS, lang, "pairs")


def _lc_note(row: dict, lang: str) -> str:
    """Why an LC figure deserves caution: the minimal model (one contestant) or an extrapolation."""
    notes = [t("evaluate.lc_note.minimal", lang)] if row.get("model") == "minimal" else []
    if row.get("extrapolated"):
        side = "longer" if (row.get("longer_share") or 0) >= 0.5 else "shorter"
        notes.append(t("evaluate.lc_note.extrapolated", lang, side=t(f"evaluate.lc_note.{side}", lang)))
    return "; ".join(notes)


def length_control_frame(result: dict | None, lang: str) -> pd.DataFrame:
    names = labels(result)
    rows = [[names.get(r["contestant"], r["contestant"]), names.get(r["baseline"], r["baseline"]), _fmt(r["win_rate"]),
             _fmt(r["lc_win_rate"]), _fmt(r["length_coefficient"], 2), r["games"], _lc_note(r, lang)]
            for r in _outputs(result).get("length_controlled") or []]
    return _frame(rows, LC_COLUMNS, lang, "lc")


def lc_notes_markdown(result: dict | None, lang: str) -> str:
    """What the LC table's notes mean, once per kind of note present (empty when there is none)."""
    rows = _outputs(result).get("length_controlled") or []
    names = labels(result)
    parts = []
    if any(r.get("model") == "minimal" for r in rows):
        parts.append(t("evaluate.lc_explain.minimal", lang))
    extrapolated = [names.get(r["contestant"], r["contestant"]) for r in rows if r.get("extrapolated")]
    if extrapolated:
        parts.append(t("evaluate.lc_explain.extrapolated", lang, contestants=", ".join(extrapolated)))
    return "\n\n".join(parts)


def reuse_markdown(result: dict | None, lang: str) -> str:
    """Which contestants' answers were reused from an earlier run (not generated again), if any."""
    outputs = _outputs(result)
    reused = outputs.get("reused_answers") or {}
    if not reused:
        return ""
    names = labels(result)
    lines = [t("evaluate.reused_line", lang, contestant=names.get(name, name), run_id=run_id)
             for name, run_id in reused.items()]
    return t("evaluate.reused_title", lang, count=len(reused), total=len(outputs.get("contestants") or [])) + \
        "\n" + "\n".join(f"- {line}" for line in lines)


ANSWER_FILES = ("answers.csv", "answers.jsonl")  # a judge run's answers, offered for download


def invalid_frame(result: dict | None, lang: str) -> pd.DataFrame:
    names = labels(result)
    rows = [[names.get(r["a"], r["a"]), names.get(r["b"], r["b"]), r["order"], r["raw"]]
            for r in _outputs(result).get("invalid_examples") or []]
    return _frame(rows, INVALID_COLUMNS, lang, "invalid")


def bias_markdown(result: dict | None, lang: str) -> str:
    """The judge's position bias in words, with the numbers (empty before a run, or for the human judge)."""
    outputs, metrics = _outputs(result), (result or {}).get("metrics") or {}
    bias = outputs.get("position_bias")
    if not bias:
        return t("evaluate.arena_ready", lang) if outputs.get("arena") else ""
    rate = bias.get("first_slot_rate")
    text = t("evaluate.bias", lang, judge=outputs.get("judge", ""), first=bias["n_A"], decisive=bias["decisive"],
             rate="–" if rate is None else f"{rate:.0%}", consistent="–" if bias.get("consistent_rate") is None
             else f"{bias['consistent_rate']:.0%}", flipped=bias.get("flipped", 0), pairs=bias.get("pairs", 0),
             invalid=metrics.get("invalid_games", 0), games=metrics.get("games", 0))
    if rate is not None and bias["decisive"] >= 10 and abs(rate - 0.5) >= 0.2:
        text += "\n\n" + t("evaluate.bias_strong", lang, rate=f"{rate:.0%}")
    return text


def heatmap(result: dict | None, lang: str):
    outputs = _outputs(result)
    names = outputs.get("contestants") or []
    shown = [labels(result).get(n, n) for n in names]
    frame = pd.DataFrame(outputs.get("matrix") or [], index=shown, columns=shown) if names else None
    return plots.winrate_heatmap(frame, lang)


def ratings_plot(result: dict | None, lang: str):
    board = _outputs(result).get("leaderboard") or []
    names = labels(result)
    frame = pd.DataFrame([{"label": names.get(r["name"], r["name"]), "rating": r["rating"], "low": r["low"],
                           "high": r["high"]} for r in board])
    return plots.ratings_figure(frame, lang)


def length_plot(result: dict | None, lang: str):
    return plots.length_figure(pd.DataFrame(_outputs(result).get("length_points") or []), lang)


# -- arena -----------------------------------------------------------------------------------------------
def arena_sources(viewer=None) -> list[tuple[str, str]]:
    """(label, run id) of finished judge runs this viewer may see, newest first (None: shared runs only)."""
    from lab.classroom.access import Viewer
    from lab.runs import runner

    rows = [r for r in runner.list_runs(viewer or Viewer(), limit=200, statuses=("succeeded",)) if r["kind"] == "judge"]
    return [(f"{r['name'] or r['id']} · {r['id'][-6:]}", r["id"]) for r in rows]


def arena_state(source_run: str, lang: str) -> dict:
    """Leaderboard from the class's votes, and agreement with the run's automatic judge."""
    if not source_run:
        return {"frame": _frame([], ARENA_COLUMNS, lang, "arena"), "figure": plots.ratings_figure(None, lang),
                "text": "", "signature": ""}
    rows = arena.votes(source_run)
    folder = RunFolder(source_run)
    result = folder.read_result()
    names = labels(result)
    games = arena.games_from_votes(rows)
    board = bradley_terry.ratings(games, rounds=100, seed=0) if games else []
    frame = _frame([[rank, names.get(r["name"], r["name"]), f"{r['rating']:.0f}", _interval(r["low"], r["high"]), r["games"]]
                    for rank, r in enumerate(board, start=1)], ARENA_COLUMNS, lang, "arena")
    plot_frame = pd.DataFrame([{"label": names.get(r["name"], r["name"]), "rating": r["rating"], "low": r["low"],
                                "high": r["high"]} for r in board])
    text = t("evaluate.arena_votes", lang, votes=len(rows), both_bad=sum(r["vote"] == "both_bad" for r in rows))
    if rows and folder.artifact_path("judgments.jsonl").is_file():
        agreement = arena.agreement(games, folder.read_artifact_jsonl("judgments.jsonl"))
        if agreement["compared"]:
            text += " " + t("evaluate.agreement", lang, judge=_outputs(result).get("judge", ""),
                            agree=agreement["agree"], compared=agreement["compared"], rate=f"{agreement['rate']:.0%}")
    return {"frame": frame, "figure": plots.ratings_figure(plot_frame, lang, "evaluate.plot.arena_title"),
            "text": text, "signature": f"{source_run}|{len(rows)}|{lang}"}


def draw_battle(source_run: str, rng) -> dict | None:
    try:
        return arena.next_battle(arena.load_answers(source_run), rng)
    except LabError:
        return None


# -- evaluate runs ---------------------------------------------------------------------------------------
EVAL_FIGURES = ("accuracy", "accuracy_low", "accuracy_high", "accuracy_per_token", "accuracy_norm", "chance", "no_answer_rate", "perplexity",
                "nll_per_token", "tokens", "n", "measure_seconds")


def evaluate_frame(result: dict | None, lang: str) -> pd.DataFrame:
    metrics = (result or {}).get("metrics") or {}
    rows = [[t(f"evaluate.figure.{k}", lang), _fmt(metrics[k], 4) if isinstance(metrics[k], float) else metrics[k]]
            for k in EVAL_FIGURES if k in metrics]
    return _frame(rows, EVAL_COLUMNS, lang, "eval")


def examples_frame(result: dict | None, lang: str) -> pd.DataFrame:
    examples = _outputs(result).get("examples") or []
    if not examples:
        return pd.DataFrame()
    keep = [c for c in ("correct", "gold", "pick", "pick_norm", "extracted", "output", "question", "text") if c in examples[0]]
    return pd.DataFrame([[str(e.get(c, ""))[:160] for c in keep] for e in examples],
                        columns=[t(f"evaluate.col.{c}", lang) for c in keep], dtype=object)


# -- pickers ---------------------------------------------------------------------------------------------
def contestant_choices(viewer=None) -> list[tuple[str, str]]:
    """(label, value) for the contestant picker: offline models, their variants, finished fine-tune and DPO
    runs this viewer may see (None: shared runs only, for widgets built at start)."""
    from lab.classroom.access import Viewer
    from lab.evaluate.contestants import VARIANTS, is_run
    from lab.runs import runner
    from lab.present.home_view import model_choices

    models, default = model_choices()
    choices = [(name, name) for name in models]
    choices += [(f"{default}@{variant}", f"{default}@{variant}") for variant in VARIANTS]
    for row in runner.list_runs(viewer or Viewer(), limit=200, statuses=("succeeded",)):
        if is_run(row["id"]):
            choices.append((f"{row['name'] or row['kind']} · {row['id']}", row["id"]))
    return choices





