"""The fine-tuning recipe: setup, train, measure, save — top to bottom.

Used by the "finetune" job kind. Works for every registered method on any causal LM the model
library loads; Trainer does the loop (bf16 autocast on CPU), callbacks stream metrics to the run folder.
"""
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from lab.runs.folder import RunFolder, write_json
from lab.errors import JobCancelled, LabError
from lab.finetune import encode, precision as precisions
from lab.finetune.datasets import load_examples
from lab.finetune.methods import METHODS


def use_bf16(dtype: str, cuda: bool) -> bool:
    """bf16 for training: asked for, or "auto" where the hardware multiplies bf16 natively
    (on CPUs without AVX512-BF16/AMX it is emulated and ~10x slower than fp32). See lab.finetune.precision."""
    from lab.finetune.precision import choose

    return choose(dtype, cuda).bf16


def _load_base(spec, method, ctx):
    from lab.modeling.models import load_model

    extra = {}
    if method.quantized_base:
        import torch
        from transformers import BitsAndBytesConfig

        extra["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type=spec.quant_type, bnb_4bit_use_double_quant=spec.double_quant,
            bnb_4bit_compute_dtype=torch.bfloat16 if use_bf16(spec.dtype, torch.cuda.is_available()) else torch.float32)
    progress = lambda done, total, message: ctx.progress(0, 1, message=message, force=True)  # noqa: E731
    return load_model(spec.model, dtype="fp32", trust_remote_code=spec.trust_remote_code, device="auto",
                      progress=progress, **extra)


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total); for a PeftModel peft's own count, which knows 4-bit packed weights."""
    if hasattr(model, "get_nb_trainable_parameters"):
        return model.get_nb_trainable_parameters()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def folder_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 2**20, 3)


def last_checkpoint(run_id: str) -> Path:
    folder = RunFolder(run_id).checkpoint_dir
    checkpoints = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1])) if folder.is_dir() else []
    if not checkpoints:
        raise LabError("no_checkpoint", run_id=run_id)
    return checkpoints[-1]


def check_resume(spec) -> None:
    """A run resumes only a run of the same model, method and data (its checkpoint must fit)."""
    theirs = RunFolder(spec.resume_from).read_spec()
    if theirs.get("kind") != "finetune":
        raise LabError("no_checkpoint", run_id=spec.resume_from)
    for field in ("model", "method", "dataset"):
        if theirs.get(field) != getattr(spec, field):
            raise LabError("resume_mismatch", run_id=spec.resume_from, field=field, theirs=theirs.get(field),
                           ours=getattr(spec, field))
    last_checkpoint(spec.resume_from)


def make_callback(ctx, spec, started):
    from transformers import TrainerCallback

    class StreamMetrics(TrainerCallback):
        """Every logged step -> the run's metrics records and progress; a cancel request -> save and stop."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = dict(logs or {})
            elapsed = time.time() - started
            record = {"step": state.global_step, "elapsed": round(elapsed, 2),
                      "tokens_seen": int(state.num_input_tokens_seen or 0)}
            for key in ("loss", "eval_loss", "learning_rate", "grad_norm"):
                if key in logs:
                    record[key] = round(float(logs[key]), 6)
            if state.global_step and elapsed > 0:
                record["tokens_per_second"] = round(record["tokens_seen"] / elapsed, 1)
            ctx.log_metrics(**record)
            ctx.progress(state.global_step, state.max_steps, message=f"step {state.global_step}/{state.max_steps}",
                         **{k: v for k, v in record.items() if k in ("loss", "eval_loss", "tokens_per_second")})

        def on_step_end(self, args, state, control, **kwargs):
            if ctx.cancel_requested:
                control.should_save = True
                control.should_training_stop = True

    return StreamMetrics()


def task_accuracy(model, tokenizer, examples, limit: int) -> float | None:
    """Greedy answers to held-out questions, scored by exact match after the "The answer is X" filter."""
    from lab.modeling.filters import apply_filter, exact_match
    from lab.modeling.generation import generate

    scored = [e for e in examples if e.get("answer")][:limit]
    if not scored:
        return None
    prompts = [encode.prompt_for(tokenizer, e["messages"][0]["content"]) for e in scored]
    tokenizer.padding_side = "left"
    results = generate(model, tokenizer, prompts, max_new_tokens=32, batch_size=8, use_chat_template=False)
    hits = 0
    for example, result in zip(scored, results):
        guess = apply_filter("the_answer_is", result.text) or apply_filter("last_number", result.text)
        hits += bool(guess is not None and exact_match(guess, example["answer"], "none"))
    return hits / len(scored)


def save_result_model(model, tokenizer, method, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if method.save is not None:
        method.save(model, folder)
    elif hasattr(model, "peft_config"):
        model.save_pretrained(folder)
    else:  # full fine-tuning: the whole model, in bf16 to halve it
        import torch

        model.to(torch.bfloat16).save_pretrained(folder)
        tokenizer.save_pretrained(folder)


@dataclass
class Setup:
    """Everything a fine-tune needs once the model is loaded and the method applied."""

    spec: object
    method: object
    model: object
    tokenizer: object
    info: dict
    train_items: list
    eval_items: list
    validation: list
    has_answers: bool
    trainable: int
    total: int
    precision: object = None  # lab.finetune.precision.Precision
    packed: bool = False
    notes: dict = None  # what the run records about its speed choices (packing fill, parameter dtypes)


def prepare(spec, ctx) -> Setup:
    """Load data and model, refuse what cannot apply, apply the method."""
    method = METHODS.get(spec.method)
    if spec.resume_from:
        check_resume(spec)
    train_examples, validation, has_answers = load_examples(spec.dataset, seed=spec.seed)
    model, tokenizer, info = _load_base(spec, method, ctx)
    from lab.finetune.architecture import check_method

    check_method(spec.method, getattr(model.config, "model_type", None))  # a hub model the spec could not read
    reason = method.refuse(model, spec) if method.refuse else None
    if reason is not None:
        raise reason
    train_items = encode.encode_all(tokenizer, train_examples, spec.max_length, spec.answer_only, "train")
    eval_items = encode.encode_all(tokenizer, validation[: spec.eval_examples], spec.max_length, spec.answer_only,
                                   "validation")
    if spec.gradient_checkpointing and not method.quantized_base:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    from transformers import set_seed

    set_seed(spec.seed)  # the adapter's random start (LoRA's A, VeRA's matrices) follows the spec's seed
    model = method.apply(model, spec, info)
    trainable, total = count_parameters(model)
    if trainable == 0:
        raise LabError("nothing_to_train", method=spec.method, model=spec.model)
    ctx.log(f"{spec.method}: {trainable:,} of {total:,} parameters train ({100 * trainable / total:.3f}%)")
    import torch

    plan = precisions.choose(spec.dtype, torch.cuda.is_available())
    counts = precisions.cast_frozen(model, plan)
    ctx.log(f"{plan.reason} -> {plan.path} ({counts['frozen_bf16']:,} frozen parameters in bf16, "
            f"{counts['trainable_fp32']:,} trainable in fp32)")
    notes = {}
    packed = False
    if spec.packing:
        peft_config = getattr(model, "active_peft_config", None)
        if peft_config is not None and peft_config.is_prompt_learning:
            # virtual tokens / prefix key-values come before every position: peft drops position_ids, so packed
            # examples could not be kept apart. Unpacked rows train the same thing.
            ctx.log(f"packing: off for {spec.method} (its virtual tokens prevent keeping packed examples apart)")
            notes["packing"] = "off: prompt-learning method"
        else:
            rows = sum(len(i["input_ids"]) for i in train_items)
            train_items = encode.pack(train_items, spec.max_length)
            packed = True
            notes.update(packing="first-fit-decreasing, examples kept apart by position_ids",
                         packed_blocks=len(train_items),
                         packed_fill=round(rows / (len(train_items) * spec.max_length), 3))
    if getattr(spec, "torch_compile", False):
        compiled = compile_body(model)
        notes["torch_compile"] = compiled or "off: no decoder body found to compile"
        ctx.log(f"torch.compile: {notes['torch_compile']}")
    return Setup(spec, method, model, tokenizer, info, train_items, eval_items, validation, has_answers,
                 trainable, total, plan, packed, notes)


def compile_body(model, dynamic: bool = True) -> str | None:
    """torch.compile the decoder body in place (nn.Module.compile: parameter names, and so the saved adapter, stay
    the same); the output layer and the loss stay eager (the labelled-only loss hooks the output layer). dynamic:
    symbolic sequence lengths, one graph for batches of every width. Returns what was compiled (None: no body).
    Measured in bench/compile_speed.py; off by default (the spec's torch_compile setting)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    body = getattr(base, getattr(base, "base_model_prefix", "model"), None)
    if body is None or body is base or not hasattr(body, "compile"):
        return None
    body.compile(dynamic=dynamic)
    return f"{type(body).__name__} compiled (dynamic shapes: {dynamic}); output layer and loss eager"


def lab_trainer(labelled_only: bool = True, bf16: bool = False, log=None):
    """The Trainer every fine-tune uses (a function, so transformers is imported only in the job worker)."""
    from transformers import Trainer

    from lab.finetune import loss as losses

    class LabTrainer(Trainer):
        """Loss only where labels are set (lab.finetune.loss: no logits for prompt positions), packed blocks kept
        apart (position_ids, no attention mask, no cache), and a plain next-token cross-entropy as eval loss for
        every method (AdaLoRA's forward adds its orthogonality penalty to any loss computed from labels).

        labelled_only=False (a method whose forward adds to the label loss: AdaLoRA) trains through the model's
        own loss. The first training batch checks that both ways give the same loss; if not, the run falls back
        to the model's own loss and says so in its log."""

        checked = not labelled_only
        use_labelled = labelled_only

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None, **kwargs):
            inputs = dict(inputs)
            if "position_ids" in inputs:  # a packed batch: the block-diagonal mask comes from position_ids
                inputs.pop("attention_mask", None)
            inputs["use_cache"] = False
            wrapped = hasattr(model, "module") and not hasattr(model, "get_output_embeddings")  # DDP (several processes)
            if not model.training:  # no gradients to synchronise: the bare model serves
                outputs_loss = losses.labelled_loss(getattr(model, "module", model) if wrapped else model, inputs,
                                                    return_outputs=return_outputs, bf16=bf16)
                return outputs_loss
            if wrapped:  # DDP's own forward must run so gradients are all-reduced: the model's own loss
                return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                            num_items_in_batch=num_items_in_batch, **kwargs)
            if not self.checked:
                type(self).checked = True
                agree, ours, theirs = losses.check_same_loss(model, inputs, tolerance=2e-2 if bf16 else 1e-4)
                if not agree:
                    type(self).use_labelled = False
                if log is not None:
                    log(f"loss at labelled positions only: {'on' if agree else 'off'} (first batch: {ours:.6f} "
                        f"labelled-only vs {theirs:.6f} from all logits)")
            if self.use_labelled:
                return losses.labelled_loss(model, inputs, num_items_in_batch=num_items_in_batch,
                                            return_outputs=return_outputs, bf16=bf16)
            return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch, **kwargs)

    return LabTrainer


def train(setup: Setup, ctx) -> dict:
    """Run the Trainer; returns the training figures. A cancel request stops it after saving a checkpoint."""
    import torch
    from transformers import TrainingArguments

    from lab.modeling import training_log
    from lab.runs import distributed

    spec, method, started = setup.spec, setup.method, time.time()
    cuda = torch.cuda.is_available()
    plan = setup.precision or precisions.choose(spec.dtype, cuda)
    bf16 = plan.bf16
    LabTrainer = lab_trainer(labelled_only=not method.loss_from_model, bf16=bf16, log=ctx.log)
    batch = distributed.per_process_batch(spec.batch_size)  # batch_size is the global batch
    learning_rate = spec.learning_rate or method.learning_rate
    args = TrainingArguments(
        output_dir=str(ctx.folder.checkpoint_dir), max_steps=spec.max_steps,
        per_device_train_batch_size=batch, per_device_eval_batch_size=batch,
        gradient_accumulation_steps=spec.gradient_accumulation_steps,
        learning_rate=learning_rate, lr_scheduler_type=spec.lr_scheduler,
        warmup_steps=int(spec.warmup_ratio * spec.max_steps), weight_decay=0.0, logging_steps=1,
        eval_strategy="steps" if setup.eval_items and spec.eval_steps else "no", eval_steps=spec.eval_steps or None,
        save_strategy="steps", save_steps=spec.save_steps or spec.max_steps, save_total_limit=1,
        bf16=bf16, use_cpu=not cuda, seed=spec.seed, data_seed=spec.seed, report_to=[], disable_tqdm=True,
        dataloader_num_workers=0, remove_unused_columns=False, prediction_loss_only=True, include_num_input_tokens_seen="non_padding",
        label_names=["labels"])
    trainer = LabTrainer(model=setup.model, args=args, train_dataset=setup.train_items,
                      eval_dataset=setup.eval_items or None, data_collator=encode.Collator(setup.tokenizer.pad_token_id),
                      processing_class=setup.tokenizer,
                      callbacks=[make_callback(ctx, spec, started)] + method.callbacks(setup.model, spec)
                      + training_log.trainer_callbacks(ctx),
                      optimizers=(method.optimizer(setup.model, spec, learning_rate) if method.optimizer else None, None))
    world_size = distributed.check_world_size(args.world_size)  # N one-process copies would pass silently
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    resume = last_checkpoint(spec.resume_from) if spec.resume_from else None
    if resume is not None:  # name what is resumed (the highest-step checkpoint), so nobody has to guess
        ctx.log(f"resuming run {spec.resume_from} from {resume.name}: the step counter, optimizer and data order continue")
        resume = str(resume)
    output = trainer.train(resume_from_checkpoint=resume)
    seconds = time.time() - started
    state = trainer.state
    if ctx.cancel_requested:
        raise JobCancelled("cancelled_with_checkpoint", step=state.global_step, run_id=ctx.run_id)
    losses = [h["loss"] for h in state.log_history if "loss" in h]
    figures = {"train_loss_first": round(losses[0], 4) if losses else None,
               "train_loss_last": round(losses[-1], 4) if losses else None,
               "train_loss_mean": round(output.training_loss, 4),
               "tokens_per_second": round(state.num_input_tokens_seen / seconds, 1) if seconds else 0.0,
               "train_seconds": round(seconds, 2), "steps": state.global_step, "world_size": world_size}
    if setup.eval_items:
        eval_loss = trainer.evaluate()["eval_loss"]
        figures.update(eval_loss=round(eval_loss, 4), eval_perplexity=round(math.exp(min(eval_loss, 50)), 3))
        ctx.log_metrics(step=state.global_step, eval_loss=figures["eval_loss"])
    if cuda:  # on a CPU the worker records the process's peak RSS (lab.runs.worker.peak_memory_mb)
        figures["peak_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    figures.update(plan.record(), threads=torch.get_num_threads(), packing_used=setup.packed,
                   labelled_only_loss=bool(LabTrainer.use_labelled))
    figures.update(setup.notes or {})
    return figures


def save(setup: Setup, ctx) -> dict:
    """The adapter (or model) folder, its zip, and where it came from."""
    adapter = ctx.artifact_dir / "adapter"
    save_result_model(setup.model, setup.tokenizer, setup.method, adapter)
    write_json(adapter / "lab_finetune.json", {"method": setup.spec.method, "base_model": setup.spec.model,
                                                         "base_location": setup.info["location"], "run_id": ctx.run_id})
    shutil.make_archive(str(ctx.artifact_dir / "adapter"), "zip", adapter)
    shutil.rmtree(ctx.folder.checkpoint_dir, ignore_errors=True)  # finished: the adapter is the result
    return {"adapter_mb": folder_mb(adapter)}


def finetune(spec, ctx) -> dict:
    started = time.time()
    setup = prepare(spec, ctx)
    ctx.log_metrics(step=0, trainable_params=setup.trainable, total_params=setup.total)
    figures = {"trainable_params": setup.trainable, "total_params": setup.total,
               "trainable_percent": round(100 * setup.trainable / setup.total, 4)}
    figures.update(train(setup, ctx))
    if not ctx.writer:  # another rank of a run of several processes: rank 0 measures and saves
        return figures
    if setup.has_answers and spec.accuracy_examples:
        ctx.progress(1, 1, message="measuring task accuracy", force=True)
        setup.model.eval()
        figures["task_accuracy"] = task_accuracy(setup.model, setup.tokenizer, setup.validation, spec.accuracy_examples)
    figures.update(save(setup, ctx))
    figures["wall_seconds"] = round(time.time() - started, 2)
    return {k: v for k, v in figures.items() if v is not None}
