"""Kind "grpo": Group Relative Policy Optimization (Shao et al., 2024) with TRL's GRPOTrainer, LoRA.

    python -m lab run '{"kind": "grpo", "start_from": "<an SFT run id>", "reward": "correct"}'
    python -m lab run '{"kind": "grpo", "reward": "model", "reward_run": "<a reward run id>"}'

Each answer's advantage is its reward minus its group's mean, over the group's spread; no critic.
Recipe in lab/align/rl.py; settings and the lab's defaults in lab/align/rl_spec.py. β defaults to 0 as in
TRL (no reference pass); the lab measures the KL to the start anyway.
"""
from dataclasses import dataclass

from lab.align.rl_spec import PolicyGradientSpec
from lab.specs import KINDS, Kind


@dataclass
class GrpoSpec(PolicyGradientSpec):
    kind = "grpo"


def run(spec: GrpoSpec, ctx) -> dict:
    import torch
    from trl import GRPOConfig, GRPOTrainer

    from lab.align.rl import train_rl

    torch.set_num_threads(ctx.threads)
    return train_rl(spec, ctx, GRPOConfig, GRPOTrainer, "GRPO")


KINDS.register(GrpoSpec.kind, Kind(GrpoSpec, run))
