"""The LoRA variants checked directly: rsLoRA's scaling, LoRA+'s two learning rates, PiSSA's initial
adapter and its saved (converted) form, and the architecture × method table refused before a job starts."""
import json

import pytest
import torch

from lab.errors import LabError
from lab.finetune import architecture
from lab.finetune import train as recipe
from lab.finetune.methods import METHODS
from lab.runs.job_context import JobContext
from lab.specs import spec_from_dict
from tiny_models import make_tiny_model_dir


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny")
    return {arch: make_tiny_model_dir(root / arch, arch=arch, train_steps=5) for arch in ("llama", "gpt2")}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "hello.jsonl"
    path.write_text("\n".join(json.dumps({"instruction": "Say hello", "output": "hello cat, the cat sat"})
                              for _ in range(16)))
    return path


def spec_for(model_dir, data, method, **extra):
    fields = dict(kind="finetune", model=str(model_dir), dataset=str(data), method=method, max_steps=4, batch_size=2,
                  eval_steps=0, save_steps=0, accuracy_examples=0, warmup_ratio=0.0, lr_scheduler="constant",
                  lora_dropout=0.0, dtype="fp32", lora_r=4, lora_alpha=8)
    fields.update(extra)
    return spec_from_dict(fields)


def prepared(spec, tmp_path):
    (tmp_path / "run").mkdir(exist_ok=True)
    ctx = JobContext(tmp_path / "run", threads=1)
    return recipe.prepare(spec, ctx), ctx


def adapted_layers(model):
    return [m for m in model.modules() if hasattr(m, "lora_A") and "default" in m.lora_A]


def test_rslora_scales_by_alpha_over_root_r_and_lora_by_alpha_over_r(tiny_dirs, data, tmp_path, lab_home):
    for method, expected in (("rslora", 16 / 16 ** 0.5), ("lora", 16 / 16)):
        setup, _ = prepared(spec_for(tiny_dirs["llama"], data, method, lora_r=16, lora_alpha=16), tmp_path)
        scales = [layer.scaling["default"] for layer in adapted_layers(setup.model)]
        assert scales and scales == pytest.approx([expected] * len(scales)), (method, scales)


def test_loraplus_gives_b_ratio_times_a_learning_rate(tiny_dirs, data, tmp_path, lab_home):
    spec = spec_for(tiny_dirs["llama"], data, "loraplus", learning_rate=1e-3, loraplus_lr_ratio=16.0)
    setup, _ = prepared(spec, tmp_path)
    optimizer = METHODS.get("loraplus").optimizer(setup.model, spec, 1e-3)
    names = {id(p): n for n, p in setup.model.named_parameters()}
    rates = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            rates.setdefault("B" if "lora_B" in names[id(p)] else "A", set()).add(round(group["lr"], 9))
    assert rates == {"A": {1e-3}, "B": {16e-3}}


def test_loraplus_trains_with_its_own_optimizer(tiny_dirs, data, tmp_path, lab_home):
    spec = spec_for(tiny_dirs["llama"], data, "loraplus", learning_rate=1e-2, loraplus_lr_ratio=4.0)
    setup, ctx = prepared(spec, tmp_path)
    b_before = {n: p.detach().clone() for n, p in setup.model.named_parameters() if "lora_B" in n}
    figures = recipe.train(setup, ctx)
    assert figures["steps"] == 4
    moved = [n for n, p in setup.model.named_parameters() if n in b_before and not torch.equal(p, b_before[n])]
    assert moved, "LoRA+ never updated B"


def test_pissa_starts_at_the_base_model_with_the_principal_directions_in_the_adapter(tiny_dirs, data, tmp_path, lab_home):
    from lab.modeling.models import load_model

    base, _, _ = load_model(str(tiny_dirs["llama"]), dtype="fp32")
    originals = {n: p.detach().clone() for n, p in base.named_parameters()}
    ids = torch.tensor([[5, 9, 40, 77, 12, 3]])
    with torch.no_grad():
        base_logits = base(input_ids=ids).logits
    setup, ctx = prepared(spec_for(tiny_dirs["llama"], data, "pissa"), tmp_path)
    layers = adapted_layers(setup.model)
    assert layers
    for layer in layers:
        w_res = layer.base_layer.weight.detach()
        delta = layer.scaling["default"] * layer.lora_B["default"].weight @ layer.lora_A["default"].weight
        name = next(n for n, m in setup.model.named_modules() if m is layer)
        original = originals[name.split("base_model.model.", 1)[1] + ".weight"]
        assert not torch.allclose(w_res, original)  # the principal part moved out of the frozen weight...
        assert torch.allclose(w_res + delta, original, atol=1e-5)  # ...into the adapter: W = W_res + s·B·A
        top = torch.linalg.svdvals(original)[: setup.spec.lora_r]
        assert torch.allclose(torch.linalg.svdvals(delta)[: setup.spec.lora_r], top, rtol=1e-4)
    setup.model.eval()
    with torch.no_grad():
        assert torch.allclose(setup.model(input_ids=ids).logits, base_logits, atol=1e-4)


def test_a_trained_pissa_adapter_loads_on_the_original_base(tiny_dirs, data, tmp_path, lab_home):
    from peft import PeftModel

    from lab.modeling.models import load_model

    setup, ctx = prepared(spec_for(tiny_dirs["llama"], data, "pissa", learning_rate=1e-2), tmp_path)
    recipe.train(setup, ctx)
    setup.model.eval()
    ids = torch.tensor([[5, 9, 40, 77, 12, 3]])
    with torch.no_grad():
        trained = setup.model(input_ids=ids).logits
    recipe.save(setup, ctx)
    folder = ctx.artifact_dir / "adapter"
    assert json.loads((folder / "adapter_config.json").read_text())["r"] == 2 * setup.spec.lora_r  # converted
    base, _, _ = load_model(str(tiny_dirs["llama"]), dtype="fp32")
    reloaded = PeftModel.from_pretrained(base, str(folder)).eval()
    with torch.no_grad():
        assert torch.allclose(reloaded(input_ids=ids).logits, trained, atol=1e-4)


@pytest.mark.parametrize("method", ["loha", "lokr", "oft", "olora"])
def test_methods_peft_cannot_apply_to_gpt2_are_refused_when_the_spec_is_built(method, tiny_dirs, data):
    with pytest.raises(LabError) as info:
        spec_for(tiny_dirs["gpt2"], data, method)
    assert info.value.key == "method_architecture"
    assert method in str(info.value) and "gpt2" in str(info.value)
    spec_for(tiny_dirs["llama"], data, method)  # the same method on a Llama-style model is fine


@pytest.mark.parametrize("method", ["lora", "rslora", "pissa", "vera", "loraplus"])
def test_methods_that_run_on_gpt2_are_not_refused(method, tiny_dirs, data):
    assert spec_for(tiny_dirs["gpt2"], data, method).method == method


def test_architecture_is_read_without_transformers(tiny_dirs, lab_home):
    assert architecture.model_type(str(tiny_dirs["gpt2"])) == "gpt2"
    assert architecture.model_type("smollm2-135m-instruct") == "llama"  # built-in copy until converted
    assert architecture.model_type("some-org/not-in-the-cache") is None  # unknown: nothing refused early
    table = architecture.architecture_table()
    assert table["gpt2"]["loha"] is False and table["gpt2"]["lora"] is True
    assert all(table["llama"].values())


def test_the_app_validates_specs_without_importing_peft():
    import subprocess
    import sys

    code = ("import sys; from lab.specs import spec_from_dict; "
            "spec_from_dict({'kind': 'finetune', 'method': 'oft', 'model': 'smollm2-135m-instruct'}); "
            "print(sorted(m for m in ('peft', 'transformers', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU LoftQ runs (tests/test_finetune.py)")
def test_loftq_is_refused_without_a_gpu_naming_the_method(tiny_dirs, data, tmp_path, lab_home):
    with pytest.raises(LabError) as info:
        prepared(spec_for(tiny_dirs["llama"], data, "loftq"), tmp_path)
    assert info.value.key == "method_needs_gpu" and "loftq" in str(info.value)
