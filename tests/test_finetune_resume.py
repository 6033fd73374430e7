"""Resume: a fine-tune cancelled at step 3 and resumed from its checkpoint continues at step 4 with the same
batches (data order), weights and optimizer state as a run that was never stopped; the Runs tab's offer
names the checkpoint."""

import pytest
import torch

from lab import config
from lab.errors import JobCancelled
from lab.finetune import resume as resume_api
from lab.finetune import train as recipe
from lab.runs import store
from lab.runs.folder import RunFolder
from lab.runs.job_context import JobContext
from lab.specs import spec_from_dict
from tiny_models import make_tiny_model_dir


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    torch.set_num_threads(1)
    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "llama", train_steps=5)


def run_in_process(run_id, fields, stop_after=None):
    spec = spec_from_dict(fields)
    folder = RunFolder(run_id).create()
    folder.write_spec(spec)
    ctx = JobContext(config.runs_dir() / run_id, threads=1)
    if stop_after is not None:  # a cancel request arriving during step stop_after: saved, then stopped
        log = ctx.log_metrics

        def log_and_cancel(**record):
            log(**record)
            if record.get("step") == stop_after - 1 and "loss" in record:
                ctx.cancel_requested = True
        ctx.log_metrics = log_and_cancel
    try:
        recipe.finetune(spec, ctx)
    except JobCancelled:
        pass
    return {r["step"]: r["loss"] for r in folder.read_metrics() if "loss" in r}


def test_resume_keeps_the_step_counter_and_the_data_order(tiny_dir, lab_home, capsys):
    fields = {"kind": "finetune", "model": str(tiny_dir), "dataset": "arithmetic", "method": "lora", "max_steps": 6,
              "batch_size": 2, "eval_steps": 0, "eval_examples": 2, "accuracy_examples": 0, "save_steps": 0,
              "lora_dropout": 0.0, "learning_rate": 1e-2, "dtype": "fp32", "seed": 3}
    whole = run_in_process("20260101-000000-finetune-aaaaaa", fields)
    assert sorted(whole) == [1, 2, 3, 4, 5, 6]
    stopped_id = "20260101-000001-finetune-bbbbbb"
    stopped = run_in_process(stopped_id, fields, stop_after=3)
    assert sorted(stopped) == [1, 2, 3]
    assert (RunFolder(stopped_id).checkpoint_dir / "checkpoint-3").is_dir()
    resumed = run_in_process("20260101-000002-finetune-cccccc", {**fields, "resume_from": stopped_id})
    assert sorted(resumed) == [4, 5, 6]  # the step counter continues
    for step in (4, 5, 6):  # same batches, weights and optimizer state: the same loss as the run never stopped
        assert resumed[step] == pytest.approx(whole[step], rel=1e-4), (step, resumed, whole)
    assert len({round(whole[s], 4) for s in (4, 5, 6)}) == 3  # different batches give different losses
    assert "resuming run 20260101-000001-finetune-bbbbbb from checkpoint-3" in capsys.readouterr().out  # the log names it


def test_the_offer_names_the_checkpoint_and_resume_queues_the_same_spec(lab_home):
    run_id = "20260101-000003-finetune-dddddd"
    spec = spec_from_dict({"kind": "finetune", "method": "lora", "max_steps": 30, "eval_steps": 0, "name": "mine"})
    folder = RunFolder(run_id).create()
    folder.write_spec(spec)
    store.insert_run(run_id, "finetune", spec.name, "", False, spec.spec_hash(), "test")
    store.update_run(run_id, status="cancelled")
    assert resume_api.offer(run_id) is None  # no checkpoint: nothing offered
    for step in (10, 20, 5):
        (folder.checkpoint_dir / f"checkpoint-{step}").mkdir(parents=True)
    assert resume_api.offer(run_id) == {"checkpoint": "checkpoint-20", "step": 20, "max_steps": 30}
    new_id = resume_api.resume(run_id, owner="cli")
    data = RunFolder(new_id).read_spec()
    assert data["resume_from"] == run_id and data["max_steps"] == 30 and data["name"] == "mine (resumed)"
    store.update_run(run_id, status="succeeded")
    assert resume_api.offer(run_id) is None  # a finished run is not offered
