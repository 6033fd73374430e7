"""Every fine-tuning method on a tiny model: loss falls, and only the method's own parameters change."""
import json

import pytest
import torch

from lab.runs.job_context import JobContext
from lab.errors import LabError
from lab.finetune import train as recipe
from lab.finetune.datasets import load_examples
from lab.finetune.methods import METHODS
from lab.specs import spec_from_dict
from tiny_models import make_tiny_model_dir

# What each method's trainable parameter names look like (and nothing else may train).
TRAINABLE = {
    "full": lambda name: True,
    "bitfit": lambda name: "beft" in name or name.endswith(".bias"),
    "lora": lambda name: "lora_" in name,
    "dora": lambda name: "lora_" in name,
    "qlora": lambda name: "lora_" in name,
    "adalora": lambda name: "lora_" in name,
    "ia3": lambda name: "ia3_" in name,
    "prefix": lambda name: "prompt_encoder" in name,
    "prompt": lambda name: "prompt_encoder" in name,
    "ptuning": lambda name: "prompt_encoder" in name,
    "adapter": lambda name: ".adapter." in name,
    "rslora": lambda name: "lora_" in name,
    "loraplus": lambda name: "lora_" in name,
    "pissa": lambda name: "lora_" in name,
    "olora": lambda name: "lora_" in name,
    "loftq": lambda name: "lora_" in name,
    "vera": lambda name: "vera_lambda" in name,
    "loha": lambda name: "hada_" in name,
    "lokr": lambda name: "lokr_" in name,
    "oft": lambda name: "oft_" in name,
}
NEEDS_GPU = {name for name, method in METHODS.entries().items() if method.needs_gpu}


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny")
    return {arch: make_tiny_model_dir(root / arch, arch=arch) for arch in ("llama", "gpt2")}


@pytest.fixture(scope="module")
def repeated_data(tmp_path_factory):
    """One example repeated: every batch is the same, so any method's loss must fall."""
    path = tmp_path_factory.mktemp("data") / "hello.jsonl"
    rows = [{"instruction": "Say hello to the cat", "output": "hello cat, the cat sat on the mat"}] * 24
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


def make_spec(model_dir, data, method, **extra):
    fields = dict(kind="finetune", model=str(model_dir), dataset=str(data), method=method, max_steps=12,
                  batch_size=2, eval_steps=0, save_steps=0, accuracy_examples=0, warmup_ratio=0.0,
                  lr_scheduler="constant", lora_dropout=0.0, dtype="fp32")
    fields.update(extra)
    return spec_from_dict(fields)


def test_every_registered_method_is_covered():
    assert set(METHODS.names()) == set(TRAINABLE)


@pytest.mark.parametrize("method", list(TRAINABLE))
def test_method_trains_only_its_parameters_and_loss_falls(method, tiny_dirs, repeated_data, tmp_path, lab_home):
    if method in NEEDS_GPU and not torch.cuda.is_available():
        pytest.skip(f"{method} runs on CUDA only (bench/gpu_check.sh runs it)")
    rates = {"full": 3e-3, "bitfit": 3e-2, "ia3": 5e-2, "prefix": 3e-2, "prompt": 1e-1, "ptuning": 3e-2, "vera": 5e-2}
    spec = make_spec(tiny_dirs["llama"], repeated_data, method, learning_rate=rates.get(method, 1e-2))
    (tmp_path / "run").mkdir()
    ctx = JobContext(tmp_path / "run", threads=1)
    setup = recipe.prepare(spec, ctx)
    # bitsandbytes may repack a 4-bit weight into another CPU layout on first use (seen with AVX512-BF16:
    # [4096, 1] -> [64, 64]), so frozen 4-bit layers are compared by what they compute, not by their bytes.
    quantized = {}
    if method == "qlora":
        import bitsandbytes as bnb
        from bitsandbytes.functional import dequantize_4bit

        quantized = {n: m for n, m in setup.model.named_modules() if isinstance(m, bnb.nn.Linear4bit)}
    frozen = {n: dequantize_4bit(m.weight.data, m.weight.quant_state).float() for n, m in quantized.items()}
    before = {n: p.detach().clone() for n, p in setup.model.named_parameters()}
    trainable_names = [n for n, p in setup.model.named_parameters() if p.requires_grad]
    assert trainable_names and all(TRAINABLE[method](n) for n in trainable_names), trainable_names[:5]
    figures = recipe.train(setup, ctx)
    assert figures["train_loss_last"] < figures["train_loss_first"], figures
    with torch.no_grad():
        for n, m in quantized.items():
            probe = torch.randn(3, m.in_features, generator=torch.Generator().manual_seed(0))
            expected = probe @ frozen[n].T
            error = (m(probe).float() - expected).abs().max() / expected.abs().max()
            assert error < 0.02, f"frozen 4-bit {n} changed: relative error {error:.3g}"  # bf16 compute: ~0.4%
    repacked = {f"{n}.weight" for n in quantized}
    changed = {n for n, p in setup.model.named_parameters()
               if n not in repacked and not torch.equal(p.detach(), before[n])}
    assert changed, "nothing changed"
    assert changed <= set(trainable_names), sorted(changed - set(trainable_names))[:5]
    saved = recipe.save(setup, ctx)
    assert saved["adapter_mb"] > 0 and (ctx.artifact_dir / "adapter.zip").is_file()


def test_bitfit_trains_gpt2s_own_biases(tiny_dirs, repeated_data, tmp_path, lab_home):
    spec = make_spec(tiny_dirs["gpt2"], repeated_data, "bitfit", learning_rate=3e-2)
    (tmp_path / "run").mkdir()
    setup = recipe.prepare(spec, JobContext(tmp_path / "run"))
    names = [n for n, p in setup.model.named_parameters() if p.requires_grad]
    assert names and all(n.endswith(".bias") for n in names)
    assert setup.trainable == sum(p.numel() for n, p in setup.model.named_parameters() if n.endswith(".bias"))


def test_adalora_reallocates_its_rank_budget(tiny_dirs, repeated_data, tmp_path, lab_home):
    spec = make_spec(tiny_dirs["llama"], repeated_data, "adalora", max_steps=20, adalora_init_r=8, adalora_target_r=2)
    (tmp_path / "run").mkdir()
    ctx = JobContext(tmp_path / "run")
    setup = recipe.prepare(spec, ctx)
    assert setup.model.peft_config["default"].rank_pattern is None  # nothing allocated before training
    recipe.train(setup, ctx)
    kept = [int(torch.as_tensor(m).sum()) for m in (setup.model.peft_config["default"].rank_pattern or {}).values()]
    assert kept, "no rank pattern: update_and_allocate was never called"
    assert sum(kept) < 8 * len(kept)  # the budget shrank from init_r towards target_r


def test_prepare_refuses_bad_data_with_file_and_line(tiny_dirs, tmp_path, lab_home):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "hi", "output": "there"}\n{"instruction": "no answer"}\n')
    (tmp_path / "run").mkdir()
    with pytest.raises(LabError) as info:
        recipe.prepare(make_spec(tiny_dirs["llama"], bad, "lora"), JobContext(tmp_path / "run"))
    assert info.value.key == "data_missing_columns" and "bad.jsonl line 2" in str(info.value)


@pytest.mark.parametrize("content, suffix, key, fragment", [
    ("not json\n", ".jsonl", "data_bad_json", "x.jsonl line 1"),
    ('{"instruction": "a", "output": ""}\n', ".jsonl", "data_empty_field", "output is empty"),
    ('{"messages": [{"role": "user", "content": "a"}]}\n', ".jsonl", "data_no_answer", "line 1"),
    ("instruction,output\nhi,there,extra\n", ".csv", "data_csv_columns", "x.csv line 2"),
    ("a\tb\n", ".txt", "data_bad_format", "'.txt'"),
    ("", ".jsonl", "data_empty", "has no rows"),
])
def test_upload_errors_name_the_problem(tmp_path, content, suffix, key, fragment):
    path = tmp_path / f"x{suffix}"
    path.write_text(content)
    with pytest.raises(LabError) as info:
        load_examples(str(path))
    assert info.value.key == key and fragment in str(info.value)


def test_builtin_arithmetic_is_fixed_and_checkable():
    train, validation, has_answers = load_examples("arithmetic", seed=0)
    again, _, _ = load_examples("arithmetic", seed=0)
    assert has_answers and train == again and len(train) + len(validation) == 600
    first = train[0]
    assert first["messages"][-1]["content"].endswith(f"The answer is {first['answer']}.")


def test_answer_only_masks_the_prompt(tiny_dirs):
    from lab.finetune import encode
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_dirs["llama"])
    example = {"messages": [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "hi there"}]}
    item = encode.encode_example(tokenizer, example, 128, answer_only=True)
    trained = [t for t, label in zip(item["input_ids"], item["labels"]) if label != encode.IGNORE]
    assert tokenizer.decode(trained) == "hi there" + tokenizer.eos_token
    everything = encode.encode_example(tokenizer, example, 128, answer_only=False)
    assert everything["labels"] == everything["input_ids"]
    shown = encode.preview(tokenizer, [example], 128)[0]
    assert "".join(t for t, trained in shown if trained).startswith("hi there")
    packed = encode.pack([item, item, item], max_length=2 * len(item["input_ids"]))
    assert [len(b["input_ids"]) for b in packed] == [2 * len(item["input_ids"]), len(item["input_ids"])]


def test_eval_loss_is_plain_cross_entropy_for_every_method(tiny_dirs, repeated_data, tmp_path, lab_home):
    """AdaLoRA adds an orthogonality penalty to label losses; the eval loss must not include it."""
    losses = {}
    for method in ("lora", "adalora", "prompt"):
        spec = make_spec(tiny_dirs["llama"], repeated_data, method, max_steps=10, learning_rate=1e-12,
                         eval_steps=10, eval_examples=4)
        (tmp_path / method).mkdir()
        ctx = JobContext(tmp_path / method)
        setup = recipe.prepare(spec, ctx)
        losses[method] = recipe.train(setup, ctx)["eval_loss"]
    # with a negligible learning rate LoRA and AdaLoRA are still the base model (B starts at 0 / E at 0)
    assert losses["adalora"] == pytest.approx(losses["lora"], abs=1e-3)


def test_light_preview_tokenizer_matches_training(tiny_dirs):
    """The app's torch-free preview encodes exactly as training does (same ids, same loss mask)."""
    from transformers import AutoTokenizer

    from lab.finetune import encode
    from lab.finetune.preview import LightTokenizer

    train, _, _ = load_examples("arithmetic", seed=0)
    heavy, light = AutoTokenizer.from_pretrained(tiny_dirs["llama"]), LightTokenizer(tiny_dirs["llama"])
    for example in train[:5]:
        assert encode.encode_example(light, example, 128) == encode.encode_example(heavy, example, 128)


def test_a_method_that_cannot_apply_is_refused_when_the_spec_is_built():
    with pytest.raises(LabError) as info:
        spec_from_dict({"kind": "finetune", "method": "adalora", "max_steps": 5, "eval_steps": 0})
    assert info.value.key == "adalora_too_short" and "max_steps is 5" in str(info.value)
