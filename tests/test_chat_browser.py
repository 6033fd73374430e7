"""The Chat tab in a real browser: pick a fine-tune (a LoRA run on a tiny model), send a message, watch the
answer grow while it streams, see the base model's answer beside it and the model's download; in English
and in Chinese (screenshots go to $LAB_SCREENSHOTS when set)."""
import os
import time
from pathlib import Path

import pytest

from app_server import running_app, wait_until_served
from test_browser import CHROMIUM, open_app

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no browser: {CHROMIUM} is missing")]

RUN_ID = "20260101-120000-finetune-eeeeee"


def shoot(page, name):
    folder = os.environ.get("LAB_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_chat_streams_a_fine_tune_beside_its_base(lab_home, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    from test_chat import lora_run
    from tiny_models import make_tiny_model_dir

    base = make_tiny_model_dir(tmp_path / "tiny", train_steps=60)
    lora_run(RUN_ID, base)  # before the app starts: both would create the run database at once
    with running_app(tmp_path / "app.log") as (url, process):
        try:
            wait_until_served(url, process, timeout=300)  # a loaded CI machine starts the app slowly
        except AssertionError:
            print((tmp_path / "app.log").read_text(errors="replace")[-3000:])
            raise
        with playwright.sync_playwright() as p:
            browser, page = open_app(p, url)
            drive(page, playwright.expect)
            browser.close()


def drive(page, expect):
    """Chat with the run as a visitor would; screenshots in English and Chinese."""
    page.locator("#tab-chat-button").click()
    model = page.locator("#chat-model input")
    expect(model).to_be_visible(timeout=60000)
    model.fill(RUN_ID)
    model.press("Enter")
    expect(page.locator("#chat-download")).to_be_visible(timeout=60000)  # "where is my model"
    expect(page.locator("#chat-where-note")).to_contain_text("adapter")
    page.locator("#chat-sampling button.label-wrap").first.click()  # a longer answer: time to see it grow
    longer = page.locator("#chat-max-new input").first
    expect(longer).to_be_visible(timeout=60000)
    longer.fill("400")
    longer.press("Tab")
    page.locator("#chat-message textarea").fill("the cat")
    page.locator("#chat-send").click()
    answer = page.locator("#chat-bot .message.bot, #chat-bot [data-testid='bot']").last
    seen, deadline = set(), time.time() + 240
    while time.time() < deadline:  # the answer grows while it is generated
        texts = answer.all_inner_texts()  # no wait: the message is redrawn while it streams
        if texts and texts[-1].strip():
            seen.add(texts[-1].strip())
        status = " ".join(page.locator("#chat-status").all_inner_texts()).strip()  # no wait: gone when empty
        if not status and len(seen) > 0:
            break
        page.wait_for_timeout(150)
    # The tiny model writes its whole answer in well under a second, often inside one poll of this loop, so
    # the page may show only the final text here; streaming itself (several chunks that join to the answer)
    # is checked at the worker in test_chat.py.
    assert seen, "no answer appeared"
    final = max(seen, key=len)
    assert all(final.startswith(s) or s in final for s in seen)
    base_answer = page.locator("#chat-base-bot .message.bot, #chat-base-bot [data-testid='bot']").last
    expect(base_answer).not_to_be_empty(timeout=60000)
    assert page.locator("#chat-send-error").is_hidden()
    shoot(page, "chat-en.png")

    page.locator("#lang-toggle label").filter(has_text="中文").click()
    expect(page.locator("#tab-chat-button")).to_have_text("对话", timeout=60000)
    expect(page.locator("#chat-send")).to_have_text("发送", timeout=60000)
    expect(page.locator("#chat-where-note")).to_contain_text("适配器", timeout=60000)
    page.wait_for_timeout(1000)
    shoot(page, "chat-zh.png")

    page.locator("#chat-clear").click()
    expect(page.locator("#chat-bot .message")).to_have_count(0, timeout=30000)
