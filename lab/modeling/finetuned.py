"""Load a finished fine-tune as a ready model: what Generate, Evaluate and Align call to use one.
(Where its files are and how an adapter is applied stay with the fine-tune code: lab/finetune/load.py.)"""


def load_finetuned(run_id: str, dtype: str = "auto", device: str = "cpu", progress=None):
    """(model, tokenizer, info) of a fine-tune's result, ready for generation."""
    from lab.finetune.load import adapter_folder, apply_adapter, describe, is_whole_model
    from lab.modeling.models import load_model

    folder = adapter_folder(run_id)
    about = describe(run_id)
    if is_whole_model(folder):
        return load_model(str(folder), dtype=dtype, device=device, progress=progress)
    model, tokenizer, info = load_model(about["base_model"], dtype=dtype, device=device, progress=progress)
    model = apply_adapter(model, run_id)
    model.eval()
    info = dict(info, adapter_run=run_id, method=about["method"])
    return model, tokenizer, info
