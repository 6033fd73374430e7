"""The steps both pre-training kinds share: tokenizer and corpus once, then build, train and
measure one model of a given width, depth and heads for a token budget, and save it as a normal
Hugging Face folder (model + tokenizer + lab_pretrain.json) that other tabs load by path.
"""
import json
from pathlib import Path

from lab.pretrain.architecture import Shape, architecture, padded_vocab, param_counts
from lab.pretrain.fields import TinyModelFields

INFO_FILE = "lab_pretrain.json"


def prepare(fields: TinyModelFields):
    """(tokenizer, corpus) for these settings; a BPE is trained on the training split only."""
    from lab.pretrain.data import build_corpus, train_text
    from lab.pretrain.tokenizer import build_tokenizer

    text = train_text() if fields.tokenizer == "bpe" else ""
    tokenizer = build_tokenizer(fields.tokenizer, fields.vocab_size, text)
    return tokenizer, build_corpus(tokenizer)


def shape_of(fields: TinyModelFields, width: int, depth: int, heads: int, vocab_tokens: int) -> Shape:
    return Shape(width=width, depth=depth, heads=heads, vocab_size=padded_vocab(vocab_tokens), context=fields.context,
                 mlp_ratio=fields.mlp_ratio)


def vocab_tokens(fields: TinyModelFields) -> int:
    """Tokens of the tokenizer these fields build (bytes + end-of-text, or the BPE size)."""
    return 257 if fields.tokenizer == "byte" else fields.vocab_size


def counts(fields: TinyModelFields, width: int, depth: int, heads: int) -> dict:
    """Parameter counts without building anything (the app sizes models with this)."""
    arch = architecture(fields.norm, fields.positions, fields.norm_placement)
    return param_counts(arch, shape_of(fields, width, depth, heads, vocab_tokens(fields)))


def train_one(fields: TinyModelFields, tokenizer, corpus, width: int, depth: int, heads: int, tokens: int, seed: int,
              progress=None):
    """Build a fresh model (seeded), train it on `tokens` tokens, return (model, figures)."""
    import torch

    from lab.pretrain.architecture import build_model
    from lab.pretrain.train import train_model

    arch = architecture(fields.norm, fields.positions, fields.norm_placement)
    shape = shape_of(fields, width, depth, heads, len(tokenizer))
    eos = tokenizer.eos_token_id
    torch.manual_seed(seed)
    model = build_model(arch, shape, {"bos_token_id": eos, "eos_token_id": eos, "pad_token_id": eos})
    settings = fields.train_settings(tokens, seed)
    figures = train_model(model, corpus, settings, progress=progress)
    sizes = param_counts(arch, shape)
    measured = sum(p.numel() for p in model.parameters())
    if measured != sizes["total"]:  # the closed form and the model must agree: N is the x axis of every plot
        raise RuntimeError(f"parameter count mismatch: model {measured}, formula {sizes['total']}")
    figures.update(model_type=arch.model_type, n_params=sizes["total"], n_params_non_embedding=sizes["non_embedding"],
                   width=width, depth=depth, heads=heads)
    return model, figures


def save(model, tokenizer, folder: Path, info: dict) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / INFO_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False), encoding="utf-8")
    return folder


def sample_text(model, tokenizer, prompt: str = "ROMEO.\n", new_tokens: int = 120, seed: int = 0) -> str:
    """A short sampled continuation (temperature 0.8), to see what the model learned."""
    import torch

    torch.manual_seed(seed)
    device = next(model.parameters()).device
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"].to(device)
    limit = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", 0)
    new_tokens = min(new_tokens, max(1, limit - ids.shape[1]))  # learned positions end at the context length
    model.eval()
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=new_tokens, do_sample=True, temperature=0.8, top_k=0,
                             pad_token_id=tokenizer.eos_token_id)
    return tokenizer.decode(out[0], skip_special_tokens=True)
