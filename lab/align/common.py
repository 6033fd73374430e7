"""What the reward-model and DPO recipes share: TRL's config on this hardware, LoRA settings, and a
callback that streams TRL's logged figures into the run folder (its metrics records and progress)."""
import time

from lab.errors import LabError


def trl_config(config_class, spec, ctx, **extra):
    """A TRL config (RewardConfig, DPOConfig) for one short run: every step logged, nothing saved mid-run.

    TRL defaults to bf16 and gradient checkpointing and refuses a CPU without use_cpu=True (PLATFORM.md);
    here bf16 follows the spec's dtype the way the Fine-tune tab does, and checkpointing stays off."""
    import torch

    from lab.finetune.train import use_bf16
    from lab.runs import distributed

    cuda = torch.cuda.is_available()
    return config_class(
        output_dir=str(ctx.folder.checkpoint_dir), max_steps=spec.max_steps,
        per_device_train_batch_size=distributed.per_process_batch(spec.batch_size),  # spec.batch_size: the global batch
        learning_rate=spec.learning_rate,
        lr_scheduler_type="cosine", warmup_steps=max(1, spec.max_steps // 10), weight_decay=0.0,
        logging_steps=1, save_strategy="no", eval_strategy="no", bf16=use_bf16(spec.dtype, cuda), use_cpu=not cuda,
        gradient_checkpointing=False, seed=spec.seed, data_seed=spec.seed, report_to=[], disable_tqdm=True,
        dataloader_num_workers=0, **({"max_length": spec.max_length} if hasattr(spec, "max_length") else {}),
        **extra)


def precision_record(spec) -> dict:
    """What the run's result says about its number format. DPO and reward training take the Fine-tune tab's
    bf16-or-fp32 choice (lab.finetune.precision) but keep fp32 weights under bf16 autocast: both score held-out pairs
    before and after training, and scoring stays fp32 on the same weights."""
    import torch

    from lab.finetune.precision import PATH_AUTOCAST, choose

    return choose(spec.dtype, torch.cuda.is_available()).record(path=PATH_AUTOCAST)


def lora_config(spec, task_type: str = "CAUSAL_LM", **extra):
    """The Fine-tune tab's LoRA settings (lora_r, lora_alpha, lora_dropout, target_modules), for a task type."""
    from lab.finetune.methods.lora import lora_config as finetune_lora_config

    config = finetune_lora_config(spec, **extra)
    config.task_type = task_type  # "SEQ_CLS" makes peft wrap a scalar-head model (the reward model)
    return config


def stream_callback(ctx, names: dict[str, str], label: str, derive=None):
    """A TrainerCallback writing TRL's logged figures, renamed by `names` (TRL key -> lab metric), per step;
    derive(record, model) -> more figures (DPO's KL to the reference)."""
    from transformers import TrainerCallback

    started = time.time()

    class StreamMetrics(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = dict(logs or {})
            record = {"step": state.global_step, "elapsed": round(time.time() - started, 2)}
            for key, name in names.items():
                if key in logs:
                    record[name] = round(float(logs[key]), 6)
            if derive is not None and len(record) > 2 and ctx.writer:  # rank 0 alone records (and derives)
                record.update(derive(record, kwargs.get("model")))
            if len(record) > 2:
                ctx.log_metrics(**record)
            live = {k: v for k, v in record.items() if k not in ("step", "elapsed")}
            ctx.progress(state.global_step, state.max_steps,
                         message=f"{label}: step {state.global_step}/{state.max_steps}", **live)

    return StreamMetrics()


def check_trainable(model, spec) -> tuple[int, int]:
    """(trainable, total) parameters; a setting that trains nothing is refused, naming the layers."""
    trainable, total = model.get_nb_trainable_parameters() if hasattr(model, "get_nb_trainable_parameters") else (
        sum(p.numel() for p in model.parameters() if p.requires_grad), sum(p.numel() for p in model.parameters()))
    if trainable == 0:
        raise LabError("nothing_to_train", method="lora", model=spec.model)
    return trainable, total


def train(trainer, spec, ctx, note: str, **step0) -> tuple[int, int, float]:
    """Run a built trainer after logging what trains and the step-0 figures; (trainable, total, seconds).
    The trainer's world size must be the one the run asked for (lab/runs/distributed.py)."""
    from lab.runs import distributed

    distributed.check_world_size(trainer.args.world_size)
    trainable, total = check_trainable(trainer.model, spec)
    ctx.log(f"{note}: {trainable:,} of {total:,} parameters train")
    ctx.log_metrics(step=0, **step0)
    started = time.time()
    trainer.train()
    return trainable, total, time.time() - started


def peft_error(exc: Exception, spec) -> LabError:
    """peft's ValueError for target modules the model lacks, as one line naming the setting."""
    return LabError("align_bad_target_modules", value=spec.target_modules, detail=str(exc).splitlines()[0][:200])
