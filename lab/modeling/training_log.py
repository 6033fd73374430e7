"""TensorBoard event files in every training run's folder (<run>/tensorboard/), read with
`tensorboard --logdir lab_data/runs`: one curve per run, named by its run id.

Trainer-based kinds (finetune, dpo, reward) get transformers' own TensorBoardCallback with a writer
pointed at the run folder: with `report_to=["tensorboard"]` the Trainer would log under output_dir
(<run>/checkpoints/, deleted when the run finishes). Kinds with their own loop (pretrain) get a
SummaryWriter. Without the tensorboard package both return nothing and training runs as before, and
so do ranks other than 0 of a run of several processes (only rank 0 writes the run folder).
"""
from pathlib import Path


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def log_dir(ctx) -> Path:
    return ctx.folder.tensorboard_dir


def summary_writer(ctx):
    """A torch SummaryWriter writing into the run folder, or None without tensorboard (or off rank 0)."""
    if not available() or not getattr(ctx, "writer", True):
        return None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(log_dir(ctx)))


def trainer_callbacks(ctx) -> list:
    """[TensorBoardCallback] for a transformers/TRL Trainer, or [] without tensorboard."""
    writer = summary_writer(ctx)
    if writer is None:
        return []
    from transformers.integrations import TensorBoardCallback

    return [TensorBoardCallback(tb_writer=writer)]
