"""The app without a browser: it builds, imports no ML stack, and its logic returns the expected data.

Pages build inside gr.Blocks; the language registry renders every registered text in both
languages; the spec-form builder round-trips a spec; runs_view and plots give the expected frames
and figures for run folders written here (no worker processes needed).
"""
import json
import os
import subprocess
import sys
import time

import pytest

from lab import config
from lab.runs import run_files, store
from lab.errors import LabError
from lab.present.i18n import t
from lab.specs import example_spec

gr = pytest.importorskip("gradio")


def test_the_app_imports_no_ml_stack(tmp_path):
    """Start-up stays fast only while the app leaves torch & co. to the job workers."""
    code = ("import sys, app; app.build_app(); "
            "heavy = ('torch', 'transformers', 'peft', 'bitsandbytes', 'accelerate', 'trl'); "
            "print('loaded:' + ','.join(m for m in heavy if m in sys.modules))")
    env = dict(os.environ, LAB_HOME=str(tmp_path / "home"), GRADIO_ANALYTICS_ENABLED="False")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=config.REPO, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "loaded:"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    os.environ.setdefault("LAB_HOME", str(tmp_path_factory.mktemp("home")))
    import app

    return app.build_app()


def test_every_tab_is_built_and_every_text_renders_in_both_languages(built):
    ui = built.lab_ui
    tabs = {c.elem_id: c for c, _ in ui.texts if isinstance(c, gr.Tab) and (c.elem_id or "").startswith("tab-")}  # sub-tabs have other ids
    assert set(tabs) == {f"tab-{n}" for n in ("home", "generate", "finetune", "quantize", "prompting", "scaling",
                                               "evaluate", "align", "chat", "runs")}
    assert tabs["tab-runs"].label == t("tab.runs", "en")
    english, chinese = ui.updates("en"), ui.updates("zh")
    assert len(english) == len(chinese) == len(ui.components()) > 50
    changed = sum(1 for a, b in zip(english, chinese) if a != b)
    assert changed == len(english)  # every registered text differs between the languages
    zh_by_component = dict(zip(ui.components(), chinese))
    assert zh_by_component[tabs["tab-home"]]["label"] == "首页"
    assert len(ui.refreshers) >= 5  # runs table, run detail, comparison, job panel, home, header
    assert len(ui.pollers) >= 3  # one timer event runs them all: job panels, runs table, run detail
    redrawn = ui.redraw("zh", *[getattr(c, "value", None) for c in ui.redraw_inputs()])
    by_component = dict(zip(ui.redraw_outputs(), redrawn))
    assert len(redrawn) == len(ui.redraw_outputs()) and by_component[tabs["tab-runs"]]["label"] == "运行记录"
    outputs_table = next(c for c in ui.components() if c.elem_id == "generate-outputs")
    merged = by_component[outputs_table]  # labelled by the registry and filled by the job panel: one update
    assert merged["label"] == t("generate.outputs", "zh") and list(merged["value"].columns)[0] == "提示"


def test_pages_build_one_by_one_inside_blocks(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    from pages import align, evaluate, finetune, generate, home, prompting, quantize, runs, scaling
    from pages.ui import UI

    for page in (home, generate, finetune, quantize, prompting, scaling, evaluate, align, runs):
        with gr.Blocks():
            ui = UI.create(secret="test")
            with gr.Tabs():
                page.build(ui)
            ui.render_states()
            ui.wire_timer()
        assert ui.texts, page.__name__


def test_spec_form_round_trip_and_translated_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    from lab.present.form_fields import error_text
    from pages.forms import SpecForm
    from pages.ui import UI

    with gr.Blocks():
        ui = UI(secret="test")
        form = SpecForm(ui, "generate")
    widgets = form.widgets
    assert isinstance(widgets["use_chat_template"], gr.Checkbox)
    assert isinstance(widgets["dtype"], gr.Dropdown)
    assert isinstance(widgets["max_new_tokens"], gr.Number) and widgets["max_new_tokens"].precision == 0
    # no Gradio bound ("Value -1 is less than minimum value 1" names no field): the spec refuses, naming it
    assert widgets["max_new_tokens"].maximum is None and widgets["max_new_tokens"].minimum is None
    assert isinstance(widgets["prompts"], gr.Textbox) and widgets["prompts"].lines > 1
    assert widgets["temperature"].info == example_spec("generate").help("temperature", "en")
    values = [w.value for w in form.inputs()]
    assert form.spec(values) == example_spec("generate")  # defaults survive widget -> spec
    edited = form.values(values)
    edited.update(prompts="First question\n\n  Second question  \n", max_new_tokens=12.0)
    spec = form.spec(list(edited.values()))
    assert spec.prompts == ["First question", "Second question"] and spec.max_new_tokens == 12
    assert [u["value"] for u in form.fill(spec.to_dict())][list(form.widgets).index("prompts")] == \
        "First question\nSecond question"
    edited["max_new_tokens"] = 5000
    with pytest.raises(LabError) as caught:
        form.spec(list(edited.values()))
    assert caught.value.key == "too_large" and "5000" in caught.value.message("zh")
    edited["max_new_tokens"] = None
    with pytest.raises(LabError) as caught:
        form.spec(list(edited.values()))
    assert caught.value.key == "missing_value"
    assert error_text(caught.value, "zh") == t("error.missing_value", "zh", field="最多生成的 token 数")
    zh = dict(zip(form.inputs(), ui.updates("zh")))[widgets["prompts"]]
    assert zh["label"] == t("field.prompts", "zh") and zh["info"] == example_spec("generate").help("prompts", "zh")


def _fake_run(run_id, kind="demo", status="succeeded", owner="", losses=(2.0, 1.5, 1.0), result_extra=None):
    """A run folder and job-table row as a finished worker would leave them."""
    folder = config.runs_dir() / run_id
    folder.mkdir(parents=True)
    spec = example_spec(kind).to_dict()
    run_files.write_json(folder / "spec.json", spec)
    for step, loss in enumerate(losses, 1):
        run_files.append_jsonl(folder / "metrics.jsonl", {"step": step, "loss": loss, "time": step * 0.1})
    metrics = {"final_loss": losses[-1], "wall_seconds": 1.5} if status == "succeeded" else {}
    result = {"status": status, "metrics": metrics, "outputs": {}, "spec": spec, **(result_extra or {})}
    run_files.write_json(folder / "result.json", result)
    run_files.write_json(folder / "progress.json", {"fraction": 1.0 if status == "succeeded" else 0.5})
    (folder / "log.txt").write_text("line one\nline two\n")
    store.insert_run(run_id, kind, f"run {run_id[-1]}", owner, False, "hash", "v", status=status, metrics=metrics)
    store.update_run(run_id, started_at=time.time() - 65, finished_at=time.time())


def test_runs_view_tables_detail_and_comparison(lab_home, monkeypatch):
    from lab.runs import runs_view

    monkeypatch.setenv("LAB_SPACE", "1")  # a shared server: another visitor's run says so (locally every run is yours)

    _fake_run("run-a", owner="visitor-1")
    _fake_run("run-b", owner="someone-else", losses=(3.0, 2.0))
    _fake_run("run-c", status="failed", owner="cli",
              result_extra={"error": "x", "error_key": "out_of_memory", "error_params": {"detail": "big"}})
    rows = store.list_runs()
    frame = runs_view.runs_frame(rows, "zh", visitor="visitor-1")
    assert list(frame.columns) == [t(f"runs.col.{c}", "zh") for c in runs_view.TABLE_COLUMNS]
    by_id = {r[0]: r for r in frame.itertuples(index=False)}
    assert by_id["run-a"][3] == "已完成" and by_id["run-a"][9] == "你" and by_id["run-b"][9] == "其他访客"
    assert by_id["run-c"][3] == "失败" and by_id["run-c"][9] == "命令行"
    assert by_id["run-a"][5] == "100%" and by_id["run-a"][7] == "1 min 05 s"
    assert "最终损失 1" in by_id["run-a"][8]

    outputs = runs_view.outputs_markdown({"outputs": [{"prompt": "a|b", "text": "x\ny", "finish_reason": "eos"}],
                                          "summary": "done"}, "zh")
    assert "| 提示 | 生成的文本 | 停止原因 |" in outputs and "| a\\|b | x y | 遇到结束符 |" in outputs and "done" in outputs
    detail = runs_view.run_detail("run-c", "zh")
    assert detail["error"] == LabError("out_of_memory", detail="big").message("zh") and "big" in detail["error"]
    assert json.loads(detail["spec_json"])["kind"] == "demo" and "line two" in detail["log_tail"]
    with pytest.raises(LabError):
        runs_view.run_detail("../etc", "en")

    compare = runs_view.compare_frame(["run-a", "run-b", "gone"], "en")
    assert list(compare.columns) == [t("runs.col.figure", "en"), "run a (run-a)", "run b (run-b)"]
    figures = {r[0]: r[1:] for r in compare.itertuples(index=False)}
    assert figures["final loss"] == ("1", "2") and figures["Status"] == ("succeeded", "succeeded")
    frames = {r: runs_view.metric_records(r) for r in ("run-a", "run-b")}
    assert runs_view.curve_names(frames) == ["loss"]

    from lab.runs.job_view import job_status, run_spec

    status = job_status("run-c", "en", None)
    assert status["terminal"] and status["status"] == "failed" and "out of memory" in status["error"]
    assert job_status("no-such-run", "en", None)["status"] == "missing"
    assert run_spec("run-a", None)["kind"] == "demo" and run_spec("../x", None) is None


def test_plots_overlay_runs_with_translated_titles():
    import pandas as pd

    from lab.present.plots import empty_figure, metric_curves

    frames = {"lora": pd.DataFrame({"step": [1, 2, 3], "loss": [2.0, 1.5, 1.2]}),
              "ia3": pd.DataFrame({"step": [1, 2], "loss": [2.2, 1.9]}),
              "no loss": pd.DataFrame({"step": [1], "accuracy": [0.5]})}
    figure = metric_curves(frames, "loss", "zh")
    assert [trace.name for trace in figure.data] == ["lora", "ia3"]
    assert list(figure.data[0].y) == [2.0, 1.5, 1.2] and list(figure.data[1].x) == [1, 2]
    assert figure.layout.title.text == t("plot.curve_title", "zh", metric="损失", x="步数")
    assert figure.layout.font.size >= 16 and figure.layout.xaxis.title.text == "步数"
    empty = metric_curves(frames, "perplexity", "en")
    assert not empty.data and empty.layout.annotations[0].text == t("plot.no_data", "en")
    assert empty_figure("zh", "plot.no_run").layout.annotations[0].text == t("plot.no_run", "zh")


def test_generation_outputs_and_job_status_html():
    from lab.runs.job_view import generation_frame
    from pages.job_panel import status_html

    result = {"outputs": {"outputs": [{"prompt": "Hi", "text": "<b>there</b>", "finish_reason": "length"}]}}
    frame = generation_frame(result, "zh")
    assert list(frame.columns) == ["提示", "生成的文本", "停止原因"]
    assert frame.iloc[0, 2] == "达到长度上限"
    assert generation_frame(None, "en").empty
    result["outputs"]["base_outputs"] = [{"prompt": "Hi", "text": "base answer", "finish_reason": "eos"}]
    compared = generation_frame(result, "en")
    assert list(compared.columns) == ["Prompt", "Generated text", "Base model's text", "Why it stopped"]
    assert compared.iloc[0, 2] == "base answer"
    html = status_html({"status": "failed", "fraction": 0.5, "text": "<script>", "error": "a & b"})
    assert "&lt;script&gt;" in html and "a &amp; b" in html and "width: 50.0%" in html


def test_system_status_reads_the_machine_without_torch():
    from lab.present import system_status

    status = system_status.system_status()
    assert status["cpus"] >= 1 and status["memory"]["total"] > 0
    text = system_status.status_markdown("zh", status)
    assert "CPU 核心数" in text and str(status["cpus"]) in text


def test_command_line_flags_and_environment(monkeypatch):
    import app

    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    args = app.parse_args([])
    assert (args.host, args.port, args.share) == ("127.0.0.1", 7860, False)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "8123")
    assert (app.parse_args([]).host, app.parse_args([]).port) == ("0.0.0.0", 8123)
    assert app.parse_args(["--port", "9000", "--share"]).port == 9000
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"


def test_visitor_keys_and_the_browser_secret(lab_home):
    from lab.classroom import visitors

    key = visitors.new_visitor_key()
    assert visitors.valid_visitor_key(key) and not visitors.valid_visitor_key("../x")
    assert key != visitors.new_visitor_key()
    assert visitors.browser_secret() == visitors.browser_secret()  # stable: stored keys survive a restart
    assert oct((lab_home / "browser_secret").stat().st_mode & 0o777) == "0o600"
