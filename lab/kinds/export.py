"""Kind "export": merge a fine-tune's adapter into its base model and save a normal model folder.

Methods that add weights of the same shape (LoRA, DoRA, QLoRA, AdaLoRA, IA3) fold into the base:
W' = W + scale * B A. Prompt-style methods and bottleneck adapters add inputs or layers instead, so
they cannot be merged; the job refuses them with the reason. QLoRA merges into a full-precision copy
of the base (merging into 4-bit weights would round the update away).
"""
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
    dtype: str = setting("bf16", en="Number format of the saved model: bf16 (half the size) or fp32.",
                         zh="保存模型的数值格式:bf16(体积减半)或 fp32。", choices=["bf16", "fp32"])

    @classmethod
    def example(cls):
        return cls(run_id="RUN_ID_OF_A_FINISHED_FINETUNE")

    def validate(self):
        from lab.runs.run_files import check_run_id

        if not self.run_id:
            raise LabError("export_needs_run")
        check_run_id(self.run_id)


def run(spec: ExportSpec, ctx) -> dict:
    import torch

    from lab.finetune.load import adapter_folder, apply_adapter, describe, is_whole_model
    from lab.finetune.methods import METHODS
    from lab.modeling.models import load_model

    started = time.time()
    about = describe(spec.run_id)
    folder, out = adapter_folder(spec.run_id), ctx.artifact_dir / "merged"
    if is_whole_model(folder):  # full fine-tuning (or BitFit on a model with biases) saved the whole model
        shutil.copytree(folder, out)
    else:
        method = METHODS.get(about["method"])
        if not method.can_merge:
            raise LabError("cannot_merge", method=about["method"])
        ctx.progress(0, 3, message="loading the base model", force=True)
        model, tokenizer, _ = load_model(about["base_model"], dtype="fp32", device="cpu")
        ctx.progress(1, 3, message="applying the adapter", force=True)
        model = apply_adapter(model, spec.run_id)
        ctx.progress(2, 3, message="merging", force=True)
        merged = model.merge_and_unload()
        merged.to(torch.bfloat16 if spec.dtype == "bf16" else torch.float32).save_pretrained(out)
        tokenizer.save_pretrained(out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    ctx.log(f"merged model saved in {out} ({size:.1f} MB): load it as a local folder in any tab")
    return {"merged_mb": round(size, 1), "wall_seconds": round(time.time() - started, 2), "merged_folder": str(out)}


KINDS.register(ExportSpec.kind, Kind(ExportSpec, run))
