"""The text and the small task every scheme (and every pruned model) is measured on, the same for all.

- held-out text: the last 5 % of every Shakespeare work, which the lab's default model never trained
  on (lab/pretrain/data.py splits it), for perplexity — or the user's own text;
- calibration text: a slice of the training part, for Wanda's activation norms and the outlier view;
- a continuation-choice task: a passage of held-out text and four candidate continuations of the
  same length (16 characters: longer ones drown the signal of the first few in noise), one of them the
  real one; the model "answers" by log-likelihood (lab/modeling/scoring.py).
  Chance is 25 %; it works for any language model, including the byte-level default.
"""
import random
from dataclasses import dataclass

from lab.pretrain.data import load_works, split_work


@dataclass
class EvalData:
    eval_texts: list  # perplexity
    calibration_texts: list  # Wanda, activation outliers
    contexts: list  # continuation task
    choices: list
    answers: list  # index of the real continuation


def held_out_text() -> str:
    return "\n".join(split_work(work)[1] for work in load_works())


def training_text() -> str:
    return "\n".join(split_work(work)[0] for work in load_works())


def _chunks(text: str, size: int, limit: int) -> list:
    text = text[:limit]
    return [text[i:i + size] for i in range(0, len(text), size) if text[i:i + size].strip()]


def continuation_task(text: str, questions: int, seed: int, context_chars: int = 100, answer_chars: int = 16,
                      n_choices: int = 4):
    rng = random.Random(seed)
    span = len(text) - context_chars - answer_chars
    if questions <= 0 or span < n_choices * answer_chars:
        return [], [], []
    contexts, choices, answers = [], [], []
    for _ in range(questions):
        start = rng.randrange(context_chars, context_chars + span)
        real = text[start:start + answer_chars]
        options = [real]
        while len(options) < n_choices:
            other = rng.randrange(context_chars, context_chars + span)
            if abs(other - start) > answer_chars:
                options.append(text[other:other + answer_chars])
        rng.shuffle(options)
        contexts.append(text[start - context_chars:start])
        choices.append(options)
        answers.append(options.index(real))
    return contexts, choices, answers


def build(eval_chars: int, calibration_chars: int, questions: int, seed: int, user_text: str = "",
          window_chars: int = 2048) -> EvalData:
    """Eval texts in windows of window_chars (perplexity slides inside each), calibration in 512-char pieces."""
    held_out = user_text or held_out_text()
    contexts, choices, answers = continuation_task(held_out, questions, seed)
    return EvalData(_chunks(held_out, window_chars, eval_chars), _chunks(training_text(), 512, calibration_chars),
                    contexts, choices, answers)


def calibration_batches(tokenizer, texts: list, window: int) -> list:
    """The calibration texts as input_ids tensors of `window` tokens each (1, window), no padding: joined,
    tokenized once and cut (what GPTQ and SmoothQuant run the model on)."""
    import torch

    ids = tokenizer("\n".join(texts), add_special_tokens=False)["input_ids"]
    chunks = [ids[i:i + window] for i in range(0, len(ids), window)]
    chunks = [c for c in chunks if len(c) == window] or chunks[:1]
    return [torch.tensor([chunk]) for chunk in chunks if chunk]


def accuracy(model, tokenizer, data: EvalData, batch_size: int = 8):
    """Share of questions whose real continuation is the likeliest (per character), or None without questions."""
    from lab.modeling.scoring import score_choices

    if not data.contexts:
        return None
    scores = score_choices(model, tokenizer, data.contexts, data.choices, batch_size=batch_size)
    return sum(s.pick_per_char == a for s, a in zip(scores, data.answers)) / len(scores)
