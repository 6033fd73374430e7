"""The command line: the same specs and runner as the app.

    python -m lab spec generate > gen.json      # a complete example spec (every field at its default)
    python -m lab run gen.json --wait           # prints the run id first; waits; exit 0 only if it succeeded
    python -m lab list
    python -m lab show RUN_ID [--json]
    python -m lab cancel RUN_ID
    python -m lab preset [NAME] [--wait]        # method comparisons on equal budgets (one run per method)
    python -m lab compare RUN_ID... [--csv]     # their figures side by side
    python -m lab convert [MODEL]               # convert an offline model's GGUF file now (a run does it on first use)
"""
import argparse
import json
import sys
import time
from lab.runs import runner, store
from lab.errors import LabError


def _read_spec(path: str):
    from lab.specs import spec_from_json

    if path == "-":
        text = sys.stdin.read()
    else:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise LabError("cannot_read_file", path=path, detail=exc.strerror or str(exc)) from None
    return spec_from_json(text)


def _format_seconds(seconds) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def cmd_run(args) -> int:
    spec = _read_spec(args.spec)
    run_id = runner.submit(spec, owner=args.owner, use_cache=args.cache)
    print(run_id, flush=True)
    if not args.wait:
        return 0
    last, polls = None, 0
    while True:
        row = runner.get(run_id)
        if row["status"] in store.TERMINAL:
            break
        progress = runner.progress(run_id)
        line = f"{row['status']} {progress.get('fraction', 0) * 100:5.1f}% eta {_format_seconds(progress.get('eta_seconds'))}"
        if row["status"] == "queued":
            line = f"queued, position {store.queue_positions().get(run_id, '?')}"
        if line != last:
            print(line, file=sys.stderr, flush=True)
            last = line
        time.sleep(0.5)
        polls += 1
        if polls % 10 == 0:
            runner.ensure_dispatcher()  # a dispatcher that died mid-run is replaced, and recovers the run
    print(row["status"] + (f": {row['error'].splitlines()[0]}" if row["error"] else ""), flush=True)
    return 0 if row["status"] == "succeeded" else 1


def cmd_list(args) -> int:
    rows = store.list_runs(limit=args.limit)
    print(f"{'run id':36} {'kind':10} {'status':10} {'queue':>5} {'progress':>8}  name")
    for row in rows:
        fraction = runner.progress(row["id"]).get("fraction") if row["status"] == "running" else None
        progress = f"{fraction * 100:.0f}%" if fraction is not None else ("100%" if row["status"] == "succeeded" else "")
        print(f"{row['id']:36} {row['kind']:10} {row['status']:10} {row['queue_position'] or '':>5} {progress:>8}  {row['name']}")
    return 0


def cmd_show(args) -> int:
    row = runner.get(args.run_id)
    result = runner.result(args.run_id)
    if args.json:
        if result is None:
            raise LabError("no_result_yet", run_id=args.run_id, status=row["status"])
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    print(f"run       {row['id']}\nkind      {row['kind']}\nname      {row['name']}\nstatus    {row['status']}")
    if row["cached_from"]:
        print(f"replayed  from {row['cached_from']}")
    if row["status"] == "running":
        progress = runner.progress(args.run_id)
        print(f"progress  {progress.get('fraction', 0) * 100:.1f}%  eta {_format_seconds(progress.get('eta_seconds'))}")
    if row["error"]:
        print(f"error     {row['error']}")
    for key, value in (result or {}).get("metrics", {}).items():
        print(f"  {key:28} {value}")
    for key, value in (result or {}).get("outputs", {}).items():
        print(f"  {key}: {json.dumps(value, ensure_ascii=False)[:2000]}")
    if (result or {}).get("log_tail"):
        print("log tail:\n" + result["log_tail"])
    return 0


def cmd_cancel(args) -> int:
    prior = runner.cancel(args.run_id)
    print(f"{args.run_id}: {'cancelled' if prior in store.ACTIVE else 'already ' + prior}")
    return 0


def cmd_preset(args) -> int:
    from lab.classroom import presets
    from lab.finetune import compare

    if not args.name:
        for name in compare.preset_names():
            print(f"{name:32} {presets.load('finetune/' + name).text('title', 'en')}")
        return 0
    group, run_ids = compare.submit_preset(args.name, owner=args.owner, use_cache=args.cache)
    print(group)
    for run_id in run_ids:
        print(run_id, flush=True)
    if not args.wait:
        return 0
    rows = [runner.wait(run_id) for run_id in run_ids]
    print(compare.comparison_frame(run_ids).drop(columns=["run_id"]).to_string(index=False))
    return 0 if all(row["status"] == "succeeded" for row in rows) else 1


def cmd_compare(args) -> int:
    from lab.finetune import compare

    run_ids = store.group_runs(args.runs[0]) if len(args.runs) == 1 and args.runs[0].startswith("compare-") else None
    run_ids = [r["id"] for r in run_ids] if run_ids else [runner.get(r)["id"] for r in args.runs]
    frame = compare.comparison_frame(run_ids)
    print(frame.to_csv(index=False) if args.csv else frame.to_string(index=False))
    return 0


def cmd_spec(args) -> int:
    from lab.specs import example_spec

    print(example_spec(args.kind).to_json())
    return 0


def cmd_convert(args) -> int:
    from lab.modeling.conversion import ensure_converted

    started = time.time()
    folder = ensure_converted(args.model, lambda done, total, message: print(message, file=sys.stderr, flush=True))
    print(f"{folder} ({time.time() - started:.1f} s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab", description="LLM Lab jobs from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="submit a job spec (JSON file, or - for stdin)")
    run.add_argument("spec")
    run.add_argument("--wait", action="store_true", help="wait for the run, print its final status")
    run.add_argument("--cache", action="store_true", help="replay a stored result of the same spec if one exists")
    run.add_argument("--owner", default="cli", help=argparse.SUPPRESS)
    run.set_defaults(func=cmd_run)
    listing = sub.add_parser("list", help="list runs, newest first")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=cmd_list)
    show = sub.add_parser("show", help="show one run")
    show.add_argument("run_id")
    show.add_argument("--json", action="store_true", help="print the run's result as JSON")
    show.set_defaults(func=cmd_show)
    cancel = sub.add_parser("cancel", help="cancel a queued or running run")
    cancel.add_argument("run_id")
    cancel.set_defaults(func=cmd_cancel)
    preset = sub.add_parser("preset", help="list the method-comparison presets, or run one (one run per method)")
    preset.add_argument("name", nargs="?")
    preset.add_argument("--wait", action="store_true", help="wait and print the comparison table")
    preset.add_argument("--cache", action="store_true", help="replay stored results of identical runs")
    preset.add_argument("--owner", default="cli", help=argparse.SUPPRESS)
    preset.set_defaults(func=cmd_preset)
    comparison = sub.add_parser("compare", help="the comparison table of fine-tune runs (ids, or a compare-... group)")
    comparison.add_argument("runs", nargs="+")
    comparison.add_argument("--csv", action="store_true")
    comparison.set_defaults(func=cmd_compare)
    spec = sub.add_parser("spec", help="print a complete example spec for a kind")
    spec.add_argument("kind")
    spec.set_defaults(func=cmd_spec)
    from lab.modeling.catalog import DEFAULT_MODEL, OFFLINE_MODELS  # no torch

    convert = sub.add_parser("convert", help="convert an offline model from its GGUF file (once; runs do it on first use)")
    convert.add_argument("model", nargs="?", default=DEFAULT_MODEL, choices=sorted(OFFLINE_MODELS))
    convert.set_defaults(func=cmd_convert)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
