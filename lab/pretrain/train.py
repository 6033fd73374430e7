"""Pre-training one tiny causal LM from scratch: AdamW, linear warm-up then a cosine decay that ends
exactly at the run's last step (Hoffmann et al. showed a schedule longer than the run overstates
the loss of short runs), and the held-out loss at the end.

    result = train_model(model, corpus, settings, progress=callback)
    result -> {"held_out_loss", "train_loss", "steps", "tokens", "seconds", "tokens_per_second", ...}

torch is imported inside the functions: kind modules importing this file stay torch-free.
"""
import math
import time
from dataclasses import dataclass

import numpy as np

from lab.pretrain.data import Corpus, WindowSampler, eval_windows


@dataclass
class TrainSettings:
    tokens: int  # training budget D; rounded up to whole steps
    batch_size: int = 16
    context: int = 128
    learning_rate: float = 3e-3
    warmup_fraction: float = 0.05
    min_lr_fraction: float = 0.1
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_tokens: int = 32768
    seed: int = 0
    device: str = "cpu"
    precision: str = "fp32"  # "bf16": autocast to bfloat16 (faster on GPUs and recent CPUs)

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.context

    @property
    def steps(self) -> int:
        return max(1, math.ceil(self.tokens / self.tokens_per_step))


def cosine_lr(step: int, total: int, peak: float, warmup_fraction: float, min_fraction: float) -> float:
    """Learning rate for step (0-based): linear warm-up, then cosine from peak to min_fraction·peak at
    the last step."""
    warmup = max(1, int(round(warmup_fraction * total)))
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - 1 - warmup)
    return peak * (min_fraction + (1 - min_fraction) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _autocast(settings: TrainSettings, device: str):
    import contextlib

    import torch

    if settings.precision == "bf16":
        return torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _loss(model, windows, settings: TrainSettings, device: str):
    import torch.nn.functional as F

    with _autocast(settings, device):
        logits = model(input_ids=windows[:, :-1]).logits
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1))


def evaluate(model, tokens: np.ndarray, settings: TrainSettings, device: str) -> float:
    """Mean next-token loss (nats per token) over the held-out windows."""
    import torch

    windows = torch.from_numpy(eval_windows(tokens, settings.context, settings.eval_tokens)).to(device)
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(windows), settings.batch_size):
            batch = windows[start:start + settings.batch_size]
            total += _loss(model, batch, settings, device).item() * batch[:, 1:].numel()
            count += batch[:, 1:].numel()
    model.train()
    return total / count


def _optimizer(model, settings: TrainSettings):
    import torch

    decay = [p for p in model.parameters() if p.dim() >= 2]  # matrices decay; norms and biases do not
    other = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                              {"params": other, "weight_decay": 0.0}],
                             lr=settings.learning_rate, betas=(0.9, 0.95), eps=1e-8)


def data_parallel(device: str):
    """accelerate's Accelerator when this process is one rank of several (torchrun; see
    lab/runs/distributed.py), after checking the world it joined is the one the run asked for; else None."""
    from lab.runs import distributed

    if distributed.expected_world_size() == 1:
        return None
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=not device.startswith("cuda"))  # gloo on CPUs, NCCL on GPUs
    distributed.check_world_size(accelerator.num_processes)
    return accelerator


def train_model(model, corpus: Corpus, settings: TrainSettings, progress=None) -> dict:
    """Train `model` for settings.steps steps; progress(step, steps, loss, lr) is called every step.
    Returns the figures of the run, the held-out loss last.

    With several ranks every rank draws the same global batch and trains on its own slice of it, and DDP
    averages the gradients: the same curve as one process with the same batch and seed."""
    import torch

    device = pick_device(settings.device)
    accelerator = data_parallel(device)
    if accelerator is not None:
        device = str(accelerator.device)
    model.to(device).train()
    optimizer = _optimizer(model, settings)
    rank, world = (accelerator.process_index, accelerator.num_processes) if accelerator else (0, 1)
    if settings.batch_size % world:
        from lab.errors import LabError

        raise LabError("batch_not_divisible", batch_size=settings.batch_size, processes=world)
    share = settings.batch_size // world
    if accelerator is not None:
        model, optimizer = accelerator.prepare(model, optimizer)
    sampler = WindowSampler(corpus.train, settings.context, settings.batch_size, settings.seed)
    steps = settings.steps
    began = time.perf_counter()
    recent = []
    for step in range(steps):
        lr = cosine_lr(step, steps, settings.learning_rate, settings.warmup_fraction, settings.min_lr_fraction)
        for group in optimizer.param_groups:
            group["lr"] = lr
        windows = torch.from_numpy(sampler.next_batch()[rank * share:(rank + 1) * share]).to(device)
        loss = _loss(model, windows, settings, device)
        optimizer.zero_grad(set_to_none=True)
        if accelerator is not None:
            accelerator.backward(loss)
            if settings.grad_clip:
                accelerator.clip_grad_norm_(model.parameters(), settings.grad_clip)
        else:
            loss.backward()
            if settings.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        value = (accelerator.reduce(loss.detach(), "mean") if accelerator else loss).item()  # the global batch's loss
        recent = (recent + [value])[-20:]
        if progress is not None:
            progress(step + 1, steps, value, lr)
    seconds = time.perf_counter() - began
    if accelerator is not None:
        model = accelerator.unwrap_model(model)
    held_out = evaluate(model, corpus.held_out, settings, device)
    tokens = steps * settings.tokens_per_step
    return {"held_out_loss": held_out, "train_loss": float(np.mean(recent)), "steps": steps, "tokens": tokens,
            "epochs": tokens / len(corpus.train), "seconds": seconds, "tokens_per_second": tokens / max(seconds, 1e-9),
            "world_size": world}
