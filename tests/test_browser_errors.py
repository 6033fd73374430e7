"""In a real browser: a refusal appears right under the button that was pressed (issue 25, item 2), and
a result table's every column is visible or has a visible scroll cue (item 1). Reuses test_browser's
app fixture; skipped without /usr/bin/chromium."""
import re

import pytest

from test_browser import CHROMIUM, CHROMIUM_FLAGS, app_url, open_app, wait_until_served  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser]
NEAR_PX = 60  # the message's top is at most this far below the button's bottom


def test_a_malformed_jsonl_is_refused_under_the_train_button(app_url, tmp_path):  # noqa: F811
    playwright = pytest.importorskip("playwright.sync_api")
    url, process = app_url
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "2+2?", "output": "4"}\n{"instruction": "3+3?", "output": \n', encoding="utf-8")
    wait_until_served(url, process)
    with playwright.sync_playwright() as p:
        browser, page = open_app(p, url)
        page.locator("#tab-finetune-button").first.click()
        dataset = page.locator("#finetune-dataset input")
        dataset.fill(str(bad))
        dataset.press("Enter")
        page.locator("#finetune-run").click()
        message = page.locator("#finetune-run-error .run-error")
        playwright.expect(message).to_contain_text("bad.jsonl line 2: not valid JSON", timeout=30000)
        button, box = page.locator("#finetune-run").bounding_box(), message.bounding_box()
        assert 0 <= box["y"] - (button["y"] + button["height"]) <= NEAR_PX
        assert abs(box["x"] - button["x"]) <= NEAR_PX

        # a cross-field refusal names both fields and opens the closed accordion holding the hidden one
        dataset.fill("arithmetic")
        dataset.press("Enter")
        steps = page.locator("#finetune-max_steps input")
        steps.fill("6")
        steps.press("Tab")
        page.locator("#finetune-run").click()
        playwright.expect(message).to_contain_text("Training steps (6)", timeout=30000)
        playwright.expect(page.locator("#finetune-eval_steps")).to_be_visible(timeout=10000)
        playwright.expect(page.locator("#finetune-eval_steps")).to_have_class(re.compile("field-error"))
        browser.close()
