"""Align tab, no model: preference data (built-ins, uploads, line-numbered errors), the rule judge,
the judge spec built from a DPO run, presets and lessons."""
import json

import pytest

from lab.classroom import presets
from lab import config
from lab.runs import run_files
from lab.align import data, judging, view
from lab.errors import LabError
from lab.present.i18n import LANGUAGES
from lab.specs import spec_from_dict


def write_jsonl(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows), encoding="utf-8")
    return path


GOOD = {"prompt": "What is 2 + 2?", "chosen": "2 + 2 = 4.", "rejected": "2 + 2 = 5.", "answer": "4"}


def test_builtin_arithmetic_pairs_have_a_right_chosen_and_a_wrong_rejected_answer():
    pairs, checkable = data.read_pairs("arithmetic")
    assert checkable and len(pairs) >= 400
    for pair in pairs[:200]:
        assert judging.is_correct(pair["chosen"], pair["answer"])
        assert not judging.is_correct(pair["rejected"], pair["answer"])
        assert pair["chosen"] != pair["rejected"]


def test_builtin_chatterbot_pairs_reject_a_reply_to_another_question():
    pairs, checkable = data.read_pairs("chatterbot")
    assert not checkable and len(pairs) > 100
    assert all(p["chosen"] != p["rejected"] for p in pairs)


def test_split_is_fixed_by_the_seed_and_holds_pairs_out():
    train, held_out, _ = data.load_pairs("arithmetic", seed=0)
    again, held_again, _ = data.load_pairs("arithmetic", seed=0)
    other, held_other, _ = data.load_pairs("arithmetic", seed=1)
    assert [p["prompt"] for p in held_out] == [p["prompt"] for p in held_again]
    assert [p["where"] for p in held_out] != [p["where"] for p in held_other]
    assert not {p["where"] for p in train} & {p["where"] for p in held_out}


def test_an_uploaded_file_is_read_with_its_answers(tmp_path):
    path = write_jsonl(tmp_path / "pairs.jsonl", [GOOD] * 6)
    pairs, checkable = data.read_pairs(str(path))
    assert checkable and len(pairs) == 6 and pairs[2]["where"] == "pairs.jsonl line 3"
    path = write_jsonl(tmp_path / "free.jsonl", [{k: v for k, v in GOOD.items() if k != "answer"}] * 6)
    assert data.read_pairs(str(path))[1] is False


@pytest.mark.parametrize("bad_row, key, fragment", [
    ({"prompt": "q", "chosen": "a"}, "pref_missing_columns", "rejected"),
    ({"prompt": "q", "chosen": "a", "rejected": 3}, "pref_not_text", "rejected"),
    ({"prompt": "q", "chosen": " ", "rejected": "b"}, "pref_empty_field", "chosen"),
    ({"prompt": "q", "chosen": "same", "rejected": "same "}, "pref_same_answers", ""),
    ("{not json", "data_bad_json", ""),
    ("[1, 2]", "data_not_object", ""),
])
def test_a_bad_line_is_refused_naming_the_file_and_line(tmp_path, bad_row, key, fragment):
    path = write_jsonl(tmp_path / "upload.jsonl", [GOOD, GOOD, "", bad_row, GOOD])
    with pytest.raises(LabError) as caught:
        data.read_pairs(str(path))
    assert caught.value.key == key
    message = caught.value.message("en")
    assert "upload.jsonl" in message and "line 4" in message and fragment in message
    assert "line 4" in caught.value.message("zh") or "4" in caught.value.message("zh")


def test_missing_or_tiny_data_is_refused(tmp_path):
    with pytest.raises(LabError) as caught:
        data.load_pairs(str(tmp_path / "nope.jsonl"))
    assert caught.value.key == "pref_not_found" and "arithmetic" in str(caught.value)
    with pytest.raises(LabError) as caught:
        data.load_pairs(str(write_jsonl(tmp_path / "two.jsonl", [GOOD, GOOD])))
    assert caught.value.key == "pref_too_few"
    with pytest.raises(LabError) as caught:
        spec_from_dict({"kind": "dpo", "dataset": str(tmp_path / "nope.jsonl")})
    assert caught.value.key == "pref_not_found"


class CharTokenizer:
    """One token per character: enough to check length rules without a model."""

    eos_token = "$"
    chat_template = None

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": list(range(len(text)))}


def test_a_pair_longer_than_max_length_is_refused_by_name(tmp_path):
    rows = [GOOD] * 5 + [dict(GOOD, rejected="2 + 2 = " + "5" * 300)]
    pairs, _ = data.read_pairs(str(write_jsonl(tmp_path / "long.jsonl", rows)))
    tokenizer = CharTokenizer()
    data.check_lengths(tokenizer, pairs[:5], 128)
    with pytest.raises(LabError) as caught:
        data.check_lengths(tokenizer, pairs, 128)
    assert caught.value.key == "pref_too_long" and "long.jsonl line 6" in str(caught.value)


def test_rule_win_rate_counts_wins_ties_and_losses():
    answers = ["4", "6", "8", "10"]
    before = ["The answer is 4.", "The answer is 7.", "The answer is 8.", "no idea"]
    after = ["The answer is 4.", "The answer is 6.", "The answer is 9.", "5 + 5 = 10"]
    judged = judging.rule_win_rate(before, after, answers)
    assert (judged["wins"], judged["ties"], judged["losses"]) == (2, 1, 1)
    assert judged["win_rate"] == pytest.approx((2 + 0.5) / 4)
    assert judged["accuracy_before"] == 0.5 and judged["accuracy_after"] == 0.75
    with pytest.raises(LabError):
        judging.rule_win_rate(before, after[:2], answers)


def fake_dpo_run(run_id, spec, outputs, status="succeeded"):
    folder = config.runs_dir() / run_id
    (folder / "artifacts").mkdir(parents=True)
    run_files.write_json(folder / "spec.json", spec)
    run_files.write_json(folder / "result.json", {"status": status, "metrics": {"win_rate": 0.5},
                                                  "outputs": {"outputs": outputs}})
    return folder


def test_the_judge_spec_pits_the_reference_against_the_dpo_run_on_the_same_prompts(lab_home):
    outputs = [{"prompt": "What is 1 + 2?", "before": "3", "after": "3"}, {"prompt": "What is 5 - 1?"}]
    fake_dpo_run("r-dpo", {"kind": "dpo", "model": "smollm2-135m-instruct", "start_from": ""}, outputs)
    spec = judging.judge_spec_from_dpo("r-dpo")
    assert spec["kind"] == "judge" and spec["contestants"] == ["smollm2-135m-instruct", "r-dpo"]
    rows = [json.loads(line) for line in open(spec["prompt_set"], encoding="utf-8")]
    assert [row["prompt"] for row in rows] == ["What is 1 + 2?", "What is 5 - 1?"]
    assert spec["judge"] == "logprob" and spec["n_prompts"] == 2  # no right answers: not checkable
    fake_dpo_run("r-dpo-sft", {"kind": "dpo", "model": "m", "start_from": "r-sft"}, outputs)
    assert judging.judge_spec_from_dpo("r-dpo-sft")["contestants"] == ["r-sft", "r-dpo-sft"]
    fake_dpo_run("r-failed", {"kind": "dpo", "model": "m"}, outputs, status="failed")
    with pytest.raises(LabError) as caught:
        judging.judge_spec_from_dpo("r-failed")
    assert caught.value.key == "align_not_a_dpo_result"
    fake_dpo_run("r-silent", {"kind": "dpo", "model": "m"}, [])
    with pytest.raises(LabError) as caught:
        judging.judge_spec_from_dpo("r-silent")
    assert caught.value.key == "align_no_prompts"


def test_submitting_to_the_judge_is_refused_clearly_while_no_judge_kind_exists(lab_home, monkeypatch):
    from lab.specs import KINDS

    KINDS.names()  # fill the registry, then take the judge kind out for this test
    monkeypatch.delitem(KINDS._entries, "judge")  # an install without the Evaluate tab
    fake_dpo_run("r-dpo", {"kind": "dpo", "model": "m"}, [{"prompt": "p"}])
    with pytest.raises(LabError) as caught:
        judging.submit_judge("r-dpo")
    assert caught.value.key == "align_no_judge"


@pytest.mark.parametrize("preset_id", [p.id for p in presets.menu("align")])
def test_every_preset_is_a_valid_spec_with_texts_in_both_languages(preset_id):
    preset = presets.load(preset_id)
    spec = preset.build()[0]
    assert getattr(spec, "max_steps", 0) <= 30 and getattr(spec, "rounds", 0) * getattr(spec, "steps_per_round", 0) <= 30  # minutes on a CPU
    for lang in LANGUAGES:
        assert preset.title[lang].strip() and preset.description[lang].strip()


def test_presets_exist_for_both_kinds():
    kinds = {p.specs[0]["kind"] for p in presets.menu("align")}
    assert kinds == {"dpo", "reward", "grpo", "rloo", "raft"}
    with pytest.raises(LabError):
        presets.load("../../etc/passwd")


@pytest.mark.parametrize("name", ["align", *view.LESSONS])
def test_every_align_lesson_exists_in_both_languages_with_a_prediction(name):
    from lab.present.i18n import ASSETS

    for lang in LANGUAGES:
        path = ASSETS / "lessons" / lang / f"{name}.md"
        text = path.read_text(encoding="utf-8")
        assert len(text) > 800, path
        assert ("Predict" in text) if lang == "en" else ("预测" in text), path
        if name != "align":
            assert "arxiv.org" in text, path  # the original paper


def test_the_example_upload_file_is_valid_preference_data():
    from lab.present.i18n import ASSETS

    pairs, checkable = data.read_pairs(str(ASSETS / "data" / "align" / "example_upload.jsonl"))
    assert len(pairs) == 5 and not checkable  # three pairs carry no answer
    assert data.load_pairs(str(ASSETS / "data" / "align" / "example_upload.jsonl"))[1]


def test_one_click_submits_a_valid_judge_spec_of_the_real_judge_kind(lab_home, monkeypatch):
    """The DPO run against its base with the Evaluate tab's judge: checkable prompts go to the rule judge."""
    from lab.runs import runner

    submitted = []
    monkeypatch.setattr(runner, "submit", lambda spec, owner="": submitted.append((spec, owner)) or "judge-run")
    outputs = [{"prompt": "What is 1 + 2?", "before": "3", "after": "4", "answer": "3"},
               {"prompt": "What is 5 - 1?", "before": "4", "after": "4", "answer": "4"}]
    folder = fake_dpo_run("r-dpo", {"kind": "dpo", "model": "smollm2-135m-instruct", "max_new_tokens": 32}, outputs)
    (folder / "artifacts" / "adapter").mkdir()  # what save_policy leaves: the fine-tune layout the judge loads
    run_files.write_json(folder / "artifacts" / "adapter" / "lab_finetune.json", {"method": "lora"})
    assert judging.judge_available() and judging.submit_judge("r-dpo", owner="me") == "judge-run"
    spec, owner = submitted[0]
    assert type(spec).__name__ == "JudgeSpec" and owner == "me"
    assert spec.contestants == ["smollm2-135m-instruct", "r-dpo"] and spec.judge == "rule"
    assert spec.n_prompts == 2 and spec.max_new_tokens == 32

    from lab.evaluate.prompt_sets import load_prompts

    prompts, answer_filter, _ = load_prompts(spec.prompt_set, spec.n_prompts, needs=None)
    assert sorted(p["prompt"] for p in prompts) == ["What is 1 + 2?", "What is 5 - 1?"]
    assert sorted(p["answer"] for p in prompts) == ["3", "4"]
