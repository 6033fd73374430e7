"""AdaLoRA: LoRA whose rank budget moves to the matrices that matter most (Zhang et al., 2023).

The budget is reallocated by `update_and_allocate(step)` after every optimizer step, while the
gradients are still there; without that call AdaLoRA silently behaves like plain LoRA.
"""
from lab.finetune.methods import Method, peft_wrap, register_method, target_modules


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


register_method(Method("adalora", apply, settings=("adalora_init_r", "adalora_target_r", "lora_alpha",
                                                   "lora_dropout", "target_modules"),
                       learning_rate=1e-3, refuse=refuse, callbacks=callbacks,
                       paper="https://arxiv.org/abs/2303.10512"))
