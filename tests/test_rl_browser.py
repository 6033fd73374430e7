"""The Align tab's RL sub-tab in a real browser: start a GRPO run on a tiny model and a toy copy task, see
the reward curve drawn while the run is still running and growing, then cancel it (a long run: no race with its end)."""
import json
import time

import pytest

from lab.runs import runner, store
import test_browser
from test_browser import open_app, wait_until_served

pytestmark = test_browser.pytestmark  # marked browser; skipped without chromium
app_url = test_browser.app_url  # the app on a free port with its own data folder (a fixture)


def set_number(page, elem_id: str, value: str) -> None:
    """Type into a number field until it holds the value (a lazily mounted widget can drop the first typing)."""
    expect = pytest.importorskip("playwright.sync_api").expect
    box = page.locator(f"#{elem_id} input").first
    for _ in range(3):
        box.fill(value)
        box.press("Tab")
        try:
            expect(box).to_have_value(value, timeout=3000)
            return
        except AssertionError:
            page.wait_for_timeout(1000)
    expect(box).to_have_value(value)


def test_a_grpo_run_started_from_the_align_tab_draws_its_reward_curve_while_it_runs(app_url, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    url, process = app_url
    from tiny_models import make_tiny_model_dir  # made while the app starts

    model_dir = make_tiny_model_dir(tmp_path / "tiny-model")
    data = tmp_path / "copy.jsonl"
    data.write_text("\n".join(json.dumps({"instruction": f"Copy: {i % 10}", "output": str(i % 10), "answer": str(i % 10)})
                              for i in range(40)), encoding="utf-8")
    wait_until_served(url, process)
    expect = playwright.expect
    with playwright.sync_playwright() as p:
        browser, page = open_app(p, url)
        page.locator("#tab-align-button").click()
        page.get_by_role("tab", name="RL: GRPO / RLOO / RAFT").click()
        for elem_id, value in (("align-model", str(model_dir)), ("align-dataset", str(data))):
            box = page.locator(f"#{elem_id} input")
            box.fill(value)
            box.press("Enter")
        set_number(page, "align-grpo-max_steps", "5000")  # long: cancelled below once the curve has grown
        set_number(page, "align-grpo-max_completion_length", "3")
        set_number(page, "align-grpo-temperature", "2")
        page.locator("#align-rl-run").click()
        expect(page.locator("#align-rl-reward .scatterlayer .trace").first).to_be_attached(timeout=180000)
        runs = [r for r in store.list_runs() if r["kind"] == "grpo"]
        assert len(runs) == 1
        run_id = runs[0]["id"]
        drawn_while = store.get_run(run_id)["status"]
        points_then = page.locator("#align-rl-reward .scatterlayer .trace .point").count()
        page.screenshot(path=str(tmp_path / "rl_mid_run.png"), full_page=True)
        assert drawn_while == "running", store.get_run(run_id)  # the curve was there before the run ended
        grown = page.locator("#align-rl-reward .scatterlayer .trace .point")
        deadline = time.time() + 180
        while grown.count() <= points_then and time.time() < deadline:  # it keeps updating while the run goes on
            page.wait_for_timeout(2000)
        assert grown.count() > points_then and store.get_run(run_id)["status"] == "running"
        runner.cancel(run_id)
        deadline = time.time() + 120
        while store.get_run(run_id)["status"] in ("queued", "running") and time.time() < deadline:
            time.sleep(1)
        assert store.get_run(run_id)["status"] == "cancelled", store.get_run(run_id)
        spec = runner.result(run_id)["spec"]
        assert spec["max_steps"] == 5000 and spec["model"] == str(model_dir)
        browser.close()
