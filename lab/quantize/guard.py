"""Memory checks around a comparison or a sparsity sweep: refuse one that cannot fit, with a hint,
and turn an out-of-memory failure in the middle into the same plain message instead of a crash."""
import contextlib
from pathlib import Path

from lab.errors import LabError

BYTES_PER_DTYPE = {"float32": 4, "bfloat16": 2, "float16": 2}
COPIES = 3  # the fp32 model, the variant being measured, and working memory (logits, activations, copies)


def fp32_bytes(model_path: str):
    """fp32 size of a local model folder from its safetensors/bin files (None for a hub id not on disk)."""
    import json

    folder = Path(model_path)
    if not folder.is_dir():
        return None
    size = sum(p.stat().st_size for p in folder.glob("*.safetensors")) or sum(p.stat().st_size for p in folder.glob("*.bin"))
    try:
        dtype = json.loads((folder / "config.json").read_text()).get("dtype") or json.loads(
            (folder / "config.json").read_text()).get("torch_dtype") or "float32"
    except (OSError, ValueError):
        dtype = "float32"
    return size * 4 // BYTES_PER_DTYPE.get(str(dtype), 4)


def check_memory(model_path: str, variants: int, copies: int = COPIES, available_mb: float = None) -> None:
    from lab.present.system_status import memory_mb

    size = fp32_bytes(model_path)
    available = memory_mb()["available"] if available_mb is None else available_mb
    if size is None or not available:
        return
    need = size * copies / 2**20
    if need > available:
        raise LabError("quantize_too_big", need=round(need), available=round(available), variants=variants)


@contextlib.contextmanager
def memory_hint(what: str):
    try:
        yield
    except (MemoryError, RuntimeError) as exc:
        if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower() or "can't allocate" in str(exc).lower():
            raise LabError("quantize_out_of_memory", what=what, detail=str(exc)[:160]) from None
        raise
