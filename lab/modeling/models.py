"""The model library's loading half: load any model the catalogue (lab.modeling.catalog) can name.

Nothing here imports torch at module level; load_model imports it when called, in a job worker.
"""
import functools
import time
from pathlib import Path
from typing import Optional

from lab import config
from lab.errors import LabError
from lab.modeling.catalog import (DEFAULT_MODEL, HUB_ID, INFO_FILE, OFFLINE_MODELS, ModelRef, OfflineModel,  # noqa: F401
                                  Progress, _read_info, _report, available_models, check_model_name, not_cached_error,
                                  resolve_model)


DTYPES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16",
          "fp16": "float16", "float16": "float16"}


def _pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise LabError("device_unavailable", device=device)
    return device


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU multiplies bf16 natively (AVX512-BF16 or AMX). Without it, bf16 matmuls are
    emulated and ~10x slower than fp32 (measured: 128x576 @ 576x1536 takes 46 ms bf16 vs 4 ms fp32 on AVX2)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _pick_dtype(dtype: str, device: str):
    import torch

    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        # bf16 is the fastest CPU dtype where the CPU has bf16 instructions (PLATFORM.md); fp32 elsewhere.
        return torch.bfloat16 if device == "cpu" and cpu_has_fast_bf16() else torch.float32
    if dtype not in DTYPES:
        raise LabError("bad_dtype", dtype=dtype, choices="auto, " + ", ".join(DTYPES))
    return getattr(torch, DTYPES[dtype])


def _from_pretrained(loader, ref: ModelRef, **kwargs):
    """from_pretrained with one-line errors. Hub ids try the local cache first: no network round trip
    (and no ~25 s of retries on a machine without network) when the model is already cached."""
    from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError

    try:
        if ref.kind != "hub":
            return loader(ref.location, **kwargs)
        try:
            return loader(ref.location, local_files_only=True, **kwargs)
        except OSError:
            return loader(ref.location, **kwargs)
    except (RepositoryNotFoundError, GatedRepoError):
        raise LabError("model_not_found", model=ref.name) from None
    except HFValidationError:
        raise LabError("bad_model_name", model=ref.name) from None
    except (OSError, ValueError) as exc:
        text = str(exc)
        if "trust_remote_code" in text:
            raise LabError("model_needs_remote_code", model=ref.name) from None
        if ref.kind != "hub":
            raise LabError("model_load_failed", model=ref.name, detail=text.splitlines()[0][:300] if text else "") from None
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, (RepositoryNotFoundError, GatedRepoError)) or "is not a valid model identifier" in text:
            raise LabError("model_not_found", model=ref.name) from None
        raise not_cached_error(ref) from None


def load_model(name_or_path: str, dtype: str = "auto", trust_remote_code: bool = False, device: str = "cpu",
               progress: Progress = None, quantization_config=None, model_class=None, **model_kwargs):
    """Load a causal LM and its tokenizer, ready for generation and scoring.

    model_class: another transformers Auto class than AutoModelForCausalLM, with its model_kwargs (the Align
    tab's reward model: AutoModelForSequenceClassification, num_labels=1).
    dtype: "auto" (bf16 on a CPU with bf16 instructions, else fp32; bf16/fp16 on a GPU), "fp32", "bf16", "fp16".
    device: "cpu", "cuda", "cuda:N" or "auto". quantization_config: a transformers BitsAndBytesConfig, or None.
    Offline models are converted from GGUF on first use (once; see ensure_converted).
    The tokenizer gets a pad token (eos when it has none) and left padding, as batched generation needs.
    Returns (model, tokenizer, info) where info describes what was loaded (parameters, dtype, timings, ...).
    """
    ref = resolve_model(name_or_path)
    started = time.time()
    converted_now = False
    if ref.kind == "offline":
        from lab.modeling.conversion import ensure_converted

        converted_now = not (Path(ref.location) / INFO_FILE).is_file()
        ensure_converted(ref.name, progress)
    conversion_seconds = time.time() - started

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = _pick_device(device)
    torch_dtype = _pick_dtype(dtype, device)
    # Remote code runs arbitrary Python from the model repo: pass the flag only when the user opted in.
    if trust_remote_code:
        from lab.classroom.space_mode import remote_code_allowed

        if config.space_mode() and not remote_code_allowed():  # the last word, whatever the spec said
            raise LabError("remote_code_refused")
    extra = {"trust_remote_code": True} if trust_remote_code else {}
    _report(progress, 0, 1, f"loading {ref.name}")
    load_started = time.time()
    model_extra = dict(extra, **model_kwargs)
    if quantization_config is not None:  # bitsandbytes int8/4-bit (QLoRA, the Quantize tab): placed on load
        model_extra.update(quantization_config=quantization_config, device_map={"": device})
    model = _from_pretrained((model_class or AutoModelForCausalLM).from_pretrained, ref, dtype=torch_dtype, **model_extra)
    tokenizer = _from_pretrained(AutoTokenizer.from_pretrained, ref, **extra)
    if quantization_config is None:
        model.to(device)
    model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token or tokenizer.bos_token
    tokenizer.padding_side = "left"  # generation appends on the right, so padding must be on the left
    generation_config = getattr(model, "generation_config", None)  # a scalar-head model has none
    if generation_config is not None and generation_config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    info = {
        "name": ref.name, "kind": ref.kind, "location": ref.location, "device": device,
        "dtype": str(torch_dtype).replace("torch.", ""),
        "parameters": sum(p.numel() for p in model.parameters()),
        "weights_mb": round(sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20, 1),
        "quantized_source": ref.quantized_source,
        "converted_now": converted_now,
        "conversion_seconds": round(conversion_seconds, 2) if converted_now else 0.0,
        "load_seconds": round(time.time() - load_started, 2),
        "context_length": context_length(model),
        "has_chat_template": bool(getattr(tokenizer, "chat_template", None)),
    }
    _report(progress, 1, 1, f"loaded {ref.name} ({info['parameters'] / 1e6:.1f}M parameters, {info['dtype']})")
    return model, tokenizer, info


def context_length(model) -> Optional[int]:
    """The longest input the model's position embeddings allow, if its config says."""
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(model.config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None
