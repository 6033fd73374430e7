"""The Prompting tab in headless Chromium, with a tiny model typed in as a local folder: a bad upload is
refused naming its line, a run of two strategies ends with its table, traces, the exact prompt and the vote."""
import pytest

from test_browser import app_url, open_app, wait_until_served  # noqa: F401  (app_url: a fixture)

pytestmark = pytest.mark.browser


def test_run_two_strategies_and_read_a_trace(app_url, tmp_path):  # noqa: F811
    playwright = pytest.importorskip("playwright.sync_api")
    url, process = app_url
    from tiny_models import make_tiny_model_dir

    model_dir = make_tiny_model_dir(tmp_path / "tiny-model")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "1 + 1?", "answer": "2"}\n{"question": "2 + 2?"}\n', encoding="utf-8")
    wait_until_served(url, process)
    expect = playwright.expect
    with playwright.sync_playwright() as p:
        browser, page = open_app(p, url)
        page.locator("#tab-prompting-button").click()

        page.locator("#prompting-upload input[type=file]").set_input_files(str(bad))
        expect(page.get_by_text("bad.jsonl line 2").first).to_be_visible(timeout=20000)

        model = page.locator("#prompting-model input")
        model.fill(str(model_dir))
        model.press("Enter")
        for name, value in (("questions", "3"), ("n_paths", "2")):
            box = page.locator(f"#prompt-{name} input")
            box.fill(value)
            box.press("Tab")
        strategies = page.locator("#prompting-strategies")
        for label in ("Few-shot", "Zero-shot CoT", "Few-shot CoT", "Self-consistency"):
            strategies.locator("label").filter(has_text=label).first.click()  # defaults off, self-consistency on
        page.locator("#prompting-run").click()
        expect(page.locator("#prompting-status .job-succeeded")).to_be_visible(timeout=180000)
        table = page.locator("#prompting-table")
        expect(table).to_contain_text("Self-consistency", timeout=20000)
        expect(table).to_contain_text("Zero-shot")
        expect(page.locator("#prompting-normalisation")).to_contain_text("Answer extraction")
        expect(page.locator("#prompting-reveal")).to_contain_text("Measured")
        row = page.locator("#prompting-traces [role=row]").filter(has_text="Self-consistency").first
        row.locator('[data-testid$="-0"]').click()
        expect(page.locator("#prompting-detail")).to_contain_text("Votes", timeout=20000)
        page.locator("#prompting-prompt-box").click()
        expect(page.locator("#prompting-prompt")).to_contain_text("Calculate", timeout=10000)
        browser.close()
