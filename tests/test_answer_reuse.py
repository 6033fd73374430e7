"""Answers computed once: a judge run reuses an earlier run's greedy answers under the same key, and only then."""
import csv
import io
import json

import pytest
from tiny_models import trained_tiny_model_dir

from lab.classroom.access import Viewer
from lab.errors import LabError
from lab.evaluate import answer_reuse as reuse
from lab.kinds.judge import JudgeSpec, run
from lab.runs import store
from lab.runs.folder import RunFolder
from lab.runs.job_context import JobContext

GREEDY = {"use_chat_template": True}


def test_the_key_names_contestant_prompt_set_and_every_decoding_setting():
    base = reuse.answer_key("m", "chatterbot", GREEDY, 48)
    assert base == reuse.answer_key(" m ", "chatterbot", dict(GREEDY), 48)  # same inputs, same key
    changed = [reuse.answer_key("m@plain", "chatterbot", GREEDY, 48),
               reuse.answer_key("m", "arithmetic", GREEDY, 48),
               reuse.answer_key("m", "chatterbot", {"use_chat_template": False}, 48),
               reuse.answer_key("m", "chatterbot", GREEDY, 49),
               reuse.answer_key("m", "chatterbot", GREEDY, 48, dtype="bf16"),
               reuse.answer_key("m", "chatterbot", GREEDY, 48, device="cpu")]
    assert None not in changed and len({base, *changed}) == 7
    # sampling, or any temperature above zero: drawn afresh every time, never reused
    assert reuse.answer_key("m", "chatterbot", {**GREEDY, "do_sample": True, "temperature": 0.8}, 48) is None
    assert reuse.answer_key("m", "chatterbot", {**GREEDY, "temperature": 0.7}, 48) is None
    assert reuse.answer_key("m", "chatterbot", {**GREEDY, "temperature": 0.0}, 48) is not None


@pytest.fixture
def prompt_file(tmp_path):
    path = tmp_path / "sums.jsonl"
    rows = [{"prompt": f"the cat sat on the {w}", "reference": "the cat sat on the mat.", "answer": "2"}
            for w in ("mat", "log", "dog")]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def judged(run_id, owner="", private=False, **changes) -> dict:
    """Run the judge kind in a run folder of the store, as the worker would, and record it as succeeded."""
    from lab.runs.worker import _split_outputs

    spec = JudgeSpec(**{"judge": "rule", "max_new_tokens": 6, "bootstrap_rounds": 0, "dtype": "fp32",
                        "device": "cpu", **changes})
    folder = RunFolder(run_id).create()
    folder.write_spec(spec)
    store.insert_run(run_id, "judge", "", owner, private, spec.spec_hash(), "test", status="running")
    figures = run(spec, JobContext(folder.path, threads=1))
    metrics, outputs = _split_outputs(figures)
    folder.write_result("succeeded", metrics=metrics, outputs=outputs, spec=json.loads(spec.to_json()))
    with store.connect() as conn:
        conn.execute("UPDATE runs SET status = 'succeeded' WHERE id = ?", (run_id,))
    return figures


def answers(run_id) -> list[dict]:
    return RunFolder(run_id).read_artifact_jsonl("answers.jsonl")


def texts(run_id, contestant) -> list[str]:
    return [row["text"] for row in answers(run_id) if row["contestant"] == contestant]


def test_a_second_judge_reuses_greedy_answers_and_regenerates_sampled_ones(lab_home, prompt_file):
    model = str(trained_tiny_model_dir("llama"))
    names = [model, f"{model}@plain", f"{model}@sampled"]
    first = judged("20260101-000000-judge-aaaaaa", contestants=names, prompt_set=str(prompt_file))
    assert first["reused_answers"] == {} and first["answers_reused"] == 0
    assert first["answer_keys"][f"{model}@sampled"] is None and all(first["answer_keys"][n] for n in names[:2])

    # another judge on the same prompts: the greedy contestants are not asked again, the sampled one is
    second = judged("20260101-000001-judge-bbbbbb", contestants=names, prompt_set=str(prompt_file), judge="reference")
    source = "20260101-000000-judge-aaaaaa"
    assert second["reused_answers"] == {model: source, f"{model}@plain": source}
    for name in names[:2]:
        assert texts("20260101-000001-judge-bbbbbb", name) == texts(source, name)
    rows = answers("20260101-000001-judge-bbbbbb")
    assert {row["reused_from"] for row in rows if row["contestant"] == f"{model}@sampled"} == {None}
    # the CSV export holds the same answers
    table = list(csv.DictReader(io.StringIO(RunFolder("20260101-000001-judge-bbbbbb").artifact_path("answers.csv")
                                            .read_text(encoding="utf-8"))))
    assert [r["text"] for r in table] == [r["text"] for r in rows] and table[0]["reused_from"] == source

    # fewer prompts of the same set are covered; a different max_new_tokens is another key: generated again
    third = judged("20260101-000002-judge-cccccc", contestants=names[:2], prompt_set=str(prompt_file), n_prompts=2)
    assert set(third["reused_answers"]) == set(names[:2])
    fourth = judged("20260101-000003-judge-dddddd", contestants=names[:2], prompt_set=str(prompt_file), max_new_tokens=5)
    assert fourth["reused_answers"] == {}
    # reuse switched off: generated again
    fifth = judged("20260101-000004-judge-eeeeee", contestants=names[:2], prompt_set=str(prompt_file), reuse_answers=False)
    assert fifth["reused_answers"] == {}


def test_re_judging_a_named_run_takes_its_answers_as_they_are(lab_home, prompt_file):
    model = str(trained_tiny_model_dir("llama"))
    names = [model, f"{model}@sampled"]
    source = "20260101-000000-judge-aaaaaa"
    judged(source, contestants=names, prompt_set=str(prompt_file), judge="human")
    again = judged("20260101-000001-judge-bbbbbb", contestants=names, prompt_set="chatterbot", judge="reference",
                   answers_from=source)
    assert again["reused_answers"] == {model: source, f"{model}@sampled": source}  # sampled ones too: named
    assert again["prompt_set"] == str(prompt_file)  # the source's prompts, whatever the spec said
    for name in names:
        assert texts("20260101-000001-judge-bbbbbb", name) == texts(source, name)
    with pytest.raises(LabError) as info:
        JudgeSpec(contestants=[model, f"{model}@plain"], answers_from=source)
    assert info.value.key == "answers_missing_contestant" and "@plain" in str(info.value)
    with pytest.raises(LabError) as info:
        JudgeSpec(contestants=names, answers_from="20260101-000009-judge-ffffff")
    assert info.value.key == "arena_no_answers"
    with pytest.raises(LabError) as info:  # a prompt the source never answered
        reuse.answers_of(source, model, ["a prompt never asked"])
    assert info.value.key == "answers_missing_prompt"


def test_another_visitors_private_answers_are_never_reused(lab_home, monkeypatch):
    run_id, key, prompts = "20260101-000000-judge-aaaaaa", "k" * 24, ["p1", "p2"]
    folder = RunFolder(run_id).create()
    folder.write_artifact_text("answers.jsonl", "".join(
        json.dumps({"prompt_index": i, "prompt": p, "contestant": "m", "text": f"t{i}", "key": key}) + "\n"
        for i, p in enumerate(prompts)))
    folder.write_result("succeeded", outputs={"answer_keys": {"m": key}})
    store.insert_run(run_id, "judge", "", "visitor-a" * 2, True, "h", "test", status="succeeded")
    assert reuse.find_answers(key, "m", prompts, Viewer(visitor="visitor-b" * 2)) is None
    found = reuse.find_answers(key, "m", prompts, Viewer(visitor="visitor-a" * 2))
    assert found["run_id"] == run_id and [r["text"] for r in found["rows"]] == ["t0", "t1"]
    assert reuse.find_answers(key, "m", [*prompts, "p3"], None) is None  # a prompt it never answered
    assert reuse.find_answers("other-key", "m", prompts, None) is None
    assert reuse.find_answers(None, "m", prompts, None) is None  # sampled: no key, no search
    # the worker searches with the owner's eyes in Space mode
    monkeypatch.setenv("LAB_SPACE", "1")
    store.insert_run("20260101-000001-judge-bbbbbb", "judge", "", "visitor-b" * 2, True, "h", "test")
    assert reuse.owner_viewer("20260101-000001-judge-bbbbbb") == Viewer(visitor="visitor-b" * 2)
    monkeypatch.setenv("LAB_SPACE", "0")
    assert reuse.owner_viewer("20260101-000001-judge-bbbbbb") is None
