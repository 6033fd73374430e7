"""The Runs tab's resume button in a real browser (issue 23): a cancelled fine-tune with checkpoints offers to resume,
names the checkpoint it will pick, and the button queues a new run that continues from that run."""
import pytest

from app_server import running_app, wait_until_served
from lab.runs import store
from lab.runs.folder import RunFolder
from lab.specs import spec_from_dict
from test_browser import open_app, pytestmark  # noqa: F401  (pytestmark: the browser mark and the chromium skip)

STOPPED = "20260101-000001-finetune-abcdef"


def test_a_cancelled_fine_tune_resumes_from_its_last_checkpoint(lab_home, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    from tiny_models import tiny_model_dir

    spec = spec_from_dict({"kind": "finetune", "method": "lora", "model": str(tiny_model_dir()), "max_steps": 30,
                           "eval_steps": 0, "name": "stopped early"})
    folder = RunFolder(STOPPED).create()
    folder.write_spec(spec)
    store.insert_run(STOPPED, "finetune", spec.name, "", False, spec.spec_hash(), "test")
    store.update_run(STOPPED, status="cancelled")
    for step in (10, 20, 5):  # the resume picks the highest step, not the newest folder or the last listed
        (folder.checkpoint_dir / f"checkpoint-{step}").mkdir(parents=True)

    expect = playwright.expect
    with running_app(tmp_path / "app.log") as (url, process), playwright.sync_playwright() as p:
        wait_until_served(url, process, timeout=300)
        browser, page = open_app(p, url)
        page.locator("#tab-runs-button").click()
        row = page.locator("#runs-table [role=row]").filter(has_text=STOPPED)
        expect(row).to_contain_text("cancelled", timeout=60000)
        row.locator('[data-testid$="-0"]').click()
        note = page.locator("#run-resume-note")
        expect(note).to_contain_text("checkpoint-20", timeout=60000)
        expect(note).to_contain_text("step 20 of 30")
        button = page.locator("#run-resume")
        expect(button).to_be_visible()
        page.screenshot(path=str(tmp_path / "resume_offer.png"), full_page=True)
        button.click()
        selected = page.locator("#runs-selected textarea, #runs-selected input").first
        expect(selected).not_to_have_value(STOPPED, timeout=60000)  # the new run is selected
        new_id = selected.input_value().strip()
        expect(page.locator("#runs-table")).to_contain_text(new_id, timeout=60000)
        page.screenshot(path=str(tmp_path / "resumed.png"), full_page=True)
        browser.close()
    resumed = RunFolder(new_id).read_spec()
    assert resumed["resume_from"] == STOPPED and resumed["max_steps"] == 30
    assert resumed["name"] == "stopped early (resumed)"
    assert store.get_run(new_id)["kind"] == "finetune"
