"""The tokenizer as GGUF metadata: llama.cpp rebuilds it from these keys (a GGUF has no tokenizer.json).

Only byte-level BPE ("gpt2" in llama.cpp's words) is written: the vocabulary in the byte alphabet
("Ġthe"), the merges as "a b" strings, one type per token (CONTROL for special tokens, USER_DEFINED for
other added tokens), the special ids and the chat template. `tokenizer.ggml.pre` names how text is
split before the merges; llama.cpp keeps one regex per name, so it is read off the tokenizer's own
pre-tokenizer for the shapes we recognise, and "default" (with a note) otherwise.
"""
import json

from lab.errors import LabError

NORMAL, CONTROL, USER_DEFINED, UNUSED = 1, 3, 4, 5  # gguf.TokenType values

# llama.cpp's pre-tokenizer names for the splitting regexes transformers' byte-level tokenizers use.
_LLAMA3_HEAD = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"


def pre_tokenizer_name(pre: dict | None) -> str | None:
    """llama.cpp's name for this pre-tokenizer (tokenizer.json's "pre_tokenizer"), None when unknown."""
    if not pre:
        return None
    if pre.get("type") == "ByteLevel" and pre.get("use_regex", True):
        return "gpt2"  # GPT-2's own regex inside ByteLevel
    steps = pre.get("pretokenizers") if pre.get("type") == "Sequence" else None
    if not steps:
        return None
    kinds = [s.get("type") for s in steps]
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits") and steps[1].get("use_regex", True):
        return "smollm"  # one digit per token, then GPT-2's regex (SmolLM's tokenizer)
    if kinds == ["Split", "ByteLevel"] and not steps[1].get("use_regex", True):
        regex = (steps[0].get("pattern") or {}).get("Regex", "")
        if regex.startswith(_LLAMA3_HEAD):
            return "llama-bpe"  # Llama 3's regex
    return None


def vocab_metadata(tokenizer, vocab_size: int) -> dict:
    """{"tokens", "token_types", "merges", "pre", "bos"/"eos"/"pad"/"unk" ids, "add_bos", "chat_template",
    "note"} for a fast byte-level BPE tokenizer, padded to the model's `vocab_size` rows."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    state = json.loads(backend.to_str()) if backend is not None else {}
    model = state.get("model") or {}
    if model.get("type") != "BPE" or not _byte_level(state):
        raise LabError("gguf_tokenizer_unsupported", kind=model.get("type") or type(tokenizer).__name__)
    vocab = tokenizer.get_vocab()  # added tokens included
    by_id = {index: token for token, index in vocab.items()}
    if max(by_id) >= vocab_size:
        raise LabError("gguf_vocab_too_large", tokens=max(by_id) + 1, rows=vocab_size)
    added = {t["id"]: t for t in state.get("added_tokens", [])}
    tokens, types = [], []
    for index in range(vocab_size):
        if index not in by_id:  # embedding rows past the tokenizer (padded to a multiple of 32 or 64)
            tokens.append(f"[PAD{index}]")
            types.append(UNUSED)
        else:
            tokens.append(by_id[index])
            types.append((CONTROL if added[index].get("special") else USER_DEFINED) if index in added else NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    pre = pre_tokenizer_name(state.get("pre_tokenizer"))
    return {
        "tokens": tokens, "token_types": types, "merges": merges, "pre": pre or "default",
        "bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id, "pad": tokenizer.pad_token_id,
        "unk": tokenizer.unk_token_id, "add_bos": bool(getattr(tokenizer, "add_bos_token", False)),
        "chat_template": tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else None,
        "note": None if pre else "unrecognised pre-tokenizer: llama.cpp will split text with its default regex",
    }


def _byte_level(state: dict) -> bool:
    """True when the tokenizer decodes bytes (GPT-2 style), the only BPE flavour llama.cpp calls "gpt2"."""
    return (state.get("decoder") or {}).get("type") == "ByteLevel" or "ByteLevel" in json.dumps(state.get("pre_tokenizer"))


def add_vocab(writer, meta: dict) -> None:
    """Write the tokenizer keys into a gguf.GGUFWriter."""
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(meta["pre"])
    writer.add_token_list(meta["tokens"])
    writer.add_token_types(meta["token_types"])
    writer.add_token_merges(meta["merges"])
    for key, add in (("bos", writer.add_bos_token_id), ("eos", writer.add_eos_token_id),
                     ("pad", writer.add_pad_token_id), ("unk", writer.add_unk_token_id)):
        if meta[key] is not None:
            add(meta[key])
    writer.add_add_bos_token(meta["add_bos"])
    if meta["chat_template"]:
        writer.add_chat_template(meta["chat_template"])
