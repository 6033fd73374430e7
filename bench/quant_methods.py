"""The three methods of issue 19 against their baselines, by held-out perplexity on the Quantize tab's
default model (the figures the lessons quote). Writes bench/out/quant_methods.json.

    .venv/bin/python bench/quant_methods.py [--model lab-shakespeare-3m] [--bits 2 3 4] [--group-size 64]
                                            [--qat-bits 3] [--qat-steps 100] [--eval-chars 20000] [--threads 1]

- RTN vs GPTQ (and GPTQ with act-order) at each bit width, groups of `group_size`, symmetric grids;
- W8A8 (per-channel weights; per-tensor or per-token activations) without and with SmoothQuant at
  alpha 0.5 / 0.75 / 0.85;
- QAT: `qat_steps` of full fine-tuning on the training text with weights fake-quantized at `qat_bits`,
  baked onto the grid, against the same steps without fake-quant and then RTN (so the gain is not just
  the extra training), and against RTN/GPTQ of the original model at the same bits.
"""
import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="lab-shakespeare-3m")
    parser.add_argument("--bits", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--group-size", type=int, default=64)
    parser.add_argument("--qat-bits", type=int, default=3)
    parser.add_argument("--qat-steps", type=int, default=100)
    parser.add_argument("--eval-chars", type=int, default=20000)
    parser.add_argument("--calibration-batches", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parts", nargs="+", default=["rtn_gptq", "w8a8", "qat"], choices=["rtn_gptq", "w8a8", "qat"])
    parser.add_argument("--out", default="quant_methods.json")
    args = parser.parse_args()

    import torch

    from lab.modeling.models import load_model
    from lab.modeling.scoring import perplexity
    from lab.quantize import qat, smoothquant
    from lab.quantize.default_model import DEFAULT_QUANTIZE_MODEL, ensure_default_model, resolve
    from lab.quantize.evaldata import held_out_text, training_text
    from lab.quantize.gptq import rtn_quantize
    from lab.quantize.gptq_model import gptq_quantize_model, linear_names

    torch.set_num_threads(args.threads)
    if args.model == DEFAULT_QUANTIZE_MODEL:
        ensure_default_model()
    path = resolve(args.model)
    fresh = lambda: load_model(path, dtype="fp32")[:2]  # noqa: E731
    model, tokenizer = fresh()
    window = min(128, getattr(model.config, "max_position_embeddings", 128))
    held_out = held_out_text()[: args.eval_chars]
    eval_texts = [held_out[i:i + 2048] for i in range(0, len(held_out), 2048)]
    train_ids = tokenizer(training_text()[:400_000], return_tensors="pt")["input_ids"][0]
    calibration = [train_ids[i * window:(i + 1) * window].unsqueeze(0) for i in range(args.calibration_batches)]

    def ppl(m):
        return round(perplexity(m, tokenizer, eval_texts, max_length=window, stride=window)["perplexity"], 3)

    def rtn_all(m, bits):
        with torch.no_grad():
            for _, module in linear_names(m):
                module.weight.copy_(rtn_quantize(module.weight, bits, args.group_size))
        return m

    out = {"model": args.model, "group_size": args.group_size, "eval_chars": len(held_out), "window": window,
           "calibration_tokens": sum(c.numel() for c in calibration), "fp32": ppl(model), "rtn": {}, "gptq": {},
           "gptq_act_order": {}, "w8a8": {}, "qat": {}}
    print("fp32", out["fp32"], flush=True)
    for bits in args.bits if "rtn_gptq" in args.parts else ():
        out["rtn"][bits] = ppl(rtn_all(fresh()[0], bits))
        for key, order in (("gptq", False), ("gptq_act_order", True)):
            m = fresh()[0]
            gptq_quantize_model(m, calibration, bits=bits, group_size=args.group_size, act_order=order)
            out[key][bits] = ppl(m)
        print(bits, "bits: rtn", out["rtn"][bits], "gptq", out["gptq"][bits], "act-order", out["gptq_act_order"][bits], flush=True)

    if "w8a8" in args.parts:
        view = smoothquant.outlier_view(model, calibration, 0.5).groupby("layer", sort=False)
        ratio = lambda column: (view[column].max() / view[column].median())  # noqa: E731  (outlier strength per layer)
        out["outliers_max_over_median"] = {"before": round(float(ratio("before").max()), 2),
                                           "after_alpha_0.5": round(float(ratio("after").max()), 2)}
        print("outliers", out["outliers_max_over_median"], flush=True)
    for activation in smoothquant.ACTIVATION_GRANULARITIES if "w8a8" in args.parts else ():
        for alpha in (None,) + smoothquant.ALPHAS:
            m = fresh()[0]
            if alpha is not None:
                smoothquant.smooth_model(m, calibration, alpha)
            smoothquant.apply_w8a8(m, activation)
            out["w8a8"][f"{activation}/alpha={alpha}"] = ppl(m)
        print("w8a8", activation, {k: v for k, v in out["w8a8"].items() if k.startswith(activation)}, flush=True)

    def train(m, fake_quant: bool):
        if fake_quant:
            qat.wrap_linears(m, args.qat_bits, args.group_size)
        optimizer = torch.optim.AdamW(m.parameters(), lr=2e-4)
        generator = torch.Generator().manual_seed(0)
        m.train()
        for _ in range(args.qat_steps):
            starts = torch.randint(0, len(train_ids) - window, (8,), generator=generator)
            batch = torch.stack([train_ids[s:s + window] for s in starts.tolist()])
            m(input_ids=batch, labels=batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        m.eval()
        if fake_quant:
            qat.unwrap_linears(m, bake=True)
        return m

    folder = REPO / "bench" / "out"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / args.out).write_text(json.dumps(out, indent=2))  # what is measured so far
    if "qat" not in args.parts:
        return
    started = time.perf_counter()
    out["qat"] = {"bits": args.qat_bits, "steps": args.qat_steps, "qat": ppl(train(fresh()[0], True)),
                  "finetune_then_rtn": ppl(rtn_all(train(fresh()[0], False), args.qat_bits)),
                  "rtn": out["rtn"].get(args.qat_bits), "gptq": out["gptq"].get(args.qat_bits)}
    out["qat"]["seconds"] = round(time.perf_counter() - started, 1)
    print("qat", out["qat"], flush=True)
    (folder / args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
