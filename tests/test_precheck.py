"""Refusals before a job is queued, with messages that name the file, line and fields (issue 25, item 2)."""
import pytest

from lab.classroom import precheck
from lab.errors import LabError
from lab.present.form_fields import error_text, to_spec
from lab.runs import store


def refused(fn) -> LabError:
    with pytest.raises(LabError) as error:
        fn()
    return error.value


def test_a_malformed_jsonl_is_refused_by_the_form_naming_its_line(lab_home, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "2+2?", "output": "4"}\n{"instruction": "3+3?", "output": \n', encoding="utf-8")
    error = refused(lambda: to_spec("finetune", {"dataset": str(bad)}, owner=""))
    assert error.key == "data_bad_json" and "bad.jsonl line 2: not valid JSON" in error_text(error, "en")
    assert store.list_runs() == []  # nothing was queued
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("question_text,reply\nhi,hello\n", encoding="utf-8")
    error = refused(lambda: to_spec("finetune", {"dataset": str(wrong)}, owner=""))
    assert "wrong.csv line" in error_text(error, "en")
    assert to_spec("finetune", {"dataset": "arithmetic"}, owner="").dataset == "arithmetic"


def test_a_cross_field_refusal_names_both_fields_as_the_form_labels_them():
    error = refused(lambda: to_spec("finetune", {"max_steps": 6, "eval_steps": 10}))
    assert error.params["field"] == "eval_steps" and error.params["other"] == "max_steps"
    for lang in ("en", "zh"):
        text = error_text(error, lang)
        assert "eval_steps" not in text and "max_steps" not in text  # labels, not code names
        assert "10" in text and "6" in text
    assert "Evaluate every" in error_text(error, "en") or "eval" in error_text(error, "en").lower()
    low = refused(lambda: to_spec("finetune", {"max_steps": -1}))
    assert low.key == "too_small" and "-1" in error_text(low, "en") and "max_steps" not in error_text(low, "en")


def test_a_hub_model_that_cannot_load_here_is_refused_with_what_to_do(lab_home, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(precheck, "hub_cache_dir", lambda: tmp_path / "hub")
    error = refused(lambda: precheck.check_model("nonsense-org/no-such-model"))
    assert error.key == "model_not_cached" and "no-such-model" in error_text(error, "en")
    snapshot = tmp_path / "hub" / "models--nonsense-org--no-such-model" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    precheck.check_model("nonsense-org/no-such-model")  # cached: it loads offline
    # on a Space the offline default comes from the hub: the message names the hub id, the cache and the fix
    monkeypatch.setenv("LAB_SPACE", "1")
    monkeypatch.setenv("SPACE_ID", "someone/lab")
    error = refused(lambda: precheck.check_model("smollm2-135m-instruct"))
    text = error_text(error, "en")
    assert error.key == "model_not_cached_space" and "HuggingFaceTB/SmolLM2-135M-Instruct" in text
    assert str(tmp_path / "hub") in text and "HF_HUB_OFFLINE" in text
    assert "such as 'smollm2-135m-instruct'" not in text  # no longer contradicts itself
    seeded = tmp_path / "hub" / "models--HuggingFaceTB--SmolLM2-135M-Instruct" / "snapshots" / "0123abcd"
    seeded.mkdir(parents=True)
    precheck.check_model("smollm2-135m-instruct")
