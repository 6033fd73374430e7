"""Arena votes: stored in their own SQLite file, turned into games, fed to Bradley–Terry, compared with the judge."""
import json
import random

import pytest
from lab.runs.folder import RunFolder
from lab.errors import LabError
from lab.evaluate import arena, bradley_terry


def battle(i, left, right):
    return {"prompt_index": i, "prompt": "p", "left": left, "right": right, "left_text": "", "right_text": ""}


def test_votes_are_stored_and_feed_the_ratings(lab_home):
    for i in range(6):
        arena.record_vote("run-1", battle(i, "tuned", "base"), "left", voter="v1")
    arena.record_vote("run-1", battle(6, "base", "tuned"), "left", voter="v2")  # base won once, shown on the left
    arena.record_vote("run-1", battle(7, "base", "tuned"), "both_bad")
    arena.record_vote("run-2", battle(0, "base", "tuned"), "left")  # another run's votes stay apart
    rows = arena.votes("run-1")
    assert len(rows) == 8 and (lab_home / "arena.db").is_file()
    games = arena.games_from_votes(rows)
    assert [g["outcome"] for g in games[-2:]] == ["win", "tie"]  # both bad is a tie
    board = bradley_terry.ratings(games, rounds=50, seed=0)
    assert board[0]["name"] == "tuned" and board[0]["games"] == 8


def test_bad_votes_are_refused(lab_home):
    with pytest.raises(LabError) as info:
        arena.record_vote("run-1", battle(0, "a", "b"), "maybe")
    assert info.value.key == "bad_choice" and "maybe" in str(info.value)
    with pytest.raises(LabError):
        arena.record_vote("../etc", battle(0, "a", "b"), "left")
    with pytest.raises(LabError):
        arena.record_vote("run-1", battle(0, "a", "a"), "left")
    assert arena.votes("run-1") == []


def test_battles_pair_two_different_contestants_on_one_prompt():
    answers = [{"prompt_index": i, "prompt": f"q{i}", "contestant": c, "text": f"{c}{i}"}
               for i in range(3) for c in ("x", "y", "z")] + [{"prompt_index": 9, "prompt": "solo", "contestant": "x", "text": ""}]
    rng = random.Random(0)
    seen_left = set()
    for _ in range(50):
        drawn = arena.next_battle(answers, rng)
        assert drawn["left"] != drawn["right"] and drawn["prompt_index"] != 9
        assert drawn["left_text"] == f"{drawn['left']}{drawn['prompt_index']}"
        seen_left.add(drawn["left"])
    assert seen_left == {"x", "y", "z"}  # the order is random, so no contestant always sits on one side
    assert arena.next_battle(answers[-1:], rng) is None


def test_agreement_with_the_judge_matches_by_prompt_and_pair():
    judge = [{"prompt_index": 0, "a": "x", "b": "y", "outcome": "win"},
             {"prompt_index": 1, "a": "x", "b": "y", "outcome": "tie"},
             {"prompt_index": 2, "a": "x", "b": "y", "outcome": "invalid"}]
    human = [{"prompt_index": 0, "a": "y", "b": "x", "outcome": "loss"},  # the same verdict, seen from y's side
             {"prompt_index": 1, "a": "x", "b": "y", "outcome": "win"},  # disagrees
             {"prompt_index": 2, "a": "x", "b": "y", "outcome": "win"},  # the judge's game was invalid: not compared
             {"prompt_index": 5, "a": "x", "b": "y", "outcome": "win"}]  # never judged
    result = arena.agreement(human, judge)
    assert result == {"compared": 2, "agree": 1, "rate": 0.5}


def test_arena_view_shows_the_live_board_and_agreement(lab_home):
    from lab.evaluate import view

    folder = RunFolder("run-3").path
    (folder / "artifacts").mkdir(parents=True)
    (folder / "artifacts" / "judgments.jsonl").write_text(
        json.dumps({"prompt_index": 0, "a": "x", "b": "y", "outcome": "win"}) + "\n")
    (folder / "result.json").write_text(json.dumps({"outputs": {"judge": "rule", "labels": {"x": "X model"}}}))
    empty = view.arena_state("run-3", "en")
    assert empty["frame"].empty and "0 votes" in empty["text"]
    arena.record_vote("run-3", battle(0, "x", "y"), "left")
    state = view.arena_state("run-3", "en")
    assert list(state["frame"].iloc[:, 1]) == ["X model", "y"] and "1 of 1" in state["text"]
    assert state["signature"] != empty["signature"]
    assert "1 票" in view.arena_state("run-3", "zh")["text"]
