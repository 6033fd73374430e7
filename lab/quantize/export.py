"""Save a quantized or pruned model as a normal model folder the other tabs load by path.

bitsandbytes models are saved in their own serialisation (transformers writes the int8/4-bit tensors
and their quant state, and config.json's quantization_config makes from_pretrained load them quantized
again); fake-quant and pruned models are saved as ordinary fp32 weights (on the grid, or with zeros).
lab_model_info.json records what was done, so a tab that loads the folder can warn that its weights
were quantized (lab.modeling.models reads quantized_source from it).
"""
import json
from pathlib import Path

from lab.modeling.models import INFO_FILE


def save_model(model, tokenizer, folder: Path, source_model: str, quantized_source: str | None = None,
               extra: dict | None = None) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    info = {"quantized_source": quantized_source, "made_from": source_model, **(extra or {})}
    (folder / INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
    return folder
