"""The app in a real browser (headless Debian chromium driven by Playwright; never `playwright install`).

One test, as a user would go: open the lab, switch to Chinese and back, generate text with a tiny
model typed in as a local folder, see the output, reload the page (the tab re-attaches to the run),
and find the run in the Runs tab as succeeded and as this visitor's.
"""
import re
import time
from pathlib import Path

import pytest

from app_server import running_app, wait_until_served  # noqa: F401  (wait_until_served: used here and re-exported)
from lab.present.tabs import TABS
from lab.runs import runner, store

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no browser: {CHROMIUM} is missing "
                                 "(apt-get install chromium)")]


def open_app(p, url: str):
    """(browser, page) with the app loaded: the page-load event has run once the visitor key shows."""
    browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="en-US")
    page.goto(url)
    pytest.importorskip("playwright.sync_api").expect(page.locator("#visitor-note")).to_contain_text(
        "Visitor ", timeout=120000)
    return browser, page


@pytest.fixture
def app_url(lab_home, tmp_path):
    """The app on a free port with its own data folder; stopped (and its jobs) afterwards."""
    with running_app(tmp_path / "app.log") as served:
        yield served


def test_switch_language_generate_and_find_the_run(app_url, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    url, process = app_url
    from tiny_models import make_tiny_model_dir  # made while the app starts

    model_dir = make_tiny_model_dir(tmp_path / "tiny-model")
    wait_until_served(url, process)
    expect = playwright.expect
    outside = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="en-US")
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
            (url, "data:", "blob:")) else None)
        page.goto(url)
        home_tab = page.locator("#tab-home-button")
        expect(home_tab).to_have_text("Home", timeout=30000)
        expect(page.locator("#visitor-note")).to_contain_text("Visitor ", timeout=120000)  # the load has run

        # -- the language toggle changes every visible text, and back --------------------------
        page.locator("#lang-toggle label").filter(has_text="中文").click()
        expect(home_tab).to_have_text("首页", timeout=60000)
        expect(page.locator("#tab-runs-button")).to_have_text("运行记录")
        expect(page.get_by_role("heading", name="语言模型的一生")).to_be_visible()
        expect(page.locator("#home-system")).to_contain_text("CPU 核心数")
        page.wait_for_timeout(1000)  # the Chinese redraw has landed everywhere before the second click
        page.locator("#lang-toggle label").filter(has_text="English").click()
        expect(home_tab).to_have_text("Home", timeout=60000)
        expect(page.get_by_role("heading", name="The life of a language model")).to_be_visible()
        expect(page.locator("#home-system")).to_contain_text("CPU cores")

        # -- generate with a tiny model typed in as a local folder -----------------------------
        page.locator("#tab-generate-button").click()
        model = page.locator("#generate-model input")
        model.fill(str(model_dir))
        model.press("Enter")
        page.locator("#generate-prompts textarea").fill("Hello there\nThe cat sat")
        page.locator("#generate-settings").click()
        tokens = page.locator("#generate-max_new_tokens input")
        expect(tokens).to_have_value("64", timeout=10000)  # the widget has mounted with its default
        for _ in range(3):  # a tab's widgets mount lazily: typing into one that is still mounting is lost
            tokens.fill("6")
            tokens.press("Tab")  # commit the number before the click
            try:
                expect(tokens).to_have_value("6", timeout=3000)
                break
            except AssertionError:
                page.wait_for_timeout(1000)
        expect(tokens).to_have_value("6")
        page.locator("#generate-run").click()
        expect(page.locator("#generate-status .job-succeeded")).to_be_visible(timeout=120000)
        runs = [r for r in store.list_runs() if r["kind"] == "generate"]
        assert len(runs) == 1 and runs[0]["status"] == "succeeded"
        run_id = runs[0]["id"]
        result = runner.result(run_id)
        assert result["spec"]["model"] == str(model_dir) and result["spec"]["max_new_tokens"] == 6
        outputs = page.locator("#generate-outputs")
        expect(outputs).to_contain_text("The cat sat")
        shown = " ".join(outputs.inner_text().split())
        for item in result["outputs"]["outputs"]:
            assert " ".join(item["text"].split())[:4] in shown  # the generated text itself is on the page

        # -- a reload re-attaches: the tab shows the run again, with its settings ---------------
        page.reload()
        expect(page.locator("#visitor-note")).to_contain_text("Visitor ", timeout=120000)
        page.locator("#tab-generate-button").click()
        expect(page.locator("#generate-status .job-succeeded")).to_be_visible(timeout=10000)
        expect(page.locator("#generate-prompts textarea")).to_have_value("Hello there\nThe cat sat")
        expect(outputs).to_contain_text("The cat sat")

        # -- the run is in the Runs tab, succeeded, marked as this visitor's ---------------------
        page.locator("#tab-runs-button").click()
        table = page.locator("#runs-table")
        expect(table).to_contain_text(run_id, timeout=10000)
        row = page.locator("#runs-table [role=row]").filter(has_text=run_id)
        expect(row).to_contain_text("succeeded")
        expect(row).to_contain_text("you")
        row.locator('[data-testid$="-0"]').click()
        expect(page.locator("#run-summary")).to_contain_text("succeeded", timeout=10000)
        browser.close()
    assert outside == []  # nothing but the app itself: no fonts, scripts or telemetry from the network
    assert store.get_run(run_id)["owner"]  # the browser's visitor key owns the run


CLASS_PRESET = """
title: {en: "Count with two seeds", zh: "用两个种子计数"}
description: {en: "The demo counter, twice.", zh: "演示计数器,运行两次。"}
minutes: 0.1
spec: {kind: demo, steps: 4, step_seconds: 0.05}
variants: [{name: seed0, seed: 0}, {name: seed5, seed: 5}]
predict:
  question: {en: "Which seed ends lower?", zh: "哪个种子的最终损失更低?"}
  metric: final_loss
  pick: min
board: [final_loss]
"""
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_chinese_on_every_tab_and_the_guided_path(app_url, lab_home):
    """Switch to Chinese: every tab shows Chinese text (labels, help, lessons, table headers), an error
    toast is Chinese; then run a teacher's class preset from the Home path: the run's status, the tick,
    the measured answer and the class board's plot title appear, in Chinese."""
    playwright = pytest.importorskip("playwright.sync_api")
    from lab.present.i18n import t

    (lab_home / "presets").mkdir(parents=True, exist_ok=True)
    (lab_home / "presets" / "count.yaml").write_text(CLASS_PRESET, encoding="utf-8")
    url, process = app_url
    wait_until_served(url, process)
    expect = playwright.expect
    with playwright.sync_playwright() as p:
        browser, page = open_app(p, url)
        page.locator("#lang-toggle label").filter(has_text="中文").click()
        expect(page.locator("#tab-home-button")).to_have_text("首页", timeout=60000)
        for tab in TABS:
            button = page.locator(f"#tab-{tab}-button").first  # Gradio also renders tab buttons in an overflow menu
            button.click()
            panel = page.locator(f"#tab-{tab}")
            expect(panel).to_be_visible(timeout=10000)
            expect(button).to_have_text(t(f"tab.{tab}", "zh"))
            text = panel.inner_text()
            assert len(CJK.findall(text)) > 40, f"{tab}: too little Chinese on the tab: {text[:300]!r}"
        runs_table = page.locator("#runs-table")
        expect(runs_table).to_contain_text(t("runs.col.status", "zh"))  # table headers follow the language
        page.locator("#runs-cancel").click()  # nothing selected: the error comes back in Chinese
        expect(page.get_by_text(t("error.no_run_selected", "zh")).first).to_be_visible(timeout=10000)

        # -- the guided path: a teacher's class preset is a step; run it, see it ticked and answered --
        page.locator("#tab-home-button").first.click()
        title = t("tab.class", "zh")
        step = page.locator("#home-step input")
        step.click()
        page.get_by_role("option").filter(has_text="用两个种子计数").click()
        expect(page.locator("#home-step-info")).to_contain_text("演示计数器", timeout=10000)
        expect(page.locator("#home-reveal")).to_contain_text("哪个种子的最终损失更低", timeout=10000)
        page.locator("#home-step-run").click()
        status = page.locator("#home-step-status")
        expect(status).to_contain_text("seed5", timeout=30000)
        done = t("runs.status.succeeded", "zh")
        deadline = time.time() + 90
        while status.inner_text().count(done) < 2 and time.time() < deadline:
            time.sleep(0.5)
        assert status.inner_text().count(done) == 2, status.inner_text()
        expect(page.locator("#home-path")).to_contain_text("✓", timeout=15000)
        expect(page.locator("#home-path")).to_contain_text(title)
        expect(page.locator("#home-reveal")).to_contain_text("实测结果", timeout=15000)
        expect(page.locator("#home-board-plot")).to_contain_text("全班", timeout=15000)  # the plot title in Chinese
        expect(page.locator("#home-board-table")).to_contain_text(t("board.source.ran", "zh"))
        browser.close()
    runs = [r for r in store.list_runs() if r.get("preset") == "class/count"]
    assert len(runs) == 2 and all(r["status"] == "succeeded" and r["owner"] for r in runs)
