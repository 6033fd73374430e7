"""Training and held-out text for from-scratch models: the Shakespeare works in assets/data/shakespeare
(public domain, see its NOTICE), ~1.6 MB, i.e. ~1.6M byte tokens.

The last 5 % of every work (cut at a line break) is held out, so the held-out loss measures text
the model never trained on, in the same style. Training batches walk through non-overlapping
windows in a seeded random order and only repeat a window once all have been seen (an epoch).
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lab.present.i18n import ASSETS

DATA_DIR = ASSETS / "data" / "shakespeare"
HELD_OUT_SHARE = 0.05


def load_works(folder: Path = DATA_DIR) -> list[str]:
    return [path.read_text(encoding="utf-8") for path in sorted(Path(folder).glob("*.txt"))]


def split_work(text: str, share: float = HELD_OUT_SHARE) -> tuple[str, str]:
    cut = int(len(text) * (1 - share))
    line_break = text.rfind("\n", 0, cut)
    cut = line_break + 1 if line_break > 0 else cut
    return text[:cut], text[cut:]


@dataclass
class Corpus:
    train: np.ndarray  # token ids, int64
    held_out: np.ndarray
    train_text: str  # what a BPE tokenizer is trained on


def train_text(folder: Path = DATA_DIR) -> str:
    return "".join(split_work(work)[0] for work in load_works(folder))


def build_corpus(tokenizer, folder: Path = DATA_DIR) -> Corpus:
    """Encode every work's two parts, works separated by the end-of-text token."""
    eos = tokenizer.eos_token_id
    train, held_out = [], []
    for work in load_works(folder):
        head, tail = split_work(work)
        train.extend(tokenizer(head, add_special_tokens=False)["input_ids"] + [eos])
        held_out.extend(tokenizer(tail, add_special_tokens=False)["input_ids"] + [eos])
    return Corpus(np.array(train, dtype=np.int64), np.array(held_out, dtype=np.int64), train_text(folder))


class WindowSampler:
    """Batches of (context + 1)-token windows: inputs are the first `context`, targets the last."""

    def __init__(self, tokens: np.ndarray, context: int, batch_size: int, seed: int):
        self.tokens, self.context, self.batch_size = tokens, context, batch_size
        self.rng = np.random.default_rng(seed)
        self.count = (len(tokens) - 1) // context
        if self.count < 1:
            raise ValueError("corpus shorter than one window")
        self.order, self.position, self.epochs = self.rng.permutation(self.count), 0, 0

    def next_batch(self) -> np.ndarray:
        rows = []
        for _ in range(self.batch_size):
            if self.position == self.count:
                self.order, self.position = self.rng.permutation(self.count), 0
                self.epochs += 1
            start = self.order[self.position] * self.context
            rows.append(self.tokens[start:start + self.context + 1])
            self.position += 1
        return np.stack(rows)


def eval_windows(tokens: np.ndarray, context: int, max_tokens: int) -> np.ndarray:
    """Consecutive non-overlapping windows from the start of the held-out stream, up to max_tokens
    predicted tokens: the same for every model, so losses compare point for point."""
    count = min((len(tokens) - 1) // context, max(1, max_tokens // context))
    return np.stack([tokens[i * context:i * context + context + 1] for i in range(count)])
