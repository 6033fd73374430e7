"""A class running one preset: the result cache (identical specs replay) vs recomputing every copy.
Writes bench/out/class_replay.json.

    .venv/bin/python bench/class_replay.py [--students 30] [--step-seconds 0.05]

Each student presses the same class preset (a torch-free demo job, 10 steps of --step-seconds, two
variants). "recompute" queues every copy (use_cache=False); "replay" lets the first finished copy
serve the rest (use_cache=True, what the Home path does). Both in fresh data folders, in this one
run; the figure is the ratio of the wall time until every student's runs have finished.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PRESET = """title: {{en: bench, zh: 基准}}
spec: {{kind: demo, steps: 10, step_seconds: {step}}}
variants: [{{name: a, seed: 0}}, {{name: b, seed: 1}}]
"""


def class_of(students: int, use_cache: bool, home: Path, step: float) -> dict:
    os.environ.update(LAB_HOME=str(home), LAB_IDLE_EXIT="10", LAB_LAUNCH="fork")
    from lab.classroom import access, presets
    from lab.runs import runner, store

    source = home.parent / f"bench-{home.name}.yaml"
    source.write_text(PRESET.format(step=step), encoding="utf-8")
    preset_id = presets.save_class_preset(source, access.Viewer("teacher", "teacher"))
    started = time.perf_counter()
    # the teacher runs it first, live; then every student presses the button
    teacher_runs = presets.submit(preset_id, owner="cli", use_cache=use_cache)[1]
    for run_id in teacher_runs:
        runner.wait(run_id, timeout=600, poll=0.02)
    run_ids = list(teacher_runs)
    for student in range(students):
        run_ids += presets.submit(preset_id, owner=f"student-{student:04d}", use_cache=use_cache)[1]
    rows = [runner.wait(run_id, timeout=3600, poll=0.05) for run_id in run_ids]
    seconds = time.perf_counter() - started
    assert all(r["status"] == "succeeded" for r in rows), [r["error"] for r in rows if r["status"] != "succeeded"]
    holder = store.lease_holder()
    if holder:
        os.kill(holder["holder_pid"], 15)
    return {"seconds": round(seconds, 2), "runs": len(rows),
            "computed": sum(1 for r in rows if not r["cached_from"]),
            "replayed": sum(1 for r in rows if r["cached_from"])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--step-seconds", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:  # a dispatcher may still write its log
        recompute = class_of(args.students, False, Path(tmp) / "recompute", args.step_seconds)
        replay = class_of(args.students, True, Path(tmp) / "replay", args.step_seconds)
    figures = {"students": args.students, "step_seconds": args.step_seconds, "recompute": recompute,
               "replay": replay, "speedup": round(recompute["seconds"] / max(replay["seconds"], 1e-9), 1)}
    out = REPO / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "class_replay.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
