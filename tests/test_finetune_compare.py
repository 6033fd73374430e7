"""Method comparisons, presets, chatting with a tuned model and merging it — through the runner, tiny model."""
import time

import pytest
from lab.classroom import presets
from lab.runs import runner, store
from lab.errors import LabError
from lab.finetune import compare
from lab.specs import spec_from_dict
from tiny_models import make_tiny_model_dir


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "llama")


@pytest.mark.parametrize("name", compare.preset_names())
def test_every_preset_builds_valid_specs(name):
    preset = presets.load(f"finetune/{name}")
    assert preset.title["en"] and preset.title["zh"] and preset.description["zh"]
    for spec in preset.build():
        assert spec.kind == "finetune" and spec.max_steps <= 40  # a classroom preset must finish in minutes on a CPU


def test_presets_exist_and_unknown_is_refused():
    assert len(compare.preset_names()) >= 3
    with pytest.raises(LabError, match="No preset"):
        presets.load("../../etc/passwd")


def test_comparison_runs_each_method_on_the_same_budget(tiny_dir, lab_home):
    fields = {"model": str(tiny_dir), "dataset": "arithmetic", "max_steps": 4, "batch_size": 2, "eval_steps": 0,
              "eval_examples": 4, "accuracy_examples": 2, "save_steps": 0}
    group, run_ids = compare.submit_comparison(fields, ["lora", "ia3", "prompt"], owner="teacher")
    assert [r["id"] for r in store.group_runs(group)] == run_ids
    for run_id in run_ids:
        assert runner.wait(run_id, timeout=300)["status"] == "succeeded", runner.result(run_id).get("log_tail")
    frame = compare.comparison_frame(run_ids)
    assert list(frame["method"]) == ["lora", "ia3", "prompt"]
    assert frame["trainable_params"].notna().all() and frame["eval_loss"].notna().all()
    assert frame.set_index("method").loc["ia3", "trainable_params"] < frame.set_index("method").loc["lora", "trainable_params"]
    assert "task_accuracy" in frame and frame["task_accuracy"].between(0, 1).all()
    curves = compare.loss_curves(run_ids, "en")
    assert sorted(trace.name for trace in curves.data) == ["ia3", "lora", "prompt"]
    assert all(len(trace.y) == 4 for trace in curves.data)  # one loss point per step
    scatter = compare.quality_vs_parameters(frame, "zh")
    assert list(scatter.data[0].x) == list(frame["trainable_params"]) and scatter.layout.xaxis.type == "log"
    assert len(compare.cost_bars(frame, "en").data) == 2
    assert "可训练参数量" in compare.translated(frame, "zh").columns
    csv = frame.to_csv(index=False)
    assert csv.splitlines()[0].startswith("run_id,method,status,trainable_params")

    # chat with the tuned model beside its base, then merge LoRA into the base
    lora_run = run_ids[0]
    chat = runner.submit(spec_from_dict({"kind": "generate", "adapter": lora_run, "compare_with_base": True,
                                         "prompts": ["What is 12 + 30?"], "max_new_tokens": 4,
                                         "use_chat_template": True}))
    assert runner.wait(chat, timeout=120)["status"] == "succeeded", runner.result(chat).get("log_tail")
    outputs = runner.result(chat)["outputs"]
    assert len(outputs["outputs"]) == 1 and len(outputs["base_outputs"]) == 1
    export = runner.submit(spec_from_dict({"kind": "export", "run_id": lora_run}))
    assert runner.wait(export, timeout=120)["status"] == "succeeded", runner.result(export).get("log_tail")
    merged = runner.result(export)["outputs"]["merged_folder"]
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(merged).config.hidden_size == 64
    refused = runner.submit(spec_from_dict({"kind": "export", "run_id": run_ids[2]}))  # prompt tuning
    row = runner.wait(refused, timeout=60)
    assert row["status"] == "failed" and "cannot be merged" in row["error"]


def test_a_comparison_with_a_bad_setting_queues_nothing(lab_home):
    with pytest.raises(LabError):
        compare.submit_comparison({"max_steps": 0}, ["lora", "ia3"])
    assert store.list_runs() == []


def test_cancel_keeps_a_checkpoint_and_a_new_run_resumes_from_it(tiny_dir, lab_home):
    fields = {"kind": "finetune", "model": str(tiny_dir), "method": "lora", "max_steps": 400, "save_steps": 4,
              "batch_size": 2, "eval_steps": 0, "accuracy_examples": 0}
    first = runner.submit(spec_from_dict(fields))
    deadline = time.time() + 120
    while not any(m.get("step", 0) >= 6 for m in runner.metrics(first)):
        assert time.time() < deadline, "training never reached step 6"
        time.sleep(0.2)
    runner.cancel(first)
    row = runner.wait(first, timeout=120)
    assert row["status"] == "cancelled" and "checkpoint" in row["error"] and first in row["error"]
    stopped_at = max(m["step"] for m in runner.metrics(first) if "step" in m)
    resumed = runner.submit(spec_from_dict({**fields, "max_steps": stopped_at + 4, "resume_from": first}))
    assert runner.wait(resumed, timeout=120)["status"] == "succeeded", runner.result(resumed).get("log_tail")
    steps = [m["step"] for m in runner.metrics(resumed) if "loss" in m]
    assert steps and min(steps) > 4 and max(steps) == stopped_at + 4  # it continued, it did not start over
    mismatch = runner.submit(spec_from_dict({**fields, "method": "ia3", "resume_from": first}))
    row = runner.wait(mismatch, timeout=60)
    assert row["status"] == "failed" and "only resume with the same method" in row["error"]


@pytest.mark.integration
def test_the_class_preset_runs_on_the_default_model(lab_home_default_model, monkeypatch):
    """The 'LoRA vs IA3 vs prompt tuning' preset end to end on SmolLM2: every method's loss falls."""
    monkeypatch.setenv("LAB_IDLE_EXIT", "60")
    group, run_ids = compare.submit_preset("lora_ia3_prompt_2min", use_cache=False)
    for run_id in run_ids:
        assert runner.wait(run_id, timeout=1500)["status"] == "succeeded", runner.result(run_id).get("log_tail")
    frame = compare.comparison_frame(run_ids).set_index("method")
    assert (frame["train_loss_last"] < frame["train_loss_first"]).all(), frame
    assert frame.loc["prompt", "trainable_params"] < frame.loc["ia3", "trainable_params"] < frame.loc["lora", "trainable_params"]
