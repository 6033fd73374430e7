"""Kind "rloo": REINFORCE Leave-One-Out (Ahmadian et al., 2024) with TRL's RLOOTrainer, LoRA.

    python -m lab run '{"kind": "rloo", "start_from": "<an SFT run id>", "reward": "correct"}'

Each answer's baseline is the mean reward of the OTHER answers to its prompt (unbiased, no critic); the
KL penalty β·KL is subtracted from the reward itself, as in the RLHF papers. Recipe in lab/align/rl.py.
The lab keeps TRL's RLOO β (0.05) so the two kinds show both ways of holding the policy near its start.
"""
from dataclasses import dataclass

from lab.align.rl_spec import PolicyGradientSpec
from lab.specs import KINDS, Kind, setting

@dataclass
class RlooSpec(PolicyGradientSpec):
    kind = "rloo"

    beta: float = setting(0.05, en="β, the weight of the KL to the starting policy, subtracted from each reward (RLOO's way; TRL's RLOO default 0.05, GRPO's 0.0).",
                          zh="β:相对起始策略的 KL 权重,从每个奖励中减去(RLOO 的做法;TRL 中 RLOO 默认 0.05,GRPO 默认 0.0)。",
                          minimum=0.0, maximum=10.0)
    normalize_advantages: bool = setting(False, en="Divide the advantages by their spread over the batch (TRL's RLOO option; GRPO divides per group instead).",
                                         zh="把优势除以整批的标准差(TRL 中 RLOO 的选项;GRPO 则按组相除)。")

def run(spec: RlooSpec, ctx) -> dict:
    import torch
    from trl import RLOOConfig, RLOOTrainer

    from lab.align.rl import train_rl

    torch.set_num_threads(ctx.threads)
    return train_rl(spec, ctx, RLOOConfig, RLOOTrainer, "RLOO", normalize_advantages=spec.normalize_advantages)


KINDS.register(RlooSpec.kind, Kind(RlooSpec, run))
