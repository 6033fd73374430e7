"""Kind "reward": train a reward model (a scalar head on the language model) on preference pairs.

    python -m lab run '{"kind": "reward", "max_steps": 20}'

Recipe in lab/align/reward.py: held-out pair accuracy with the untrained head, TRL's RewardTrainer
(LoRA by default), the same accuracy after, the margin distribution, and the reward of sample answers.
"""
from dataclasses import dataclass

from lab.align import fields
from lab.errors import LabError
from lab.runs.distributed import ProcessSettings
from lab.specs import KINDS, Kind, Spec, compose, setting


@dataclass
@compose(ProcessSettings, fields.AdapterTraining)  # processes: data-parallel ranks (lab/runs/distributed.py)
class RewardSpec(Spec):
    kind = "reward"

    model: str = fields.model_field()
    dataset: str = fields.dataset_field()
    max_steps: int = setting(20, en="Optimizer steps to train the reward model.", zh="训练奖励模型的优化器步数。",
                             minimum=1, maximum=1_000_000)
    batch_size: int = fields.batch_size_field()
    learning_rate: float = setting(5e-4, en="Step size of the optimizer (the new head and LoRA learn fast; full training wants ~1e-5).",
                                   zh="优化器步长(新的输出头和 LoRA 学得快;全参数训练约需 1e-5)。", minimum=1e-8, maximum=1.0)
    max_length: int = fields.max_length_field()
    eval_pairs: int = fields.eval_pairs_field()
    use_lora: bool = setting(True, en="Train LoRA adapters plus the new head (fast); off = train every weight (slow on a CPU).",
                             zh="只训练 LoRA 适配器和新的输出头(快);关闭则训练全部权重(在 CPU 上很慢)。")
    sample_prompt: str = setting("What is 23 + 45?", en="A prompt whose sample answers the trained reward model scores.",
                                 zh="一个提示,用训练好的奖励模型为它的几个示例回答打分。")
    sample_answers: list[str] = setting(
        ["23 + 45 = 68. The answer is 68.", "23 + 45 = 67. The answer is 67.", "The answer is 68.", "I don't know."],
        en="Answers to the sample prompt, one per line: the table shows the reward of each.",
        zh="示例提示的若干回答,每行一个:表格显示每个回答的奖励分数。")

    def validate(self):
        fields.check_model_and_data(self)
        if not self.sample_prompt.strip():
            raise LabError("align_empty_sample_prompt")
        for index, text in enumerate(self.sample_answers):
            if not text.strip():
                raise LabError("align_empty_sample_answer", index=index + 1)


def run(spec: RewardSpec, ctx) -> dict:
    import torch

    from lab.align.reward import train_reward_model

    torch.set_num_threads(ctx.threads)
    return train_reward_model(spec, ctx)


KINDS.register(RewardSpec.kind, Kind(RewardSpec, run))
