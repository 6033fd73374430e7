"""GGUF export of a lab model, read back with transformers: size, seconds and max |Δlogit| per type.

    python bench/gguf_roundtrip.py [model] [types...]     # default: smollm2-135m-instruct f16 q8_0 q4_0

The source is the lab's converted folder in fp32 (load_model); each file is written by
lab.export.gguf_writer into bench/out/ and compared by lab.export.gguf_check on its four prompts.
"""
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv):
    import torch

    from lab.export.gguf_check import compare_gguf
    from lab.export.gguf_writer import write_gguf
    from lab.modeling.models import load_model

    name = argv[0] if argv else "smollm2-135m-instruct"
    types = argv[1:] or ["f16", "q8_0", "q4_0"]
    torch.set_num_threads(2)
    model, tokenizer, _ = load_model(name, dtype="fp32", device="cpu")
    out = Path(__file__).resolve().parent / "out"
    rows = []
    for gguf_type in types:
        started = time.time()
        figures = write_gguf(model, tokenizer, out / f"{Path(name).name}-{gguf_type}.gguf", gguf_type)
        written = time.time() - started
        figures.update(compare_gguf(model, tokenizer, figures["gguf_file"]))
        figures.update(write_seconds=round(written, 1), total_seconds=round(time.time() - started, 1))
        rows.append(figures)
        print(json.dumps(figures), flush=True)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
