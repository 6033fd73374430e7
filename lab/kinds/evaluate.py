"""Kind "evaluate": one model (or fine-tune run) on one task: multiple-choice, generation accuracy or perplexity.

    python -m lab spec evaluate > eval.json && python -m lab run eval.json --wait

Recipe: load the task (a built-in name or an uploaded JSONL, lab/tasks), load the model, compute the
metric (lab/evaluate/metrics.py) over the first n test questions, write artifacts/evaluations.jsonl.
"""
import json
import time
from dataclasses import dataclass

from lab.errors import LabError
from lab.evaluate.metrics import METRICS
from lab.modeling.models import DEFAULT_MODEL
from lab.specs import KINDS, Kind, Spec, device_setting, setting, weights_dtype_setting


@dataclass
class EvaluateSpec(Spec):
    kind = "evaluate"

    model: str = setting(DEFAULT_MODEL, en="The model to evaluate: an offline model name, a local folder, a hub id, or the run id of a fine-tune.",
                         zh="要评测的模型:离线模型名、本地文件夹、Hub 模型 ID,或某次微调运行的编号。")
    task: str = setting("tweet_sentiment", en="The task: a built-in one (see the list) or the path of an uploaded JSONL file of questions and answers.",
                        zh="评测任务:内置任务(见列表)或上传的问答 JSONL 文件路径。")
    metric: str = setting("multiple_choice", en="multiple_choice: score each option by its log-likelihood, no generation; generation: let the model answer and extract the answer; perplexity: how surprised the model is by the question and worked answer (lower is better).",
                          zh="multiple_choice:按对数似然给每个选项打分,无需生成;generation:让模型自由作答并提取答案;perplexity:模型对题目和解答文字的“惊讶程度”(越低越好)。",
                          choices=METRICS.names())
    n_questions: int = setting(40, en="How many test questions to use (the task's first ones). More gives a steadier accuracy.",
                               zh="使用多少道测试题(取任务中的前若干道)。越多,准确率越稳定。", minimum=1, maximum=100000)
    shots: int = setting(0, en="Worked examples put before each question (few-shot), taken from the task's exemplar pool, never from the test questions.",
                         zh="每道题前放入的示例数(少样本),取自任务的示例池,绝不取测试题。", minimum=0, maximum=16)
    max_new_tokens: int = setting(48, en="Generation only: the longest answer, in tokens.", zh="仅用于生成:回答的最大 token 数。",
                                  minimum=1, maximum=2048)
    use_chat_template: bool = setting(True, en="Generation only: wrap each question as a chat message.", zh="仅用于生成:把每道题包装成对话消息。")
    batch_size: int = setting(8, en="Questions processed together.", zh="同时处理的题目数。", minimum=1, maximum=256)
    dtype: str = weights_dtype_setting()
    device: str = device_setting()

    def validate(self):
        from lab.evaluate.contestants import check_contestant, split
        from lab.evaluate.metrics import check_metric
        from lab.tasks import TASKS, check_task_source

        check_contestant(self.model)
        if split(self.model)[1]:
            raise LabError("unknown_variant", contestant=self.model, variant=split(self.model)[1], variants="(none here)")
        check_task_source(self.task)
        if self.task in TASKS:
            check_metric(self.metric, TASKS[self.task].type, self.task)


def run(spec: EvaluateSpec, ctx) -> dict:
    import torch

    from lab.evaluate import contestants
    from lab.evaluate.metrics import check_metric
    from lab.runs.folder import write_atomic
    from lab.tasks import get_task

    torch.set_num_threads(ctx.threads)
    started = time.time()
    task = get_task(spec.task)
    check_metric(spec.metric, task.type, spec.task)  # uploads: the type is known once the file is read
    items = task.questions[:spec.n_questions]

    def loading(done, total, message):
        ctx.progress(0.1 * done / total if total else 0.0, 1.0, message=f"model: {message}", force=True)

    model, tokenizer, info = contestants.load(spec.model, dtype=spec.dtype, device=spec.device, progress=loading)
    ctx.log(f"loaded {info['name']} ({info['parameters'] / 1e6:.1f}M parameters, {info['dtype']}); "
            f"{len(items)} questions of {task.name} ({task.type}), metric {spec.metric}")
    options = {"shots": spec.shots, "max_new_tokens": spec.max_new_tokens, "batch_size": spec.batch_size,
               "use_chat_template": spec.use_chat_template}
    measure_started = time.time()
    figures, rows = METRICS.get(spec.metric).compute(
        task, items, model, tokenizer, options,
        lambda done, total: ctx.progress(0.1 + 0.9 * done / total, 1.0, message=f"{spec.metric}: {done}/{total}"))
    write_atomic(ctx.artifact_dir / "evaluations.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    ctx.log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()))
    return {**{k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()},
            "measure_seconds": round(time.time() - measure_started, 2), "wall_seconds": round(time.time() - started, 2),
            "task": task.name, "task_type": task.type, "examples": rows[:20]}


KINDS.register(EvaluateSpec.kind, Kind(EvaluateSpec, run))
