"""The RL stage (GRPO, RLOO, RAFT) on tiny models: rule rewards, refusals before the job starts, a few
steps that train only the adapter, RAFT's choice of the best sample, and the lifecycle preset chain."""
import hashlib
import json

import pytest

from lab import config
from lab.align.raft import best_per_prompt
from lab.align.rewards import REWARDS
from lab.errors import LabError
from lab.specs import KINDS, spec_from_dict

WORKED = "7 + 8 = 15. The answer is 15."


@pytest.mark.parametrize("name, completion, answer, expected", [
    ("correct", WORKED, "15", 1.0),
    ("correct", "7 + 8 = 16. The answer is 16.", "15", 0.0),
    ("correct", "It is 15.0", "15", 1.0),  # no "The answer is": the last number, compared by value
    ("correct", "no idea", "15", 0.0),
    ("format", WORKED, None, 1.0),
    ("format", "The answer is 16.", None, 1.0),  # the shape, not the truth
    ("format", "The answer is 15. And then some more words", None, 0.5),
    ("format", "The answer is fifteen.", None, 0.0),
    ("format", "15", None, 0.0),
    ("length", "one two three", None, 0.0),
    ("length", " ".join(["w"] * 18), None, -0.5),  # 1.5 x the default target of 12 words
    ("length", " ".join(["w"] * 100), None, -1.0),
])
def test_each_rule_reward_scores_hand_made_completions(name, completion, answer, expected):
    assert REWARDS.get(name).score(completion, answer, None) == pytest.approx(expected)


def test_the_length_target_is_the_rule_s_own_setting_in_the_spec():
    spec = spec_from_dict({"kind": "grpo", "reward": "length", "length_target": 2})
    assert REWARDS.get("length").score("a b c d", None, spec) == pytest.approx(-1.0)


def grpo(**fields):
    return spec_from_dict({"kind": "grpo", **fields})


def test_bad_combinations_are_refused_with_one_line_before_the_job(lab_home):
    with pytest.raises(LabError) as caught:
        grpo(batch_size=6, num_generations=4)
    assert caught.value.key == "rl_generations_divide" and "6" in str(caught.value)
    with pytest.raises(LabError) as caught:
        grpo(dataset="chatterbot", reward="correct")
    assert caught.value.key == "rl_no_answers" and "chatterbot" in str(caught.value)
    assert grpo(dataset="chatterbot", reward="format").reward == "format"  # a rule that needs no answer
    with pytest.raises(LabError) as caught:
        grpo(reward="model")
    assert caught.value.key == "rl_no_reward_run"
    run_id = "20260101-000000-finetune-abcdef"
    folder = config.runs_dir() / run_id
    folder.mkdir(parents=True)
    (folder / "spec.json").write_text(json.dumps({"kind": "finetune"}), encoding="utf-8")
    with pytest.raises(LabError) as caught:
        grpo(reward="model", reward_run=run_id)
    assert caught.value.key == "rl_not_reward_run" and run_id in str(caught.value) and "finetune" in str(caught.value)
    assert spec_from_dict({"kind": "rloo"}).beta == 0.05 and grpo().beta == 0.0  # the trainers' own β


def test_raft_keeps_the_highest_reward_sample_of_each_prompt():
    rows = [{"question": "a"}, {"question": "b"}]
    kept = best_per_prompt(rows, ["a1", "a2", "a3", "b1", "b2", "b3"], [0.0, 1.0, 0.5, 0.2, 0.2, 0.2], 3)
    assert [(k["question"], k["completion"], k["reward"]) for k in kept] == [("a", "a2", 1.0), ("b", "b1", 0.2)]
    assert [k["all_equal"] for k in kept] == [False, True]


def test_the_lifecycle_chain_validates_and_feeds_each_step_the_runs_before_it():
    from lab.classroom import chains

    chain = chains.load("align/lifecycle")
    assert [s.name for s in chain.steps] == ["sft", "reward", "grpo", "evaluate"]
    done = {}
    kinds = []
    for index in range(4):
        name, spec = chain.next_step(done)
        kinds.append(spec.kind)
        done[name] = f"20260101-00000{index}-{spec.kind}-aaaaaa"
    assert kinds == ["finetune", "reward", "grpo", "evaluate"]
    grpo_spec = chain.spec(chain.steps[2], done)
    assert (grpo_spec.start_from, grpo_spec.reward_run, grpo_spec.reward) == (done["sft"], done["reward"], "model")
    assert chain.spec(chain.steps[3], done).model == done["grpo"]
    assert chain.next_step(done) is None
    with pytest.raises(LabError) as caught:
        chain.spec(chain.steps[2], {"sft": done["sft"]})
    assert caught.value.key == "chain_step_missing"


def test_the_one_digit_data_holds_out_the_same_questions_for_sft_and_preferences():
    from lab.align.data import load_pairs
    from lab.finetune.datasets import load_examples

    _, validation, has_answers = load_examples("arithmetic_1digit", seed=0)
    _, held_out, checkable = load_pairs("arithmetic_1digit", seed=0)
    assert has_answers and checkable and len(validation) == len(held_out) == 20
    assert [v["messages"][0]["content"] for v in validation] == [p["prompt"] for p in held_out]


def test_the_summary_line_and_reward_band_show_what_the_run_measured():
    import pandas as pd

    from lab.align import rl_view

    result = {"metrics": {"held_out_reward_before": 0.35, "held_out_reward_after": 0.5, "zero_std_share_mean": 0.25,
                          "accuracy_before": 0.35, "accuracy_after": 0.5, "accuracy_before_interval": [0.18, 0.57],
                          "accuracy_after_interval": [0.3, 0.7], "seconds_per_step": 7.5}}
    line = rl_view.rl_summary(result, "en")
    assert "0.35 → 0.5" in line and "[0.3, 0.7]" in line and "7.5" in line
    assert "→" in rl_view.rl_summary({"metrics": {"held_out_reward_before": 0, "held_out_reward_after": 1}}, "zh")
    assert rl_view.rl_summary(None, "en") == ""
    frame = pd.DataFrame([{"step": 1, "reward_mean": 0.2, "reward_std": 0.1}, {"step": 2, "reward_mean": 0.4, "reward_std": 0.2}])
    figure = rl_view.reward_figure(frame, "en")
    band, line_trace = figure.data
    assert list(line_trace.y) == [0.2, 0.4] and max(band.y) == pytest.approx(0.6) and min(band.y) == pytest.approx(0.1)


# -- training on tiny models ------------------------------------------------------------------------

def copy_task(path, digits="0123456789", count=60):
    rows = [{"instruction": f"Copy: {digits[i % len(digits)]}", "output": digits[i % len(digits)],
             "answer": digits[i % len(digits)]} for i in range(count)]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return path


def folder_hash(folder):
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.glob("*.safetensors")))).hexdigest()


@pytest.mark.parametrize("kind", ["grpo", "rloo"])
def test_a_few_steps_train_only_the_adapter_and_stream_the_curves(tmp_path, kind):
    import torch
    from safetensors.torch import load_file

    from lab.runs.job_context import JobContext
    from tiny_models import trained_tiny_model_dir

    torch.set_num_threads(1)
    model = trained_tiny_model_dir()
    before = folder_hash(model)
    spec = spec_from_dict({"kind": kind, "model": str(model), "dataset": str(copy_task(tmp_path / "copy.jsonl")),
                           "max_steps": 3, "max_completion_length": 4, "eval_prompts": 4, "dtype": "fp32",
                           "learning_rate": 1e-2, "sample_every": 2, "beta": 0.05, "temperature": 2.0,
                           "reward": "length", "length_target": 2})  # 1 to 4 words: rewards 0, -0.5 or -1
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    figures = KINDS.get(kind).run(spec, JobContext(run_dir))
    assert folder_hash(model) == before  # the base model's weights are untouched
    adapter = load_file(str(run_dir / "artifacts" / "adapter" / "adapter_model.safetensors"))
    assert adapter and all("lora_" in name for name in adapter)  # only LoRA matrices were saved (trained)
    assert 0 < figures["trainable_params"] < figures["total_params"] and figures["steps"] == 3
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    trained = [r for r in records if r.get("step", 0) >= 1]
    assert [r["step"] for r in trained] == [1, 2, 3]
    assert all({"reward_mean", "reward_std", "zero_std_share", "completion_length", "kl"} <= set(r) for r in trained)
    assert all("trl_kl" in r for r in trained)  # β ≠ 0: TRL's own KL is logged too
    samples = json.loads((run_dir / "artifacts" / "samples.json").read_text())
    assert {s["step"] for s in samples} == {1, 2} and len(samples) == 2 * spec.batch_size
    assert len({s["reward"] for s in samples if s["step"] == 2}) > 1  # a learning signal at a step with lr > 0
    for step in (1, 2):  # equal groups counted on the reward's own scores (RLOO's β·KL makes TRL's count ~0)
        scores = [s["reward"] for s in samples if s["step"] == step]
        groups = [scores[i:i + spec.num_generations] for i in range(0, len(scores), spec.num_generations)]
        share = sum(len(set(g)) == 1 for g in groups) / len(groups)
        assert trained[step - 1]["zero_std_share"] == pytest.approx(share), (step, groups)
    assert any(float(t.abs().sum()) > 0 for name, t in adapter.items() if "lora_B" in name)  # B starts at 0: it moved
    assert figures["accuracy_before_interval"][0] <= figures["accuracy_before"] <= figures["accuracy_before_interval"][1]
    assert len(figures["outputs"]) == 4


def digit_answering_model(path, steps: int = 40):
    """A tiny model "instruction-tuned" to answer any question with one random digit: the right digit ~10% of
    the time, the half-solving start RL needs (from a start that never says the digit, nothing is learned)."""
    import random

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tiny_models import make_tiny_model_dir

    folder = make_tiny_model_dir(path)
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModelForCausalLM.from_pretrained(folder)
    rng, optimizer = random.Random(0), torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(steps):
        texts = [tokenizer.apply_chat_template([{"role": "user", "content": f"Copy: {rng.randrange(10)}"}], tokenize=False,
                                               add_generation_prompt=True) + f"{rng.randrange(10)}</s>" for _ in range(16)]
        batch = tokenizer(texts, return_tensors="pt", padding=True)
        model(**batch, labels=batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(folder)
    return folder


def test_on_a_toy_copy_the_digit_task_a_tiny_model_s_reward_rises(tmp_path):
    """Copy the digit 7 (the copy task with one digit: a 2-layer model learns it in tens of steps; with ten
    digits it needs hundreds), from a start that answers a random digit: the mean reward rises."""
    import torch

    from lab.runs.job_context import JobContext

    torch.set_num_threads(1)
    spec = spec_from_dict({"kind": "grpo", "model": str(digit_answering_model(tmp_path / "model")),
                           "dataset": str(copy_task(tmp_path / "copy.jsonl", digits="7")), "reward": "correct",
                           "use_lora": False, "learning_rate": 1e-2, "max_steps": 40, "batch_size": 32,
                           "num_generations": 8, "max_completion_length": 1, "eval_prompts": 2, "dtype": "fp32",
                           "sample_every": 100})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    figures = KINDS.get("grpo").run(spec, JobContext(run_dir))
    rewards = [r["reward_mean"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
               if r.get("step", 0) >= 1 and "reward_mean" in r]
    assert len(rewards) == 40
    assert sum(rewards[-5:]) / 5 > sum(rewards[:5]) / 5 + 0.3, rewards
    assert figures["held_out_reward_after"] == 1.0  # greedy says 7 now


def test_raft_runs_rounds_of_sample_keep_and_fine_tune_with_one_step_count(tmp_path):
    import torch

    from lab.runs.job_context import JobContext
    from tiny_models import trained_tiny_model_dir

    torch.set_num_threads(1)
    spec = spec_from_dict({"kind": "raft", "model": str(trained_tiny_model_dir()),
                           "dataset": str(copy_task(tmp_path / "copy.jsonl", count=30)), "rounds": 2,
                           "prompts_per_round": 3, "steps_per_round": 2, "batch_size": 2, "num_generations": 3,
                           "max_completion_length": 4, "eval_prompts": 3, "dtype": "fp32", "reward": "length",
                           "length_target": 2, "temperature": 2.0})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    figures = KINDS.get("raft").run(spec, JobContext(run_dir))
    kept = json.loads((run_dir / "artifacts" / "raft_kept.json").read_text())
    assert [k["round"] for k in kept] == [1, 1, 1, 2, 2, 2] and figures["kept_answers"] == 6
    assert all(r["reward_kept"] >= r["reward_mean"] for r in figures["rounds"])  # the best of n is at least the mean
    steps = [r["step"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if "loss" in r]
    assert steps == [1, 2, 3, 4]  # the second round's fine-tune continues the count
    assert (run_dir / "artifacts" / "adapter" / "lab_finetune.json").is_file()


def test_the_judge_pits_an_rl_run_against_the_fine_tune_it_started_from(lab_home):
    from lab.align import judging
    from lab.runs import run_files

    folder = config.runs_dir() / "r-grpo"
    (folder / "artifacts").mkdir(parents=True)
    run_files.write_json(folder / "spec.json", {"kind": "grpo", "model": "smollm2-135m-instruct", "start_from": "r-sft",
                                                "max_completion_length": 24})
    outputs = [{"prompt": "What is 1 + 2?", "before": "4", "after": "3", "answer": "3"}]
    run_files.write_json(folder / "result.json", {"status": "succeeded", "outputs": {"outputs": outputs}})
    spec = judging.judge_spec_from_run("r-grpo")
    assert spec["contestants"] == ["r-sft", "r-grpo"] and spec["judge"] == "rule" and spec["max_new_tokens"] == 24
    assert spec["name"].startswith("GRPO")
    run_files.write_json(folder / "spec.json", {"kind": "reward", "model": "m"})  # a kind that answers no prompts
    with pytest.raises(LabError) as caught:
        judging.judge_spec_from_run("r-grpo")
    assert caught.value.key == "align_not_a_dpo_result"
