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


def test_a_second_vote_on_the_same_prompt_and_pair_replaces_the_first(lab_home):
    assert arena.record_vote("run-1", battle(0, "x", "y"), "left", voter="v1") == "new"
    assert arena.record_vote("run-1", battle(0, "y", "x"), "left", voter="v1") == "replaced"  # the pair, either order
    arena.record_vote("run-1", battle(1, "x", "y"), "left", voter="v1")  # another prompt: its own vote
    arena.record_vote("run-1", battle(0, "x", "z"), "left", voter="v1")  # another pair: its own vote
    arena.record_vote("run-1", battle(0, "x", "y"), "left", voter="v2")  # another visitor: their own vote
    arena.record_vote("run-2", battle(0, "x", "y"), "right", voter="v1")  # another run: apart
    rows = arena.votes("run-1")
    assert len(rows) == 4 and len(arena.votes("run-1", deduplicated=False)) == 4
    mine = [r for r in rows if r["voter"] == "v1" and r["prompt_index"] == 0 and {r["left_name"], r["right_name"]} == {"x", "y"}]
    assert len(mine) == 1 and mine[0]["left_name"] == "y" and mine[0]["vote"] == "left"  # the newest vote stands
    arena.record_vote("run-1", battle(2, "x", "y"), "tie")  # no voter (a script): nobody to deduplicate against
    arena.record_vote("run-1", battle(2, "x", "y"), "tie")
    assert len(arena.votes("run-1")) == 6


def test_the_leaderboard_counts_deduplicated_votes_only(lab_home):
    from lab.evaluate import view

    with arena.connect() as conn:  # a data folder from before the rule: one visitor clicked "x" ten times
        conn.executemany("INSERT INTO arena_votes (source_run, prompt_index, left_name, right_name, vote, voter, created_at)"
                         " VALUES ('run-4', 0, 'x', 'y', 'left', 'keen', ?)", [(float(i),) for i in range(10)])
        conn.execute("INSERT INTO arena_votes (source_run, prompt_index, left_name, right_name, vote, voter, created_at)"
                     " VALUES ('run-4', 1, 'x', 'y', 'right', 'calm', 11.0)")
    assert len(arena.votes("run-4", deduplicated=False)) == 11 and len(arena.votes("run-4")) == 2
    state = view.arena_state("run-4", "en")
    assert "2 votes" in state["text"] and list(state["frame"].iloc[:, 4]) == [2, 2]  # 2 games each, not 11
    deduplicated = bradley_terry.ratings(arena.games_from_votes(arena.votes("run-4")), rounds=100, seed=0)
    assert state["frame"].iloc[0, 3] == view._interval(deduplicated[0]["low"], deduplicated[0]["high"])


def test_space_mode_caps_a_visitors_votes_and_names_the_limit(lab_home, monkeypatch):
    from lab.classroom.access import Viewer
    from lab.classroom.visitors import new_visitor_key

    monkeypatch.setenv("LAB_SPACE", "1")
    monkeypatch.setenv("LAB_VISITOR_MAX_VOTES", "3")
    voter = new_visitor_key()
    for i in range(3):
        arena.record_vote("run-1", battle(i, "x", "y"), "left", voter=voter)
    with pytest.raises(LabError) as info:
        arena.record_vote("run-2", battle(9, "x", "y"), "left", voter=voter)  # the cap is over all runs
    assert info.value.key == "limit_votes" and "3" in str(info.value)
    assert arena.record_vote("run-1", battle(0, "x", "y"), "right", voter=voter) == "replaced"  # changing a vote is fine
    arena.record_vote("run-1", battle(3, "x", "y"), "left", voter=voter, viewer=Viewer(voter, "teacher"))  # not capped
    arena.record_vote("run-1", battle(0, "x", "y"), "left", voter=new_visitor_key())  # another visitor has their own
    with pytest.raises(LabError) as info:
        arena.record_vote("run-1", battle(0, "x", "y"), "left", voter="../not-a-key")
    assert info.value.key == "no_visitor_key"
    monkeypatch.setenv("LAB_SPACE", "0")
    arena.record_vote("run-1", battle(5, "x", "y"), "left", voter=voter)  # no cap outside Space mode
