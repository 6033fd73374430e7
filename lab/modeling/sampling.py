"""Two small plug-ins for transformers' generate(): per-row seeded sampling and stop strings.

Imported only inside job workers (it imports torch and transformers).
"""
import torch
from transformers import LogitsProcessor, StoppingCriteria


class SeededSampler(LogitsProcessor):
    """Sample each row's next token with its own torch.Generator, then hand generate() a one-hot choice.

    transformers samples the whole batch from the global generator, so a prompt's sample would depend on
    which other prompts share its batch. One generator per row (seeded from seed and the prompt's index)
    makes a prompt's sample independent of the batch. generate() runs greedy on our output, which keeps
    only the sampled token.
    """

    def __init__(self, row_seeds: list[int], temperature: float = 1.0, top_p: float = 1.0, top_k: int = 0):
        self.temperature, self.top_p, self.top_k = temperature, top_p, top_k
        self.row_seeds = row_seeds
        self.generators = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.generators is None:  # created here to live on the same device as the scores
            self.generators = [torch.Generator(device=scores.device).manual_seed(s % 2**63) for s in self.row_seeds]
        scores = scores.float() / self.temperature
        if self.top_k > 0:
            kth_best = torch.topk(scores, min(self.top_k, scores.shape[-1]), dim=-1).values[:, -1:]
            scores = scores.masked_fill(scores < kth_best, float("-inf"))
        if self.top_p < 1.0:
            sorted_scores, order = torch.sort(scores, descending=True, dim=-1)
            probs = sorted_scores.softmax(dim=-1)
            mass_before = probs.cumsum(dim=-1) - probs  # probability of the tokens ranked above this one
            drop_sorted = mass_before >= self.top_p  # never drops the best token (mass_before = 0)
            drop = drop_sorted.scatter(-1, order, drop_sorted)
            scores = scores.masked_fill(drop, float("-inf"))
        probs = scores.softmax(dim=-1)
        chosen = torch.stack([torch.multinomial(probs[row], 1, generator=self.generators[row])
                              for row in range(probs.shape[0])])
        return torch.full_like(scores, float("-inf")).scatter(-1, chosen, 0.0)


class StopStrings(StoppingCriteria):
    """Stop a row once its generated text contains any stop string; remember after how many tokens.

    Decodes each unfinished row's continuation at every step: a few microseconds per row with a fast
    tokenizer, small next to a forward pass, and it sees strings split across tokens.
    """

    def __init__(self, tokenizer, stop: list[str], prompt_length: int, batch_size: int):
        self.tokenizer, self.stop, self.prompt_length = tokenizer, stop, prompt_length
        self.stopped_at: list = [None] * batch_size  # number of new tokens when the stop string appeared

    def __call__(self, input_ids: torch.LongTensor, scores=None, **kwargs) -> torch.BoolTensor:
        new_tokens = input_ids.shape[1] - self.prompt_length
        for row in range(input_ids.shape[0]):
            if self.stopped_at[row] is None:
                text = self.tokenizer.decode(input_ids[row, self.prompt_length:], skip_special_tokens=True)
                if any(s in text for s in self.stop):
                    self.stopped_at[row] = new_tokens
        return torch.tensor([s is not None for s in self.stopped_at], dtype=torch.bool, device=input_ids.device)
