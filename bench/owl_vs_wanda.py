"""OWL vs uniform Wanda (and magnitude) at high sparsity, on the same model, calibration and eval text.
Writes bench/out/owl_vs_wanda_<model>.json.

    .venv/bin/python bench/owl_vs_wanda.py [--model lab-shakespeare-3m|smollm2-135m-instruct|PATH]
                                           [--sparsities 0.5,0.6,0.7] [--eval-chars 20000] [--lam 0.08] [--m 5]

Runs the prune kind's sweep (lab/prune/sweep.py) in-process, so the figures are what the tab shows.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> None:
    import torch

    from lab.kinds.prune import PruneSpec
    from lab.modeling.models import load_model
    from lab.prune.sweep import run_sweep
    from lab.quantize import default_model, evaldata

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=default_model.DEFAULT_QUANTIZE_MODEL)
    parser.add_argument("--methods", default="magnitude,wanda,owl")
    parser.add_argument("--sparsities", default="0.5,0.6,0.7")
    parser.add_argument("--eval-chars", type=int, default=20000)
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--calibration-texts", type=int, default=16)
    parser.add_argument("--lam", type=float, default=0.08)
    parser.add_argument("--m", type=float, default=5.0)
    parser.add_argument("--eval-window", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(1)
    spec = PruneSpec(model=args.model, methods=args.methods.split(","),
                     sparsities=[0.0] + [float(s) for s in args.sparsities.split(",")], two_four=False,
                     calibration_texts=args.calibration_texts, eval_chars=args.eval_chars, questions=args.questions,
                     owl_lambda=args.lam, owl_m=args.m, eval_window=args.eval_window)
    path = default_model.resolve(args.model)
    model, tokenizer, _ = load_model(path, dtype="fp32", device="cpu")
    data = evaldata.build(spec.eval_chars, 512 * spec.calibration_texts, spec.questions, spec.seed, spec.eval_text)
    started = time.time()
    load = os.getloadavg()[0]
    rows, _, _ = run_sweep(model, tokenizer, spec, data, log=lambda m: print(m, flush=True))
    result = {"model": args.model, "lambda": args.lam, "m": args.m, "eval_chars": args.eval_chars,
              "calibration_texts": args.calibration_texts, "load_average_1m_start": load,
              "load_average_1m_end": os.getloadavg()[0], "seconds": round(time.time() - started, 1), "rows": rows}
    out = REPO / "bench" / "out" / f"owl_vs_wanda_{Path(args.model).name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    for row in rows:
        print(f"{row['point']:16s} sparsity {row['sparsity']:.4f}  ppl {row['ppl']:10.3f}  accuracy {row['accuracy']}")
    print(f"wrote {out} (load {load:.1f} -> {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
