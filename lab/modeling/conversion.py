"""Materialise an offline model: its 4-bit GGUF file -> a plain Hugging Face folder, once.

models_dir()/<name>/ holds bf16 safetensors, the tokenizer, and lab_model_info.json, which says
honestly that the weights were expanded from a quantized file (which one, from which package).
Runs in a job worker (it imports torch); `lab.modeling.models.load_model` calls it on first use.
"""
import json
import shutil
import time
from pathlib import Path

from lab import config
from lab.errors import LabError
from lab.modeling.catalog import INFO_FILE, OFFLINE_MODELS, OfflineModel, Progress, _package_version, _report


def ensure_converted(name: str, progress: Progress = None) -> Path:
    """The converted folder of an offline model, converting it from GGUF first if needed (once).

    A file lock keeps two jobs from converting at once; the second waits, then finds the folder.
    The conversion writes into a temporary folder and renames it, so a crash never leaves half a model.
    """
    from filelock import FileLock, Timeout  # a dependency of huggingface_hub, so always present with transformers

    entry = OFFLINE_MODELS[name]
    final = config.models_dir() / name
    if (final / INFO_FILE).is_file():
        return final
    lock = FileLock(str(config.models_dir() / f".{name}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        _report(progress, 0, 1, f"waiting: another job is converting {name}")
        try:
            lock.acquire(timeout=1800)  # Gemma takes ~80 s on a loaded 2-core machine; 30 min means it is stuck
        except Timeout:
            raise LabError("model_lock_timeout", model=name) from None
    try:
        if (final / INFO_FILE).is_file():  # converted by the job we waited for
            return final
        if final.exists():  # a folder without the info file is not ours to trust: rebuild it
            shutil.rmtree(final)
        scratch = config.models_dir() / f".{name}.partial"
        shutil.rmtree(scratch, ignore_errors=True)  # left by a crashed conversion
        scratch.mkdir()
        try:
            _convert(entry, scratch, progress)
            shutil.rmtree(scratch / "gguf", ignore_errors=True)  # an assembled GGUF copy (Gemma, 238 MB)
            scratch.rename(final)  # atomic on one file system: the folder appears complete or not at all
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        return final
    finally:
        lock.release()


def _convert(entry: OfflineModel, out: Path, progress: Progress) -> None:
    """GGUF -> bf16 safetensors + tokenizer, the recipe of shared/OFFLINE.md."""
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    started = time.time()
    total = 5
    _report(progress, 0, total, f"locating the GGUF file of {entry.name}")
    gguf = entry.locate(out / "gguf")
    _report(progress, 1, total, f"reading and de-quantizing {gguf.name} (~20 s for SmolLM2, ~80 s for Gemma)")
    try:
        quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        _report(progress, 2, total, "reading the tokenizer")
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except (OSError, ValueError, ImportError) as exc:
        raise LabError("model_conversion_failed", model=entry.name, detail=str(exc).splitlines()[0][:300]) from None
    _report(progress, 3, total, "building a plain (trainable) model from the de-quantized weights")
    # Trainer refuses a model that still carries a GGUF quantization_config: rebuild it from a clean config.
    cfg = quantized.config.to_dict()
    cfg.pop("quantization_config", None)
    cfg.pop("_model_name_or_path", None)
    clean = AutoModelForCausalLM.from_config(AutoConfig.for_model(**cfg), dtype=torch.bfloat16)
    clean.load_state_dict(quantized.state_dict())  # copies and casts fp32 -> bf16
    clean.tie_weights()
    del quantized
    _report(progress, 4, total, "saving bf16 safetensors")
    clean.save_pretrained(out)  # bf16 halves the folder (~270 MB for SmolLM2)
    tokenizer.save_pretrained(out)
    info = {
        "name": entry.name,
        "quantized_source": entry.quantized_source,
        "note": "Weights were expanded from a 4-bit GGUF file: quality is a little below the original checkpoint.",
        "source_file": entry.gguf_name,
        "package": entry.package,
        "package_version": _package_version(entry.package),
        "licence": entry.licence,
        "saved_dtype": "bfloat16",
        "converted_with": {"transformers": transformers.__version__, "torch": torch.__version__,
                           "gguf": _package_version("gguf")},
        "converted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "conversion_seconds": round(time.time() - started, 1),
    }
    (out / INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
    _report(progress, 5, total, f"converted {entry.name} in {info['conversion_seconds']} s")
