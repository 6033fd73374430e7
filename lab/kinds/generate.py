"""Kind "generate": ask a model a list of prompts and keep its answers (the first real job kind).

    python -m lab run '{"kind": "generate", "prompts": ["What is the capital of France?"]}'

Recipe: load the model (converting the offline default on first use), generate in batches with the
KV cache, write artifacts/generations.jsonl, return speed figures and the answers.
"""
import json
import resource
import time
from dataclasses import dataclass

from lab.errors import LabError
from lab.modeling.models import DEFAULT_MODEL, check_model_name
from lab.specs import KINDS, Kind, Spec, device_setting, setting, weights_dtype_setting


@dataclass
class GenerateSpec(Spec):
    kind = "generate"

    model: str = setting(DEFAULT_MODEL, en="Which model answers: an offline model name, a local folder, or a Hugging Face hub id.",
                         zh="由哪个模型回答:离线模型名、本地文件夹,或 Hugging Face Hub 上的模型 ID。")
    prompts: list[str] = setting(["What is the capital of France?"], en="The prompts, one answer each.",
                                 zh="提示词列表,每条得到一个回答。")
    use_chat_template: bool = setting(True, en="Wrap each prompt as a chat message, the way instruction-tuned models were trained.",
                                      zh="把每条提示包装成对话消息,与指令微调模型训练时的格式一致。")
    max_new_tokens: int = setting(64, en="The longest answer, in tokens (a token is about 3/4 of an English word).",
                                  zh="回答的最大长度(以 token 计,一个 token 约为 3/4 个英文单词或 1 个汉字左右)。",
                                  minimum=1, maximum=4096)
    do_sample: bool = setting(False, en="Off: always take the likeliest next token (greedy). On: draw tokens at random, following the model's probabilities.",
                              zh="关闭:每步都选概率最高的 token(贪心解码)。开启:按模型给出的概率随机抽取 token。")
    temperature: float = setting(1.0, en="Sampling only. Below 1 sharpens the choice toward likely tokens; above 1 flattens it (more surprising text).",
                                 zh="仅在采样时有效。小于 1 使选择更集中于高概率 token;大于 1 使分布更平坦(文字更出人意料)。",
                                 minimum=0.01, maximum=5.0)
    top_p: float = setting(1.0, en="Sampling only. Keep the smallest set of likeliest tokens whose probabilities add up to this (1.0 keeps all).",
                           zh="仅在采样时有效。只保留累计概率达到该值的最小高概率 token 集合(1.0 表示全部保留)。",
                           minimum=0.01, maximum=1.0)
    top_k: int = setting(0, en="Sampling only. Keep only the k likeliest tokens at each step (0 keeps all).",
                         zh="仅在采样时有效。每一步只保留概率最高的 k 个 token(0 表示全部保留)。", minimum=0)
    stop: list[str] = setting([], en="Stop an answer as soon as it contains one of these strings (the string is cut off).",
                              zh="回答中一旦出现这些字符串之一就停止(该字符串会被截去)。")
    batch_size: int = setting(8, en="Prompts answered together. Larger batches give more tokens per second but use more memory.",
                              zh="同时回答的提示数。批越大,每秒生成的 token 越多,但占用内存也越多。", minimum=1, maximum=256)
    dtype: str = weights_dtype_setting()
    device: str = device_setting()
    adapter: str = setting("", en="Run id of a fine-tune: answer with its tuned model (empty: the model above, untouched).",
                           zh="微调运行的编号:用微调后的模型回答(留空则使用上面的原始模型)。")
    compare_with_base: bool = setting(False, en="With a fine-tune: also answer every prompt with its base model, to compare side by side.",
                                      zh="使用微调结果时:同时用其基础模型回答每条提示,便于并排比较。")
    trust_remote_code: bool = setting(False, en="Allow a hub model to run its own Python code. Only for models whose authors you trust.",
                                      zh="允许 Hub 上的模型运行它自带的 Python 代码。仅对你信任其作者的模型开启。")

    def validate(self):
        check_model_name(self.model)
        if not self.prompts:
            raise LabError("no_prompts")
        for index, prompt in enumerate(self.prompts):
            if not prompt.strip():
                raise LabError("empty_prompt", index=index)
        for index, text in enumerate(self.stop):
            if not text:
                raise LabError("empty_stop", index=index)
        if self.adapter:
            from lab.runs.folder import check_run_id

            check_run_id(self.adapter)
        if self.compare_with_base and not self.adapter:
            raise LabError("compare_needs_adapter")

    @property
    def deterministic(self) -> bool:
        # Greedy is deterministic, and sampling draws from generators seeded by `seed`: both replay exactly.
        return True


def peak_memory_mb(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # process peak RSS; KiB on Linux


def run(spec: GenerateSpec, ctx) -> dict:
    import torch  # imported here: the app imports this module to build the form and must stay light

    from lab.modeling.models import load_model
    from lab.runs.folder import write_atomic

    torch.set_num_threads(ctx.threads)
    started = time.time()

    def loading(done, total, message):  # conversion (first use only) and loading: the first 10% of the bar
        ctx.progress(0.1 * done / total if total else 0.0, 1.0, message=f"model: {message}", force=True)

    base_results = None
    if spec.adapter:
        from lab.finetune.load import adapter_folder, apply_adapter, describe, is_whole_model
        from lab.modeling.finetuned import load_finetuned

        if spec.compare_with_base and not is_whole_model(adapter_folder(spec.adapter)):
            model, tokenizer, info = load_model(describe(spec.adapter)["base_model"], dtype=spec.dtype,
                                                device=spec.device, progress=loading)
            base_results = _generate(spec, model, tokenizer, ctx, "base model")
            model = apply_adapter(model, spec.adapter).eval()  # the same weights, now with the adapter
        else:
            if spec.compare_with_base:  # a fully fine-tuned model: the base is a second model
                base, base_tokenizer, _ = load_model(describe(spec.adapter)["base_model"], dtype=spec.dtype,
                                                     device=spec.device, progress=loading)
                base_results = _generate(spec, base, base_tokenizer, ctx, "base model")
                del base
            model, tokenizer, info = load_finetuned(spec.adapter, dtype=spec.dtype, device=spec.device,
                                                    progress=loading)
    else:
        model, tokenizer, info = load_model(spec.model, dtype=spec.dtype, trust_remote_code=spec.trust_remote_code,
                                            device=spec.device, progress=loading)
    load_seconds = time.time() - started
    ctx.log(f"loaded {info['name']} ({info['parameters'] / 1e6:.1f}M parameters, {info['dtype']}, {info['device']}) "
            f"in {load_seconds:.1f} s" + (f"; weights expanded from a {info['quantized_source']} file"
                                          if info["quantized_source"] else ""))
    (ctx.artifact_dir / "model_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    if spec.use_chat_template and not info["has_chat_template"]:
        ctx.log("this tokenizer has no chat template: prompts are sent as plain text")

    results = _generate(spec, model, tokenizer, ctx, "tuned model" if spec.adapter else "")
    lines = [json.dumps({"prompt": r.prompt, "text": r.text, "finish_reason": r.finish_reason,
                         "new_tokens": r.new_tokens}, ensure_ascii=False) for r in results]
    write_atomic(ctx.artifact_dir / "generations.jsonl", "\n".join(lines) + "\n")
    ctx.log(f"{results.new_tokens} new tokens in {results.wall_seconds:.1f} s ({results.tokens_per_second:.1f} tokens/s)")
    figures = {
        "tokens_per_second": round(results.tokens_per_second, 2),
        "new_tokens": results.new_tokens,
        "generate_seconds": round(results.wall_seconds, 3),
        "load_seconds": round(load_seconds, 3),
        "conversion_seconds": info["conversion_seconds"],
        "wall_seconds": round(time.time() - started, 3),
        "peak_memory_mb": peak_memory_mb(info["device"]),
        "parameters": info["parameters"],
        "n_prompts": len(results),
        "distinct_answers": len({r.text.strip() for r in results}),  # the same prompt thrice: 1 when greedy
        "outputs": [{"prompt": r.prompt, "text": r.text, "finish_reason": r.finish_reason} for r in results],
    }
    if base_results is not None:
        figures["base_outputs"] = [{"prompt": r.prompt, "text": r.text, "finish_reason": r.finish_reason}
                                   for r in base_results]
    return figures


def _generate(spec, model, tokenizer, ctx, label: str):
    from lab.modeling.generation import generate

    def batch_done(done, total):
        ctx.progress(done, total, message=f"{label + ': ' if label else ''}generated {done}/{total} answers")

    return generate(model, tokenizer, spec.prompts, max_new_tokens=spec.max_new_tokens, do_sample=spec.do_sample,
                    temperature=spec.temperature, top_p=spec.top_p, top_k=spec.top_k, seed=spec.seed,
                    batch_size=spec.batch_size, stop=spec.stop, use_chat_template=spec.use_chat_template,
                    on_batch=batch_done)


KINDS.register(GenerateSpec.kind, Kind(GenerateSpec, run))
