"""Batched text generation with the KV cache, shared by every tab that asks a model something.

    results = generate(model, tokenizer, ["What is 2+2?"], max_new_tokens=32, use_chat_template=True)
    results[0].text, results[0].finish_reason, results.tokens_per_second

Prompts are sorted by length and padded on the left, so each batch wastes little on padding and
every row's next token sits at the same position. Each row stops on its own: at an end-of-sequence
token ("eos"), at a stop string ("stop", the text is cut before it) or at max_new_tokens ("length").

Sampling draws each row's tokens from its own random generator, seeded from (seed, prompt index):
a prompt gets the same sample whatever else shares its batch, and the batch size does not change
results (up to float rounding between padded and unpadded rows).
"""
import time
from dataclasses import dataclass
from typing import Callable, Optional

from lab.errors import LabError


@dataclass
class GenerationResult:
    prompt: str
    text: str  # the continuation only, special tokens removed, cut before a stop string
    new_tokens: int  # tokens generated, counting the final eos token or the token that completed a stop string
    finish_reason: str  # "eos" | "stop" | "length"
    token_logprobs: Optional[list[float]] = None  # log p(token) under the model's raw distribution (no temperature)


class Generations(list):
    """A list of GenerationResult that also carries the run's speed."""

    wall_seconds: float = 0.0

    @property
    def new_tokens(self) -> int:
        return sum(r.new_tokens for r in self)

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.wall_seconds if self.wall_seconds > 0 else 0.0


def format_prompt(tokenizer, prompt: str, use_chat_template: bool) -> tuple[str, bool]:
    """The text to tokenize and whether to add special tokens (a chat template already has them)."""
    if use_chat_template and getattr(tokenizer, "chat_template", None):
        return format_chat(tokenizer, [{"role": "user", "content": prompt}])
    return prompt, True


def format_chat(tokenizer, messages: list[dict]) -> tuple[str, bool]:
    """A conversation ([{"role": "system"|"user"|"assistant", "content": ...}]) as the text that asks for
    the next assistant turn, and whether to add special tokens. The tokenizer's chat template where it has
    one (a template that refuses a system turn gets it folded into the first user turn); otherwise plain
    "role: text" lines ending with "assistant:"."""
    if getattr(tokenizer, "chat_template", None):
        try:
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True), False
        except Exception:  # noqa: BLE001 -- a template's own check (jinja raise_exception), e.g. "no system role"
            if not messages or messages[0]["role"] != "system" or len(messages) < 2:
                raise
            system, first, rest = messages[0], messages[1], messages[2:]
            folded = [{"role": first["role"], "content": f"{system['content']}\n\n{first['content']}"}, *rest]
            return tokenizer.apply_chat_template(folded, tokenize=False, add_generation_prompt=True), False
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n".join(lines + ["assistant:"]), True


def generate(model, tokenizer, prompts: list[str], max_new_tokens: int = 64, do_sample: bool = False,
             temperature: float = 1.0, top_p: float = 1.0, top_k: int = 0, seed: int = 0, batch_size: int = 8,
             stop: Optional[list[str]] = None, use_chat_template: bool = False, return_logprobs: bool = False,
             on_batch: Optional[Callable[[int, int], None]] = None,
             add_special_tokens: Optional[bool] = None, share_prefix: bool = False) -> Generations:
    """Continue each prompt; results come back in the order of `prompts`.

    do_sample=False is greedy decoding. With do_sample=True, temperature divides the logits, top_k keeps
    the k likeliest tokens (0 = all) and top_p the smallest set holding that much probability (1.0 = all).
    on_batch(done, total) is called after each batch with the number of prompts finished so far.
    add_special_tokens=False sends prompts exactly as given (text already rendered by a chat template);
    None decides from use_chat_template and the tokenizer.
    share_prefix=True runs the tokens every prompt starts with (few-shot exemplars, a system prompt) once,
    and gives each batch a copy of their KV cache: the same results (up to float rounding), less prefill.
    """
    import torch

    if do_sample and temperature <= 0:
        raise LabError("bad_temperature", temperature=temperature)
    stop = [s for s in (stop or []) if s]
    texts, add_special = zip(*(format_prompt(tokenizer, p, use_chat_template) for p in prompts)) if prompts else ((), ())
    if add_special_tokens is not None:
        add_special = (add_special_tokens,) * len(prompts)
    ids = [tokenizer(t, add_special_tokens=a)["input_ids"] for t, a in zip(texts, add_special)]
    lengths = [len(row) for row in ids]
    order = sorted(range(len(prompts)), key=lambda i: lengths[i])  # similar lengths share a batch: less padding
    results: list[Optional[GenerationResult]] = [None] * len(prompts)
    device = next(model.parameters()).device
    started = time.time()
    shared = _common_prefix(ids) if share_prefix else 0
    prefix_cache = _prefix_cache(model, ids[0][:shared], device) if shared else None
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        torch.manual_seed(seed)
        cache = None
        if prefix_cache is not None:
            encoded, cache = _with_prefix(tokenizer, [ids[i] for i in rows], shared, prefix_cache, device)
        else:  # add_special is the same for every prompt: it depends only on use_chat_template and the tokenizer
            encoded = _pad_left(tokenizer, [texts[i] for i in rows], add_special[rows[0]], device)
        outputs = _generate_batch(model, tokenizer, encoded, rows, max_new_tokens, do_sample, temperature,
                                  top_p, top_k, seed, stop, return_logprobs, cache)
        for i, result in zip(rows, outputs):
            result.prompt = prompts[i]
            results[i] = result
        if on_batch is not None:
            on_batch(min(start + batch_size, len(order)), len(order))
    generations = Generations(results)
    generations.wall_seconds = time.time() - started
    return generations


MIN_SHARED_PREFIX = 16  # tokens: a shorter common start is not worth a separate forward pass


def _common_prefix(ids: list[list[int]]) -> int:
    """Tokens every prompt starts with, leaving each at least one token of its own (0 if under the minimum)."""
    from lab.modeling.scoring import common_prefix

    if not ids:
        return 0
    length = min(common_prefix(ids), min(len(row) for row in ids) - 1)
    return length if length >= MIN_SHARED_PREFIX else 0


def _prefix_cache(model, prefix: list[int], device):
    import torch

    with torch.inference_mode():
        return model(input_ids=torch.tensor([prefix], device=device), use_cache=True).past_key_values


def _with_prefix(tokenizer, rows: list[list[int]], shared: int, prefix_cache, device):
    """Inputs [shared prefix | left padding | own tokens] and a copy of the prefix's cache for each row.

    The padding sits between the prefix and each prompt's own tokens, masked out; generate() derives the
    positions from the mask, so every row's own tokens continue right after the prefix."""
    import copy

    import torch

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    width = max(len(r) for r in rows) - shared
    input_ids, mask = [], []
    for row in rows:
        own = row[shared:]
        input_ids.append(row[:shared] + [pad] * (width - len(own)) + own)
        mask.append([1] * shared + [0] * (width - len(own)) + [1] * len(own))
    with torch.inference_mode():
        cache = copy.deepcopy(prefix_cache)
        cache.batch_repeat_interleave(len(rows))
    encoded = {"input_ids": torch.tensor(input_ids, device=device), "attention_mask": torch.tensor(mask, device=device)}
    return encoded, cache


def _pad_left(tokenizer, texts: list[str], add_special: bool, device):
    saved = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        return tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=add_special).to(device)
    finally:
        tokenizer.padding_side = saved


def _eos_ids(model, tokenizer) -> set[int]:
    ids = model.generation_config.eos_token_id
    ids = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def _generate_batch(model, tokenizer, encoded, rows, max_new_tokens, do_sample, temperature, top_p, top_k,
                    seed, stop, return_logprobs, past_key_values=None) -> list[GenerationResult]:
    import copy

    import torch
    from transformers import LogitsProcessorList, StoppingCriteriaList

    from lab.modeling.sampling import SeededSampler, StopStrings

    prompt_length = encoded["input_ids"].shape[1]
    config = copy.deepcopy(model.generation_config)
    # Our SeededSampler does the sampling (per-row generators); generate() then just takes its one choice.
    config.update(do_sample=False, temperature=None, top_p=None, top_k=None, max_new_tokens=max_new_tokens,
                  max_length=None, return_dict_in_generate=True, output_logits=return_logprobs)
    if config.pad_token_id is None:
        config.pad_token_id = tokenizer.pad_token_id
    processors = LogitsProcessorList()
    if do_sample:
        processors.append(SeededSampler([seed * 1_000_003 + i for i in rows], temperature, top_p, top_k))
    stop_criteria = StopStrings(tokenizer, stop, prompt_length, len(rows)) if stop else None
    with torch.inference_mode():
        if past_key_values is not None:  # the shared prefix, already run: generate() starts after it
            encoded = {**encoded, "past_key_values": past_key_values}
        out = model.generate(**encoded, generation_config=config, logits_processor=processors,
                             stopping_criteria=StoppingCriteriaList([stop_criteria] if stop_criteria else []))
    new = out.sequences[:, prompt_length:]
    logprobs = None
    if return_logprobs:
        logits = torch.stack(out.logits, dim=1).float()  # (batch, steps, vocab), raw: before temperature etc.
        logprobs = torch.log_softmax(logits, dim=-1).gather(-1, new[:, :logits.shape[1], None]).squeeze(-1)
    eos = _eos_ids(model, tokenizer)
    results = []
    for row in range(new.shape[0]):
        tokens = new[row].tolist()
        stopped_at = stop_criteria.stopped_at[row] if stop_criteria else None
        end, reason = len(tokens), "length"
        first_eos = next((k for k, tok in enumerate(tokens) if tok in eos), None)
        if first_eos is not None and (stopped_at is None or first_eos < stopped_at):
            end, reason = first_eos + 1, "eos"
        elif stopped_at is not None:
            end, reason = stopped_at, "stop"
        text = tokenizer.decode(tokens[:end], skip_special_tokens=True)
        if stop:
            cut = min((text.find(s) for s in stop if s in text), default=-1)
            if cut >= 0:
                text, reason = text[:cut], "stop"
        row_logprobs = [round(x, 6) for x in logprobs[row, :end].tolist()] if logprobs is not None else None
        results.append(GenerationResult("", text, end, reason, row_logprobs))
    return results
