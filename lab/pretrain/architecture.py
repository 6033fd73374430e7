"""Tiny causal language models with the architecture knobs of the course, as standard Hugging Face
architectures so every saved folder loads with AutoModelForCausalLM.from_pretrained(folder).

Each combination of knobs is one registered Transformers architecture:

    norm       positions  norm placement  ->  architecture (MLP)
    rmsnorm    rotary     pre             ->  llama    (SwiGLU)
    layernorm  rotary     pre             ->  gpt_neox (GELU)
    layernorm  learned    pre             ->  gpt2     (GELU)
    layernorm  learned    post            ->  opt      (ReLU; OPT's do_layer_norm_before=False)

Widths, MLP sizes and the vocabulary are multiples of 32 (the CPU 4-bit kernels of bitsandbytes
assert otherwise, and these models serve the Quantize tab). Parameter counts are also computed in
closed form here, without torch, so the app can size a model before any job runs; a test checks
them against the real models. N in the scaling laws is the non-embedding count (Kaplan et al.):
all weights except token and position embeddings (the output layer is tied to the token embedding).
"""
from dataclasses import dataclass
from typing import Callable

MULTIPLE = 32
NORMS = ("rmsnorm", "layernorm")
POSITIONS = ("rotary", "learned")
NORM_PLACEMENTS = ("pre", "post")


def round_up(value: float, multiple: int = MULTIPLE) -> int:
    return int(-(-int(round(value)) // multiple) * multiple)


@dataclass(frozen=True)
class Shape:
    """The knobs that fix a model's parameter count."""

    width: int
    depth: int
    heads: int
    vocab_size: int  # already padded to a multiple of 32
    context: int
    mlp_ratio: float = 4.0


@dataclass(frozen=True)
class Architecture:
    model_type: str
    mlp_size: Callable[[Shape], int]
    config: Callable[[Shape, dict], object]  # (shape, token ids) -> transformers config
    layer_params: Callable[[Shape, int], int]  # (shape, mlp size) -> parameters per block
    final_params: Callable[[Shape], int]  # final norm
    position_params: Callable[[Shape], int]  # learned position embeddings (0 for rotary)


def _gelu_mlp(shape: Shape) -> int:
    return round_up(shape.mlp_ratio * shape.width)


def _swiglu_mlp(shape: Shape) -> int:
    return round_up(shape.mlp_ratio * shape.width * 2 / 3)  # 3 matrices: 2/3 keeps the count of a 2-matrix MLP


def _llama_config(shape: Shape, ids: dict):
    from transformers import LlamaConfig

    return LlamaConfig(hidden_size=shape.width, intermediate_size=_swiglu_mlp(shape), num_hidden_layers=shape.depth,
                       num_attention_heads=shape.heads, num_key_value_heads=shape.heads,
                       max_position_embeddings=shape.context, vocab_size=shape.vocab_size,
                       tie_word_embeddings=True, **ids)


def _neox_config(shape: Shape, ids: dict):
    from transformers import GPTNeoXConfig

    return GPTNeoXConfig(hidden_size=shape.width, intermediate_size=_gelu_mlp(shape), num_hidden_layers=shape.depth,
                         num_attention_heads=shape.heads, max_position_embeddings=shape.context,
                         vocab_size=shape.vocab_size, use_parallel_residual=False, hidden_act="gelu",
                         hidden_dropout=0.0, attention_dropout=0.0, tie_word_embeddings=True, **ids)


def _gpt2_config(shape: Shape, ids: dict):
    from transformers import GPT2Config

    return GPT2Config(n_embd=shape.width, n_inner=_gelu_mlp(shape), n_layer=shape.depth, n_head=shape.heads,
                      n_positions=shape.context, vocab_size=shape.vocab_size, resid_pdrop=0.0, embd_pdrop=0.0,
                      attn_pdrop=0.0, tie_word_embeddings=True, **ids)


def _opt_config(shape: Shape, ids: dict):
    from transformers import OPTConfig

    return OPTConfig(hidden_size=shape.width, ffn_dim=_gelu_mlp(shape), num_hidden_layers=shape.depth,
                     num_attention_heads=shape.heads, max_position_embeddings=shape.context,
                     vocab_size=shape.vocab_size, word_embed_proj_dim=shape.width, do_layer_norm_before=False,
                     dropout=0.0, attention_dropout=0.0, activation_function="relu", tie_word_embeddings=True, **ids)


ARCHITECTURES = {
    ("rmsnorm", "rotary", "pre"): Architecture(
        "llama", _swiglu_mlp, _llama_config,
        layer_params=lambda s, f: 4 * s.width**2 + 3 * s.width * f + 2 * s.width,
        final_params=lambda s: s.width, position_params=lambda s: 0),
    ("layernorm", "rotary", "pre"): Architecture(
        "gpt_neox", _gelu_mlp, _neox_config,
        layer_params=lambda s, f: 4 * s.width**2 + 4 * s.width + 2 * s.width * f + f + s.width + 4 * s.width,
        final_params=lambda s: 2 * s.width, position_params=lambda s: 0),
    ("layernorm", "learned", "pre"): Architecture(
        "gpt2", _gelu_mlp, _gpt2_config,
        layer_params=lambda s, f: 4 * s.width**2 + 4 * s.width + 2 * s.width * f + f + s.width + 4 * s.width,
        final_params=lambda s: 2 * s.width, position_params=lambda s: s.context * s.width),
    ("layernorm", "learned", "post"): Architecture(
        "opt", _gelu_mlp, _opt_config,
        layer_params=lambda s, f: 4 * s.width**2 + 4 * s.width + 2 * s.width * f + f + s.width + 4 * s.width,
        final_params=lambda s: 0, position_params=lambda s: (s.context + 2) * s.width),  # OPT offsets positions by 2
}


def architecture(norm: str, positions: str, placement: str) -> Architecture | None:
    return ARCHITECTURES.get((norm, positions, placement))


def supported() -> str:
    return "; ".join(f"{n} + {p} positions + {pl}-norm ({a.model_type})" for (n, p, pl), a in ARCHITECTURES.items())


def padded_vocab(tokens: int) -> int:
    return round_up(tokens)


def param_counts(arch: Architecture, shape: Shape) -> dict:
    """{"total", "non_embedding", "embedding"} in closed form (output layer tied to the embedding)."""
    per_layer = arch.layer_params(shape, arch.mlp_size(shape))
    non_embedding = shape.depth * per_layer + arch.final_params(shape)
    embedding = shape.vocab_size * shape.width + arch.position_params(shape)
    return {"total": non_embedding + embedding, "non_embedding": non_embedding, "embedding": embedding}


def build_model(arch: Architecture, shape: Shape, ids: dict):
    """A freshly initialised model (torch imported here, not at module level)."""
    from transformers import AutoModelForCausalLM

    config = arch.config(shape, ids)
    return AutoModelForCausalLM.from_config(config)
