"""Several processes for one training run: data-parallel through torchrun (or `accelerate launch`).

The training kinds (finetune, pretrain, dpo, reward) compose ProcessSettings: a `processes` setting,
"1" by default, a number, or "auto" (one per GPU on a GPU machine, 1 elsewhere). With more than one,
the dispatcher starts

    python -m torch.distributed.run --standalone --nproc-per-node N --role rank --tee 3 \
        --log-dir RUN/ranks -m lab.runs.worker RUN          (an argument list, never a shell)

with ACCELERATE_USE_CPU=1 on a machine without GPUs (the Trainer's use_cpu=True: DDP over gloo) and
NCCL on GPUs. LAB_ACCELERATE_CONFIG (an accelerate config file: FSDP, DeepSpeed) sends the same runs
through `accelerate launch --config_file ... --num_processes N` instead; LAB_RENDEZVOUS (torchrun's
rendezvous flags, e.g. "--nnodes 2 --rdzv-backend c10d --rdzv-endpoint host:29400 --rdzv-id run1")
replaces --standalone for several machines (on paper: untested here). Every other kind runs as one
process, whatever is configured.

Global batch: a spec's batch_size is the GLOBAL batch; each of N processes takes batch_size / N
examples per step (so it must divide evenly), and the loss curve matches a one-process run of the same
batch and seed (tests/test_distributed.py checks it).

Only rank 0 writes the run folder (JobContext(writer=False) elsewhere); every rank's output reaches the
run's log prefixed "[rankN]:" (torchrun's --tee); a rank that dies makes torchrun stop the others, and
finalize() names that rank and its message (failure_in_log). The job asserts the world size it asked for
(check_world_size: torchrun without CPU mode would run N independent one-process copies) and records it.
"""
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError
from lab.specs import setting

AUTO = "auto"
GPU_ONLY_TYPES = ("MULTI_GPU", "FSDP", "DEEPSPEED", "MEGATRON_LM", "MULTI_NPU", "MULTI_XPU")


@dataclass
class ProcessSettings:
    processes: str = setting(
        "1", en="Processes that train together (data parallel): 1, a number, or auto (one per GPU). "
        "batch_size stays the global batch: each process takes batch_size / processes examples per step.",
        zh="一起训练的进程数(数据并行):1、一个数字,或 auto(每块 GPU 一个)。batch_size 仍是全局批次:"
        "每个进程每步处理 batch_size / 进程数 个样本。")

    @staticmethod
    def check(spec) -> None:
        count = parse(spec.processes)
        if count == AUTO or count == 1:
            return
        available = slots()
        if count > available["slots"]:
            raise LabError("too_many_gpu_processes" if available["gpus"] else "too_many_cpu_processes", value=count,
                           available=available["slots"])
        batch = getattr(spec, "batch_size", None)
        if batch is not None and batch % count:
            raise LabError("batch_not_divisible", batch_size=batch, processes=count)
        check_accelerate_config(available["gpus"])


def parse(value) -> int | str:
    """"auto" or a whole number of processes >= 1; anything else is refused naming the value."""
    text = str(value).strip().lower()
    if text == AUTO:
        return AUTO
    if not text.isdigit() or int(text) < 1:
        raise LabError("bad_processes", value=value)
    return int(text)


def gpu_count() -> int:
    """GPUs this machine shows, without importing torch in the app (the driver's list, narrowed by
    CUDA_VISIBLE_DEVICES); torch's own count where torch is already imported (the workers)."""
    if "torch" in sys.modules:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    driver = Path("/proc/driver/nvidia/gpus")
    count = len(list(driver.iterdir())) if driver.is_dir() else 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        count = min(count, len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"]))
    return count


def slots() -> dict:
    """How many processes this machine can take: one per GPU, or one per core without GPUs."""
    gpus = gpu_count()
    if gpus:
        return {"slots": gpus, "gpus": gpus}
    return {"slots": os.cpu_count() or 1, "gpus": 0}


def resolve(value) -> int:
    """The number of processes to start: "auto" is the GPU count (1 without GPUs)."""
    count = parse(value)
    return max(1, gpu_count()) if count == AUTO else count


def accelerate_config_path() -> str:
    return os.environ.get("LAB_ACCELERATE_CONFIG", "").strip()


def check_accelerate_config(gpus: int) -> None:
    """A GPU-only accelerate config (multi-GPU, FSDP, DeepSpeed, or use_cpu false) refused on a CPU machine."""
    path = accelerate_config_path()
    if not path:
        return
    if not Path(path).is_file():
        raise LabError("accelerate_config_missing", path=path)
    if gpus:
        return
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise LabError("accelerate_config_unreadable", path=path, detail=str(exc).splitlines()[0][:200]) from None
    kind = str(data.get("distributed_type", "NO")).upper() if isinstance(data, dict) else "NO"
    if kind in GPU_ONLY_TYPES or (isinstance(data, dict) and data.get("use_cpu") is False and kind != "NO"):
        raise LabError("accelerate_config_needs_gpu", path=path, kind=kind)


def launch_plan(spec_data: dict) -> int:
    """Processes a run asks for: 1 for every kind without the setting (they never go through torchrun)."""
    if "processes" not in spec_data:
        return 1
    try:
        return resolve(spec_data["processes"])
    except LabError:
        return 1  # the worker's own spec check fails the run with the message


def command(run_dir: Path, processes: int, rank_log_dir: Path) -> list[str]:
    """The launcher's argument list for `processes` ranks of `python -m lab.runs.worker run_dir`."""
    worker = ["lab.runs.worker", str(run_dir)]
    streams = ["--tee", "3"]  # every rank's stdout+stderr to the run's log, each line prefixed [rankN]:
    config_file = accelerate_config_path()
    if config_file:
        return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", config_file,
                "--num_processes", str(processes), "--role", "rank", *streams, "--log_dir", str(rank_log_dir),
                *rendezvous(accelerate=True), "--module", *worker]
    return [sys.executable, "-m", "torch.distributed.run", *rendezvous(), "--nproc-per-node", str(processes),
            "--role", "rank", *streams, "--log-dir", str(rank_log_dir), "--monitor-interval", "0.5", "-m", *worker]


def rendezvous(accelerate: bool = False) -> list[str]:
    """--standalone (one machine, a free port), or the operator's LAB_RENDEZVOUS flags (several machines).
    LAB_RENDEZVOUS is the server's own setting, split like a command line but never run by a shell."""
    flags = shlex.split(os.environ.get("LAB_RENDEZVOUS", ""))
    if flags:
        return flags
    return [] if accelerate else ["--standalone"]


def environment(processes: int) -> dict:
    """Variables every rank gets: the world size the job must see, and CPU mode where there is no GPU."""
    env = {"LAB_PROCESSES": str(processes)}
    if not gpu_count():
        env["ACCELERATE_USE_CPU"] = "1"  # gloo DDP; without it torchrun runs N one-process copies
    return env


# -- inside a worker ---------------------------------------------------------------------------
def rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


def world_size() -> int:
    """The world size the launcher started (1 for a plain worker)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def expected_world_size() -> int:
    return int(os.environ.get("LAB_PROCESSES") or world_size())


def check_world_size(actual: int) -> int:
    """The engine's world size must be the one the run asked for; returns it (recorded in the result)."""
    expected = expected_world_size()
    if int(actual) != expected:
        raise LabError("world_size_mismatch", expected=expected, actual=actual)
    return int(actual)


def per_process_batch(batch_size: int) -> int:
    """The global batch split over the ranks (ProcessSettings.check made it divide evenly)."""
    world = expected_world_size()
    if batch_size % world:
        raise LabError("batch_not_divisible", batch_size=batch_size, processes=world)
    return batch_size // world


# -- after a run -------------------------------------------------------------------------------
LAB_FAILURE = re.compile(r"^\[rank(\d+)\]:\[lab\] failed: (.+)$")
ROOT_RANK = re.compile(r"^\s*rank\s*:\s*(\d+)")
ROOT_TRACE = re.compile(r"^\s*(?:traceback|exitcode)\s*:\s*(.+)$")


def failure_in_log(log_text: str) -> dict | None:
    """Which rank failed first and why, from the run's log: torchrun's "Root Cause" block names the rank
    (and a signal, e.g. "Signal 9 (SIGKILL) received by PID 123"); that rank's own "[lab] failed:" line,
    when it printed one, is the message."""
    lines = log_text.splitlines()
    found = None
    if "Root Cause" in log_text:
        block = lines[next(i for i, line in enumerate(lines) if "Root Cause" in line):]
        rank_line = next((m for line in block if (m := ROOT_RANK.match(line))), None)
        traces = [m.group(1).strip() for line in block if (m := ROOT_TRACE.match(line))]
        if rank_line:
            found = {"rank": int(rank_line.group(1)), "detail": traces[-1] if traces else ""}
    messages = [(int(m.group(1)), m.group(2)) for line in lines if (m := LAB_FAILURE.match(line))]
    if found is None and messages:
        found = {"rank": messages[0][0], "detail": messages[0][1]}
    if found is not None:
        own = [text for r, text in messages if r == found["rank"]]
        if own:
            found["detail"] = own[0]
    return found
