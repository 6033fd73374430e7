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
LAB_VISITOR_MAX_MODEL_M 600 (millions of parameters), LAB_VISITOR_MAX_JOB_SECONDS 900 (a visitor's
job is cancelled past it), and the work caps of COST_CAPS (products of the fields that multiply work).

What a visitor's spec may name (check_references): a model, data set, task or CSV is a registered
name, a hub id, or a file/folder inside the visitor's own uploads or a run they may see — never
another server path; a run id must be a run they may see. trust_remote_code is refused for visitors
(LAB_ALLOW_REMOTE_CODE=1 lets the teacher and the admin use it; lab.modeling.models refuses it
everywhere without that setting).
"""
import math
import os
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


def job_seconds_limit() -> int:
    """Wall-clock seconds a visitor's job may run in Space mode (0: no limit)."""
    return _limit("LAB_VISITOR_MAX_JOB_SECONDS", 900)


def remote_code_allowed() -> bool:
    """The operator's setting: may jobs run Python code shipped with a model (trust_remote_code)?"""
    return os.environ.get("LAB_ALLOW_REMOTE_CODE", "").strip().lower() in ("1", "true", "yes", "on")


# Work caps for a visitor's run: (kind, label, fields multiplied together, cap). The label names the
# limit in the refusal; a list field counts its length. Sized so each job stays within minutes on 2 cores.
COST_CAPS = (
    ("prompt", "questions × paths", ("questions", "n_paths"), 400),
    ("prompt", "questions × k values", ("questions", "k_values"), 600),
    ("evaluate", "questions", ("n_questions",), 500),
    ("judge", "prompts × contestants²", ("n_prompts", "contestants", "contestants"), 600),
    ("judge", "bootstrap rounds", ("bootstrap_rounds",), 1000),
    ("scaling", "bootstrap samples", ("bootstrap_samples",), 200),
    ("scaling_sweep", "bootstrap samples", ("bootstrap_samples",), 200),
    ("scaling_sweep", "models × token budgets", ("models", "token_budgets"), 24),
    ("finetune", "batch × length", ("batch_size", "max_length"), 8192),
    ("finetune", "batch × length × accumulation", ("batch_size", "max_length", "gradient_accumulation_steps"), 32768),
    ("dpo", "batch × length", ("batch_size", "max_length"), 8192),
    ("reward", "batch × length", ("batch_size", "max_length"), 8192),
    ("pretrain", "batch × context", ("batch_size", "context"), 16384),
    ("generate", "prompts × new tokens", ("prompts", "max_new_tokens"), 8192),
    ("demo", "steps × step seconds", ("steps", "step_seconds"), 120),
    ("quantize", "evaluation questions", ("questions",), 400),
    ("quantize", "further int8 thresholds", ("int8_more_thresholds",), 4),
    ("quantize", "QAT bit widths × steps × batch", ("qat_bits", "qat_steps", "qat_batch_size"), 2400),
    ("quantize", "GPTQ bit widths × calibration texts", ("gptq_bits", "calibration_texts"), 64),
    ("quantize", "SmoothQuant alphas × activation scalings", ("smoothquant_alphas", "smoothquant_activations"), 12),
    ("prune", "evaluation questions", ("questions",), 400),
    ("prune_structured", "evaluation questions", ("questions",), 400),
    ("prune_structured", "speed tokens × rounds", ("new_tokens", "speed_rounds"), 1024),
    *[(kind, label, fields, cap) for kind in ("grpo", "rloo") for label, fields, cap in (
        ("completions × answer tokens", ("batch_size", "max_completion_length"), 4096),
        ("steps × completions", ("max_steps", "batch_size"), 2400),
        ("held-out prompts × answer tokens", ("eval_prompts", "max_completion_length"), 8192))],
    ("raft", "rounds × prompts × answers", ("rounds", "prompts_per_round", "num_generations"), 1200),
    ("raft", "rounds × fine-tune steps", ("rounds", "steps_per_round"), 300),
    ("raft", "held-out prompts × answer tokens", ("eval_prompts", "max_completion_length"), 8192),
)


def _amount(value) -> float:
    if isinstance(value, (list, tuple)):
        return float(len(value))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 1.0
    return float(value)


VISITOR_PROCESSES = 1  # several training processes share the server's cores with every visitor: not for visitors


def check_costs(spec) -> None:
    if hasattr(spec, "processes"):
        from lab.runs.distributed import resolve

        processes = resolve(spec.processes)
        if processes > VISITOR_PROCESSES:
            raise LabError("limit_cost", what="processes", value=str(processes), limit=VISITOR_PROCESSES)
    for kind, label, fields, cap in COST_CAPS:
        if spec.kind != kind or not all(hasattr(spec, f) for f in fields):
            continue
        amount = math.prod(_amount(getattr(spec, f)) for f in fields)
        if amount > cap:
            raise LabError("limit_cost", what=label, value=f"{amount:g}", limit=cap)
    size = pretrain_size_millions(spec)
    limit = limits()["model_m"]
    if size is not None and limit and size > limit:
        raise LabError("limit_model", model=f"{spec.kind} (width {getattr(spec, 'width', '?')})", size=f"{size:g}",
                       limit=limit)


def pretrain_size_millions(spec) -> float | None:
    """Parameters (millions) of a model a pretrain/scaling_sweep spec builds from its own architecture fields."""
    from lab.specs import spec_from_dict  # noqa: F401  (kinds are registered)

    if spec.kind == "pretrain":
        shapes = [(spec.width, spec.depth)]
    elif spec.kind == "scaling_sweep":
        shapes = [(_get(m, "width"), _get(m, "depth")) for m in (spec.models or [])]
    else:
        return None
    vocab = getattr(spec, "vocab_size", 256) or 256
    mlp = getattr(spec, "mlp_ratio", 4.0) or 4.0
    sizes = [(vocab * w + d * (4 * w * w + 2 * mlp * w * w)) / 1e6 for w, d in shapes if w and d]
    return round(max(sizes), 1) if sizes else None


def _get(entry, name):
    value = entry.get(name) if isinstance(entry, dict) else getattr(entry, name, None)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


# Fields that name something on the server: a model (offline name, hub id, folder or run id), data (a
# built-in name or a file) or a run id. tests/test_space_attacks.py checks every spec field whose help
# mentions a folder, file, path or run id is listed here.
REFERENCE_FIELDS = {
    "model": "model", "judge_model": "model", "contestants": "model", "adapter": "model",
    "dataset": "data", "task": "data", "csv": "data", "prompt_set": "data",
    "run_id": "run", "resume_from": "run", "start_from": "run", "sweep_run": "run", "answers_from": "run",
    "reward_run": "run",
}


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", "./", "../", "~", ".\\")) or "\\" in text or text in (".", "..") or \
        Path(text).expanduser().exists() or (config.REPO / text).exists()


def path_allowed(resolved: Path, viewer) -> bool:
    """May this viewer name this (resolved) path in a spec? The data the lab ships, their own uploads, and
    the folder of a run they may see — the run is looked up by the id its path names, not by listing runs."""
    from lab.classroom import access
    from lab.runs import store

    def inside(root: Path) -> bool:
        root = root.resolve()
        return resolved == root or root in resolved.parents

    if inside(config.REPO / "assets") or (viewer.visitor and inside(config.lab_home() / "uploads" / viewer.visitor)):
        return True
    runs = config.runs_dir().resolve()
    if runs not in resolved.parents:
        return False
    row = store.get_run(resolved.relative_to(runs).parts[0])
    return row is not None and access.can_see(row, viewer)


def check_reference(field: str, value: str, viewer) -> None:
    """Refuse a spec value that names a server path or run this viewer may not use (LabError 'not_allowed_ref')."""
    from lab.runs import store
    from lab.runs.folder import RUN_ID_PATTERN
    from lab.classroom import access

    text = (value or "").strip()
    if not text:
        return
    base = text.split("@", 1)[0] if field == "contestants" else text  # "model@plain": a contestant's variant
    if _looks_like_path(base):
        path = Path(base).expanduser()
        resolved = (path if path.is_absolute() else config.REPO / path).resolve()  # relative: from the lab's folder
        if not path_allowed(resolved, viewer):
            raise LabError("not_allowed_ref", field=field, value=base[:80])
        return
    if RUN_ID_PATTERN.fullmatch(base):
        row = store.get_run(base)
        if row is not None and not access.can_see(row, viewer):
            raise LabError("no_such_run", run_id=base)


def check_references(spec, viewer) -> None:
    """Check every reference field of a spec, or of a spec's raw data (a dict): the pages check the data
    before building the spec, since building it validates (and so reads) the files it names."""
    for field, _ in REFERENCE_FIELDS.items():
        value = spec.get(field) if isinstance(spec, dict) else getattr(spec, field, None)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                check_reference(field, item, viewer)


def check_data(data: dict, owner: str, viewer=None) -> None:
    """Before a visitor's spec is even built: the references its raw data names (Space mode only)."""
    from lab.classroom import access

    if not config.space_mode() or not is_visitor(owner) or not isinstance(data, dict):
        return
    viewer = viewer or access.Viewer(owner, "visitor")
    if viewer.role == "visitor":
        check_references(data, viewer)


def check_submission(spec, owner: str, viewer=None) -> None:
    """Raise LabError naming the limit when a visitor's run would exceed it (Space mode only).

    `viewer` (lab.classroom.access.Viewer) is who submits; without one, a visitor with key `owner`."""
    if not config.space_mode():
        return
    from lab.classroom import access, visitors
    from lab.runs import store

    if viewer is None:
        viewer = access.Viewer(owner if isinstance(owner, str) else "", "visitor")
    if viewer.role != "visitor":  # the teacher and the admin: no limits; remote code only where allowed
        if getattr(spec, "trust_remote_code", False) and not remote_code_allowed():
            raise LabError("remote_code_refused")
        return
    if not is_visitor(owner):
        return
    if getattr(spec, "trust_remote_code", False):
        raise LabError("remote_code_refused")
    check_references(spec, viewer)
    check_costs(spec)
    limit = limits()
    active = sum(store.active_count(key) for key in visitors.same_origin(owner))
    if limit["queued"] and active >= limit["queued"]:
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


def check_sweep(specs: list, owner: str, viewer=None) -> None:
    """A visitor's sweep (lab/finetune/sweep.py) is checked as a whole before any run is queued: the number
    of runs (LAB_VISITOR_MAX_SWEEP_RUNS, 6) and their steps together (LAB_VISITOR_MAX_SWEEP_STEPS, 600), each
    refusal naming the count; then every run's own limits. Nothing is refused outside Space mode."""
    if not config.space_mode():
        return
    from lab.classroom import access

    role = viewer.role if viewer is not None else "visitor"
    if role == "visitor" and is_visitor(owner):
        runs_limit = _limit("LAB_VISITOR_MAX_SWEEP_RUNS", 6)
        if runs_limit and len(specs) > runs_limit:
            raise LabError("limit_sweep_runs", count=len(specs), limit=runs_limit)
        steps = sum(getattr(spec, "max_steps", 0) for spec in specs)
        steps_limit = _limit("LAB_VISITOR_MAX_SWEEP_STEPS", 600)
        if steps_limit and steps > steps_limit:
            raise LabError("limit_sweep_steps", count=len(specs), steps=steps, limit=steps_limit)
    for spec in specs:
        check_submission(spec, owner, viewer or access.Viewer(owner if isinstance(owner, str) else "", "visitor"))


def storage_notice(lang: str) -> str:
    """A plain warning on a Space whose runs live on a disk that a restart wipes ("" otherwise)."""
    if not config.space_mode():
        return ""
    home = config.lab_home()
    if home == config.SPACE_DATA or config.SPACE_DATA in home.parents:
        return t("space.persistent", lang, path=t("system.data_folder", lang))  # never the server path
    return t("space.not_persistent", lang)


def chat_limits() -> dict:
    """The Chat tab's bounds (lab/modeling/chat_worker.py): new tokens per answer, turns of history kept,
    chat processes alive at once (each holds a model), and seconds an idle one waits before it exits.
    Tighter in Space mode; LAB_CHAT_MAX_NEW_TOKENS, LAB_CHAT_MAX_TURNS, LAB_CHAT_PROCESSES and
    LAB_CHAT_IDLE_SECONDS override them."""
    space = config.space_mode()
    return {"max_new_tokens": config._int_env("LAB_CHAT_MAX_NEW_TOKENS", 256 if space else 1024),
            "turns": config._int_env("LAB_CHAT_MAX_TURNS", 8 if space else 40),
            "processes": config._int_env("LAB_CHAT_PROCESSES", 2 if space else 4, minimum=2),  # side by side: 2
            "idle_seconds": config._int_env("LAB_CHAT_IDLE_SECONDS", 300 if space else 900)}


def check_chat_model(model: str, viewer) -> None:
    """A visitor may chat with the same models they may name in a spec: a registered name, a hub id, or a
    folder of their own uploads or of a run they may see, within the model-size limit (Space mode only)."""
    if not config.space_mode() or viewer is None or viewer.role != "visitor":
        return
    check_reference("model", model, viewer)
    limit = limits()["model_m"]
    if limit:
        size = model_size_millions(model)
        if size is None:
            raise LabError("limit_model_unknown", model=model, limit=limit)
        if size > limit:
            raise LabError("limit_model", model=model, size=f"{size:g}", limit=limit)
