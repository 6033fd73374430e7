"""Kind "raft": reward-ranked fine-tuning — sample n answers per prompt, keep the best by reward,
fine-tune on the kept answers, repeat (recipe in lab/align/raft.py).

    python -m lab run '{"kind": "raft", "start_from": "<an SFT run id>", "rounds": 3}'
"""
from dataclasses import dataclass

from lab.align.rl_spec import RlSpec
from lab.specs import KINDS, Kind, setting


@dataclass
class RaftSpec(RlSpec):
    kind = "raft"
    graceful_cancel = False

    rounds: int = setting(3, en="Rounds of sample -> keep the best -> fine-tune.", zh="“采样 -> 保留最好 -> 微调”的轮数。",
                          minimum=1, maximum=100)
    prompts_per_round: int = setting(16, en="Training prompts sampled in each round (each gets one kept answer).",
                                     zh="每轮采样的训练提示数(每个保留一个回答)。", minimum=1, maximum=10_000)
    steps_per_round: int = setting(8, en="Fine-tuning steps on the kept answers in each round.",
                                   zh="每轮在保留的回答上微调的步数。", minimum=1, maximum=100_000)
    batch_size: int = setting(4, en="Kept answers per fine-tuning step.", zh="每个微调步使用的保留回答数。", minimum=1, maximum=512)
    learning_rate: float = setting(1e-3, en="Step size of the fine-tune (LoRA, as the Fine-tune tab's default).",
                                   zh="微调的步长(LoRA,与微调页的默认值相同)。", minimum=1e-8, maximum=1.0)


def run(spec: RaftSpec, ctx) -> dict:
    import torch

    from lab.align.raft import train_raft

    torch.set_num_threads(ctx.threads)
    return train_raft(spec, ctx)


KINDS.register(RaftSpec.kind, Kind(RaftSpec, run))
