"""Read a written GGUF back with transformers (the loader the lab uses for its default model) and compare.

The comparison is the evidence that the file is right: same tokens for the same text, and logits close
to the source model's on a few prompts. How close depends on the type (f16 rounds each weight to 11
significant bits, q8_0 to 8 bits per block of 32, q4_0 to 4), so the figures are reported, and the
tests hold each type to its own tolerance.
"""
PROMPTS = ["The capital of France is", "def add(a, b):\n    return", "One, two, three, four,",
           "the cat sat on the mat. the dog sat on the"]


def compare_gguf(model, tokenizer, gguf_path, prompts=PROMPTS) -> dict:
    """{"gguf_max_abs_logit_diff", "gguf_mean_abs_logit_diff", "gguf_top1_agreement", "gguf_same_tokens",
    "gguf_logit_scale"} of the GGUF file against `model` (fp32 on the CPU), prompt by prompt (no padding)."""
    from pathlib import Path

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(gguf_path)
    loaded = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32).eval()
    loaded_tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = model.eval()
    worst, total, count, agree, positions, scale, same = 0.0, 0.0, 0, 0, 0, 0.0, True
    with torch.no_grad():
        for prompt in prompts:
            ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
            same &= loaded_tokenizer(prompt, return_tensors="pt")["input_ids"].tolist() == ids.tolist()
            want = model(input_ids=ids).logits[0].float()
            got = loaded(input_ids=ids).logits[0].float()
            gap = (got - want).abs()
            worst = max(worst, gap.max().item())
            total, count = total + gap.sum().item(), count + gap.numel()
            agree += (got.argmax(-1) == want.argmax(-1)).sum().item()
            positions += ids.shape[1]
            scale = max(scale, want.abs().max().item())
    del loaded
    return {"gguf_max_abs_logit_diff": round(worst, 5), "gguf_mean_abs_logit_diff": round(total / count, 6),
            "gguf_top1_agreement": round(agree / positions, 4), "gguf_same_tokens": bool(same),
            "gguf_logit_scale": round(scale, 3)}
