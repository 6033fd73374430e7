"""The fast fine-tuning path learns what the plain one learns (issue 18): loss only at labelled positions equals the
full loss, packed examples stay apart, and the bf16 path trains the same parameters as the fp32 path."""
import json

import pytest
import torch

from lab.finetune import encode
from lab.finetune import loss as losses
from lab.finetune import precision
from lab.finetune import train as recipe
from lab.runs.job_context import JobContext
from lab.specs import spec_from_dict
from tiny_models import make_tiny_model_dir


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.set_num_threads(1)
    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny") / "llama", arch="llama", train_steps=30)


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(tiny)


EXAMPLES = [
    {"messages": [{"role": "user", "content": "Say hello to the cat"}, {"role": "assistant", "content": "hello cat"}]},
    {"messages": [{"role": "user", "content": "Where is Paris?"},
                  {"role": "assistant", "content": "Paris is the capital of France."}]},
    {"messages": [{"role": "user", "content": "Count"}, {"role": "assistant", "content": "1 2 3 4 5 6 7 8 9 10"}]},
    {"messages": [{"role": "user", "content": "the quick brown fox"}, {"role": "assistant", "content": "jumps"}]},
]


@pytest.fixture(scope="module")
def items(model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    return encode.encode_all(tokenizer, EXAMPLES, 96, answer_only=True)


def test_labelled_only_loss_equals_the_models_own_loss(model_and_tokenizer, items):
    model, tokenizer = model_and_tokenizer
    batch = encode.Collator(tokenizer.pad_token_id)(items)
    with torch.no_grad():
        theirs = model(**batch).loss  # transformers' ForCausalLMLoss over all logits
        ours = losses.labelled_loss(model, batch)
        full = losses.full_loss(model, batch)
        # the Trainer's gradient-accumulation form: summed, divided by the labelled count of all micro-batches
        n = (batch["labels"][:, 1:] != -100).sum() * 3
        theirs_n = model(**batch, num_items_in_batch=n).loss
        ours_n = losses.labelled_loss(model, batch, num_items_in_batch=n)
    assert abs(float(ours) - float(theirs)) < 1e-6, (float(ours), float(theirs))
    assert abs(float(full) - float(theirs)) < 1e-6
    assert abs(float(ours_n) - float(theirs_n)) < 1e-6
    # and the model computed no logits for the prompt: its returned logits are empty
    with torch.no_grad():
        _, outputs = losses.labelled_loss(model, batch, return_outputs=True)
    assert outputs.logits.shape[1] == 0


def test_labelled_only_loss_has_the_same_gradients(tiny, items):
    from transformers import AutoModelForCausalLM

    from lab.finetune.methods.lora import lora_config
    from peft import get_peft_model

    spec = spec_from_dict({"kind": "finetune", "lora_dropout": 0.0, "target_modules": "q_proj,v_proj"})
    grads = []
    for compute in (losses.labelled_loss, losses.full_loss):
        torch.manual_seed(0)
        model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32), lora_config(spec))
        for name, p in model.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(p, std=0.02, generator=torch.Generator().manual_seed(1))
        batch = encode.Collator(0)(items)
        compute(model, batch).backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad})
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for name in grads[0]:
        assert torch.allclose(grads[0][name], grads[1][name], atol=1e-6, rtol=1e-4), name


def test_first_fit_decreasing_packing_fills_blocks_and_keeps_every_token():
    lengths = [40, 10, 30, 50, 20, 14, 24, 60, 8, 34, 4, 26]
    many = [{"input_ids": list(range(100 * k, 100 * k + n)), "labels": [-100] * 3 + list(range(100 * k + 3, 100 * k + n))}
            for k, n in enumerate(lengths)]
    blocks = encode.pack(many, 64)
    assert all(len(b["input_ids"]) <= 64 for b in blocks)
    assert sorted(t for b in blocks for t in b["input_ids"]) == sorted(t for i in many for t in i["input_ids"])
    for block in blocks:  # every example's first token is unlabelled and its positions start at 0
        starts = [k for k, p in enumerate(block["position_ids"]) if p == 0]
        assert all(block["labels"][k] == -100 for k in starts)
        assert len(block["position_ids"]) == len(block["input_ids"]) == len(block["labels"])
        for a, b in zip(starts, starts[1:] + [len(block["input_ids"])]):  # one example per segment, whole
            assert block["input_ids"][a:b] == list(range(block["input_ids"][a], block["input_ids"][a] + b - a))
    assert len(blocks) == -(-sum(lengths) // 64)  # 320 tokens in 5 full blocks; packing in order needs 7


def _segment_losses(model, ids, labels, position_ids=None):
    """Per-example summed loss over one row, the example borders given by position_ids restarting at 0."""
    with torch.no_grad():
        kwargs = {"position_ids": position_ids, "use_cache": False} if position_ids is not None else {}
        logits = model(input_ids=ids, **kwargs).logits[0].float()
    per_token = torch.nn.functional.cross_entropy(logits[:-1], labels[0, 1:], ignore_index=-100, reduction="none")
    return per_token


def test_packed_examples_do_not_attend_across_their_borders(model_and_tokenizer, items):
    model, _ = model_and_tokenizer
    alone = []
    for item in items:
        ids, labels = torch.tensor([item["input_ids"]]), torch.tensor([item["labels"]])
        alone.append(float(_segment_losses(model, ids, labels).sum()))
    blocks = encode.pack(items, 96 * 4)
    assert len(blocks) == 1
    block = blocks[0]
    ids, labels = torch.tensor([block["input_ids"]]), torch.tensor([block["labels"]])
    positions = torch.tensor([block["position_ids"]])
    kept_apart = _segment_losses(model, ids, labels, positions)
    crossing = _segment_losses(model, ids, labels)  # the old way: one long causal row
    starts = [k for k, p in enumerate(block["position_ids"]) if p == 0] + [len(block["input_ids"])]
    per_example = [float(kept_apart[a:b - 1].sum()) for a, b in zip(starts, starts[1:])]
    assert len(per_example) == len(alone)
    assert sorted(per_example) == pytest.approx(sorted(alone), abs=1e-4)
    assert float(crossing.sum()) != pytest.approx(sum(alone), abs=1e-3)  # without the borders it differs


def test_the_trainer_keeps_packed_examples_apart(model_and_tokenizer, items):
    """The collated packed batch, as the Trainer feeds it (attention mask dropped), gives the unpacked loss sum."""
    model, tokenizer = model_and_tokenizer
    unpacked = encode.Collator(tokenizer.pad_token_id)(items)
    packed = encode.Collator(tokenizer.pad_token_id)(encode.pack(items, 128))
    assert "position_ids" in packed and packed["input_ids"].shape[0] < len(items)
    n = (unpacked["labels"][:, 1:] != -100).sum()
    assert int((packed["labels"][:, 1:] != -100).sum()) == int(n)
    feed = {k: v for k, v in packed.items() if k != "attention_mask"}
    with torch.no_grad():
        a = losses.labelled_loss(model, unpacked)
        b = losses.labelled_loss(model, dict(feed, use_cache=False))
    assert float(a) == pytest.approx(float(b), abs=1e-5)


def test_auto_precision_follows_the_hardware_and_says_why():
    no = precision.choose("auto", cuda=False, native_cpu_bf16=False)
    assert no.dtype == "fp32" and no.reason.startswith("fp32: no native bf16")
    yes = precision.choose("auto", cuda=False, native_cpu_bf16=True)
    assert yes.dtype == "bf16" and yes.reason == "bf16: native bf16 detected (AVX512-BF16/AMX)"
    assert yes.record()["train_path"] == precision.PATH_BF16
    forced = precision.choose("bf16", cuda=False, native_cpu_bf16=False)
    assert forced.bf16 and "forced" in forced.reason and "emulated" in forced.reason
    assert precision.choose("fp32", cuda=False, native_cpu_bf16=True).dtype == "fp32"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "hello.jsonl"
    rows = [{"instruction": "Say hello to the cat", "output": "hello cat, the cat sat on the mat"}] * 16
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


@pytest.mark.parametrize("method", ["lora", "prompt", "full"])
def test_bf16_path_trains_the_same_parameters_as_fp32(method, tiny, data, tmp_path, lab_home):
    setups, figures = {}, {}
    for dtype in ("fp32", "bf16"):
        spec = spec_from_dict(dict(kind="finetune", model=str(tiny), dataset=str(data), method=method, max_steps=3,
                                   batch_size=2, eval_steps=0, save_steps=0, accuracy_examples=0, warmup_ratio=0.0,
                                   lr_scheduler="constant", lora_dropout=0.0, dtype=dtype, learning_rate=1e-2,
                                   packing=True))
        (tmp_path / dtype).mkdir()
        ctx = JobContext(tmp_path / dtype, threads=1)
        torch.manual_seed(0)
        setups[dtype] = recipe.prepare(spec, ctx)
        setups[dtype].start = {n: p.detach().float().clone() for n, p in setups[dtype].model.named_parameters()
                               if p.requires_grad}
        figures[dtype] = recipe.train(setups[dtype], ctx)
    fp32, bf16 = setups["fp32"], setups["bf16"]
    assert fp32.start.keys() == bf16.start.keys() and fp32.start
    for name, value in fp32.start.items():  # same parameters, same initial values
        assert torch.equal(value, bf16.start[name]), name
    trainable = {n: p for n, p in bf16.model.named_parameters() if p.requires_grad}
    assert all(p.dtype == torch.float32 for p in trainable.values())
    frozen = [p for p in bf16.model.parameters() if not p.requires_grad]
    assert all(p.dtype == torch.bfloat16 for p in frozen) and (frozen or method == "full")
    assert all(p.dtype == torch.float32 for p in fp32.model.parameters())
    moved = {d: {n for n, p in setups[d].model.named_parameters() if p.requires_grad
                 and not torch.equal(p.detach().float(), setups[d].start[n])} for d in setups}
    assert moved["bf16"] == moved["fp32"] and moved["fp32"]  # the same parameters moved
    assert figures["bf16"]["labelled_only_loss"] is True
    assert figures["bf16"]["train_dtype"] == "bf16" and "forced" in figures["bf16"]["train_dtype_reason"]
    assert figures["fp32"]["train_dtype"] == "fp32" and figures["fp32"]["labelled_only_loss"] is True
    # bf16 rounding moves the first loss only a little
    assert figures["bf16"]["train_loss_first"] == pytest.approx(figures["fp32"]["train_loss_first"], rel=0.05)
    assert figures["fp32"]["packing_used"] is (method != "prompt")


def test_torch_compile_setting_compiles_the_body_only_and_keeps_the_names(tiny, data, tmp_path, lab_home):
    """The opt-in torch.compile lever (bench/compile_speed.py measures it): the decoder body is compiled in place, so
    the trainable parameters keep their names (the saved adapter is unchanged); the output layer, which the
    labelled-only loss hooks, stays eager. Only prepared here: compiling on a CPU takes minutes."""
    base = dict(kind="finetune", model=str(tiny), dataset=str(data), max_steps=2, batch_size=2, eval_steps=0,
                save_steps=0, accuracy_examples=0)
    assert spec_from_dict(base).spec_hash() == spec_from_dict(dict(base, torch_compile=False)).spec_hash()
    assert spec_from_dict(base).spec_hash() != spec_from_dict(dict(base, torch_compile=True)).spec_hash()
    setups = {}
    for compiled in (False, True):
        (tmp_path / str(compiled)).mkdir()
        spec = spec_from_dict(dict(base, torch_compile=compiled))
        setups[compiled] = recipe.prepare(spec, JobContext(tmp_path / str(compiled), threads=1))
    plain, fast = setups[False], setups[True]
    assert "torch_compile" not in plain.notes
    assert fast.notes["torch_compile"].startswith("LlamaModel compiled (dynamic shapes: True)")
    names = lambda s: [n for n, p in s.model.named_parameters() if p.requires_grad]  # noqa: E731
    assert names(plain) == names(fast) and names(fast)
    body = fast.model.get_base_model().model
    assert getattr(body, "_compiled_call_impl", None) is not None
    assert getattr(plain.model.get_base_model().model, "_compiled_call_impl", None) is None
    assert getattr(losses.output_layer(fast.model), "_compiled_call_impl", None) is None
