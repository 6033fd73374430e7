"""Kind "export": a fine-tune as a model other tools load -- a Hugging Face folder, or one GGUF file.

format "hf": merge the adapter into its base and save a normal model folder. Methods that add weights of
the same shape (LoRA, DoRA, QLoRA, AdaLoRA, IA3) fold into the base: W' = W + scale * B A. Prompt-style
methods and bottleneck adapters add inputs or layers instead, so they cannot be merged; the job refuses
them with the reason. QLoRA merges into a full-precision copy of the base (merging into 4-bit weights
would round the update away).
format "gguf": the same merged model written for llama.cpp and Ollama (lab.export.gguf_writer), then read
back with transformers and compared with the merged model on a few prompts (lab.export.gguf_check).
"""
import json
import shutil
import time
from dataclasses import dataclass

from lab.errors import LabError
from lab.specs import KINDS, Kind, Spec, setting


@dataclass
class ExportSpec(Spec):
    kind = "export"

    run_id: str = setting("", en="The fine-tune run whose adapter to merge into its base model.",
                          zh="要把适配器合并进基础模型的微调运行编号。")
    format: str = setting("hf", en="What to write: hf (a Hugging Face model folder, for the lab and transformers) or gguf (one file for llama.cpp and Ollama; Llama-family models).",
                          zh="导出格式:hf(Hugging Face 模型文件夹,供本实验室和 transformers 使用)或 gguf(供 llama.cpp 和 Ollama 使用的单个文件;仅限 Llama 系列模型)。",
                          choices=["hf", "gguf"])
    dtype: str = setting("bf16", en="Number format of the saved folder (format hf): bf16 (half the size) or fp32.",
                         zh="保存文件夹的数值格式(hf 格式):bf16(体积减半)或 fp32。", choices=["bf16", "fp32"])
    gguf_type: str = setting("f16", en="Number format of the GGUF file (format gguf): f16 (16 bits a weight, nearly exact), q8_0 (8.5 bits, very close) or q4_0 (4.5 bits, smallest, a visible loss).",
                             zh="GGUF 文件的数值格式(gguf 格式):f16(每个权重 16 位,几乎无损)、q8_0(8.5 位,非常接近)或 q4_0(4.5 位,最小,有可见损失)。",
                             choices=["f16", "q8_0", "q4_0"])

    @classmethod
    def example(cls):
        return cls(run_id="RUN_ID_OF_A_FINISHED_FINETUNE")

    def validate(self):
        from lab.runs.folder import check_run_id

        if not self.run_id:
            raise LabError("export_needs_run")
        check_run_id(self.run_id)
        if self.format == "gguf":
            _check_gguf_architecture(self.run_id)


def _check_gguf_architecture(run_id: str) -> None:
    """Refuse before the job starts when the fine-tune's saved config names an architecture GGUF export
    does not know; a run whose config cannot be read here is checked again by the job."""
    from pathlib import Path

    from lab.export.gguf_writer import ARCHITECTURES
    from lab.finetune.load import adapter_folder, describe

    try:
        folder = adapter_folder(run_id)
        config = folder / "config.json"  # a whole fine-tuned model; else its base model's folder
        if not config.is_file():
            config = Path(describe(run_id).get("base_location") or "") / "config.json"
        names = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
    except (LabError, OSError, ValueError, TypeError, AttributeError):
        return
    if names and not any(n in ARCHITECTURES for n in names):
        raise LabError("gguf_unknown_architecture", architecture=", ".join(names), known=", ".join(ARCHITECTURES))


def _merged(spec: ExportSpec, ctx, dtype: str):
    """(model, tokenizer) of the fine-tune with its adapter folded into the base weights."""
    from lab.finetune.load import adapter_folder, apply_adapter, describe, is_whole_model
    from lab.finetune.methods import METHODS
    from lab.modeling.models import load_model

    about, folder = describe(spec.run_id), adapter_folder(spec.run_id)
    if is_whole_model(folder):  # full fine-tuning (or BitFit on a model with biases) saved the whole model
        model, tokenizer, _ = load_model(str(folder), dtype=dtype, device="cpu")
        return model, tokenizer
    method = METHODS.get(about["method"])
    if not method.can_merge:
        raise LabError("cannot_merge", method=about["method"])
    ctx.progress(0, 3, message="loading the base model", force=True)
    model, tokenizer, _ = load_model(about["base_model"], dtype="fp32", device="cpu")
    ctx.progress(1, 3, message="applying the adapter", force=True)
    model = apply_adapter(model, spec.run_id)
    ctx.progress(2, 3, message="merging", force=True)
    return model.merge_and_unload(), tokenizer


def run(spec: ExportSpec, ctx) -> dict:
    started = time.time()
    if spec.format == "gguf":
        figures = _export_gguf(spec, ctx)
    else:
        figures = _export_hf(spec, ctx)
    return {**figures, "wall_seconds": round(time.time() - started, 2)}


def _export_hf(spec: ExportSpec, ctx) -> dict:
    import torch

    from lab.finetune.load import adapter_folder, is_whole_model

    folder, out = adapter_folder(spec.run_id), ctx.artifact_dir / "merged"
    if is_whole_model(folder):
        shutil.copytree(folder, out)
    else:
        merged, tokenizer = _merged(spec, ctx, "fp32")
        merged.to(torch.bfloat16 if spec.dtype == "bf16" else torch.float32).save_pretrained(out)
        tokenizer.save_pretrained(out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    ctx.log(f"merged model saved in {out} ({size:.1f} MB): load it as a local folder in any tab")
    return {"merged_mb": round(size, 1), "merged_folder": str(out)}


def _export_gguf(spec: ExportSpec, ctx) -> dict:
    from lab.export.gguf_check import compare_gguf
    from lab.export.gguf_writer import write_gguf

    model, tokenizer = _merged(spec, ctx, "fp32")
    path = ctx.artifact_dir / f"model-{spec.gguf_type}.gguf"
    ctx.progress(0, 2, message=f"writing {path.name}", force=True)
    figures = write_gguf(model.float(), tokenizer, path, spec.gguf_type, name=spec.name or spec.run_id)
    ctx.progress(1, 2, message="reading the file back with transformers and comparing logits", force=True)
    figures.update(compare_gguf(model, tokenizer, path))
    ctx.log(f"GGUF written to {path} ({figures['gguf_mb']} MB); read back: max |Δlogit| "
            f"{figures['gguf_max_abs_logit_diff']}, same top-1 token {figures['gguf_top1_agreement']:.0%}")
    if figures.get("gguf_note"):
        ctx.log(figures["gguf_note"])
    return figures


KINDS.register(ExportSpec.kind, Kind(ExportSpec, run))
