"""Which architecture a model is, and which fine-tuning methods peft can apply to it, without importing
transformers or peft (the app validates specs; only the job worker loads the ML stack).

    model_config("smollm2-135m-instruct")  # config.json as a dict, or None when it cannot be read offline
    model_type("./my-gpt2")                 # "gpt2", "llama", ... or None (unknown: nothing is refused early)
    check_method("loha", "gpt2")            # LabError "method_architecture" naming both, or nothing
    architecture_table()                    # the static architecture × method table the tab shows

The table is data owned by each method (`Method.refused_architectures`), checked with peft 0.21.2:
GPT-2 stores its projections as transformers' Conv1D (a transposed Linear); LoHa, LoKr and OFT refuse
to wrap it, and OLoRA builds on it but crashes in the forward pass (its QR factors are taken of the
untransposed weight). Llama-style models (SmolLM2, Gemma) use nn.Linear and take every method.
"""
import json
import os
from pathlib import Path
from typing import Optional

from lab.errors import LabError

# An offline model's config.json before it is first converted (the conversion writes the same values).
OFFLINE_CONFIGS = {
    "smollm2-135m-instruct": {
        "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
        "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64, "vocab_size": 49152,
        "tie_word_embeddings": True, "attention_bias": False, "mlp_bias": False},
}
# Layer type of the attention/MLP projections, per model_type; anything else is nn.Linear.
CONV1D_ARCHITECTURES = ("gpt2",)


def _hub_cache_config(hub_id: str) -> Optional[Path]:
    """config.json of a hub model already in the local Hugging Face cache (never downloads)."""
    root = Path(os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
                or Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface") / "hub")
    snapshots = root / f"models--{hub_id.replace('/', '--')}" / "snapshots"
    found = sorted(snapshots.glob("*/config.json")) if snapshots.is_dir() else []
    return found[-1] if found else None


def model_config(name: str) -> Optional[dict]:
    """The model's config.json (a dict), read from a local folder, an offline model's folder or built-in
    copy, or the local hub cache; None when it cannot be known without a download."""
    from lab.modeling.catalog import resolve_model

    try:
        ref = resolve_model(name)
    except LabError:
        return None
    path = Path(ref.location) / "config.json" if ref.kind in ("local", "offline") else _hub_cache_config(ref.location)
    if path is not None and path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
    return dict(OFFLINE_CONFIGS[ref.name]) if ref.name in OFFLINE_CONFIGS else None


def model_type(name: str) -> Optional[str]:
    config = model_config(name)
    return (config or {}).get("model_type") or None


def check_method(method_name: str, architecture: Optional[str]) -> None:
    """Refuse a method peft cannot apply to this architecture, naming both (unknown architecture: allowed)."""
    from lab.finetune.methods import METHODS

    method = METHODS.get(method_name)
    if architecture and architecture in method.refused_architectures:
        raise LabError("method_architecture", method=method_name, architecture=architecture)


def architecture_table() -> dict:
    """{architecture: {method: True (runs) / False (refused)}} for the architectures some method refuses,
    plus "llama" as the reference where everything runs."""
    from lab.finetune.methods import METHODS

    entries = METHODS.entries()
    architectures = ["llama"] + sorted({a for m in entries.values() for a in m.refused_architectures})
    return {arch: {name: arch not in m.refused_architectures for name, m in entries.items()} for arch in architectures}
