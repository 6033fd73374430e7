"""Kind "dpo": Direct Preference Optimization of a model on preference pairs (TRL's DPOTrainer, LoRA).

    python -m lab run '{"kind": "dpo", "beta": 0.1}'
    python -m lab run '{"kind": "dpo", "start_from": "<a fine-tune run id>"}'

Recipe in lab/align/dpo.py. The result is saved like a fine-tune (artifacts/adapter/), so the
Generate and Evaluate tabs load a DPO run id exactly as they load a fine-tune run id.
"""
from dataclasses import dataclass

from lab.align import fields
from lab.runs.distributed import ProcessSettings
from lab.specs import KINDS, Kind, Spec, compose, setting


@dataclass
@compose(ProcessSettings, fields.AdapterTraining)  # processes: data-parallel ranks (lab/runs/distributed.py)
class DpoSpec(Spec):
    kind = "dpo"

    model: str = fields.model_field()
    start_from: str = setting("", en="Run id of a fine-tune (SFT) to start from: its model is the policy and the reference. Empty: the model above.",
                              zh="作为起点的微调(SFT)运行编号:它的模型既是策略也是参考模型。留空则使用上面的模型。")
    dataset: str = fields.dataset_field()
    beta: float = setting(0.1, en="β: how strongly the policy is held near the reference. Small β lets it move far; large β keeps it close.",
                          zh="β:把策略拉在参考模型附近的力度。β 小则可以偏离较远;β 大则保持接近。", minimum=0.001, maximum=10.0)
    loss_type: str = setting("sigmoid", en="The preference loss: sigmoid (DPO), ipo (squared, does not push margins without bound), "
                             "hinge (SLiC), rpo (DPO plus the chosen answer's language-model loss, so it stays likely).",
                             zh="偏好损失:sigmoid(DPO)、ipo(平方损失,不会无限推大差距)、hinge(SLiC)、"
                             "rpo(DPO 加上被选回答的语言模型损失,使它保持高概率)。",
                             choices=["sigmoid", "ipo", "hinge", "rpo"])
    max_steps: int = setting(20, en="Optimizer steps of DPO.", zh="DPO 的优化器步数。", minimum=1, maximum=1_000_000)
    batch_size: int = fields.batch_size_field()
    learning_rate: float = setting(1e-3, en="Step size of the optimizer (LoRA; full DPO runs use ~1e-6).",
                                   zh="优化器步长(LoRA;全参数 DPO 通常约 1e-6)。", minimum=1e-8, maximum=1.0)
    max_length: int = fields.max_length_field()
    eval_pairs: int = fields.eval_pairs_field(16)
    answer_prompts: int = setting(12, en="Held-out prompts answered before and after DPO, side by side (0: skip).",
                                  zh="DPO 前后并排回答的留出提示数(0 表示跳过)。", minimum=0, maximum=1000)
    max_new_tokens: int = setting(48, en="The longest answer, in tokens, for the before/after comparison.",
                                  zh="前后对比时回答的最大长度(token 数)。", minimum=1, maximum=1024)

    def validate(self):
        fields.check_model_and_data(self)
        if self.start_from:
            from lab.runs.folder import check_run_id

            check_run_id(self.start_from)


def run(spec: DpoSpec, ctx) -> dict:
    import torch

    from lab.align.dpo import train_dpo

    torch.set_num_threads(ctx.threads)
    return train_dpo(spec, ctx)


KINDS.register(DpoSpec.kind, Kind(DpoSpec, run))
