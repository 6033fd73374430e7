"""Does an lm-eval task YAML score the same in the lab as in lm-eval itself? Per-item log-likelihoods, fp32.

    # 1. in the lab's venv: the lab's scores (writes lab.json next to the YAML)
    python bench/lm_eval_match.py lab   MODEL_FOLDER TASK.yaml N
    # 2. in a separate venv with lm_eval==0.4.13 installed: lm-eval's scores, then the comparison
    /work/venv-lmeval/bin/python bench/lm_eval_match.py lmeval MODEL_FOLDER TASK.yaml N

Prints the largest per-item |difference| of log-likelihoods and both accuracies (the issue asks <= 1e-3 and equal).
"""
import json
import sys
from pathlib import Path


def lab(model_dir: str, yaml_path: str, n: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from lab.evaluate.metrics import METRICS
    from lab.modeling.models import load_model
    from lab.tasks import get_task

    task = get_task(yaml_path)
    model, tokenizer, _ = load_model(model_dir, dtype="fp32")
    options = {"shots": 0, "batch_size": 8, "max_new_tokens": 4, "use_chat_template": False}
    figures, rows = METRICS.get("multiple_choice").compute(task, task.questions[:n], model, tokenizer, options, lambda *_: None)
    out = {"accuracy": figures["accuracy"], "accuracy_norm": figures["accuracy_norm"], "logprobs": [r["logprobs"] for r in rows]}
    Path(yaml_path).with_name("lab.json").write_text(json.dumps(out))


def lmeval(model_dir: str, yaml_path: str, n: int) -> None:
    import lm_eval
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(Path(yaml_path).parent))
    name = Path(yaml_path).stem
    result = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={model_dir},dtype=float32", tasks=[name],
                                     task_manager=manager, limit=n, log_samples=True, batch_size=8, device="cpu")
    samples = sorted(result["samples"][name], key=lambda s: s["doc_id"])
    theirs = [[float(r[0][0]) for r in s["resps"]] for s in samples]
    mine = json.loads(Path(yaml_path).with_name("lab.json").read_text())
    per_item = [max(abs(a - b) for a, b in zip(x, y)) for x, y in zip(mine["logprobs"], theirs)]
    worst = max(per_item)
    print("per-item max |difference|:", " ".join(f"{d:.1e}" for d in per_item))
    metrics = result["results"][name]
    print(json.dumps({"items": len(theirs), "max_abs_logprob_difference": worst,
                      "lab_acc": mine["accuracy"], "lm_eval_acc": metrics.get("acc,none"),
                      "lab_acc_norm": mine["accuracy_norm"], "lm_eval_acc_norm": metrics.get("acc_norm,none")}))


if __name__ == "__main__":
    {"lab": lab, "lmeval": lmeval}[sys.argv[1]](sys.argv[2], sys.argv[3], int(sys.argv[4]))
