"""Several processes for one training run (lab/runs/distributed.py): refusals before the job starts, the
launcher's argument list, the world-size check, and — for real, through torchrun over gloo on this CPU —
the same tiny fine-tune at 1 and 2 processes giving the same loss curve, and a killed rank failing the run
without leaving a process behind."""
import os
import re
import signal
import time

import pytest

from lab.errors import LabError
from lab.runs import distributed, runner, store
from lab.runs.folder import RunFolder
from lab.specs import spec_from_dict
from tiny_models import make_tiny_model_dir

TRAINING_KINDS = ("finetune", "pretrain", "dpo", "reward")


@pytest.fixture(autouse=True)
def no_gpu_no_config(monkeypatch):
    monkeypatch.delenv("LAB_ACCELERATE_CONFIG", raising=False)
    monkeypatch.delenv("LAB_RENDEZVOUS", raising=False)
    monkeypatch.delenv("LAB_PROCESSES", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # the jobs these tests start run on the CPU on every machine
    monkeypatch.setattr(distributed, "gpu_count", lambda: 0)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)


@pytest.mark.parametrize("kind", TRAINING_KINDS)
def test_training_kinds_take_processes_and_refuse_more_than_the_cores(kind):
    assert spec_from_dict({"kind": kind, "processes": "2"}).processes == "2"
    assert spec_from_dict({"kind": kind}).processes == "1"
    with pytest.raises(LabError) as error:
        spec_from_dict({"kind": kind, "processes": "3"})
    assert error.value.key == "too_many_cpu_processes" and "3" in str(error.value) and "2" in str(error.value)


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", ""])
def test_a_bad_process_count_is_refused_naming_it(value):
    with pytest.raises(LabError) as error:
        spec_from_dict({"kind": "finetune", "processes": value})
    assert error.value.key == "bad_processes" and f"({value})" in str(error.value)


def test_the_global_batch_must_split_evenly():
    with pytest.raises(LabError) as error:
        spec_from_dict({"kind": "finetune", "processes": "2", "batch_size": 3})
    assert error.value.key == "batch_not_divisible" and "batch_size (3)" in str(error.value)


def test_auto_is_one_process_without_gpus_and_one_per_gpu_with_them(monkeypatch):
    assert distributed.resolve("auto") == 1
    monkeypatch.setattr(distributed, "gpu_count", lambda: 4)
    assert distributed.resolve("auto") == 4 and distributed.resolve("2") == 2
    assert distributed.slots() == {"slots": 4, "gpus": 4}  # on a GPU machine: one process per GPU, not per core


def test_a_gpu_only_accelerate_config_is_refused_on_a_cpu_machine(tmp_path, monkeypatch):
    config = tmp_path / "fsdp.yaml"
    config.write_text("distributed_type: FSDP\nnum_processes: 2\n")
    monkeypatch.setenv("LAB_ACCELERATE_CONFIG", str(config))
    with pytest.raises(LabError) as error:
        spec_from_dict({"kind": "finetune", "processes": "2"})
    assert error.value.key == "accelerate_config_needs_gpu" and "FSDP" in str(error.value)
    spec_from_dict({"kind": "finetune"})  # one process never uses the config: nothing to refuse
    monkeypatch.setenv("LAB_ACCELERATE_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(LabError) as error:
        spec_from_dict({"kind": "finetune", "processes": "2"})
    assert error.value.key == "accelerate_config_missing"


def test_only_training_kinds_with_several_processes_go_through_the_launcher(tmp_path, monkeypatch):
    config = tmp_path / "cpu.yaml"
    config.write_text("distributed_type: MULTI_CPU\n")
    monkeypatch.setenv("LAB_ACCELERATE_CONFIG", str(config))  # once sent EVERY kind through accelerate
    for kind in ("generate", "quantize", "evaluate", "export", "demo"):
        assert distributed.launch_plan(spec_from_dict({"kind": kind, **_example_fields(kind)}).to_dict()) == 1
    assert distributed.launch_plan({"kind": "finetune", "processes": "1"}) == 1
    assert distributed.launch_plan({"kind": "finetune", "processes": "2"}) == 2


def _example_fields(kind):
    from lab.specs import example_spec

    return {k: v for k, v in example_spec(kind).to_dict().items() if k != "kind"}


def test_the_launch_command_is_an_argument_list_for_torchrun_or_accelerate(tmp_path, monkeypatch):
    command = distributed.command(tmp_path / "run", 2, tmp_path / "run" / "ranks")
    assert command[1:4] == ["-m", "torch.distributed.run", "--standalone"]
    assert command[command.index("--nproc-per-node") + 1] == "2" and command[-3:] == ["-m", "lab.runs.worker",
                                                                                        str(tmp_path / "run")]
    assert distributed.environment(2) == {"LAB_PROCESSES": "2", "ACCELERATE_USE_CPU": "1"}
    monkeypatch.setenv("LAB_RENDEZVOUS", "--nnodes 2 --rdzv-backend c10d --rdzv-endpoint 'host a:29400'")
    command = distributed.command(tmp_path / "run", 2, tmp_path / "ranks")
    assert "--standalone" not in command and "host a:29400" in command  # split like argv, never run by a shell
    monkeypatch.setenv("LAB_ACCELERATE_CONFIG", "/configs/fsdp.yaml")
    command = distributed.command(tmp_path / "run", 4, tmp_path / "ranks")
    assert command[1:3] == ["-m", "accelerate.commands.launch"] and "/configs/fsdp.yaml" in command
    assert command[command.index("--num_processes") + 1] == "4"


def test_the_world_size_check_catches_copies_that_never_joined(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")  # torchrun started 2 ranks ...
    with pytest.raises(LabError) as error:
        distributed.check_world_size(1)  # ... but the trainer sees a world of one: 2 independent copies
    assert error.value.key == "world_size_mismatch"
    assert distributed.check_world_size(2) == 2
    monkeypatch.setenv("LAB_PROCESSES", "4")
    with pytest.raises(LabError):
        distributed.check_world_size(2)


TORCHRUN_FAILURE = """[rank0]:{'loss': '5.784'}
[rank1]:[lab] failed: The job crashed: RuntimeError: boom
E1205 08:50:30 torch/distributed/elastic/multiprocessing/api.py:900] failed (exitcode: 1)
Root Cause (first observed failure):
[0]:
  time      : 2026-12-05_08:50:30
  host      : vm
  rank      : 1 (local_rank: 1)
  exitcode  : 1 (pid: 4207)
  error_file: <N/A>
  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html
"""


def test_the_failed_rank_and_its_message_are_read_from_the_log():
    assert distributed.failure_in_log(TORCHRUN_FAILURE) == {"rank": 1,
                                                            "detail": "The job crashed: RuntimeError: boom"}
    killed = TORCHRUN_FAILURE.replace("[rank1]:[lab] failed: The job crashed: RuntimeError: boom\n", "").replace(
        "traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html",
        "traceback : Signal 9 (SIGKILL) received by PID 4207")
    assert distributed.failure_in_log(killed) == {"rank": 1, "detail": "Signal 9 (SIGKILL) received by PID 4207"}
    assert distributed.failure_in_log("[rank0]:[lab] succeeded in 3 s\n") is None


# -- for real: torchrun, gloo, two processes on this 2-core machine ----------------------------------------
@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "llama")


def finetune_spec(model_dir, processes: str, **extra):
    fields = dict(kind="finetune", model=str(model_dir), dataset="arithmetic", method="lora", max_steps=8,
                  batch_size=4, eval_steps=0, save_steps=0, accuracy_examples=0, warmup_ratio=0.0,
                  lr_scheduler="constant", lora_dropout=0.0, dtype="fp32", learning_rate=1e-2, processes=processes)
    fields.update(extra)
    return spec_from_dict(fields)


def losses(run_id):
    return {m["step"]: m["loss"] for m in RunFolder(run_id).read_metrics() if "loss" in m}


def test_one_and_two_processes_give_the_same_loss_curve(tiny_llama, lab_home):
    single = runner.submit(finetune_spec(tiny_llama, "1"))
    double = runner.submit(finetune_spec(tiny_llama, "2"))
    assert runner.wait(single, timeout=600)["status"] == "succeeded"
    row = runner.wait(double, timeout=600)
    folder = RunFolder(double)
    assert row["status"] == "succeeded", folder.log_tail(30)
    one, two = losses(single), losses(double)
    assert sorted(one) == sorted(two) == list(range(1, 9))  # one record per step: rank 1 wrote none
    # arithmetic questions differ batch to batch: equal curves mean the same examples, split over 2 ranks
    assert max(abs(one[s] - two[s]) for s in one) < 2e-3, (one, two)
    result = folder.read_result()
    assert result["metrics"]["world_size"] == 2 and RunFolder(single).read_result()["metrics"]["world_size"] == 1
    assert len(list(folder.path.rglob("result.json"))) == 1
    assert len(list(folder.tensorboard_dir.glob("events.out.tfevents.*"))) == 1  # rank 0's only
    log = folder.log_tail(2000)
    assert "[rank0]:" in log and "[rank1]:" in log and "rank 1 of 2" in log


def start_two_ranks(model_dir) -> tuple[str, dict]:
    """A long 2-process fine-tune, once both ranks are up and training: (run id, {rank: pid})."""
    run_id = runner.submit(finetune_spec(model_dir, "2", max_steps=100_000))
    folder = RunFolder(run_id)
    deadline = time.time() + 300
    pids = {}
    while time.time() < deadline and not (len(pids) == 2 and losses(run_id)):
        pids = {int(r): int(p) for r, p in re.findall(r"rank (\d) of 2, pid (\d+)", folder.log_tail(400))}
        assert store.get_run(run_id)["status"] in ("queued", "running"), folder.log_tail(30)
        time.sleep(0.2)
    assert len(pids) == 2 and losses(run_id), folder.log_tail(30)
    return run_id, pids


def assert_all_gone(pids) -> None:
    for pid in pids:
        for _ in range(100):
            if not store.process_alive(pid, None):
                break
            time.sleep(0.1)
        assert not store.process_alive(pid, None), pid


def test_a_killed_rank_fails_the_run_and_leaves_no_process(tiny_llama, lab_home):
    run_id, pids = start_two_ranks(tiny_llama)
    launcher = store.get_run(run_id)["pid"]
    os.kill(pids[1], signal.SIGKILL)
    row = runner.wait(run_id, timeout=120)
    assert row["status"] == "failed"
    result = RunFolder(run_id).read_result()
    assert result["error_key"] == "rank_failed" and "Process 1" in result["error"] and "SIGKILL" in result["error"]
    assert_all_gone([launcher, *pids.values()])  # torchrun and rank 0 are gone too


def test_cancel_stops_every_rank(tiny_llama, lab_home):
    run_id, pids = start_two_ranks(tiny_llama)
    launcher = store.get_run(run_id)["pid"]
    runner.cancel(run_id)
    assert runner.wait(run_id, timeout=120)["status"] == "cancelled"
    assert_all_gone([launcher, *pids.values()])
