"""Scoring text with a model: perplexity, and multiple-choice answers by log-likelihood.

    perplexity(model, tokenizer, ["some text", ...])         -> {"perplexity": 12.3, "nll_per_token": 2.51, "tokens": 812}
    score_choices(model, tokenizer, ["Q: 2+2? A:"], [[" 3", " 4"]])[0].pick  -> 1

Both run the model once per (batched) sequence and read log-softmax probabilities of the tokens that
are actually in the text; nothing is generated. Sequences are padded on the right: with a causal model
the padding comes after every scored token, so it cannot change their probabilities.
"""
import math
from dataclasses import dataclass

from lab.errors import LabError

DEFAULT_WINDOW_CAP = 1024  # tokens: logits are window x vocab floats (8192 x 49152 x 4 B = 1.6 GB per row)


def _windows(ids: list[int], max_length: int, stride: int):
    """Sliding windows as in the Hugging Face perplexity guide: (window_ids, first_scored_position).

    Each window is max_length tokens long and starts `stride` after the previous one; only the tokens
    not scored by an earlier window are scored, each with up to max_length - 1 tokens of context.
    Token 0 of the text has no context and is never scored.
    """
    previous_end = 0
    for begin in range(0, len(ids), stride):
        end = min(begin + max_length, len(ids))
        new_tokens = end - previous_end
        window = ids[begin:end]
        yield window, max(1, len(window) - new_tokens)
        previous_end = end
        if end == len(ids):
            break


def _token_logprobs(model, sequences: list[list[int]], first_scored: list[int], pad_id: int, batch_size: int):
    """For each sequence, the log-probabilities of tokens first_scored..end given the tokens before them."""
    import torch

    device = next(model.parameters()).device
    results = []
    for start in range(0, len(sequences), batch_size):
        batch = sequences[start:start + batch_size]
        width = max(len(s) for s in batch)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, seq in enumerate(batch):
            input_ids[row, :len(seq)] = torch.tensor(seq)
            mask[row, :len(seq)] = 1
        with torch.inference_mode():
            logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits
        for row, seq in enumerate(batch):
            first = first_scored[start + row]
            # logits at position p predict token p + 1; slice before the float cast to keep memory small
            logprobs = torch.log_softmax(logits[row, first - 1:len(seq) - 1].float(), dim=-1)
            targets = input_ids[row, first:len(seq)].to(device)
            results.append(logprobs.gather(-1, targets[:, None]).squeeze(-1).cpu())
    return results


def _pad_id(tokenizer) -> int:
    for value in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if value is not None:
            return value


def perplexity(model, tokenizer, texts: list[str], max_length: int = None, stride: int = None,
               batch_size: int = 4) -> dict:
    """Perplexity of `texts` (pooled over all their tokens), with a sliding window for long texts.

    max_length: window in tokens; default the model's context length, capped at 1024 to bound memory.
    stride: how far the window moves; default max_length // 2, so every scored token keeps at least
    half a window of context. stride == max_length gives non-overlapping windows (faster, a bit higher).
    """
    from lab.modeling.models import context_length

    max_length = max_length or min(context_length(model) or DEFAULT_WINDOW_CAP, DEFAULT_WINDOW_CAP)
    stride = stride or max(1, max_length // 2)
    if max_length < 2 or not 1 <= stride <= max_length:
        raise LabError("bad_stride", stride=stride, max_length=max_length)
    sequences, first_scored = [], []
    for text in texts:
        ids = tokenizer(text)["input_ids"]  # with the tokenizer's usual special tokens (e.g. BOS)
        for window, first in _windows(ids, max_length, stride):
            if len(window) > first:
                sequences.append(window)
                first_scored.append(first)
    if not sequences:
        raise LabError("text_too_short")
    logprobs = _token_logprobs(model, sequences, first_scored, _pad_id(tokenizer), batch_size)
    tokens = sum(len(lp) for lp in logprobs)
    nll = -sum(float(lp.double().sum()) for lp in logprobs) / tokens
    squares = sum(float((lp.double() ** 2).sum()) for lp in logprobs) / tokens
    # standard error of the mean token NLL (tokens treated as independent: a lower bound on the noise),
    # and of the perplexity by the delta method: se(exp(m)) ~= exp(m) * se(m)
    nll_se = math.sqrt(max(squares - nll * nll, 0.0) / max(tokens - 1, 1))
    return {"perplexity": math.exp(nll), "nll_per_token": nll, "tokens": tokens, "windows": len(sequences),
            "max_length": max_length, "stride": stride, "nll_se": nll_se, "perplexity_se": math.exp(nll) * nll_se}


@dataclass
class ChoiceScores:
    """Log-likelihood of each choice given the context (natural log, higher is likelier)."""

    logprob: list[float]  # sum over the choice's tokens: favours short choices
    n_tokens: list[int]
    n_chars: list[int]
    logprob_per_token: list[float]  # sum / number of tokens
    logprob_per_char: list[float]  # sum / number of characters, like lm-eval's acc_norm: fair across tokenizers
    pick: int  # index of the best choice by raw sum
    pick_per_token: int
    pick_per_char: int  # "normalised" pick


def _argmax(values: list[float]) -> int:
    return max(range(len(values)), key=values.__getitem__)


def _split_pair(tokenizer, context: str, choice: str, max_length: int):
    """Token ids of context + choice and where the choice starts, as lm-eval does it.

    A trailing space of the context moves to the choice ("A:" + " Paris"), so the choice's first token
    carries its space as it would in running text. The choice tokens are those of the whole string past
    the context's tokens, so tokens merging across the boundary are still counted once.
    """
    stripped = context.rstrip(" ")
    choice = context[len(stripped):] + choice
    context_ids = tokenizer(stripped)["input_ids"]
    whole = tokenizer(stripped + choice)["input_ids"]
    n_choice = len(whole) - len(context_ids)
    if not context_ids:  # nothing to condition on: start from a BOS/EOS token
        start_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        whole = [start_id] + whole
    if n_choice < 1:
        raise LabError("empty_choice", choice=choice[:80])
    if n_choice >= max_length:
        raise LabError("choice_too_long", tokens=n_choice, max_length=max_length)
    whole = whole[-max_length:]  # a too long context loses its beginning
    return whole, len(whole) - n_choice


def common_prefix(sequences: list[list[int]]) -> int:
    """How many leading tokens every sequence shares (what a shared KV cache can run once)."""
    common = min(len(s) for s in sequences)
    for k in range(common):
        if any(s[k] != sequences[0][k] for s in sequences):
            return k
    return common


def _shared_context_logprobs(model, groups: list[tuple[list, list]], pad_id: int, batch_size: int):
    """Like _token_logprobs, but shared tokens run once and the rest reuse the KV cache.

    groups[q] = (sequences, first_scored) of question q's choices. For up to `batch_size` questions at
    a time, three stages extend one cache: (1) the tokens every sequence of the chunk shares (few-shot
    exemplars) run once; (2) each question's own context runs once, less its last token, which is
    re-run with each choice; (3) the cache is repeated per choice and only the choices' tokens run.
    Position ids are passed explicitly, so right-padded contexts of different lengths keep every
    token at its true position (results match the unshared path up to float rounding; see
    tests/test_evaluate_scoring.py).
    """
    import torch

    device = next(model.parameters()).device
    results = []
    for start in range(0, len(groups), batch_size):
        chunk = groups[start:start + batch_size]
        # tokens shared by a question's choices; >= 1 token of each choice's input is left to run with it
        shared = [max(0, min(common_prefix(seqs), min(firsts)) - 1) for seqs, firsts in chunk]
        common = min(min(shared), common_prefix([seqs[0] for seqs, _ in chunk]))
        cache, mask = None, torch.zeros((1, 0), dtype=torch.long)

        def extend(ids, step_mask, positions, rows_of):  # run one stage on top of the cache so far
            nonlocal cache, mask
            if cache is not None:
                cache.batch_select_indices(torch.tensor(rows_of, device=device))
            mask = torch.cat([mask[rows_of], step_mask], dim=1)
            out = model(input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device),
                        past_key_values=cache, use_cache=True)
            cache = out.past_key_values
            return out.logits

        with torch.inference_mode():
            if common > 0:  # stage 1
                ids = torch.tensor([chunk[0][0][0][:common]], dtype=torch.long)
                extend(ids, torch.ones_like(ids), torch.arange(common)[None], [0])
            if max(shared) > common:  # stage 2
                width = max(shared) - common
                ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
                step_mask = torch.zeros_like(ids)
                for q, ((seqs, _), length) in enumerate(zip(chunk, shared)):
                    ids[q, :length - common] = torch.tensor(seqs[0][common:length], dtype=torch.long)
                    step_mask[q, :length - common] = 1
                extend(ids, step_mask, common + torch.arange(width)[None].expand(len(chunk), -1), [0] * len(chunk))
            rows = [(q, seq, first) for q, (seqs, firsts) in enumerate(chunk) for seq, first in zip(seqs, firsts)]
            width = max(len(seq) - shared[q] for q, seq, _ in rows)
            ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
            step_mask = torch.zeros_like(ids)
            positions = torch.zeros_like(ids)
            for r, (q, seq, _) in enumerate(rows):  # stage 3
                tail = seq[shared[q]:]
                ids[r, :len(tail)] = torch.tensor(tail, dtype=torch.long)
                step_mask[r, :len(tail)] = 1
                positions[r] = shared[q] + torch.arange(width)
            owners = [q for q, _, _ in rows] if mask.shape[0] > 1 else [0] * len(rows)
            logits = extend(ids, step_mask, positions, owners)
        for r, (q, seq, first) in enumerate(rows):
            offset = shared[q]
            logprobs = torch.log_softmax(logits[r, first - 1 - offset:len(seq) - 1 - offset].float(), dim=-1)
            targets = ids[r, first - offset:len(seq) - offset].to(device)
            results.append(logprobs.gather(-1, targets[:, None]).squeeze(-1).cpu())
    return results


def score_choices(model, tokenizer, contexts: list[str], choices: list[list[str]], batch_size: int = 8,
                  max_length: int = None, share_context: bool = False) -> list[ChoiceScores]:
    """Score every choice of every question by its log-likelihood after the context.

    contexts[i] is the question (with any few-shot examples); choices[i] its candidate answers.
    share_context: run each context once and score its choices from the KV cache (batch_size then
    counts questions): k times fewer context tokens for k choices, the same scores up to rounding.
    """
    from lab.modeling.models import context_length

    if len(contexts) != len(choices):
        raise LabError("choices_mismatch", contexts=len(contexts), choices=len(choices))
    max_length = max_length or min(context_length(model) or DEFAULT_WINDOW_CAP, DEFAULT_WINDOW_CAP)
    sequences, first_scored, groups = [], [], []
    for i, (context, options) in enumerate(zip(contexts, choices)):
        if not options:
            raise LabError("no_choices", index=i)
        group = ([], [])
        for option in options:
            ids, first = _split_pair(tokenizer, context, option, max_length)
            sequences.append(ids)
            first_scored.append(first)
            group[0].append(ids)
            group[1].append(first)
        groups.append(group)
    if share_context:
        logprobs = _shared_context_logprobs(model, groups, _pad_id(tokenizer), batch_size)
    else:
        logprobs = _token_logprobs(model, sequences, first_scored, _pad_id(tokenizer), batch_size)
    results, k = [], 0
    for i, options in enumerate(choices):
        sums = [float(lp.double().sum()) for lp in logprobs[k:k + len(options)]]
        n_tokens = [len(lp) for lp in logprobs[k:k + len(options)]]
        n_chars = [max(1, len(option)) for option in options]
        per_token = [s / n for s, n in zip(sums, n_tokens)]
        per_char = [s / n for s, n in zip(sums, n_chars)]
        results.append(ChoiceScores(sums, n_tokens, n_chars, per_token, per_char,
                                    _argmax(sums), _argmax(per_token), _argmax(per_char)))
        k += len(options)
    return results
