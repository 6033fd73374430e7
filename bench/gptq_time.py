"""GPTQ's cost and gain on the Quantize tab's default model: seconds per layer and in total against RTN,
and the output error ‖WX − ŴX‖² of GPTQ and RTN on one real layer at 3 and 4 bits, with a check of the
lab's GPTQ against the paper's unbatched form on that layer. Writes bench/out/gptq_time.json.

    .venv/bin/python bench/gptq_time.py [--model lab-shakespeare-3m | --tiny] [--bits 4] [--group-size 64]
                                        [--batches 16] [--tokens 128] [--threads 1] [--layer model.layers.1.mlp.down_proj]

Calibration: `batches` chunks of `tokens` tokens from the training part of the lab's Shakespeare (the
default model never saw the held-out part, and GPTQ never sees it either).
"""
import argparse
import json
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def cpu_flags() -> dict:
    import torch

    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                break
    except OSError:
        pass
    wanted = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")
    return {"processor": platform.processor() or platform.machine(), "torch_cpu_capability":
            torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
            "flags": [f for f in wanted if f in flags]}


def load(args):
    from lab.modeling.models import load_model

    if args.tiny:
        sys.path.insert(0, str(REPO / "tests"))
        from tiny_models import load_tiny

        return load_tiny()[:2] + ("tiny-llama",)
    from lab.quantize.default_model import DEFAULT_QUANTIZE_MODEL, ensure_default_model, resolve

    if args.model == DEFAULT_QUANTIZE_MODEL:
        ensure_default_model()
    model, tokenizer, _ = load_model(resolve(args.model), dtype="fp32")
    return model, tokenizer, args.model


def calibration(tokenizer, batches: int, tokens: int) -> list:
    from lab.quantize.evaldata import training_text

    try:
        text = training_text()[: batches * tokens * 8]
    except Exception:  # noqa: BLE001  (the tiny model's run has no need of the corpus)
        sys.path.insert(0, str(REPO / "tests"))
        from tiny_models import REPEATED_TEXT

        text = REPEATED_TEXT * 50
    ids = tokenizer(text, return_tensors="pt")["input_ids"][0]
    return [ids[i * tokens:(i + 1) * tokens].unsqueeze(0) for i in range(min(batches, len(ids) // tokens))]


def one_layer(model, batches, layer: str, group_size: int) -> dict:
    """GPTQ vs RTN on one layer's full-precision inputs, at 3 and 4 bits, and the check against the paper's form."""
    import torch

    from lab.quantize.gptq import Hessian, gptq_quantize, output_error, rtn_quantize
    from lab.quantize.gptq_reference import paper_gptq

    module = model.get_submodule(layer)
    hessian = Hessian(module.in_features)
    handle = module.register_forward_pre_hook(lambda mod, args: hessian.add(args[0]))
    with torch.no_grad():
        for batch in batches:
            model(input_ids=batch, use_cache=False)
    handle.remove()
    weight, H = module.weight.detach().float().clone(), hessian.matrix
    rows = {"layer": layer, "shape": list(weight.shape), "tokens": hessian.tokens}
    for bits in (3, 4):
        for group in (0, group_size):
            key = f"{bits}bit_g{group}"
            gptq, plain = output_error(weight, gptq_quantize(weight, H, bits, group), H), output_error(weight, rtn_quantize(weight, bits, group), H)
            ordered = output_error(weight, gptq_quantize(weight, H, bits, group, act_order=True), H)
            rows[key] = {"gptq": gptq, "gptq_act_order": ordered, "rtn": plain, "gptq_over_rtn": gptq / plain}
        lab = gptq_quantize(weight.double(), H.double(), bits, 0)
        paper = paper_gptq(weight, H, bits)
        rows[f"{bits}bit_vs_paper"] = {"max_abs_diff": float((lab - paper).abs().max()),
                                       "share_weights_equal": float((lab - paper).abs().le(1e-9).float().mean())}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="lab-shakespeare-3m")
    parser.add_argument("--tiny", action="store_true", help="the tests' tiny Llama instead (seconds, for a smoke run)")
    parser.add_argument("--bits", type=int, default=4)
    parser.add_argument("--group-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--layer", default="model.layers.1.mlp.down_proj")
    args = parser.parse_args()

    import torch

    from lab.quantize.gptq_model import gptq_quantize_model

    torch.set_num_threads(args.threads)
    model, tokenizer, name = load(args)
    batches = calibration(tokenizer, args.batches, args.tokens)
    layer = one_layer(model, batches, args.layer, args.group_size)
    started = time.perf_counter()
    stats = gptq_quantize_model(model, batches, bits=args.bits, group_size=args.group_size)
    total = time.perf_counter() - started
    out = {"model": name, "bits": args.bits, "group_size": args.group_size, "calibration_tokens": sum(b.numel() for b in batches),
           "total_seconds": total, "gptq_seconds": sum(s["gptq_seconds"] for s in stats),
           "hessian_seconds": sum(s["hessian_seconds"] for s in stats), "rtn_seconds": sum(s["rtn_seconds"] for s in stats),
           "layers": stats, "one_layer": layer, "cpu": cpu_flags(), "torch": torch.__version__}
    folder = REPO / "bench" / "out"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gptq_time.json").write_text(json.dumps(out, indent=2))
    print(json.dumps({k: v for k, v in out.items() if k != "layers"}, indent=2))
    for s in stats:
        print(f"{s['layer']:28s} {s['rows']:5d}x{s['columns']:<5d} gptq {s['gptq_seconds']:.3f}s rtn {s['rtn_seconds']:.4f}s "
              f"err gptq {s['gptq_error']:.4g} rtn {s['rtn_error']:.4g}")


if __name__ == "__main__":
    main()
