"""What a contestant name means, and how it answers: a model, or a fine-tune run, plus an optional variant.

    "smollm2-135m-instruct"            the offline default model (or any local folder / hub id)
    "20261201-202535-finetune-2a593e"  a fine-tune (or DPO) run: its base model with its adapter
    "smollm2-135m-instruct@plain"      the same model with a variant: prompted without its chat template

A run id is recognised by its run folder holding a fine-tune result (lab/finetune/load.py); anything
else is a model name and goes through lab/modeling/models.py. Variants are registered data (VARIANTS), so
one model alone can make a comparison: does the chat template matter? does sampling help?
"""
from lab.runs.folder import RUN_ID_PATTERN, RunFolder
from lab.errors import LabError
from lab.modeling.models import check_model_name

VARIANTS = {  # variant -> generation settings it changes
    "plain": {"use_chat_template": False},
    "sampled": {"do_sample": True, "temperature": 0.8},
}


def split(name: str) -> tuple[str, str]:
    """("model or run id", "variant" or "")."""
    base, _, variant = name.strip().partition("@")
    return base.strip(), variant.strip()


def is_run(base: str) -> bool:
    if not RUN_ID_PATTERN.fullmatch(base):
        return False
    return RunFolder(base).artifact_path("adapter/lab_finetune.json").is_file()


def check_contestant(name: str) -> None:
    """Refuse a malformed contestant when the spec is built (nothing is loaded)."""
    base, variant = split(name)
    if variant and variant not in VARIANTS:
        raise LabError("unknown_variant", contestant=name, variant=variant, variants=", ".join(VARIANTS))
    if not is_run(base):
        if RUN_ID_PATTERN.fullmatch(base) and RunFolder(base).exists():
            raise LabError("not_a_finetune_result", run_id=base)
        check_model_name(base)


def generation_settings(name: str) -> dict:
    return dict(VARIANTS.get(split(name)[1], {}))


def load(name: str, dtype: str = "auto", device: str = "auto", progress=None):
    """(model, tokenizer, info) of a contestant (or a judge: any loadable model or run)."""
    base, _ = split(name)
    if is_run(base):
        from lab.modeling.finetuned import load_finetuned

        return load_finetuned(base, dtype=dtype, device=device, progress=progress)
    from lab.modeling.models import load_model

    return load_model(base, dtype=dtype, device=device, progress=progress)


def label(name: str) -> str:
    """A short display name: a run's own name where it has one."""
    base, variant = split(name)
    if is_run(base):
        spec = RunFolder(base).read_spec()
        shown = f"{spec.get('name') or spec.get('method', 'run')} [{base[-6:]}]"
        return f"{shown}@{variant}" if variant else shown
    return name
