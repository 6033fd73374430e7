"""Tiny models for tests: built from a config in milliseconds, never downloaded.

    make_tiny_model_dir(path, arch="llama")   # random weights + a freshly trained tokenizer, saved as an HF folder
    trained_tiny_model_dir()                  # the same, trained ~50 steps so its logits are not flat (cached per session)

Every size is a multiple of 32 (bitsandbytes' CPU 4-bit kernels assert otherwise; see PLATFORM.md).
"""
import atexit
import functools
import shutil
import tempfile
from pathlib import Path

SENTENCES = [
    "The cat sat on the mat.", "The dog sat on the log.", "Paris is the capital of France.",
    "Rome is the capital of Italy.", "One plus one is two.", "Two plus two is four.",
    "The answer is 42.", "Question: what is the capital of France? Answer: Paris.",
    "A B C D E F G H", "the quick brown fox jumps over the lazy dog", "1 2 3 4 5 6 7 8 9 10",
]
REPEATED_TEXT = "the cat sat on the mat. the dog sat on the log. " * 8
VOCAB_SIZE = 320  # 256 bytes + 4 special tokens + 60 merges: a multiple of 32
CHAT_TEMPLATE = ("{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<s>assistant: {% endif %}")


def make_tokenizer():
    """A byte-level BPE tokenizer trained on SENTENCES, wrapped for transformers (0.1 s)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=["<pad>", "<s>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    raw.train_from_iterator(SENTENCES * 4 + [REPEATED_TEXT], trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>", unk_token="<unk>")
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def make_config(arch: str, tokenizer):
    from transformers import GPT2Config, LlamaConfig

    vocab = -(-len(tokenizer) // 32) * 32
    ids = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
               pad_token_id=tokenizer.pad_token_id, vocab_size=vocab)
    if arch == "llama":
        return LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                           num_key_value_heads=2, max_position_embeddings=128, tie_word_embeddings=False, **ids)
    if arch == "gpt2":
        return GPT2Config(n_embd=64, n_inner=128, n_layer=2, n_head=2, n_positions=128, **ids)
    raise ValueError(arch)


def make_tiny_model_dir(path, arch: str = "llama", seed: int = 0, train_steps: int = 0) -> Path:
    """Save a tiny random (or briefly trained) causal LM and its tokenizer to `path`; returns the path."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    tokenizer = make_tokenizer()
    model = AutoModelForCausalLM.from_config(make_config(arch, tokenizer), dtype=torch.float32)
    if train_steps:
        _train(model, tokenizer, train_steps)
    path = Path(path)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _train(model, tokenizer, steps: int) -> None:
    """A few AdamW steps on repetitive text so the model prefers some continuations (logits not flat)."""
    import torch

    ids = tokenizer(REPEATED_TEXT, return_tensors="pt")["input_ids"][:, :96]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


def _session_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="lab-tiny-"))
    atexit.register(shutil.rmtree, path, True)
    return path


@functools.lru_cache(maxsize=None)
def tiny_model_dir(arch: str = "llama") -> Path:
    """A random tiny model folder, built once per test session."""
    return make_tiny_model_dir(_session_dir() / f"random-{arch}", arch=arch)


@functools.lru_cache(maxsize=None)
def trained_tiny_model_dir(arch: str = "llama") -> Path:
    """A tiny model trained 50 steps on REPEATED_TEXT, built once per test session (~1-2 s)."""
    return make_tiny_model_dir(_session_dir() / f"trained-{arch}", arch=arch, train_steps=50)


def load_tiny(arch: str = "llama", trained: bool = True):
    """(model, tokenizer, info) for a tiny model in fp32, through the lab's own loader."""
    import torch

    from lab.modeling.models import load_model

    torch.set_num_threads(1)
    folder = trained_tiny_model_dir(arch) if trained else tiny_model_dir(arch)
    return load_model(str(folder), dtype="fp32")
