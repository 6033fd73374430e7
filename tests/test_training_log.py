"""TensorBoard event files in every training run's folder (lab/modeling/training_log.py)."""
import json

import pytest

from lab.modeling import training_log


def _tiny_finetune(run_dir, data):
    from lab.finetune import train as recipe
    from lab.runs.job_context import JobContext
    from lab.specs import spec_from_dict
    from tiny_models import tiny_model_dir

    spec = spec_from_dict(dict(kind="finetune", model=str(tiny_model_dir("llama")), dataset=str(data), method="lora",
                               max_steps=3, batch_size=2, eval_steps=0, save_steps=0, accuracy_examples=0,
                               dtype="fp32"))
    run_dir.mkdir(parents=True)
    ctx = JobContext(run_dir, threads=1)
    recipe.train(recipe.prepare(spec, ctx), ctx)
    return ctx


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "hello.jsonl"
    path.write_text("\n".join(json.dumps({"instruction": "Say hello", "output": "hello cat"}) for _ in range(8)))
    return path


def test_a_fine_tune_writes_tensorboard_events_with_its_loss(tmp_path, data, lab_home):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _tiny_finetune(tmp_path / "run", data)
    events = list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert events, sorted(p.name for p in (tmp_path / "run").rglob("*"))
    board = EventAccumulator(str(events[0].parent))
    board.Reload()
    assert [e.step for e in board.Scalars("train/loss")] == [1, 2, 3]


def test_training_runs_without_tensorboard(tmp_path, data, lab_home, monkeypatch):
    monkeypatch.setattr(training_log, "available", lambda: False)
    _tiny_finetune(tmp_path / "run", data)
    assert (tmp_path / "run" / "metrics.jsonl").is_file()
    assert not (tmp_path / "run" / "tensorboard").exists()


def test_the_runs_tab_offers_the_tensorboard_logs_as_a_zip_that_follows_the_run(lab_home):
    import zipfile

    from torch.utils.tensorboard import SummaryWriter

    from lab.classroom import downloads
    from lab.runs import runs_view, store
    from lab.runs.folder import RunFolder
    from lab.specs import example_spec

    folder = RunFolder("run-tb").create()
    folder.write_spec(example_spec("demo"))
    store.insert_run("run-tb", "demo", "tb", "", False, "hash", "v", status="running")
    assert runs_view.run_detail("run-tb", "en")["tensorboard"] is None  # no event files yet: nothing offered
    writer = SummaryWriter(log_dir=str(folder.tensorboard_dir))
    writer.add_scalar("train/loss", 2.0, 1)
    writer.flush()
    offered = runs_view.run_detail("run-tb", "en")["tensorboard"]
    assert offered == str(folder.tensorboard_dir)
    first = downloads.copy_for_download(offered, name="run-tb-tensorboard")
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
    assert first.endswith("run-tb-tensorboard.zip") and len(names) == 1 and names[0].startswith("events.out.tfevents")
    writer.add_scalar("train/loss", 1.0, 2)  # the same event file grows while the run goes on
    writer.close()
    second = downloads.copy_for_download(offered, name="run-tb-tensorboard")
    assert second != first and zipfile.ZipFile(second).getinfo(names[0]).file_size > \
        zipfile.ZipFile(first).getinfo(names[0]).file_size


def test_the_run_detail_page_adds_the_tensorboard_zip_to_the_files():
    from pathlib import Path

    source = (Path(__file__).resolve().parent.parent / "pages" / "run_detail.py").read_text()
    assert 'detail["tensorboard"]' in source and "copy_for_download" in source
