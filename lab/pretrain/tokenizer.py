"""The small tokenizers of the lab's pre-trained models: plain bytes, or a BPE the lab trains itself.

With SmolLM2's 49k vocabulary a 64-wide model would hold 3M embedding weights and ~50k others: the
embedding would be the model. Bytes (256 symbols) or a BPE of a few thousand merges keep it small.
Both are saved as standard Hugging Face tokenizer files next to the model.

    tokenizer = build_tokenizer("byte")                 # 256 bytes + <|endoftext|>
    tokenizer = build_tokenizer("bpe", 2048, text)      # byte-level BPE trained on `text` (~1 s per MB)
"""
EOS = "<|endoftext|>"
TOKENIZERS = ("byte", "bpe")


def build_tokenizer(kind: str, vocab_size: int = 256, text: str = ""):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=kind == "bpe")
    if kind == "byte":
        alphabet = sorted(pre_tokenizers.ByteLevel.alphabet(), key=_byte_value)
        raw = Tokenizer(models.BPE(vocab={symbol: i for i, symbol in enumerate(alphabet)}, merges=[]))
        raw.add_special_tokens([EOS])
    else:
        raw = Tokenizer(models.BPE())
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS], show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        raw.pre_tokenizer = byte_level
        raw.train_from_iterator(_chunks(text), trainer=trainer)
    raw.pre_tokenizer = byte_level
    raw.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=raw, bos_token=EOS, eos_token=EOS, pad_token=EOS, unk_token=None)


def _byte_value(symbol: str) -> int:
    """The byte a ByteLevel symbol stands for (GPT-2's printable remapping of 0..255)."""
    code = ord(symbol)
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    if code in printable:
        return code
    others = [b for b in range(256) if b not in printable]
    return others[code - 256]


def _chunks(text: str, size: int = 1 << 16):
    for start in range(0, len(text), size):
        yield text[start:start + size]
