"""AdaLoRA: LoRA whose rank budget moves to the matrices that matter most (Zhang et al., 2023,
https://arxiv.org/abs/2303.10512).

The budget is reallocated by `update_and_allocate(step)` after every optimizer step, while the
gradients are still there; without that call AdaLoRA silently behaves like plain LoRA.
"""
from dataclasses import dataclass

from lab.finetune.methods import METHODS, Method, peft_wrap, target_modules
from lab.specs import setting


@dataclass
class AdaloraSettings:
    """AdaLoRA's rank budget, from its starting rank down to the average it keeps."""

    adalora_init_r: int = setting(12, en="AdaLoRA's starting rank per matrix, before the budget is reallocated.",
                                  zh="AdaLoRA 每个矩阵的初始秩(之后重新分配预算)。", minimum=1)
    adalora_target_r: int = setting(4, en="AdaLoRA's average rank at the end: the budget it keeps.",
                                    zh="AdaLoRA 最终的平均秩:保留的预算。", minimum=1)

    @staticmethod
    def check(spec):
        from lab.errors import LabError

        if spec.adalora_target_r > spec.adalora_init_r:
            raise LabError("field_greater", field="adalora_target_r", value=spec.adalora_target_r,
                           other="adalora_init_r", other_value=spec.adalora_init_r)


def apply(model, spec, info):
    from peft import AdaLoraConfig

    total = spec.max_steps
    tinit, tfinal = max(1, total // 10), max(1, total // 5)  # warm-up and final phases at fixed rank
    config = AdaLoraConfig(task_type="CAUSAL_LM", init_r=spec.adalora_init_r, target_r=spec.adalora_target_r,
                           lora_alpha=spec.lora_alpha, lora_dropout=spec.lora_dropout,
                           target_modules=target_modules(spec), total_step=total,
                           tinit=tinit, tfinal=tfinal, deltaT=1)
    return peft_wrap(model, config)


def refuse(model, spec):
    from lab.errors import LabError

    if spec.max_steps < 10:
        return LabError("adalora_too_short", max_steps=spec.max_steps)
    return None


def callbacks(model, spec):
    from transformers import TrainerCallback

    class RankAllocation(TrainerCallback):
        """Calls update_and_allocate after each optimizer step, before the gradients are zeroed."""

        def on_optimizer_step(self, args, state, control, **kwargs):
            model.base_model.update_and_allocate(state.global_step)

    return [RankAllocation()]


METHODS.register("adalora", Method(apply, group=AdaloraSettings, reads=("lora_alpha", "lora_dropout", "target_modules"),
                                   learning_rate=1e-3, refuse=refuse, callbacks=callbacks,
                                   loss_from_model=True))
