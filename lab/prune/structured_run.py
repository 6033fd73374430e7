"""What a structured-pruning run measures and leaves behind, beside the slicing itself (structured.py):

    config_of(model_name)              the model's config.json as attributes, without loading (None: unknown yet)
    counts(config, spec)               heads and channels to remove: the spec's numbers, or from its ratio
    weights_mb(model), tokens_per_second(model, tokenizer, new_tokens)
    recovery_rows(seed, count)         pre-training text as {instruction: 32 chars, output: next 48 chars}:
                                       the LoRA recovery's data (a JSONL file in the run's artifacts)
    continuation_ppl(model, tok, path, seed, ...)
                                       perplexity on that file's validation rows, computed exactly as the
                                       fine-tune kind computes its eval loss (same split, encoding, batches),
                                       so dense → pruned → recovered compare on the same tokens
"""
import json
import math
import random
import time
from pathlib import Path
from types import SimpleNamespace

from lab.errors import LabError

PROMPT = "ROMEO:\nBut soft, what light through yonder window breaks?"
MAPPED_TYPES = ("llama", "mistral", "qwen2")  # q/k/v/o + gate/up/down, one layer kind: what structured.py slices
CONTEXT_CHARS, CONTINUATION_CHARS = 32, 48
# The recovery fine-tune: LoRA on every projection (as LLM-Pruner's recovery), the same split and eval
# batches as continuation_ppl below.
RECOVERY = {"method": "lora", "batch_size": 4, "max_length": 128, "eval_examples": 40, "eval_steps": 0,
            "accuracy_examples": 0, "save_steps": 0, "answer_only": True, "lora_r": 8, "lora_alpha": 16,
            "target_modules": "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"}


def config_of(model_name: str):
    """The model's config.json (the default model's once trained, a local folder's), or None."""
    from lab.modeling.catalog import OFFLINE_MODELS
    from lab.quantize.default_model import DEFAULT_QUANTIZE_MODEL, default_folder, is_ready

    if model_name == DEFAULT_QUANTIZE_MODEL:
        folder = default_folder() if is_ready() else None
    elif model_name in OFFLINE_MODELS:
        from lab import config

        folder = config.models_dir() / model_name
    else:
        folder = Path(model_name).expanduser()
    if folder is None or not (folder / "config.json").is_file():
        return None
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return SimpleNamespace(**data) if isinstance(data, dict) else None


def check_config(config) -> None:
    """Refuse, from config.json alone, a model whose heads structured.py cannot map."""
    model_type = getattr(config, "model_type", "?")
    if model_type not in MAPPED_TYPES or not getattr(config, "intermediate_size", None) \
            or not getattr(config, "num_attention_heads", None):
        raise LabError("prune_structured_arch", arch=f"{model_type} ({', '.join(getattr(config, 'architectures', []) or [])})")


def counts(config, spec) -> tuple:
    from lab.prune.structured import counts_for_ratio

    heads, channels = counts_for_ratio(config, spec.ratio, spec.head_mode)
    return (heads if spec.heads < 0 else spec.heads), (channels if spec.channels < 0 else spec.channels)


def weights_mb(model) -> float:
    return round(sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20, 2)


def tokens_per_second(model, tokenizer, new_tokens: int) -> float:
    """Greedy generation, batch 1, KV cache on: new tokens per second."""
    import torch

    inputs = tokenizer(PROMPT, return_tensors="pt").to(next(model.parameters()).device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    with torch.inference_mode():
        started = time.perf_counter()
        out = model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                             pad_token_id=pad)
        seconds = time.perf_counter() - started
    return (out.shape[1] - inputs["input_ids"].shape[1]) / seconds


def timed(models: dict, tokenizer, new_tokens: int, rounds: int) -> dict:
    """Median tokens/s per model, the models interleaved round by round (the machine's load moves)."""
    import statistics

    rates = {name: [] for name in models}
    for model in models.values():
        tokens_per_second(model, tokenizer, 4)  # warm-up
    names = list(models)
    for index in range(rounds):
        for name in names[index % len(names):] + names[:index % len(names)]:
            rates[name].append(tokens_per_second(models[name], tokenizer, new_tokens))
    return {name: round(statistics.median(values), 2) for name, values in rates.items()}


def recovery_rows(seed: int, count: int) -> list:
    from lab.quantize.evaldata import training_text

    text = training_text()
    rng = random.Random(seed)
    span = len(text) - CONTEXT_CHARS - CONTINUATION_CHARS
    rows = []
    while len(rows) < count:
        start = rng.randrange(span)
        context = text[start:start + CONTEXT_CHARS]
        continuation = text[start + CONTEXT_CHARS:start + CONTEXT_CHARS + CONTINUATION_CHARS]
        if context.strip() and continuation.strip():
            rows.append({"instruction": context, "output": continuation})
    return rows


def write_recovery_data(path: Path, seed: int, count: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recovery_rows(seed, count)),
                    encoding="utf-8")
    return path


def continuation_ppl(model, tokenizer, path, seed: int, eval_examples: int = RECOVERY["eval_examples"],
                     max_length: int = RECOVERY["max_length"], batch_size: int = RECOVERY["batch_size"]) -> float:
    """exp(eval loss) on the recovery file's validation rows, as the fine-tune kind measures it: the same
    split (load_examples with the seed), encoding (answer tokens only) and batches, loss averaged per batch."""
    import torch
    import torch.nn.functional as F

    from lab.finetune import encode
    from lab.finetune.datasets import load_examples

    _, validation, _ = load_examples(str(path), seed=seed)
    items = encode.encode_all(tokenizer, validation[:eval_examples], max_length, True, "validation")
    collate = encode.Collator(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)
    device = next(model.parameters()).device
    total, weight = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(items), batch_size):
            batch = collate(items[start:start + batch_size])
            labels = batch.pop("labels").to(device)
            logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
            loss = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=-100)
            total += float(loss) * labels.shape[0]
            weight += labels.shape[0]
    return round(math.exp(min(total / max(1, weight), 50)), 4)


def recovery_spec(run_id: str, viewer=None, steps: int = 60, owner: str = ""):
    """The fine-tune spec that recovers a finished structured-pruning run's model: LoRA on its model
    folder and its pre-training-text file (both artifacts of that run). LabError when the run is not
    there for this viewer, not a structured-pruning run, or not finished."""
    from lab.runs import runner
    from lab.specs import spec_from_dict

    folder = runner.read(run_id, viewer)
    result = folder.read_result()
    if (result.get("spec") or {}).get("kind") != "prune_structured" and folder.read_spec().get("kind") != "prune_structured":
        raise LabError("prune_recovery_not_structured", run_id=run_id)
    if result.get("status") != "succeeded":
        raise LabError("prune_recovery_not_finished", run_id=run_id, status=result.get("status") or "running")
    model, data = folder.artifact_path("model"), folder.artifact_path("recovery.jsonl")
    if not (model / "config.json").is_file() or not data.is_file():
        raise LabError("prune_recovery_not_finished", run_id=run_id, status="no model folder")
    seed = int(folder.read_spec().get("seed", 0))
    return spec_from_dict({"kind": "finetune", "name": f"LoRA recovery of {run_id}", "model": str(model),
                           "dataset": str(data), "max_steps": int(steps), "seed": seed, **RECOVERY})
