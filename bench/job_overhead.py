"""Per-job start-up overhead of the runner: fork from a pre-imported dispatcher vs spawning a fresh
`python -m lab.runs.worker` per job. Writes bench/out/job_overhead.json.

    .venv/bin/python bench/job_overhead.py [--jobs 5]

Each job is a trivial "generate" on a tiny model folder (2 new tokens), so its end-to-end latency
(submit -> succeeded) is almost all overhead: process start, imports, model load. The first fork-mode
job also pays the dispatcher's one-time import of the ML stack; it is reported on its own.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def measure(mode: str, jobs: int, model_dir: Path, home: Path) -> dict:
    os.environ.update(LAB_HOME=str(home), LAB_LAUNCH=mode, LAB_IDLE_EXIT="30")
    from lab.runs import runner, store
    from lab.specs import spec_from_dict

    latencies, walls = [], []
    for i in range(jobs):
        spec = spec_from_dict({"kind": "generate", "model": str(model_dir), "prompts": [f"hello {i}"],
                               "max_new_tokens": 2, "use_chat_template": False, "seed": i})
        started = time.perf_counter()
        run_id = runner.submit(spec)
        row = runner.wait(run_id, timeout=600, poll=0.02)
        latencies.append(time.perf_counter() - started)
        assert row["status"] == "succeeded", row["error"]
        walls.append(runner.result(run_id)["metrics"]["wall_seconds"])
    holder = store.lease_holder()
    if holder:
        os.kill(holder["holder_pid"], 15)
    return {"first_job_seconds": round(latencies[0], 2),
            "later_jobs_median_seconds": round(statistics.median(latencies[1:]), 3),
            "later_jobs_seconds": [round(x, 3) for x in latencies[1:]],
            "worker_wall_seconds_median": round(statistics.median(walls[1:]), 3)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "tests"))
    from tiny_models import make_tiny_model_dir

    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:  # an exiting dispatcher may still write its log
        model_dir = make_tiny_model_dir(Path(tmp) / "tiny", arch="llama")
        figures = {mode: measure(mode, args.jobs, model_dir, Path(tmp) / f"home_{mode}") for mode in ("spawn", "fork")}
    figures["speedup_later_jobs_fork_vs_spawn"] = round(
        figures["spawn"]["later_jobs_median_seconds"] / figures["fork"]["later_jobs_median_seconds"], 2)
    figures["machine"] = {"cpus": os.cpu_count(), "load_average": os.getloadavg()}
    (out / "job_overhead.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
