"""Space mode in a real browser: one visitor runs a private job end to end; a second visitor (another
browser context, so other storage) cannot see it anywhere, nor follow it by planting its run id."""
import json
import shutil
from pathlib import Path

import pytest

from app_server import running_app, wait_until_served
from lab.runs import runner, store
from lab.runs.folder import RunFolder
from lab.specs import spec_from_dict

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no browser: {CHROMIUM} is missing")]


def test_a_private_run_stays_with_its_visitor(lab_home, tmp_path, monkeypatch):
    playwright = pytest.importorskip("playwright.sync_api")
    from tiny_models import make_tiny_model_dir

    monkeypatch.setenv("LAB_SPACE", "1")
    # a shared run (the CLI's) whose artifacts hold a tiny model: a folder visitors may name
    shared = runner.submit(spec_from_dict({"kind": "demo", "steps": 1, "step_seconds": 0.0}), owner="cli",
                           start_dispatcher=False)
    store.update_run(shared, status="succeeded")
    model_dir = RunFolder(shared).artifact_dir / "model"
    shutil.copytree(make_tiny_model_dir(tmp_path / "tiny-model"), model_dir)
    expect = playwright.expect
    env = {"LAB_HOME": str(lab_home), "LAB_SPACE": "1", "LAB_LAUNCH": "spawn"}
    with running_app(tmp_path / "app.log", "--space", env=env) as (url, process), \
            playwright.sync_playwright() as p:
        wait_until_served(url, process)
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        alice = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US").new_page()
        alice.goto(url)
        expect(alice.locator("#visitor-note")).to_contain_text("Visitor ", timeout=90000)
        alice.locator("#tab-generate-button").click()
        model = alice.locator("#generate-model input")
        model.fill(str(model_dir))
        model.press("Enter")
        alice.locator("#generate-prompts textarea").fill("A private prompt of Alice")
        alice.locator("#generate-settings").click()
        tokens = alice.locator("#generate-max_new_tokens input")
        expect(tokens).to_have_value("64", timeout=10000)
        for _ in range(3):
            tokens.fill("4")
            tokens.press("Tab")
            try:
                expect(tokens).to_have_value("4", timeout=3000)
                break
            except AssertionError:
                alice.wait_for_timeout(1000)
        alice.locator("#generate-run").click()
        expect(alice.locator("#generate-status .job-succeeded")).to_be_visible(timeout=180000)
        private = [r for r in store.list_runs() if r["kind"] == "generate"]
        assert len(private) == 1 and private[0]["private"] == 1
        run_id = private[0]["id"]
        alice.locator("#tab-runs-button").click()
        expect(alice.locator("#runs-table")).to_contain_text(run_id[-6:], timeout=60000)

        # Bob: another browser context (his own storage), same server
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
        bob = context.new_page()
        bob.goto(url)
        expect(bob.locator("#visitor-note")).to_contain_text("Visitor ", timeout=180000)
        assert bob.locator("#visitor-note").inner_text() != alice.locator("#visitor-note").inner_text()
        bob.locator("#tab-runs-button").click()
        expect(bob.locator("#runs-table")).to_contain_text(shared[-6:], timeout=60000)  # shared runs are listed
        assert run_id not in bob.locator("#runs-table").inner_text()
        # Bob plants Alice's run id where the Generate tab keeps "my run" and reloads: nothing of hers shows
        storage = bob.evaluate("() => Object.keys(localStorage)")
        assert not any("token" in key for key in storage)
        bob.locator("#tab-generate-button").click()
        bob.wait_for_timeout(2000)
        page_text = bob.content()
        assert "A private prompt of Alice" not in page_text
        config = json.loads(bob.evaluate("() => JSON.stringify(window.gradio_config || {})"))
        assert run_id not in json.dumps(config) and "A private prompt of Alice" not in json.dumps(config)
        browser.close()
