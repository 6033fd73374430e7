"""Resume a cancelled or failed fine-tune from its last checkpoint, from the Runs tab (the CLI sets resume_from).

    offer(run_id, viewer)           -> {"checkpoint": "checkpoint-20", "step": 20, "max_steps": 30} or None
    resume(run_id, owner, viewer)   -> the new run's id: the same spec with resume_from = run_id

The offer names the checkpoint a resume will pick (always the highest step under the run's checkpoints
folder; lab/finetune/train.py last_checkpoint), so nobody has to guess. The resumed run keeps the step
counter, the optimizer and scheduler state and the data order: Trainer restores them from the checkpoint
and skips the batches already seen (tests/test_finetune_resume.py).
"""
from lab.errors import LabError
from lab.runs import runner

RESUMABLE = ("cancelled", "failed")


def offer(run_id: str, viewer=None) -> dict | None:
    """What resuming this run would start from, or None (not a fine-tune, not stopped, or no checkpoint)."""
    from lab.finetune.train import last_checkpoint

    if not run_id:
        return None
    try:
        row = runner.get(run_id, viewer)
        spec = runner.read(run_id, viewer).read_spec()
    except LabError:
        return None
    if row["kind"] != "finetune" or row["status"] not in RESUMABLE:
        return None
    try:
        checkpoint = last_checkpoint(run_id)
    except LabError:
        return None
    step = int(checkpoint.name.split("-")[-1])
    return {"checkpoint": checkpoint.name, "step": step, "max_steps": spec.get("max_steps")}


def resume(run_id: str, owner: str = "", viewer=None) -> str:
    """Queue the same fine-tune again, continuing from the run's last checkpoint."""
    from lab.specs import spec_from_dict

    if offer(run_id, viewer) is None:
        raise LabError("no_checkpoint", run_id=run_id)
    data = runner.read(run_id, viewer).read_spec()
    data.update(resume_from=run_id, name=f"{data.get('name') or data.get('method', '')} (resumed)"[:200])
    return runner.submit(spec_from_dict(data), owner=owner, viewer=viewer)
