"""Align recipes on a tiny model: the reward model learns to rank a separable preference set, DPO
moves the chosen-over-rejected margin up, and a DPO run loads exactly like a fine-tune."""
import json

import pytest
import torch

from lab import config
from lab.runs import runner
from lab.runs.job_context import JobContext
from lab.errors import LabError
from lab.specs import KINDS, spec_from_dict
from tiny_models import trained_tiny_model_dir


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    torch.set_num_threads(1)


def separable_pairs(path, flip: bool = False, count: int = 40):
    """Cats are always chosen over dogs (or the other way round with flip): trivially separable."""
    rows = []
    for i in range(count):
        cat, dog = f"the cat sat on the mat {i % 7}.", f"the dog sat on the log {i % 5}."
        chosen, rejected = (dog, cat) if flip else (cat, dog)
        rows.append({"prompt": f"question {i}: who sat?", "chosen": chosen, "rejected": rejected})
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return path


def run_kind(kind, run_dir, **fields):
    spec = spec_from_dict({"kind": kind, "model": str(trained_tiny_model_dir()), **fields})
    run_dir.mkdir(parents=True, exist_ok=True)
    return KINDS.get(kind).run(spec, JobContext(run_dir))


@pytest.mark.parametrize("flip", [False, True])
def test_reward_model_ranks_a_separable_set_after_a_few_steps(tmp_path, flip):
    data = separable_pairs(tmp_path / "pairs.jsonl", flip=flip)
    figures = run_kind("reward", tmp_path / "run", dataset=str(data), max_steps=12, learning_rate=5e-3,
                       eval_pairs=8, dtype="fp32", sample_prompt="question 99: who sat?",
                       sample_answers=["the cat sat on the mat 1.", "the dog sat on the log 1."])
    assert figures["reward_accuracy"] == 1.0
    assert figures["margin_mean"] > figures["margin_mean_before"] + 0.5
    assert figures["train_loss_last"] < figures["train_loss_first"]
    cat, dog = (s["reward"] for s in figures["samples"])
    assert (dog > cat) if flip else (cat > dog)  # it learned the labels, not a prior for cats
    margins = json.loads((tmp_path / "run" / "artifacts" / "margins.json").read_text())
    assert len(margins["before"]) == len(margins["after"]) == figures["held_out_pairs"] == 4  # 10% of 40
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == list(range(1, 13))
    assert all("reward_accuracy" in r for r in records)


def dpo_fields(data, **extra):
    fields = dict(dataset=str(data), max_steps=10, learning_rate=5e-3, eval_pairs=6, answer_prompts=2,
                  max_new_tokens=6, dtype="fp32")
    return {**fields, **extra}


def test_dpo_moves_the_chosen_over_rejected_margin_up_and_streams_its_curves(tmp_path):
    data = separable_pairs(tmp_path / "pairs.jsonl")
    figures = run_kind("dpo", tmp_path / "run", **dpo_fields(data))
    assert figures["margin_after"] > figures["margin_before"] + 1.0
    assert figures["pair_accuracy_after"] == 1.0
    assert figures["held_out_reward_accuracy"] == 1.0 and figures["held_out_reward_margin"] > 0
    assert figures["kl_final"] > 0
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    trained = [r for r in records if "loss" in r]
    assert len(trained) == 10 and trained[0]["loss"] == pytest.approx(0.6931, abs=1e-3)  # log 2: policy = reference
    assert trained[-1]["reward_margin"] > 0 and trained[-1]["reward_accuracy"] > 0.5
    assert all(r["kl"] >= 0 for r in records if "kl" in r) and trained[-1]["kl"] > trained[0]["kl"]
    assert [set(o) >= {"prompt", "before", "after"} for o in figures["outputs"]] == [True, True]


def test_a_dpo_run_loads_exactly_like_a_finetune(lab_home, tmp_path):
    from lab.align.data import load_pairs
    from lab.align.dpo import pair_logps
    from lab.finetune.load import describe
    from lab.modeling.finetuned import load_finetuned

    data = separable_pairs(tmp_path / "pairs.jsonl")
    run_id = "20260101-000000-dpo-abc123"
    run_kind("dpo", config.runs_dir() / run_id, **dpo_fields(data))
    about = describe(run_id)
    assert about["method"] == "lora" and about["base_model"] == str(trained_tiny_model_dir())
    assert (config.runs_dir() / run_id / "artifacts" / "adapter.zip").is_file()
    assert not (config.runs_dir() / run_id / "artifacts" / "adapter" / "ref").exists()
    model, tokenizer, info = load_finetuned(run_id, dtype="fp32")
    assert info["adapter_run"] == run_id
    _, held_out, _ = load_pairs(str(data), seed=0)
    saved = json.loads((config.runs_dir() / run_id / "artifacts" / "held_out_logps.json").read_text())
    loaded = [x for pair in pair_logps(model, tokenizer, held_out[:6]) for x in pair]
    assert loaded == pytest.approx([x for pair in saved["after"] for x in pair], abs=1e-3)  # the trained policy itself


def finetune_run(run_id, method, data_path):
    from lab.finetune.train import finetune

    rows = [{"instruction": f"question {i}: who sat?", "output": "the cat sat on the mat."} for i in range(12)]
    data_path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    spec = spec_from_dict({"kind": "finetune", "model": str(trained_tiny_model_dir()), "dataset": str(data_path),
                           "method": method, "max_steps": 2, "batch_size": 2, "eval_steps": 0, "save_steps": 0,
                           "accuracy_examples": 0, "dtype": "fp32"})
    folder = config.runs_dir() / run_id
    folder.mkdir(parents=True)
    finetune(spec, JobContext(folder))
    return run_id


def test_dpo_from_a_finetune_run_trains_its_adapter_on_with_the_sft_model_as_reference(lab_home, tmp_path):
    from lab.finetune.load import describe

    sft = finetune_run("20260101-000000-finetune-aaaaaa", "lora", tmp_path / "sft.jsonl")
    data = separable_pairs(tmp_path / "pairs.jsonl")
    run_id = "20260101-000001-dpo-bbbbbb"
    figures = run_kind("dpo", config.runs_dir() / run_id, **dpo_fields(data, start_from=sft))
    assert figures["margin_after"] > figures["margin_before"]
    about = describe(run_id)
    assert about["method"] == "lora" and about["base_model"] == describe(sft)["base_model"]
    sft_adapter = (config.runs_dir() / sft / "artifacts" / "adapter" / "adapter_model.safetensors").read_bytes()
    dpo_adapter = (config.runs_dir() / run_id / "artifacts" / "adapter" / "adapter_model.safetensors").read_bytes()
    assert sft_adapter != dpo_adapter


def test_dpo_refuses_a_start_whose_adapter_it_cannot_copy(lab_home, tmp_path):
    sft = finetune_run("20260101-000000-finetune-cccccc", "prompt", tmp_path / "sft.jsonl")
    data = separable_pairs(tmp_path / "pairs.jsonl")
    with pytest.raises(LabError) as caught:
        run_kind("dpo", config.runs_dir() / "x", **dpo_fields(data, start_from=sft))
    assert caught.value.key == "align_cannot_continue" and sft in str(caught.value)


def test_through_the_runner_a_bad_line_fails_the_run_naming_it_and_a_good_run_succeeds(lab_home, tmp_path):
    good = separable_pairs(tmp_path / "pairs.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good.read_text(encoding="utf-8") + '\n{"prompt": "q", "chosen": "a"}\n', encoding="utf-8")
    model = str(trained_tiny_model_dir())
    failing = runner.submit(spec_from_dict({"kind": "dpo", "model": model, **dpo_fields(bad)}))
    passing = runner.submit(spec_from_dict({"kind": "reward", "model": model, "dataset": str(good), "max_steps": 3,
                                            "eval_pairs": 4, "dtype": "fp32"}))
    assert runner.wait(failing, timeout=240)["status"] == "failed"
    result = runner.result(failing)
    assert result["error_key"] == "pref_missing_columns" and "bad.jsonl line 41" in result["error"]
    assert runner.wait(passing, timeout=240)["status"] == "succeeded"
    assert 0.0 <= runner.result(passing)["metrics"]["reward_accuracy"] <= 1.0


@pytest.mark.parametrize("loss_type", ["sigmoid", "ipo", "hinge", "rpo"])
def test_every_preference_loss_moves_the_held_out_margin_up(tmp_path, loss_type):
    from lab.align.dpo import LOSSES
    from lab.kinds.dpo import DpoSpec
    from lab.present.form_fields import describe

    assert set(LOSSES) == set(next(i for i in describe(DpoSpec) if i.name == "loss_type").choices)
    data = separable_pairs(tmp_path / "pairs.jsonl")
    figures = run_kind("dpo", tmp_path / "run", **dpo_fields(data, loss_type=loss_type, answer_prompts=0))
    assert figures["margin_after"] > figures["margin_before"] + 0.5
