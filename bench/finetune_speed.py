"""Fine-tuning speed: the lab against LLaMA-Factory and against the machine. Writes bench/out/finetune_speed.json.

    .venv/bin/python bench/finetune_speed.py [--steps 20] [--rounds 2] [--dataset chatterbot|arithmetic]
                                             [--llamafactory /tmp/lf-venv/bin/llamafactory-cli] [--keep]

Same model (the converted SmolLM2-135M-Instruct folder), same data (the lab's training rows -- by default the built-in
"chatterbot" set minus the 38 rows longer than max_length - 1 tokens, given to the lab as an upload -- exported to
LLaMA-Factory's alpaca format with a dataset_info.json), same LoRA (r=8, alpha=16, dropout 0.05, q_proj,v_proj), same
steps, batch size (4), cutoff/max length (128), seed and learning rate. Throughput counts only non-padding tokens.
~15-40 minutes (load-dependent).

The lab's levers (issue 18; lab/finetune/{precision,loss,encode}.py), each kept or dropped by measurement:
  loss at labelled positions only   the output layer and cross-entropy run only where the next token has a label
                                    (answer-only training: the prompt needs no logits). Kept: always on (AdaLoRA,
                                    whose forward adds to the label loss, trains through the model's own loss).
  first-fit-decreasing packing      blocks fuller than packing in order, examples kept apart by position_ids
                                    (block-diagonal causal mask, use_cache=False). The lab's `packing` setting.
  bf16 frozen base + fp32 trainable where the CPU (or GPU) multiplies bf16 natively (cpu_has_fast_bf16), fp32 else:
                                    "auto" on a CPU without AVX512-BF16/AMX stays fp32, so this lever cannot be
                                    measured there; the result records train_dtype, train_path and the reason.
  threads                           the round's probe picks 1 or 2 (below); the lab's LAB_THREADS.
  metrics callback                  one JSON line per logged step and a progress file at most twice a second:
                                    no per-step work beyond that (measured negligible against seconds-long steps).
  torch.compile                     measured by bench/compile_speed.py (compiled decoder body vs eager, one process,
                                    same rows and seed, dynamic shapes or widths bucketed to 32; Dec 2026, AMD EPYC
                                    2 cores, load 8-26, 1 thread): tiny 2-layer Llama, compiling took 246 s (dynamic)
                                    and 322 s (buckets) for a steady 1.17x / 1.32x per step (0.21 s -> 0.18 s): break
                                    even after ~7,800 steps; SmolLM2-135M had not finished compiling its first step
                                    after 34 min (load 19-26). Loss curves within 1.4e-3 of eager over 12 steps.
                                    Dropped as a default: the lab's `torch_compile` setting (off) keeps it opt-in
                                    for long runs (and GPUs, where compiling is quicker; not measured here).
Today's code (--baseline-ref, `git archive` of the commit before these levers) runs the identical settings in every
round too: "speedup_vs_today" per round, and "loss_curves" shows today's fp32 curve beside this branch's on the same
rows and seed (and the packed run's curve, which sees other batches).

Two comparisons, interleaved round by round (lab, LF, lab, LF, ...) because the machine is shared and its load moves:
  identical  both: no packing, fp32, 1 torch thread, no gradient checkpointing, no eval during training;
  best       each tool's best CPU settings: lab packing=True with dtype "auto" (its own choice: fp32 here),
             LLaMA-Factory --lf-best packing (default; neat_packing's 4D mask was slower here) with its best dtype
             (bf16 only where a matmul probe says bf16 beats fp32); both at the thread count chosen before the round
             (2 only when a matmul probe says 2 threads clearly beat 1 AND the 1-minute load average is under 2).
"fastest_measured_config" also compares each tool's faster configuration (packing or not), unpaired.
Against the machine: the best fp32 torch.mm rate of one and of two cores (probed before every round and at the end)
and the lab's LoRA FLOP rate 4 x parameters x tokens/s as a fraction of it.

Throughput per run:
  steady       non-padding tokens of steps 2..N / time from the end of step 1 to the end of step N (both tools timed
               by the same per-step events: the lab's metrics.jsonl, LF's on_step_end) -> the headline ratios;
  median_step  the median of the per-step rates (less sensitive to a burst of load during a few steps);
  whole_run    each tool's own figure: the lab's result tokens_per_second (tokens / seconds since train() began,
               Trainer construction included) and LF tokens / Trainer train_runtime.
Peak memory: max RSS of the training process, read the same way for both (getrusage RUSAGE_SELF at its end).

LLaMA-Factory lives only in its own venv (never installed from here). Give its CLI with --llamafactory or
$LLAMAFACTORY_CLI; without it, that half is skipped with a note. It is run as its own `run_exp` under a small
wrapper (the venv's python) that adds one TrainerCallback and a hook on Trainer._track_num_input_tokens to count
non-padding tokens exactly (trailing pad positions with label -100 removed per row) -- Trainer's own
`include_num_input_tokens_seen: non_padding` sums the attention mask, which counts LF's packing pad (mask 1) and
is meaningless for neat_packing's 4D mask; both counts are stored (they agree without packing). LF 0.9.5 loads the
base in the checkpoint's saved dtype (torch_dtype="auto": bf16 for the converted folder) whatever `bf16:` says, so
its fp32 runs use a view of the same folder whose config.json says float32.
"""
import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MODEL = "smollm2-135m-instruct"
SEED = 0
LEARNING_RATE = 2e-4
BASELINE_REF = "c682fc0"  # main before issue 18: full logits, in-order packing across borders, fp32 master weights
LORA = {"r": 8, "alpha": 16, "dropout": 0.05, "target": "q_proj,v_proj"}

LF_WRAPPER = r'''
"""Runs LLaMA-Factory's own run_exp on a YAML, adding per-step timing and an exact non-padding token count."""
import json, resource, sys, time
import torch, transformers, yaml

cfg_path, stats_path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(threads)
stats = {"steps": [], "real_tokens": 0, "hf_counted_tokens": 0, "padded_tokens": 0, "batches": 0}
original_track = transformers.Trainer._track_num_input_tokens


def track(self, inputs):
    ids, labels = inputs["input_ids"], inputs.get("labels")
    pad = self.processing_class.pad_token_id
    padding = ids == pad
    if labels is not None:
        padding &= labels == -100
    trailing = padding.flip(-1).int().cumprod(-1).sum(-1)  # pad run at the end of each row
    stats["real_tokens"] += int(ids.numel() - trailing.sum())
    stats["padded_tokens"] += int(ids.numel())
    stats["batches"] += 1
    stats.setdefault("batch_widths", []).append(int(ids.shape[-1]))
    mask = inputs.get("attention_mask")
    stats["attention_mask_dims"] = None if mask is None else mask.dim()
    stats["batch_shape"] = list(ids.shape)
    return original_track(self, inputs)


transformers.Trainer._track_num_input_tokens = track


class Timing(transformers.TrainerCallback):
    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.t0 = time.perf_counter()
        stats["torch_threads"] = torch.get_num_threads()
        dtypes = {}
        for name, p in model.named_parameters():
            key = "trainable" if p.requires_grad else "frozen"
            dtypes.setdefault(key, set()).add(str(p.dtype).replace("torch.", ""))
        stats["param_dtypes"] = {k: sorted(v) for k, v in dtypes.items()}
        stats["trainable_params"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
        stats["gradient_checkpointing"] = bool(getattr(model, "is_gradient_checkpointing", False))

    def on_step_end(self, args, state, control, **kwargs):
        stats["steps"].append([state.global_step, round(time.perf_counter() - self.t0, 4), stats["real_tokens"],
                               int(state.num_input_tokens_seen or 0)])

    def on_train_end(self, args, state, control, **kwargs):
        stats["hf_counted_tokens"] = int(state.num_input_tokens_seen or 0)


from llamafactory.train.tuner import run_exp

with open(cfg_path) as handle:
    config = yaml.safe_load(handle)
started = time.perf_counter()
run_exp(config, callbacks=[Timing()])
stats["process_seconds"] = round(time.perf_counter() - started, 2)
stats["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
with open(stats_path, "w") as handle:
    json.dump(stats, handle)
'''


def loadavg() -> list:
    return [round(x, 2) for x in os.getloadavg()]


def median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


# -- the machine ----------------------------------------------------------------------------------------------
def matmul_gflops(threads: int, dtype_name: str = "float32", sizes=(1024, 2048), repeats: int = 4) -> float:
    """Best torch.mm rate (GFLOP/s) of square matrices at this thread count."""
    import torch

    dtype = getattr(torch, dtype_name)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    best = 0.0
    try:
        for n in sizes:
            a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
            torch.mm(a, b)
            for _ in range(repeats):
                started = time.perf_counter()
                torch.mm(a, b)
                best = max(best, 2 * n**3 / (time.perf_counter() - started) / 1e9)
    finally:
        torch.set_num_threads(before)
    return round(best, 2)


def probe_peaks(label: str) -> dict:
    before = loadavg()
    row = {"when": label, "fp32_1_thread_gflops": matmul_gflops(1), "fp32_2_threads_gflops": matmul_gflops(2)}
    row.update(loadavg_before=before, loadavg_after=loadavg())
    return row


def best_threads(probe: dict) -> int:
    """2 threads only when they clearly beat 1 in the probe AND the 1-minute load average is under 2 (this bench's own
    process counts ~1): a 2-second matmul probe can catch a quiet moment, but a 2-thread run lasts minutes, and on a
    shared 2-core box one busy neighbour makes 2 threads slower than 1 (seen here: 2-thread runs at load 2.5-3.7
    dropped to 24 tokens/s, against 67 for 1 thread)."""
    clearly_faster = probe["fp32_2_threads_gflops"] > 1.25 * probe["fp32_1_thread_gflops"]
    return 2 if clearly_faster and probe["loadavg_before"][0] < 2.0 else 1


def cpu_fast_bf16() -> bool:
    from lab.modeling.models import cpu_has_fast_bf16

    return cpu_has_fast_bf16()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# -- the model and the data -------------------------------------------------------------------------------------
def find_model(convert: bool) -> Path:
    """A converted model folder already on this machine, else the lab converts it once into ./lab_data."""
    homes = [os.environ.get("LAB_HOME"), "/tmp/real", str(REPO / "lab_data")]
    for home in filter(None, homes):
        folder = Path(home) / "models" / MODEL
        if (folder / "lab_model_info.json").is_file():
            return folder.resolve()
    if not convert:
        raise SystemExit(f"no converted {MODEL} found under {homes}; run without --no-convert")
    print(f"converting {MODEL} into {REPO / 'lab_data'} (once, ~30-60 s)", flush=True)
    env = dict(os.environ, LAB_HOME=str(REPO / "lab_data"))
    subprocess.run([sys.executable, "-c", f"from lab.modeling.conversion import ensure_converted; ensure_converted({MODEL!r})"],
                   cwd=REPO, env=env, check=True)
    return (REPO / "lab_data" / "models" / MODEL).resolve()


def fp32_model_view(source: Path, target: Path) -> Path:
    """The same weights, but config.json says float32: LLaMA-Factory 0.9.5 loads with torch_dtype="auto", i.e. in the
    checkpoint's saved dtype (bf16 here) whatever `bf16:` says, so this is how it trains an fp32 base."""
    target.mkdir(parents=True)
    for item in source.iterdir():
        if item.name != "config.json":
            (target / item.name).symlink_to(item)
    config = json.loads((source / "config.json").read_text())
    config["dtype"] = "float32"
    config.pop("torch_dtype", None)
    (target / "config.json").write_text(json.dumps(config, indent=2))
    return target


def lab_dataset(name: str, model_folder: Path, max_length: int, work: Path) -> tuple[str, dict]:
    """What the lab's spec names as its data. "arithmetic" is built in (57-61 tokens a row: almost no padding to
    save). "chatterbot" (33-164 tokens) is the built-in file minus the rows longer than max_length - 1 tokens (the lab
    refuses a set with too-long rows; LLaMA-Factory's template adds one trailing newline token), as an upload."""
    if name == "arithmetic":
        return name, {"dataset": name}
    from transformers import AutoTokenizer

    from lab.finetune import encode
    from lab.finetune.datasets import BUILTIN, _row_to_example

    tokenizer = AutoTokenizer.from_pretrained(str(model_folder))
    rows = BUILTIN[name].load()
    kept = [{k: row[k] for k in ("instruction", "input", "output") if k in row} for row in rows
            if len(encode.encode_example(tokenizer, _row_to_example(dict(row), name), max_length)["input_ids"]) < max_length]
    path = work / f"{name}_fits_{max_length}.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in kept))
    return str(path), {"dataset": name, "rows_in_file": len(rows), "rows_kept": len(kept),
                       "filter": f"rows of at most {max_length - 1} tokens with the lab's chat template", "file": str(path)}


def expected_fill(lengths: list, batch_size: int) -> float:
    """Share of real tokens in random batches padded to their longest row (what the lab's Collator does)."""
    rng = random.Random(SEED)
    real = slots = 0
    for _ in range(4000):
        batch = rng.sample(lengths, batch_size)
        real, slots = real + sum(batch), slots + batch_size * max(batch)
    return round(real / slots, 3)


def lab_packing_stats(dataset: str, model_folder: Path, max_length: int, batch_size: int) -> dict:
    """How full the lab's packed blocks are (lab/finetune/encode.pack: first-fit-decreasing) and how full its batches
    are with and without packing."""
    from transformers import AutoTokenizer

    from lab.finetune import encode
    from lab.finetune.datasets import load_examples

    tokenizer = AutoTokenizer.from_pretrained(str(model_folder))
    train, _, _ = load_examples(dataset, seed=SEED)
    items = encode.encode_all(tokenizer, train, max_length)
    blocks = encode.pack(items, max_length)
    lengths = [len(b["input_ids"]) for b in blocks]
    rows = [len(i["input_ids"]) for i in items]
    return {"rows": len(items), "mean_row_tokens": round(statistics.mean(rows), 1),
            "packed_blocks": len(blocks), "mean_block_tokens": round(statistics.mean(lengths), 1),
            "block_fill": round(statistics.mean(lengths) / max_length, 3),
            "expected_batch_fill_unpacked": expected_fill(rows, batch_size),
            "expected_batch_fill_packed": expected_fill(lengths, batch_size)}


def export_alpaca(dataset: str, folder: Path) -> dict:
    """The lab's training rows (same split, same seed) as LLaMA-Factory alpaca data with a dataset_info.json."""
    from lab.finetune.datasets import load_examples

    train, _, _ = load_examples(dataset, seed=SEED)
    rows = []
    for example in train:
        messages = example["messages"]
        system = "\n".join(m["content"] for m in messages if m["role"] == "system")
        turns = [m for m in messages if m["role"] != "system"]
        if len(turns) != 2:
            raise SystemExit("only single-turn rows are exported")
        row = {"instruction": turns[0]["content"], "input": "", "output": turns[1]["content"]}
        if system:
            row["system"] = system
        rows.append(row)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lab_train.json").write_text(json.dumps(rows, ensure_ascii=False))
    columns = {"prompt": "instruction", "query": "input", "response": "output"}
    if any("system" in row for row in rows):
        columns["system"] = "system"
    info = {"lab_train": {"file_name": "lab_train.json", "columns": columns}}
    (folder / "dataset_info.json").write_text(json.dumps(info, indent=2))
    return {"rows": len(rows), "dataset_dir": str(folder)}


# -- the lab ------------------------------------------------------------------------------------------------------
def lab_spec(args, packing: bool, dtype: str, steps: int) -> dict:
    return {"kind": "finetune", "name": f"bench finetune_speed packing={packing}", "seed": SEED, "model": MODEL,
            "method": "lora", "dataset": args.lab_dataset, "max_steps": steps, "learning_rate": LEARNING_RATE,
            "lr_scheduler": "cosine", "warmup_ratio": 0.1, "batch_size": args.batch_size,
            "gradient_accumulation_steps": 1, "max_length": args.max_length, "packing": packing, "answer_only": True,
            "eval_steps": 0, "eval_examples": 1, "accuracy_examples": 0, "save_steps": 0, "dtype": dtype,
            "gradient_checkpointing": False, "lora_r": LORA["r"], "lora_alpha": LORA["alpha"],
            "lora_dropout": LORA["dropout"], "target_modules": LORA["target"]}


def lab_home(work: Path, threads: int, model_folder: Path) -> Path:
    """One LAB_HOME per thread count: its dispatcher reads LAB_THREADS when it starts."""
    home = work / f"lab_home_{threads}t"
    if not home.exists():
        (home / "models").mkdir(parents=True)
        (home / "models" / MODEL).symlink_to(model_folder)
    return home


def steady_rate(points: list) -> dict:
    """points: (step, seconds, cumulative tokens) at the end of each step -> tokens/s after step 1, and the median
    of the per-step rates (less sensitive to a burst of load from other users during a few steps)."""
    points = sorted(points)
    if len(points) < 2 or points[-1][1] <= points[0][1]:
        return {"steady_tokens_per_second": None}
    (_, t1, k1), (_, tn, kn) = points[0], points[-1]
    per_step = [(b[2] - a[2]) / (b[1] - a[1]) for a, b in zip(points, points[1:]) if b[1] > a[1]]
    return {"steady_tokens_per_second": round((kn - k1) / (tn - t1), 2), "steady_seconds": round(tn - t1, 2),
            "steady_tokens": kn - k1, "seconds_per_step": round((tn - t1) / (len(points) - 1), 3),
            "median_step_tokens_per_second": round(statistics.median(per_step), 2) if per_step else None,
            "non_padding_tokens_per_step": round((kn - k1) / (len(points) - 1), 1)}


def baseline_code(work: Path, ref: str) -> Path:
    """Today's fine-tuning code (before issue 18's levers) as a plain folder: `git archive REF lab assets`."""
    target = work / "baseline_code"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "lab", "assets"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def run_lab(args, work: Path, model_folder: Path, packing: bool, dtype: str, threads: int, tag: str,
            steps: int | None = None, code: Path = REPO) -> dict:
    home = lab_home(work, threads, model_folder) if code == REPO else lab_home(work / "baseline", threads, model_folder)
    spec_path = work / f"lab_{tag}.json"
    spec_path.write_text(json.dumps(lab_spec(args, packing, dtype, steps or args.steps), indent=2))
    env = dict(os.environ, LAB_HOME=str(home), LAB_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               LAB_LAUNCH="spawn", LAB_MAX_JOBS="1", LAB_IDLE_EXIT="2", PYTHONUNBUFFERED="1")
    row = {"tool": "lab", "tag": tag, "packing": packing, "dtype_setting": dtype, "threads": threads,
           "loadavg_before": loadavg()}
    started = time.time()
    row["code"] = "this branch" if code == REPO else f"baseline {args.baseline_ref} (today's path)"
    proc = subprocess.run([sys.executable, "-m", "lab", "run", str(spec_path), "--wait"], cwd=code, env=env,
                          capture_output=True, text=True)
    row["wall_seconds"] = round(time.time() - started, 1)
    row["loadavg_after"] = loadavg()
    run_id = (proc.stdout.splitlines() or [""])[0].strip()
    row["run_id"] = run_id
    if proc.returncode != 0:
        row["error"] = (proc.stdout + proc.stderr)[-1500:]
        return row
    shown = subprocess.run([sys.executable, "-m", "lab", "show", run_id, "--json"], cwd=code, env=env,
                           capture_output=True, text=True, check=True)
    result = json.loads(shown.stdout)
    metrics = {**(result.get("outputs") or {}), **result["metrics"]}  # texts and flags are kept under outputs
    row.update({key: metrics.get(key) for key in ("tokens_per_second", "train_seconds", "peak_memory_mb", "steps",
                                                  "trainable_params", "total_params", "train_loss_first",
                                                  "train_loss_last", "train_dtype", "train_path", "train_dtype_reason",
                                                  "labelled_only_loss", "packing_used", "packed_fill")})
    row["torch_threads"] = metrics.get("threads")
    row["whole_run_tokens_per_second"] = metrics.get("tokens_per_second")
    points, tokens, curve = [], 0, []
    for line in (home / "runs" / run_id / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "loss" in record and record.get("step"):
            points.append((record["step"], record["elapsed"], record["tokens_seen"]))
            tokens = max(tokens, record["tokens_seen"])
            curve.append([record["step"], record["loss"]])
    row["loss_curve"] = curve
    row["non_padding_tokens"] = tokens
    row.update(steady_rate(points))
    time.sleep(3)  # let this home's idle dispatcher exit (LAB_IDLE_EXIT=2) before the next measurement
    return row


# -- LLaMA-Factory ------------------------------------------------------------------------------------------------
def find_llamafactory(given: str | None) -> tuple[Path | None, str]:
    given = given or os.environ.get("LLAMAFACTORY_CLI")
    if not given:
        return None, "no LLaMA-Factory given (--llamafactory PATH/bin/llamafactory-cli or $LLAMAFACTORY_CLI)"
    path = Path(given)
    if path.is_dir():
        path = path / "bin" / "llamafactory-cli"
    python = path.parent / "python"
    if not path.is_file() or not python.exists():
        return None, f"LLaMA-Factory not found at {given} (expected a venv's bin/llamafactory-cli beside bin/python)"
    return python, ""


def lf_version(python: Path) -> str:
    proc = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(' '.join(f'{p}=={m.version(p)}' "
                           "for p in ('llamafactory','transformers','peft','torch','accelerate')))"],
                          capture_output=True, text=True)
    return proc.stdout.strip() or proc.stderr.strip()[-300:]


def lf_yaml(args, model_folder: Path, dataset_dir: Path, output_dir: Path, packing: str, bf16: bool) -> str:
    lines = [
        "### model",
        f"model_name_or_path: {model_folder}",
        "trust_remote_code: false",
        "### method",
        "stage: sft",
        "do_train: true",
        "finetuning_type: lora",
        f"lora_rank: {LORA['r']}",
        f"lora_alpha: {LORA['alpha']}",
        f"lora_dropout: {LORA['dropout']}",
        f"lora_target: {LORA['target']}",
        "disable_gradient_checkpointing: true  # LF turns it on by default; the lab's runs have it off",
        "### dataset (no `template:`: LF parses the tokenizer's own chat template, as the lab applies it)",
        "dataset: lab_train",
        f"dataset_dir: {dataset_dir}",
        f"cutoff_len: {args.max_length}",
        "overwrite_cache: true",
        "dataloader_num_workers: 0",
        f"packing: {'true' if packing in ('packing', 'neat_packing') else 'false'}",
        f"neat_packing: {'true' if packing == 'neat_packing' else 'false'}",
        "### output",
        f"output_dir: {output_dir}",
        "logging_steps: 1",
        "save_strategy: steps",
        f"save_steps: {args.steps}",
        "plot_loss: false",
        "report_to: none",
        "### train",
        f"per_device_train_batch_size: {args.batch_size}",
        "gradient_accumulation_steps: 1",
        f"learning_rate: {LEARNING_RATE}",
        f"max_steps: {args.steps}",
        "lr_scheduler_type: cosine",
        "warmup_ratio: 0.1",
        "weight_decay: 0.0",
        f"bf16: {'true' if bf16 else 'false'}",
        "use_cpu: true",
        f"seed: {SEED}",
        "include_num_input_tokens_seen: non_padding",
    ]
    return "\n".join(lines) + "\n"


def run_lf(args, python: Path, work: Path, model_folder: Path, dataset_dir: Path, packing: str, bf16: bool,
           threads: int, tag: str) -> dict:
    output_dir = work / f"lf_out_{tag}"
    config = lf_yaml(args, model_folder, dataset_dir, output_dir, packing, bf16)
    config_path, stats_path = work / f"lf_{tag}.yaml", work / f"lf_{tag}_stats.json"
    config_path.write_text(config)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               HF_DATASETS_CACHE=str(work / "hf_datasets"), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), CUDA_VISIBLE_DEVICES="", WANDB_DISABLED="true", PYTHONUNBUFFERED="1",
               GRADIO_ANALYTICS_ENABLED="False", DISABLE_VERSION_CHECK="1")
    env.pop("LAB_HOME", None)
    row = {"tool": "llamafactory", "tag": tag, "packing": packing, "bf16": bf16, "threads": threads,
           "loadavg_before": loadavg()}
    started = time.time()
    proc = subprocess.run([str(python), str(work / "lf_wrapper.py"), str(config_path), str(stats_path), str(threads)],
                          cwd=work, env=env, capture_output=True, text=True)
    row["wall_seconds"] = round(time.time() - started, 1)
    row["loadavg_after"] = loadavg()
    (work / f"lf_{tag}.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0 or not stats_path.is_file():
        row["error"] = (proc.stdout + proc.stderr)[-2000:]
        return row
    stats = json.loads(stats_path.read_text())
    results = json.loads((output_dir / "all_results.json").read_text()) if (output_dir / "all_results.json").is_file() else {}
    runtime = results.get("train_runtime")
    row.update(non_padding_tokens=stats["real_tokens"], hf_non_padding_count=stats["hf_counted_tokens"],
               tokens_in_batches_incl_padding=stats["padded_tokens"], steps=len(stats["steps"]),
               train_runtime=runtime, peak_memory_mb=stats["peak_memory_mb"], param_dtypes=stats.get("param_dtypes"),
               trainable_params=stats.get("trainable_params"), torch_threads=stats.get("torch_threads"),
               gradient_checkpointing=stats.get("gradient_checkpointing"), last_batch_shape=stats.get("batch_shape"),
               attention_mask_dims=stats.get("attention_mask_dims"), train_loss=results.get("train_loss"),
               mean_batch_width=round(statistics.mean(stats["batch_widths"]), 1) if stats.get("batch_widths") else None,
               non_padding_share=round(stats["real_tokens"] / stats["padded_tokens"], 3) if stats["padded_tokens"] else None,
               whole_run_tokens_per_second=round(stats["real_tokens"] / runtime, 2) if runtime else None)
    row.update(steady_rate([(s, t, k) for s, t, k, _ in stats["steps"]]))
    return row


# -- the rounds ---------------------------------------------------------------------------------------------------
def ratio(lab: dict, lf: dict, key: str):
    a, b = lab.get(key), lf.get(key)
    return round(a / b, 3) if a and b else None


def summarize(pairs: list) -> dict:
    return {"pairs": pairs,
            "ratio_steady_median": median([p["ratio_steady"] for p in pairs]),
            "ratio_median_step_median": median([p["ratio_median_step"] for p in pairs]),
            "ratio_whole_run_median": median([p["ratio_whole_run"] for p in pairs]),
            "lab_steady_tokens_per_second_median": median([p["lab_steady_tokens_per_second"] for p in pairs]),
            "llamafactory_steady_tokens_per_second_median": median([p["llamafactory_steady_tokens_per_second"] for p in pairs]),
            "lab_peak_memory_mb_max": max((p["lab_peak_memory_mb"] for p in pairs if p["lab_peak_memory_mb"]), default=None),
            "llamafactory_peak_memory_mb_max": max((p["llamafactory_peak_memory_mb"] for p in pairs
                                                    if p["llamafactory_peak_memory_mb"]), default=None)}


def pair(lab: dict, lf: dict | None) -> dict:
    row = {"lab_steady_tokens_per_second": lab.get("steady_tokens_per_second"),
           "lab_median_step_tokens_per_second": lab.get("median_step_tokens_per_second"),
           "lab_whole_run_tokens_per_second": lab.get("whole_run_tokens_per_second"),
           "lab_peak_memory_mb": lab.get("peak_memory_mb"), "threads": lab.get("threads"),
           "loadavg": [lab["loadavg_before"], lab["loadavg_after"]]}
    if lf is not None:
        row.update(llamafactory_steady_tokens_per_second=lf.get("steady_tokens_per_second"),
                   llamafactory_median_step_tokens_per_second=lf.get("median_step_tokens_per_second"),
                   llamafactory_whole_run_tokens_per_second=lf.get("whole_run_tokens_per_second"),
                   llamafactory_peak_memory_mb=lf.get("peak_memory_mb"),
                   ratio_steady=ratio(lab, lf, "steady_tokens_per_second"),
                   ratio_median_step=ratio(lab, lf, "median_step_tokens_per_second"),
                   ratio_whole_run=ratio(lab, lf, "whole_run_tokens_per_second"))
        row["loadavg"] += [lf["loadavg_before"], lf["loadavg_after"]]
    else:
        row.update(llamafactory_steady_tokens_per_second=None, llamafactory_median_step_tokens_per_second=None,
                   llamafactory_whole_run_tokens_per_second=None, llamafactory_peak_memory_mb=None,
                   ratio_steady=None, ratio_median_step=None, ratio_whole_run=None)
    return row


def flop_fraction(run: dict, params: int, peak_gflops: float) -> dict:
    rate = run.get("steady_tokens_per_second")
    if not rate or not peak_gflops:
        return {}
    gflops = 4 * params * rate / 1e9
    return {"tokens_per_second": rate, "gflops": round(gflops, 2), "peak_gflops": peak_gflops,
            "fraction_of_peak": round(gflops / peak_gflops, 3), "packing": run["packing"], "threads": run["threads"],
            "loadavg": [run["loadavg_before"], run["loadavg_after"]]}


def loss_curves(runs: list) -> dict:
    """Today's fp32 path and this branch's, same rows, seed and settings (identical: no packing, fp32, 1 thread):
    the curves and their largest step-by-step difference. Packed runs see other batches, so their curve is shown
    beside, not compared step by step."""
    def first(prefix, code):
        return next((r for r in runs if r["tool"] == "lab" and r["tag"].startswith(prefix) and "error" not in r
                     and r.get("code", "").startswith(code)), None)

    today, new, packed = first("baseline_identical", "baseline"), first("identical", "this"), first("best", "this")
    out = {"today_fp32_identical": today and today.get("loss_curve"),
           "new_identical": new and new.get("loss_curve"), "new_best_packed": packed and packed.get("loss_curve"),
           "new_identical_train_dtype": new and new.get("train_dtype"),
           "new_best_train_dtype": packed and packed.get("train_dtype")}
    if today and new and today.get("loss_curve") and new.get("loss_curve"):
        a, b = dict(map(tuple, today["loss_curve"])), dict(map(tuple, new["loss_curve"]))
        common = sorted(set(a) & set(b))
        out["max_abs_difference"] = round(max(abs(a[k] - b[k]) for k in common), 6) if common else None
        out["steps_compared"] = len(common)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps per run (default 20)")
    parser.add_argument("--dataset", choices=["chatterbot", "arithmetic"], default="chatterbot",
                        help="chatterbot (default: varied lengths, so padding and packing matter) or arithmetic")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; each: lab+LF identical, lab+LF best")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--llamafactory", help="LLaMA-Factory venv's bin/llamafactory-cli (or the venv folder); "
                                               "default $LLAMAFACTORY_CLI; absent: that half is skipped")
    parser.add_argument("--lf-best", choices=["packing", "neat_packing", "none"], default="packing",
                        help="LLaMA-Factory's packing mode in the 'best' runs (default packing: measured faster "
                             "than neat_packing here, whose 4D mask costs more than it saves)")
    parser.add_argument("--no-two-thread-run", action="store_true",
                        help="skip the extra lab run at 2 threads (for the two-core FLOP fraction) when no round "
                             "chose 2 threads")
    parser.add_argument("--baseline-ref", default=BASELINE_REF,
                        help=f"git ref of today's fine-tuning code, run beside this branch's for the speed-up and the "
                             f"two loss curves (default {BASELINE_REF}: the commit before issue 18's levers)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the runs of today's code")
    parser.add_argument("--no-convert", action="store_true", help="fail instead of converting the model")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (specs, YAML, logs)")
    args = parser.parse_args()

    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    bench_started = time.time()
    work = Path(tempfile.mkdtemp(prefix="finetune-speed-"))
    figures = {"benchmark": "finetune_speed", "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "machine": {"cpus": os.cpu_count(), "cpu": cpu_model(), "loadavg_start": loadavg()}}
    try:
        model_folder = find_model(convert=not args.no_convert)
        import torch

        fast_bf16 = cpu_fast_bf16()
        figures["machine"].update(native_bf16=fast_bf16, torch=torch.__version__)
        args.lab_dataset, data_info = lab_dataset(args.dataset, model_folder, args.max_length, work)
        data = export_alpaca(args.lab_dataset, work / "lf_data")
        data_info["lab_packing"] = lab_packing_stats(args.lab_dataset, model_folder, args.max_length, args.batch_size)
        figures["settings"] = {
            "model_folder": str(model_folder), "data": data_info, "train_rows": data["rows"], "steps": args.steps,
            "batch_size": args.batch_size, "max_length": args.max_length, "lora": LORA, "learning_rate": LEARNING_RATE,
            "seed": SEED, "eval_during_training": False,
            "timing": "steady = non-padding tokens of steps 2..N / seconds between the end of step 1 and of step N; "
                      "whole_run = each tool's own figure (lab: result tokens_per_second, Trainer construction "
                      "included; LF: tokens / Trainer train_runtime)"}
        python, missing = find_llamafactory(args.llamafactory)
        lf = {"available": python is not None}
        if python is None:
            lf["note"] = f"skipped: {missing}. Install it in its own venv (shared/PLATFORM.md), never into this one."
        else:
            lf.update(python=str(python), versions=lf_version(python),
                      token_count="exact count by the wrapper: per row, tokens minus the trailing pad positions "
                                  "(pad id with label -100), hooked at Trainer._track_num_input_tokens; Trainer's own "
                                  "include_num_input_tokens_seen=non_padding (attention-mask sum) is stored beside it "
                                  "as hf_non_padding_count and matches without packing")
            (work / "lf_wrapper.py").write_text(textwrap.dedent(LF_WRAPPER))
            lf_fp32_model = fp32_model_view(model_folder, work / "model_fp32_view")
        figures["llamafactory"] = lf

        # each tool's best dtype on this CPU: bf16 only where the CPU multiplies it natively and it beats fp32
        bf16_rate = matmul_gflops(1, "bfloat16", sizes=(1024,), repeats=2)
        fp32_rate = matmul_gflops(1)
        best_bf16 = fast_bf16 and bf16_rate > fp32_rate
        figures["dtype_probe"] = {"fp32_1_thread_gflops": fp32_rate, "bf16_1_thread_gflops": bf16_rate,
                                  "best_dtype": "bf16" if best_bf16 else "fp32"}

        baseline = None if args.no_baseline else baseline_code(work, args.baseline_ref)
        probes, runs, identical, best = [], [], [], []
        for round_index in range(args.rounds):
            probe = probe_peaks(f"before round {round_index + 1}")
            threads = best_threads(probe)
            probe["best_threads"] = threads
            probes.append(probe)
            print(f"round {round_index + 1}: probe {probe}", flush=True)
            # identical settings: no packing, fp32, 1 thread
            lab_a = run_lab(args, work, model_folder, packing=False, dtype="fp32", threads=1, tag=f"identical_{round_index}")
            runs.append(lab_a)
            print(json.dumps(lab_a), flush=True)
            lf_a = None
            if python is not None:
                lf_a = run_lf(args, python, work, lf_fp32_model, work / "lf_data", "none", False, 1,
                              f"identical_{round_index}")
                runs.append(lf_a)
                print(json.dumps(lf_a), flush=True)
            identical.append(pair(lab_a, lf_a))
            if baseline is not None:
                old = run_lab(args, work, model_folder, packing=False, dtype="fp32", threads=1,
                              tag=f"baseline_identical_{round_index}", code=baseline)
                runs.append(old)
                print(json.dumps(old), flush=True)
                identical[-1]["today_steady_tokens_per_second"] = old.get("steady_tokens_per_second")
                identical[-1]["today_peak_memory_mb"] = old.get("peak_memory_mb")
                identical[-1]["speedup_vs_today"] = ratio(lab_a, old, "steady_tokens_per_second")
            # best settings: packing, each tool's dtype, the thread count the probe liked
            lab_b = run_lab(args, work, model_folder, packing=True, dtype="auto", threads=threads, tag=f"best_{round_index}")
            runs.append(lab_b)
            print(json.dumps(lab_b), flush=True)
            lf_b = None
            if python is not None:
                lf_b = run_lf(args, python, work, model_folder if best_bf16 else lf_fp32_model, work / "lf_data",
                              args.lf_best, best_bf16, threads, f"best_{round_index}")
                runs.append(lf_b)
                print(json.dumps(lf_b), flush=True)
            best.append(pair(lab_b, lf_b))
            # a run cut short (deadline, crash) still leaves its finished rounds: bench/out/finetune_speed_partial.json
            (out / "finetune_speed_partial.json").write_text(json.dumps(
                dict(figures, partial=f"{round_index + 1} of {args.rounds} rounds", runs=runs, probes=probes,
                     identical_pairs=identical, best_pairs=best), indent=2, default=str))

        lab_runs = [r for r in runs if r["tool"] == "lab" and "error" not in r and r.get("code") == "this branch"]
        if not args.no_two_thread_run and not any(r["threads"] == 2 for r in lab_runs):
            probe = probe_peaks("before the extra 2-thread lab run")
            probes.append(probe)
            extra = run_lab(args, work, model_folder, packing=True, dtype="auto", threads=2, tag="two_threads",
                            steps=max(4, args.steps // 2))
            extra["note"] = "extra run for the two-core FLOP fraction (no round's probe chose 2 threads)"
            runs.append(extra)
            print(json.dumps(extra), flush=True)
        probes.append(probe_peaks("end"))

        figures["identical"] = summarize(identical)
        figures["best"] = summarize(best)
        figures["best"]["settings"] = {
            "lab": f"packing=True (first-fit-decreasing, examples kept apart), loss at labelled positions only, dtype "
                   f"auto (-> {'bf16 frozen base + fp32 LoRA' if fast_bf16 else 'fp32: no native bf16 on this CPU'}), "
                   f"threads per round's probe",
            "llamafactory": f"{args.lf_best}, {'bf16' if best_bf16 else 'fp32'}, same threads as the lab in that round"}
        # each tool's fastest configuration as measured (medians of different moments, so not a paired ratio)
        measured = {}
        for tool in ("lab", "llamafactory"):
            options = {"no packing, 1 thread": figures["identical"][f"{tool}_steady_tokens_per_second_median"],
                       "packing (the 'best' runs)": figures["best"][f"{tool}_steady_tokens_per_second_median"]}
            options = {k: v for k, v in options.items() if v}
            if options:
                name = max(options, key=options.get)
                measured[tool] = {"config": name, "steady_tokens_per_second_median": options[name]}
        if len(measured) == 2:
            measured["ratio"] = round(measured["lab"]["steady_tokens_per_second_median"]
                                      / measured["llamafactory"]["steady_tokens_per_second_median"], 3)
        figures["fastest_measured_config"] = measured
        if python is not None:
            figures["llamafactory"]["yaml_identical"] = (work / "lf_identical_0.yaml").read_text()
            figures["llamafactory"]["yaml_best"] = (work / "lf_best_0.yaml").read_text()
        figures["runs"] = runs
        figures["loss_curves"] = loss_curves(runs)

        # against the machine
        peak1 = max(p["fp32_1_thread_gflops"] for p in probes)
        peak2 = max(p["fp32_2_threads_gflops"] for p in probes)
        params = next((r["total_params"] for r in lab_runs if r.get("total_params")), None)
        one = [r for r in lab_runs if r["threads"] == 1]
        two = [r for r in lab_runs if r["threads"] == 2]
        fastest = lambda rows: max(rows, key=lambda r: r.get("steady_tokens_per_second") or 0) if rows else {}  # noqa: E731
        figures["machine_peak"] = {
            "probes": probes, "fp32_1_thread_peak_gflops": peak1, "fp32_2_threads_peak_gflops": peak2,
            "method": "best torch.mm rate of 1024^2 and 2048^2 fp32 matrices (4 repeats each) over all probes"}
        bf16_peak = max([figures["dtype_probe"]["bf16_1_thread_gflops"]]
                        + [p.get("bf16_1_thread_gflops") or 0 for p in probes])
        best_one = fastest(one)
        shares = {}
        if params and best_one.get("steady_tokens_per_second"):
            rate = 4 * params * best_one["steady_tokens_per_second"] / 1e9
            shares = {"gflops": round(rate, 2), "share_of_fp32_1_thread_peak": round(rate / peak1, 3),
                      "share_of_bf16_1_thread_peak": round(rate / bf16_peak, 3) if bf16_peak else None,
                      "fp32_1_thread_peak_gflops": peak1, "bf16_1_thread_peak_gflops": bf16_peak,
                      "run": best_one.get("tag"), "train_dtype": best_one.get("train_dtype")}
        figures["flops"] = {
            "share_of_measured_peaks": shares,
            "parameters": params,
            "formula": "4 x parameters x non-padding tokens/s (forward 2N + backward through activations 2N; frozen "
                       "weights get no weight gradients; the tied lm_head counted once; attention scores ignored)",
            "one_thread_best": flop_fraction(fastest(one), params, peak1) if params else {},
            "one_thread_all": [flop_fraction(r, params, peak1) for r in one] if params else [],
            "two_threads": [flop_fraction(r, params, peak2) for r in two] if params else [],
            "targets": {"one_thread": 0.5, "two_threads_quiet_machine": 0.35,
                        "note": "issue 4's targets assume a bf16-capable CPU; here the peak is fp32 (no native bf16)"}}
    finally:
        figures["machine"]["loadavg_end"] = loadavg()
        figures["bench_wall_seconds"] = round(time.time() - bench_started, 1)
        if args.keep:
            figures["work_folder"] = str(work)
        else:
            shutil.rmtree(work, ignore_errors=True)
        (out / "finetune_speed.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps({k: figures.get(k) for k in ("identical", "best", "flops")}, indent=2, default=str)[:6000])
    print(f"wrote {out / 'finetune_speed.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
