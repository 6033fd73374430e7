"""Saving a LoRA whose initialisation changed the base weights (PiSSA, OLoRA) so it loads on the original base.

PiSSA and OLoRA move part of each weight into the adapter at the start (W = W_res + scaling·B₀A₀), so the
frozen base in memory is W_res, not the model everyone else has. peft converts the trained adapter into
an ordinary LoRA of rank 2r, ΔW = scaling·(BA − B₀A₀), that applies to the original weights — it needs the
initial adapter, which remember_initial() keeps in a scratch folder before training starts.
"""
import shutil
import tempfile


def remember_initial(model):
    """Save the adapter as initialised (marked as a plain LoRA init so reloading it does not redo the SVD/QR)."""
    folder = tempfile.mkdtemp(prefix="lab-initial-adapter-")
    config = model.peft_config["default"]
    kind = config.init_lora_weights
    config.init_lora_weights = True
    model.save_pretrained(folder)
    config.init_lora_weights = kind
    model.lab_initial_adapter = folder
    return model


def save_converted(model, folder) -> None:
    """The trained adapter as a plain LoRA on the original base weights (rank 2r)."""
    initial = getattr(model, "lab_initial_adapter", None)
    if initial is None:  # loaded from a saved (already converted) adapter
        model.save_pretrained(folder)
        return
    model.save_pretrained(folder, path_initial_model_for_weight_conversion=initial)
    shutil.rmtree(initial, ignore_errors=True)
    model.lab_initial_adapter = None
