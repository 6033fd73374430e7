"""Write a Hugging Face Llama-family model as one GGUF file, for llama.cpp and Ollama.

The `gguf` package writes the container (GGUFWriter) and quantizes blocks (gguf.quants Q8_0, Q4_0) but
has no Hugging Face converter, so this file holds what llama.cpp's convert_hf_to_gguf.py knows for
Llama: the tensor names, the Q/K row order its rotary embedding expects, and the hyper-parameter keys.
Types: f16 (every matrix in half precision), q8_0 and q4_0 (blocks of 32 weights sharing one fp16
scale: 8.5 and 4.5 bits a weight). Norm weights stay f32 as in llama.cpp; a matrix whose rows are not a
multiple of 32 long cannot be blocked and stays f16; under q4_0 the embedding and the output layer stay
q8_0 (the layer most sensitive to rounding -- llama.cpp's own q4_0 keeps it at 6 bits or more).
"""
import re
from pathlib import Path

from lab.errors import LabError

ARCHITECTURES = {"LlamaForCausalLM": "llama"}  # Hugging Face class -> llama.cpp architecture
GGUF_TYPES = ("f16", "q8_0", "q4_0")
BLOCK = 32  # weights per Q8_0 / Q4_0 block

_LAYER = {  # model.layers.N.<hf> -> blk.N.<gguf>
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
}
_TOP = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}
_LAYER_NAME = re.compile(r"^model\.layers\.(\d+)\.(.+)\.weight$")


def gguf_tensor_name(hf_name: str) -> str:
    """llama.cpp's name for a Hugging Face Llama weight ("model.layers.3.mlp.up_proj.weight" -> "blk.3.ffn_up.weight")."""
    match = _LAYER_NAME.match(hf_name)
    if match and match.group(2) in _LAYER:
        return f"blk.{match.group(1)}.{_LAYER[match.group(2)]}.weight"
    stem = hf_name.removesuffix(".weight")
    if hf_name.endswith(".weight") and stem in _TOP:
        return f"{_TOP[stem]}.weight"
    raise LabError("gguf_unknown_tensor", tensor=hf_name)


def permute_qk(weight, heads: int):
    """Reorder q_proj / k_proj rows from Hugging Face's rotary layout to llama.cpp's.

    Both rotate pairs of query/key dimensions by a position-dependent angle (RoPE, Su et al. 2021,
    arXiv:2104.09864). Hugging Face pairs dimension i of a head with i + head_dim/2 ("rotate_half");
    llama.cpp pairs 2i with 2i+1, as Meta's original checkpoints did. So within each head the rows go
    0, h, 1, h+1, ... (h = head_dim/2). k_proj has one head per KV group (grouped-query attention).
    """
    import numpy as np

    head_dim = weight.shape[0] // heads
    half = head_dim // 2
    within = np.arange(head_dim).reshape(2, half).T.reshape(-1)  # 0, h, 1, h+1, ...
    rows = (np.arange(heads)[:, None] * head_dim + within).reshape(-1)
    return weight[rows]


def check_architecture(config, class_name: str = "") -> str:
    """The llama.cpp architecture name, or LabError naming what this writer does not know.
    class_name: the loaded model's class, for a model built from a config (no `architectures` until saved)."""
    names = list(getattr(config, "architectures", None) or [class_name or str(config.model_type)])
    known = [ARCHITECTURES[n] for n in names if n in ARCHITECTURES]
    if not known:
        raise LabError("gguf_unknown_architecture", architecture=", ".join(names),
                       known=", ".join(ARCHITECTURES))
    rope = getattr(config, "rope_parameters", None) or {}
    unsupported = {"attention_bias": bool(getattr(config, "attention_bias", False)),
                   "mlp_bias": bool(getattr(config, "mlp_bias", False)),
                   f"hidden_act={config.hidden_act}": config.hidden_act != "silu",
                   f"rope_type={rope.get('rope_type')}": rope.get("rope_type", "default") != "default"}
    for feature, present in unsupported.items():
        if present:  # a file without it would load and run, but compute something else
            raise LabError("gguf_llama_feature", feature=feature)
    return known[0]


def write_hyper_parameters(writer, config) -> None:
    """The llama.* keys llama.cpp (and transformers' GGUF loader) read back into a config."""
    rope = getattr(config, "rope_parameters", None) or {}
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(heads)
    writer.add_head_count_kv(config.num_key_value_heads or heads)
    writer.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))))
    writer.add_rope_dimension_count(head_dim)
    if head_dim * heads != config.hidden_size:  # llama.cpp assumes hidden/heads otherwise
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_vocab_size(config.vocab_size)


def _encode(name: str, weight, gguf_type: str):
    """(array, raw GGML type or None, type label) for one float32 tensor."""
    import numpy as np
    from gguf import GGMLQuantizationType, quants

    if weight.ndim == 1:
        return weight.astype(np.float32), None, "f32"
    wanted = gguf_type
    if gguf_type == "q4_0" and name in ("token_embd.weight", "output.weight"):
        wanted = "q8_0"
    if wanted == "f16" or weight.shape[-1] % BLOCK:
        return weight.astype(np.float16), None, "f16"
    qtype = GGMLQuantizationType.Q8_0 if wanted == "q8_0" else GGMLQuantizationType.Q4_0
    return quants.quantize(weight, qtype), qtype, wanted


def write_gguf(model, tokenizer, path, gguf_type: str = "f16", name: str = "", progress=None) -> dict:
    """Write `model` (a transformers Llama) and its tokenizer to `path`; returns figures for the result."""
    import gguf
    import torch

    from lab.export.gguf_vocab import add_vocab, vocab_metadata

    if gguf_type not in GGUF_TYPES:
        raise LabError("gguf_unknown_type", type=gguf_type, choices=", ".join(GGUF_TYPES))
    config = model.config
    arch = check_architecture(config, type(model).__name__)
    vocab = vocab_metadata(tokenizer, config.vocab_size)
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads or config.num_attention_heads
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(name or path.stem)
    writer.add_file_type({"f16": gguf.LlamaFileType.MOSTLY_F16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
                          "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0}[gguf_type])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    write_hyper_parameters(writer, config)
    add_vocab(writer, vocab)
    state = model.state_dict()
    if getattr(config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)  # no output.weight: llama.cpp (and transformers) reuse token_embd
    counts: dict[str, int] = {}
    for done, (hf_name, tensor) in enumerate(state.items()):
        weight = tensor.detach().to(torch.float32).cpu().numpy()
        target = gguf_tensor_name(hf_name)
        if hf_name.endswith("self_attn.q_proj.weight"):
            weight = permute_qk(weight, heads)
        elif hf_name.endswith("self_attn.k_proj.weight"):
            weight = permute_qk(weight, kv_heads)
        data, raw, label = _encode(target, weight, gguf_type)
        writer.add_tensor(target, data, raw_dtype=raw)
        counts[label] = counts.get(label, 0) + 1
        if progress:
            progress(done + 1, len(state))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"gguf_file": str(path), "gguf_type": gguf_type, "gguf_mb": round(path.stat().st_size / 2**20, 2),
            "gguf_tensors": counts, "gguf_pre_tokenizer": vocab["pre"], "gguf_note": vocab["note"]}
