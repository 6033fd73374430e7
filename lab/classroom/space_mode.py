"""Space mode: one server, many visitors (a Hugging Face Space, or `python app.py --space`).

On by default where SPACE_ID is set (config.space_mode). What changes:
- visitors' runs are private (others cannot see, cancel or delete them; lab/classroom/access.py);
- each visitor has limits, checked when a run is submitted (queued jobs, steps, tokens, model size),
  with a message naming the limit; the admin and teacher tokens, the CLI and presets' shared runs
  are not limited;
- old runs are cleaned by a retention rule and a disk quota (lab/runs/retention.py);
- the data folder goes to /data when the Space has persistent storage; otherwise the app says that
  runs will not survive a restart;
- on a Hugging Face Space the default model loads from the hub (models.resolve_model), since it installs only
  requirements.txt and cannot install the offline model package (its dependencies compile).

Limits come from the environment (defaults sized for a 2-vCPU CPU Space):
LAB_VISITOR_MAX_QUEUED 2, LAB_VISITOR_MAX_STEPS 300, LAB_VISITOR_MAX_TOKENS 2000000,
LAB_VISITOR_MAX_MODEL_M 600 (millions of parameters).
"""
import json
import re
from pathlib import Path

from lab import config
from lab.errors import LabError
from lab.present.i18n import t

STEP_FIELDS = ("max_steps", "steps")  # training or counting steps a kind runs
TOKEN_FIELDS = ("tokens", "token_budgets")  # pre-training tokens (a number, or a list of budgets)
MODEL_FIELDS = ("model",)
KNOWN_SIZES_M = {"smollm2-135m-instruct": 135, "gemma3-270m": 268}
SIZE_IN_NAME = re.compile(r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)\s*([mMbB])(?![A-Za-z])")


def _limit(name: str, default: int) -> int:
    return config._int_env(name, default, minimum=0)  # 0 turns a limit off


def limits() -> dict:
    return {"queued": _limit("LAB_VISITOR_MAX_QUEUED", 2), "steps": _limit("LAB_VISITOR_MAX_STEPS", 300),
            "tokens": _limit("LAB_VISITOR_MAX_TOKENS", 2_000_000), "model_m": _limit("LAB_VISITOR_MAX_MODEL_M", 600)}


def private_by_default() -> bool:
    return config.space_mode()


def is_visitor(owner: str) -> bool:
    """Owners that limits apply to: visitor keys (not the CLI, not the Space owner's demo runs)."""
    return bool(owner) and owner not in ("cli", "demo")


def model_size_millions(name: str) -> float | None:
    """Parameters (millions) of a model, without loading it: known offline models, a local folder's
    config.json, or a size written in a hub id ("SmolLM2-135M", "Qwen2.5-0.5B"). None when unknown."""
    text = (name or "").strip()
    if text in KNOWN_SIZES_M:
        return float(KNOWN_SIZES_M[text])
    folder = Path(text).expanduser()
    if (folder / "config.json").is_file():
        try:
            cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        width = cfg.get("hidden_size") or cfg.get("n_embd") or 0
        depth = cfg.get("num_hidden_layers") or cfg.get("n_layer") or 0
        vocab = cfg.get("vocab_size") or 0
        ffn = cfg.get("intermediate_size") or 4 * width
        return round((vocab * width + depth * (4 * width * width + 3 * width * ffn)) / 1e6, 1)
    match = None
    for match in SIZE_IN_NAME.finditer(text.rsplit("/", 1)[-1]):
        pass  # the last size in the name ("Llama-3-8B-...-1M-context" aside, usually the model's)
    if match:
        value = float(match.group(1))
        return value * 1000 if match.group(2) in "bB" else value
    return None


def check_submission(spec, owner: str) -> None:
    """Raise LabError naming the limit when a visitor's run would exceed it (Space mode only)."""
    if not config.space_mode() or not is_visitor(owner):
        return
    from lab.runs import store

    limit = limits()
    if limit["queued"] and store.active_count(owner) >= limit["queued"]:
        raise LabError("limit_queued", limit=limit["queued"])
    for name in STEP_FIELDS:
        value = getattr(spec, name, None)
        if isinstance(value, int) and limit["steps"] and value > limit["steps"]:
            raise LabError("limit_steps", field=name, value=value, limit=limit["steps"])
    for name in TOKEN_FIELDS:
        value = getattr(spec, name, None)
        biggest = max(value) if isinstance(value, list) and value else value
        if isinstance(biggest, (int, float)) and limit["tokens"] and biggest > limit["tokens"]:
            raise LabError("limit_tokens", field=name, value=biggest, limit=limit["tokens"])
    for name in MODEL_FIELDS:
        model = getattr(spec, name, None)
        if not isinstance(model, str) or not model or not limit["model_m"]:
            continue
        size = model_size_millions(model)
        if size is None:
            raise LabError("limit_model_unknown", model=model, limit=limit["model_m"])
        if size > limit["model_m"]:
            raise LabError("limit_model", model=model, size=f"{size:g}", limit=limit["model_m"])


def storage_notice(lang: str) -> str:
    """A plain warning on a Space whose runs live on a disk that a restart wipes ("" otherwise)."""
    if not config.space_mode():
        return ""
    home = config.lab_home()
    if home == config.SPACE_DATA or config.SPACE_DATA in home.parents:
        return t("space.persistent", lang, path=str(home))
    return t("space.not_persistent", lang)
