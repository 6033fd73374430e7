"""Arena mode: the class votes on two anonymous answers; votes live in SQLite and feed Bradley–Terry.

Battles are drawn from the answers a "judge" run wrote (artifacts/answers.jsonl): one prompt, two
contestants, shown in random order without their names. A vote is "left", "right", "tie" or
"both_bad" (both bad is a tie for the ratings, and counted apart). The votes table is this module's
own file, LAB_HOME/arena.db, so it never touches the job table's schema (lab/runs/store.py).

    battle = next_battle(answers, rng)                 # what the page shows (names kept server-side)
    record_vote(run_id, battle, "left", voter)
    games = games_from_votes(votes(run_id))            # -> lab.evaluate.bradley_terry.ratings(games)

One vote per visitor per pair and prompt: a visitor's second vote on the same prompt and the same two
contestants (in either order) replaces the first, so a keen voter cannot outweigh the class by clicking on;
votes() also keeps only the newest of such duplicates (a data folder from before this rule), so the
leaderboard and its bootstrap intervals come from deduplicated votes. A vote without a voter (the CLI, a
script) has nobody to be deduplicated against and counts as cast. In Space mode a vote needs the visitor's
server-issued key, and a visitor may cast at most LAB_VISITOR_MAX_VOTES votes in all (default 300; 0: no cap;
a replaced vote does not count twice; the teacher and the admin are not capped).
"""
import random
import time
from contextlib import contextmanager

from lab import config
from lab.runs.folder import RunFolder, check_run_id
from lab.errors import LabError

VOTES = ("left", "right", "tie", "both_bad")
SCHEMA = """
CREATE TABLE IF NOT EXISTS arena_votes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source_run TEXT NOT NULL,      -- the judge run whose answers were shown
    prompt_index INTEGER NOT NULL,
    left_name TEXT NOT NULL,       -- the contestant shown on the left (hidden from the voter)
    right_name TEXT NOT NULL,
    vote TEXT NOT NULL CHECK (vote IN ('left', 'right', 'tie', 'both_bad')),
    voter TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS arena_votes_run ON arena_votes(source_run);
CREATE INDEX IF NOT EXISTS arena_votes_voter ON arena_votes(voter, source_run, prompt_index);
"""
MAX_VOTES_DEFAULT = 300


def db_path():
    return config.lab_home() / "arena.db"


@contextmanager
def connect():
    from lab.runs.store import open_database

    with open_database(db_path(), SCHEMA) as conn:  # its own file: votes never touch the runs database
        yield conn


def load_answers(run_id: str) -> list[dict]:
    """The answers a judge run wrote: {"prompt_index", "prompt", "contestant", "text"} per line."""
    folder = RunFolder(run_id)
    if not folder.artifact_path("answers.jsonl").is_file():
        raise LabError("arena_no_answers", run_id=run_id)
    return folder.read_artifact_jsonl("answers.jsonl")


def next_battle(answers: list[dict], rng: random.Random) -> dict | None:
    """A random prompt and two different contestants' answers to it, in random order; None if impossible."""
    by_prompt: dict[int, list[dict]] = {}
    for row in answers:
        by_prompt.setdefault(row["prompt_index"], []).append(row)
    candidates = [rows for rows in by_prompt.values() if len({r["contestant"] for r in rows}) >= 2]
    if not candidates:
        return None
    rows = rng.choice(candidates)
    left, right = rng.sample(rows, 2)
    return {"prompt_index": left["prompt_index"], "prompt": left["prompt"], "left": left["contestant"],
            "right": right["contestant"], "left_text": left["text"], "right_text": right["text"]}


def max_votes() -> int:
    """A visitor's vote cap in Space mode (LAB_VISITOR_MAX_VOTES; 0: none)."""
    return config._int_env("LAB_VISITOR_MAX_VOTES", MAX_VOTES_DEFAULT, minimum=0)


def _capped(voter: str, viewer) -> bool:
    from lab.classroom import space_mode

    return config.space_mode() and space_mode.is_visitor(voter) and not (viewer is not None and viewer.sees_all) \
        and max_votes() > 0


def record_vote(source_run: str, battle: dict, vote: str, voter: str = "", viewer=None) -> str:
    """Store a vote; returns "new" or "replaced" (the voter's earlier vote on this prompt and pair).
    viewer: who votes through the app (the teacher and the admin are not capped)."""
    from lab.classroom.visitors import valid_visitor_key

    if vote not in VOTES:
        raise LabError("bad_choice", field="vote", value=vote, choices=", ".join(VOTES))
    check_run_id(source_run)
    if battle["left"] == battle["right"]:
        raise LabError("arena_same_contestant", contestant=battle["left"])
    voter = voter or ""
    if config.space_mode() and voter not in ("cli",) and not valid_visitor_key(voter):
        raise LabError("no_visitor_key")
    index, pair = int(battle["prompt_index"]), (battle["left"], battle["right"], battle["right"], battle["left"])
    with connect() as conn:
        conn.execute("BEGIN IMMEDIATE")  # the check and the write are one step: two clicks cannot both pass the cap
        try:
            earlier = [] if not voter else [row[0] for row in conn.execute(
                "SELECT id FROM arena_votes WHERE source_run = ? AND voter = ? AND prompt_index = ? AND"
                " ((left_name = ? AND right_name = ?) OR (left_name = ? AND right_name = ?))",
                (source_run, voter, index, *pair))]
            if not earlier and _capped(voter, viewer):
                cast = conn.execute("SELECT COUNT(*) FROM arena_votes WHERE voter = ?", (voter,)).fetchone()[0]
                if cast >= max_votes():
                    raise LabError("limit_votes", limit=max_votes())
            conn.executemany("DELETE FROM arena_votes WHERE id = ?", [(i,) for i in earlier])
            conn.execute("INSERT INTO arena_votes (source_run, prompt_index, left_name, right_name, vote, voter, created_at)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?)", (source_run, index, battle["left"], battle["right"], vote,
                                                          voter, time.time()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return "replaced" if earlier else "new"


def deduplicate(rows: list[dict]) -> list[dict]:
    """The newest vote per voter, prompt and pair (either order); votes without a voter are all kept."""
    newest: dict = {}
    for row in rows:
        key = (row["voter"], row["prompt_index"], frozenset((row["left_name"], row["right_name"]))) if row["voter"] \
            else ("", row["id"])
        if key not in newest or row["id"] > newest[key]["id"]:
            newest[key] = row
    return sorted(newest.values(), key=lambda row: row["id"])


def votes(source_run: str, deduplicated: bool = True) -> list[dict]:
    """A run's votes in the order cast (deduplicated: what the leaderboard counts)."""
    with connect() as conn:
        rows = [dict(row) for row in conn.execute("SELECT * FROM arena_votes WHERE source_run = ? ORDER BY id",
                                                  (source_run,))]
    return deduplicate(rows) if deduplicated else rows


OUTCOME = {"left": "win", "right": "loss", "tie": "tie", "both_bad": "tie"}  # from the left contestant's side


def games_from_votes(rows: list[dict]) -> list[dict]:
    """Votes as games {"a", "b", "outcome", "prompt_index"} for lab.evaluate.bradley_terry.ratings."""
    return [{"a": row["left_name"], "b": row["right_name"], "outcome": OUTCOME[row["vote"]],
             "prompt_index": row["prompt_index"]} for row in rows]


def agreement(human_games: list[dict], judge_games: list[dict]) -> dict:
    """How often a human vote matches the automatic judge's outcome on the same prompt and pair.

    Both sides are read as "which contestant won, or a tie"; invalid judge games are left out.
    """
    from lab.evaluate.outcomes import flip

    judged = {}
    for game in judge_games:
        if game["outcome"] != "invalid":
            judged[(game["prompt_index"], game["a"], game["b"])] = game["outcome"]
            judged[(game["prompt_index"], game["b"], game["a"])] = flip(game["outcome"])
    compared = [(game["outcome"], judged[key]) for game in human_games
                if (key := (game["prompt_index"], game["a"], game["b"])) in judged]
    agree = sum(1 for human, judge in compared if human == judge)
    return {"compared": len(compared), "agree": agree, "rate": agree / len(compared) if compared else None}
