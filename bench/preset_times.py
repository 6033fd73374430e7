"""How long each class preset takes here: every run of a preset through the runner, on the default models,
the wall time from pressing the button (submit) until its last run has finished. Writes the figures into
assets/presets/durations.json (keyed by preset id; read by lab/classroom/presets.py for the preset notes)
and the live ETA of every run, sampled each second, into bench/out/preset_times_eta.json.

    .venv/bin/python bench/preset_times.py                  # every shipped preset (an hour or more on 2 cores)
    .venv/bin/python bench/preset_times.py --quick          # only those measured or guessed at 2 minutes or less
    .venv/bin/python bench/preset_times.py --only generate/greedy_vs_sampling finetune/
    .venv/bin/python bench/preset_times.py --budget 1800     # stop starting presets after 30 minutes

What a student waits for is measured, with the lab's own settings (LAB_THREADS torch threads per job,
LAB_MAX_JOBS jobs at once): the default models must already be converted (the offline SmolLM2, ~20 s once)
or pre-trained (the Quantize tab's Shakespeare model, ~4 minutes once); --models names a folder holding
them (LAB_MODELS), and the first-use costs are left out of the figures. Each record keeps the CPU model,
the threads, the load average before and after (a loaded machine is slower: say so when quoting it) and
the date. A preset whose run fails is recorded as failed, without seconds.
"""
import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DURATIONS = REPO / "assets" / "presets" / "durations.json"
ETA_OUT = REPO / "bench" / "out" / "preset_times_eta.json"
QUICK_SECONDS = 120


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def selected(ids: list[str], only: list[str], quick: bool, known: dict) -> list[str]:
    from lab.classroom import presets

    chosen = ids if not only else [i for o in only for i in ids  # in the order --only names them
                                   if i == o or (o.endswith("/") and i.startswith(o))]
    chosen = list(dict.fromkeys(chosen))
    if quick:
        def guess(preset_id):
            record = known.get(preset_id) or {}
            if record.get("seconds"):
                return record["seconds"]
            minutes = presets.load(preset_id).minutes
            return minutes * 60 if minutes else None
        chosen = [i for i in chosen if (guess(i) or QUICK_SECONDS + 1) <= QUICK_SECONDS]
    return chosen


def run_preset(preset_id: str, poll: float = 1.0) -> dict:
    """Submit a preset (no replay of stored results), follow its runs, return the measurement."""
    from lab.classroom import presets
    from lab.runs import runner, store

    load_before = load_average()
    started = time.time()
    _, run_ids = presets.submit(preset_id, owner="bench", use_cache=False)
    traces = {run_id: [] for run_id in run_ids}
    while True:
        rows = {run_id: runner.get(run_id) for run_id in run_ids}
        now = time.time()
        for run_id, row in rows.items():
            if row["status"] == "running":
                progress = runner.progress(run_id)
                traces[run_id].append({"t": round(now, 2), "fraction": progress.get("fraction"),
                                       "eta_seconds": progress.get("eta_seconds"),
                                       "phase": str(progress.get("message") or progress.get("phase") or "")[:60]})
        if all(row["status"] in store.TERMINAL for row in rows.values()):
            break
        runner.ensure_dispatcher()
        time.sleep(poll)
    finished = time.time()
    runs = []
    for run_id, row in rows.items():
        result = runner.result(run_id) or {}
        begun, ended = result.get("started_at"), result.get("finished_at")
        runs.append({"run_id": run_id, "status": row["status"], "error": (row["error"] or "").splitlines()[:1],
                     "run_seconds": round(ended - begun, 1) if begun and ended else None,
                     "eta_trace": [dict(p, actual_left=round((ended or finished) - p["t"], 1)) for p in traces[run_id]]})
    for run in runs:  # at most ~60 points per run are kept (one a second makes the file large)
        trace = run["eta_trace"]
        run["eta_trace"] = trace[::max(1, len(trace) // 60)] + trace[-1:] if len(trace) > 60 else trace
    ok = all(r["status"] == "succeeded" for r in runs)
    return {"seconds": round(finished - started, 1) if ok else None, "status": "succeeded" if ok else "failed",
            "runs": len(runs), "run_seconds": [r["run_seconds"] for r in runs],
            "load_avg_before": load_before, "load_avg_after": load_average(), "_runs": runs}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=[], help="preset ids, or tab folders ending in / (finetune/)")
    parser.add_argument("--quick", action="store_true", help=f"only presets measured or guessed at {QUICK_SECONDS} s or less")
    parser.add_argument("--budget", type=float, default=0, help="start no preset after this many seconds (0: no limit)")
    parser.add_argument("--models", default=os.environ.get("LAB_MODELS", ""), help="folder of converted/pre-trained default models")
    parser.add_argument("--home", default="", help="data folder for the runs (default: a fresh temporary one)")
    parser.add_argument("--list", action="store_true", help="print what would run, and stop")
    args = parser.parse_args(argv)

    home = Path(args.home or tempfile.mkdtemp(prefix="preset_times_"))
    os.environ.update(LAB_HOME=str(home), LAB_IDLE_EXIT="30")
    if args.models:
        os.environ["LAB_MODELS"] = str(Path(args.models).resolve())
    from lab import config
    from lab.classroom import presets

    known = json.loads(DURATIONS.read_text(encoding="utf-8")) if DURATIONS.is_file() else {}
    ids = [i for i in presets.all_ids() if not i.startswith("class/")]
    chosen = selected(ids, args.only, args.quick, known)
    print(f"{len(chosen)} presets; data folder {home}; models {config.models_dir()}; "
          f"threads/job {config.worker_threads()}, jobs at once {config.max_jobs()}; load {load_average()}", flush=True)
    if args.list:
        print("\n".join(chosen))
        return 0
    traces = json.loads(ETA_OUT.read_text(encoding="utf-8")) if ETA_OUT.is_file() else {}
    begun = time.time()
    for preset_id in chosen:
        if args.budget and time.time() - begun > args.budget:
            print(f"budget of {args.budget:.0f} s spent: {preset_id} and later presets not measured", flush=True)
            break
        measured = run_preset(preset_id)
        runs = measured.pop("_runs")
        record = {**measured, "cpu": cpu_model(), "cores": os.cpu_count(), "threads": config.worker_threads(),
                  "jobs_at_once": config.max_jobs(), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
        if measured["status"] != "succeeded":
            record["error"] = next((r["error"][0] for r in runs if r["error"]), "")
        known[preset_id] = record
        DURATIONS.write_text(json.dumps(dict(sorted(known.items())), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        traces[preset_id] = runs
        ETA_OUT.parent.mkdir(exist_ok=True)
        ETA_OUT.write_text(json.dumps(traces, separators=(",", ":")), encoding="utf-8")
        print(f"{preset_id:45} {measured['status']:9} {measured['seconds'] or '-':>7} s  runs {measured['run_seconds']}  "
              f"load {measured['load_avg_before']} -> {measured['load_avg_after']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
