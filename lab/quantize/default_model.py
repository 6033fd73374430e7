"""The Quantize tab's default model: full precision, pre-trained by the lab itself.

The offline default SmolLM2 was shipped as 4-bit Q4_1 and expanded back, so its weights already sit
on a 4-bit grid and quantizing it would teach the wrong lesson. Instead the tab's default is the
model that assets/presets/quantize/default_model_pretrain.json describes (a "pretrain" spec: a
3.3M-parameter Llama-style model on the lab's Shakespeare text, every size a multiple of 32 as the
bitsandbytes CPU 4-bit kernels need). It is trained on first use (~4 minutes on one CPU core) and
cached in the models folder, keyed by the preset's hash, like the GGUF conversion of SmolLM2.
"""
import json
import shutil
import time
from pathlib import Path

from lab import config
from lab.errors import LabError
from lab.present.i18n import ASSETS

DEFAULT_QUANTIZE_MODEL = "lab-shakespeare-3m"
PRESET = ASSETS / "presets" / "quantize" / "default_model_pretrain.json"


def pretrain_spec():
    from lab.specs import spec_from_dict

    return spec_from_dict(json.loads(PRESET.read_text(encoding="utf-8")))


def default_folder() -> Path:
    return config.models_dir() / f"{DEFAULT_QUANTIZE_MODEL}-{pretrain_spec().spec_hash()[:8]}"


def is_ready() -> bool:
    from lab.pretrain.recipe import INFO_FILE

    return (default_folder() / INFO_FILE).is_file()


def resolve(name: str) -> str:
    """The model path a quantize/prune job loads: the default name maps to its cached folder."""
    return str(default_folder()) if name == DEFAULT_QUANTIZE_MODEL else name


def ensure_default_model(progress=None) -> Path:
    """Train the default model once (file lock; temporary folder renamed when complete); return its folder."""
    from filelock import FileLock, Timeout

    final = default_folder()
    if is_ready():
        return final
    lock = FileLock(str(config.models_dir() / f".{final.name}.lock"))
    try:
        lock.acquire(timeout=1800)
    except Timeout:
        raise LabError("model_lock_timeout", model=DEFAULT_QUANTIZE_MODEL) from None
    try:
        if is_ready():
            return final
        scratch = final.with_name(final.name + f".tmp{int(time.time())}")
        _train(scratch, progress)
        if final.exists():
            shutil.rmtree(final)
        scratch.rename(final)
        return final
    finally:
        lock.release()


def _train(folder: Path, progress) -> None:
    from lab.pretrain import recipe

    spec = pretrain_spec()
    tokenizer, corpus = recipe.prepare(spec)

    def report(step, steps, loss, lr):
        if progress is not None:
            progress(step, steps, f"training the default model: step {step}/{steps}, loss {loss:.3f}")

    model, figures = recipe.train_one(spec, tokenizer, corpus, spec.width, spec.depth, spec.heads, spec.tokens,
                                      spec.seed, progress=report)
    recipe.save(model, tokenizer, folder, {"spec": spec.to_dict(), "held_out_loss": figures["held_out_loss"],
                                           "n_params": figures["n_params"], "tokens": figures["tokens"],
                                           "seconds": round(figures["seconds"], 1)})
