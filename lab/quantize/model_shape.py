"""The input sizes of a model's linear layers, read from its config.json without loading it (or torch),
so a group size that does not divide a layer is refused when the spec is built. None where the config is
not on disk yet (a hub id, the default model before its first training): the job checks at start.

For a Llama-style block: q/k/v and gate/up read hidden_size, o_proj reads heads × head_dim,
down_proj reads intermediate_size.
"""
import json
from pathlib import Path

WIDTH_KEYS = ("hidden_size", "n_embd", "d_model")
MLP_KEYS = ("intermediate_size", "n_inner", "ffn_dim")


def config_of(model: str):
    """The model's config.json as a dict, or None where it is not a folder on disk yet."""
    from lab.errors import LabError
    from lab.modeling.models import resolve_model
    from lab.quantize.default_model import resolve

    try:
        ref = resolve_model(resolve(model))
    except LabError:
        return None
    path = Path(ref.location) / "config.json"
    if ref.kind == "hub" or not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def linear_input_sizes(config: dict) -> dict:
    """{what: input size} of the linear layers a config implies (only the sizes it states)."""
    sizes = {}
    width = next((config[k] for k in WIDTH_KEYS if isinstance(config.get(k), int)), None)
    if width:
        sizes["hidden_size"] = width
        heads = config.get("num_attention_heads")
        head_dim = config.get("head_dim") or (width // heads if heads else None)
        if heads and head_dim:
            sizes["attention output (heads × head_dim)"] = heads * head_dim
    mlp = next((config[k] for k in MLP_KEYS if isinstance(config.get(k), int)), None)
    if mlp:
        sizes["intermediate_size"] = mlp
    return sizes


def check_group_size(model: str, group_size: int, error: str = "gptq_group_divides") -> None:
    """Refuse a group size that does not divide one of the model's layer input sizes, naming both."""
    from lab.errors import LabError

    if not group_size:
        return
    config = config_of(model)
    for what, columns in linear_input_sizes(config or {}).items():
        if columns % group_size:
            raise LabError(error, group_size=group_size, layer=what, columns=columns)
