"""Bottleneck adapters (Houlsby et al., 2019; Pfeiffer et al., 2020), written here because AdapterHub's
`adapters` package pins transformers 4.

An adapter is down-projection -> non-linearity -> up-projection, added back to its input (a residual).
Its up-projection starts at zero, so the adapted model starts exactly as the base model. Houlsby puts
one after the attention output and one after the MLP output of every layer; Pfeiffer only after the MLP.
"""
import json
from pathlib import Path

import torch
from torch import nn

CONFIG_FILE = "bottleneck_config.json"
WEIGHTS_FILE = "bottleneck_adapter.pt"
# Output projections by architecture: attention output, MLP output (Llama/Gemma/Qwen, GPT-2).
PLACES = {"attention": ("self_attn.o_proj", "attn.c_proj"), "mlp": ("mlp.down_proj", "mlp.c_proj")}


class Bottleneck(nn.Module):
    def __init__(self, hidden: int, size: int, activation: str = "relu"):
        super().__init__()
        self.down = nn.Linear(hidden, size)
        self.up = nn.Linear(size, hidden)
        self.activation = {"relu": nn.ReLU(), "gelu": nn.GELU(), "silu": nn.SiLU()}[activation]
        nn.init.zeros_(self.up.weight)  # start as the identity: the base model's behaviour
        nn.init.zeros_(self.up.bias)

    def forward(self, hidden_states):
        adapted = self.up(self.activation(self.down(hidden_states.to(self.down.weight.dtype))))
        return hidden_states + adapted.to(hidden_states.dtype)


class WithAdapter(nn.Module):
    """A frozen output projection followed by its adapter."""

    def __init__(self, inner: nn.Module, adapter: Bottleneck):
        super().__init__()
        self.inner = inner
        self.adapter = adapter

    def forward(self, *args, **kwargs):
        return self.adapter(self.inner(*args, **kwargs))


def _places(placement: str) -> tuple:
    return {"houlsby": ("attention", "mlp"), "pfeiffer": ("mlp",)}[placement]


def add_adapters(model, size: int, placement: str = "houlsby", activation: str = "relu") -> list[str]:
    """Freeze the model and insert adapters; returns the names of the wrapped modules."""
    for parameter in model.parameters():
        parameter.requires_grad = False
    hidden = model.config.hidden_size if hasattr(model.config, "hidden_size") else model.config.n_embd
    suffixes = tuple(s for place in _places(placement) for s in PLACES[place])
    wrapped = []
    for name, module in list(model.named_modules()):
        if name.endswith(suffixes) and not isinstance(module, WithAdapter):
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name)
            weight = next(module.parameters())
            adapter = Bottleneck(hidden, size, activation).to(device=weight.device, dtype=torch.float32)
            setattr(parent, child, WithAdapter(module, adapter))
            wrapped.append(name)
    if not wrapped:
        raise ValueError("no attention/MLP output projections found for adapters")
    model.bottleneck_config = {"size": size, "placement": placement, "activation": activation}
    return wrapped


def adapter_state(model) -> dict:
    return {k: v.detach().cpu() for k, v in model.state_dict().items() if ".adapter." in k}


def save_adapters(model, folder: Path) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(adapter_state(model), folder / WEIGHTS_FILE)
    (folder / CONFIG_FILE).write_text(json.dumps(model.bottleneck_config, indent=2))


def load_adapters(model, folder: Path):
    folder = Path(folder)
    settings = json.loads((folder / CONFIG_FILE).read_text())
    add_adapters(model, **settings)
    missing = model.load_state_dict(torch.load(folder / WEIGHTS_FILE, weights_only=True), strict=False)
    if missing.unexpected_keys:
        raise ValueError(f"adapter weights do not fit this model: {missing.unexpected_keys[:3]}")
    return model
