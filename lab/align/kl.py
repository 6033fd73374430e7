"""KL(π ‖ π_ref): how far the policy's next-token distributions have moved from the reference's.

DPO keeps the policy near the reference only implicitly (through β), so the lab measures the distance:
on a few held-out pairs, at every answer token, the full-vocabulary KL between the two next-token
distributions, averaged over tokens (nats per token; 0 = unchanged). The reference does not change
during training, so its distributions are computed once, before the first step.
"""
from lab.align.data import prompt_text


class ReferenceKL:
    def __init__(self, model, tokenizer, pairs: list[dict]):
        eos = tokenizer.eos_token or ""
        self.rows = []  # (token ids, first answer position)
        for pair in pairs:
            prompt = prompt_text(tokenizer, pair)
            start = len(tokenizer(prompt)["input_ids"])
            for side in ("chosen", "rejected"):
                ids = tokenizer(prompt + pair[side] + eos)["input_ids"]
                if len(ids) > start:
                    self.rows.append((ids, start))
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.reference = self._logprobs(model) if self.rows else []

    def _logprobs(self, model) -> list:
        """Per row, log-softmax of the model's next-token logits at the answer positions."""
        import torch

        device = next(model.parameters()).device
        width = max(len(ids) for ids, _ in self.rows)
        input_ids = torch.tensor([ids + [self.pad] * (width - len(ids)) for ids, _ in self.rows], device=device)
        mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in self.rows], device=device)
        with torch.no_grad():
            logits = model(input_ids=input_ids, attention_mask=mask).logits
        # logits at position p predict token p + 1: the answer's tokens start..len-1 are predicted from start-1..len-2
        return [torch.log_softmax(logits[row, start - 1:len(ids) - 1].float(), dim=-1).cpu()
                for row, (ids, start) in enumerate(self.rows)]

    def __call__(self, model) -> float | None:
        if not self.rows:
            return None
        total, tokens = 0.0, 0
        for policy, reference in zip(self._logprobs(model), self.reference):
            total += float((policy.exp() * (policy - reference)).sum())
            tokens += policy.shape[0]
        return max(0.0, total / tokens)  # rounding can dip a hair below 0
