"""How much memory a fine-tune will need at its peak, from the model's config.json, before it starts.

Plain Python (the app must not import torch, transformers or peft). The parts, in MiB:

    process      importing torch + transformers + peft and the tokenizer: ~420 MB resident, measured here
    weights      every parameter at the training dtype (the lab trains from fp32 weights; QLoRA keeps the
                 linear layers in 4-bit, ~0.52 byte per weight with double quantization)
    trainable    trainable parameters: their gradients and AdamW's two moments, 4 + 4 + 4 bytes each, plus
                 the parameters themselves when the method adds them (an adapter's B·A)
    activations  what the forward pass keeps for the backward pass: per layer and token about
                 12·h + 4·kv + 4·I numbers (norms, projections, attention output, the MLP's gate/up/product)
                 plus the attention probabilities heads · length² per sequence; with gradient checkpointing
                 only each layer's input, plus one layer recomputed at a time
    logits       the output layer's batch · length · vocabulary scores, in fp32, ~4 copies at the peak
                 (the logits, the upcast, log-softmax and its gradient) — often the single largest term
    bf16 copies  under bf16 autocast each linear weight is cast to bf16 and kept for the backward pass

    estimate(config, method="lora", batch_size=4, max_length=128, ...)  -> dict of parts + "total_mb"
    estimate_for_spec(spec_fields)                                      -> the same, or {"error": ...}

Checked against measured peaks (peak RSS of the worker process) by bench/memory_estimate.py, which
writes bench/out/memory_estimate.json; the ACTIVATION_FACTOR and LOGIT_COPIES below come from there.
The length is an upper bound: batches are padded to their longest example, so short data uses less.
"""
from typing import Optional

from lab.errors import LabError

MB = 2 ** 20
PROCESS_MB = 420.0  # resident memory of a worker after importing torch, transformers and peft (measured here)
LOGIT_COPIES = 4.0  # fp32 logits, their float upcast in the loss, log-softmax and its gradient
ACTIVATION_FACTOR = 1.0  # measured / modelled activations (bench/memory_estimate.py)
ADAMW_BYTES = 8  # two fp32 moments per trainable parameter
NF4_BYTES = 0.5 + 0.016  # 4 bits per weight + double-quantized block constants

# model_type -> how to read its shapes; the projections' names for target_modules
LLAMA_LIKE = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "olmo", "olmo2", "smollm3",
              "granite", "phi3")
GPT2_LIKE = ("gpt2",)


def shapes(config: dict) -> Optional[dict]:
    """The numbers the estimate needs, or None for an architecture the estimator does not know."""
    kind = config.get("model_type")
    if kind in LLAMA_LIKE:
        h, heads = config["hidden_size"], config["num_attention_heads"]
        head_dim = config.get("head_dim") or h // heads
        kv = (config.get("num_key_value_heads") or heads) * head_dim
        q = heads * head_dim
        inter = config["intermediate_size"]
        modules = {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h),
                   "gate_proj": (h, inter), "up_proj": (h, inter), "down_proj": (inter, h)}
        return {"hidden": h, "kv": kv, "query": q, "intermediate": inter, "layers": config["num_hidden_layers"],
                "heads": heads, "vocab": config["vocab_size"], "tied": bool(config.get("tie_word_embeddings", False)),
                "modules": modules, "default_targets": ("q_proj", "v_proj"), "norms": 2 * h}
    if kind in GPT2_LIKE:
        h = config.get("n_embd") or config["hidden_size"]
        inter = config.get("n_inner") or 4 * h
        modules = {"c_attn": (h, 3 * h), "c_proj": (h, h), "c_fc": (h, inter), "mlp.c_proj": (inter, h)}
        return {"hidden": h, "kv": h, "query": h, "intermediate": inter, "layers": config.get("n_layer") or 12,
                "heads": config.get("n_head") or 12, "vocab": config["vocab_size"], "tied": True,
                "modules": modules, "default_targets": ("c_attn",), "norms": 4 * h + (5 * h + inter),  # + biases
                "extra": (config.get("n_positions") or 1024) * h + h}  # position embeddings; ln_f's bias
    return None


def parameter_count(s: dict) -> tuple[int, int]:
    """(all parameters, those in the layers' linear projections)."""
    linear = s["layers"] * sum(i * o for i, o in s["modules"].values())
    embeddings = s["vocab"] * s["hidden"] * (1 if s["tied"] else 2) + s.get("extra", 0)
    norms = s["layers"] * s["norms"] + s["hidden"]
    return linear + embeddings + norms, linear


def trainable_count(s: dict, method: str, lora_r: int, target_modules: str) -> int:
    """Parameters the method trains: all (full), r·(in+out) per adapted matrix (LoRA and its kin), or a small
    share for the methods that train vectors or prompts (their memory is negligible next to the weights)."""
    from lab.finetune.methods import METHODS

    entry = METHODS.get(method)
    total, _ = parameter_count(s)
    if entry.trains_all:
        return total
    if "lora_r" not in entry.settings:
        return int(total * 0.005)  # IA3, VeRA, prompts, prefixes, adapters, BitFit: < 0.5% of the weights
    names = [n.strip() for n in (target_modules or "").split(",") if n.strip()] or list(s["default_targets"])
    per_layer = sum(lora_r * (s["modules"][n][0] + s["modules"][n][1]) for n in names if n in s["modules"])
    return int(s["layers"] * per_layer * entry.size_vs_lora)


def estimate(config: dict, method: str = "lora", batch_size: int = 4, max_length: int = 128, lora_r: int = 8,
             target_modules: str = "", gradient_checkpointing: bool = False, bf16: bool = False) -> dict:
    """Expected peak memory in MiB, split into parts; LabError "memory_estimate_unknown" for an unknown architecture."""
    from lab.finetune.methods import METHODS

    s = shapes(config)
    if s is None:
        raise LabError("memory_estimate_unknown", architecture=str(config.get("model_type") or "?"))
    entry = METHODS.get(method)
    total, linear = parameter_count(s)
    weight_bytes = (total - linear) * 4 + linear * (NF4_BYTES if entry.quantized_base else 4)
    trainable = trainable_count(s, method, lora_r, target_modules)
    added = 0 if entry.trains_all else trainable  # adapters add their parameters to the model
    trainable_bytes = trainable * (4 + ADAMW_BYTES) + added * 4  # gradient + moments (+ the parameter)
    tokens = batch_size * max_length
    value_bytes = 2 if bf16 else 4
    h, kv, inter, layers = s["hidden"], s["kv"], s["intermediate"], s["layers"]
    per_token_layer = 12 * h + 4 * kv + 4 * inter  # numbers kept per token and layer for the backward pass
    attention = batch_size * s["heads"] * max_length ** 2  # attention probabilities per layer
    if gradient_checkpointing:  # each layer's input kept; one layer's activations recomputed at a time
        activations = (layers * tokens * h + tokens * per_token_layer + attention) * value_bytes
    else:
        activations = layers * (tokens * per_token_layer + attention) * value_bytes
    activations *= ACTIVATION_FACTOR
    logits = tokens * s["vocab"] * 4 * LOGIT_COPIES
    casts = linear * 2 if bf16 else 0
    parts = {"process_mb": PROCESS_MB, "weights_mb": weight_bytes / MB, "trainable_mb": trainable_bytes / MB,
             "activations_mb": activations / MB, "logits_mb": logits / MB, "bf16_copies_mb": casts / MB}
    parts["total_mb"] = sum(parts.values())
    parts["trainable_params"] = trainable
    parts["parameters"] = total
    return parts


def estimate_for_spec(fields: dict, bf16: Optional[bool] = None) -> dict:
    """The estimate for a finetune spec's fields (a dict, as the form gives it); {"error": LabError} when the
    model's config cannot be read offline or its architecture is unknown. bf16: None follows dtype "auto"
    the way training does on a CPU (bf16 only where the processor has native bf16)."""
    from lab.finetune.architecture import model_config

    model = str(fields.get("model") or "")
    config = model_config(model)
    if config is None:
        return {"error": LabError("memory_estimate_no_config", model=model[:100])}
    dtype = fields.get("dtype", "auto")
    if bf16 is None:
        from lab.modeling.models import cpu_has_fast_bf16

        bf16 = dtype == "bf16" or (dtype == "auto" and cpu_has_fast_bf16())
    try:
        return estimate(config, method=str(fields.get("method") or "lora"),
                        batch_size=int(fields.get("batch_size") or 1), max_length=int(fields.get("max_length") or 128),
                        lora_r=int(fields.get("lora_r") or 8), target_modules=str(fields.get("target_modules") or ""),
                        gradient_checkpointing=bool(fields.get("gradient_checkpointing")), bf16=bf16)
    except LabError as error:
        return {"error": error}


def fits(estimate_mb: float, free_mb: float) -> bool:
    """Will it fit? (10% headroom for what the estimate does not see: the allocator, the data, the OS.)"""
    return estimate_mb * 1.1 <= free_mb
