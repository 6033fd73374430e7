"""One Fine-tune timer tick builds the comparison frame once (it used to read every run's files four
times), and builds it again as soon as a run's row or files change."""
import time

from lab.finetune import compare, view
from lab.runs import store
from lab.runs.folder import RunFolder


def make_run(run_id, method, status="succeeded", loss=1.0):
    folder = RunFolder(run_id).create()
    folder.write_spec(f'{{"kind": "finetune", "method": "{method}"}}')
    folder.write_result(status, metrics={"trainable_params": 100, "eval_loss": loss, "train_loss_last": loss})
    folder.append_metric({"step": 1, "loss": loss})
    store.insert_run(run_id, "finetune", method, "", False, "h", "v", status=status, group_id="g")
    return folder


def test_one_tick_builds_the_frame_once_and_a_change_rebuilds_it(lab_home, monkeypatch):
    folders = [make_run("tick-a", "lora", loss=1.0), make_run("tick-b", "ia3", loss=2.0)]
    run_ids = ["tick-a", "tick-b"]
    builds = []
    build = compare._build_frame
    monkeypatch.setattr(compare, "_build_frame", lambda rows: builds.append(len(rows)) or build(rows))

    def tick():  # what pages/finetune.show_group asks for
        frame = compare.comparison_frame(run_ids)
        view.group_frame(run_ids, "en"), view.finished_choices(run_ids, "en"), view.measured_answer(run_ids, "zh")
        return frame

    first = tick()
    assert builds == [2] and list(first["method"]) == ["lora", "ia3"]
    first.loc[0, "method"] = "changed by a caller"  # callers get copies: the cached frame is untouched
    assert list(tick()["method"]) == ["lora", "ia3"] and builds == [2]

    time.sleep(0.01)
    folders[1].write_result("succeeded", metrics={"trainable_params": 100, "eval_loss": 0.5})
    assert tick().set_index("method").loc["ia3", "eval_loss"] == 0.5 and builds == [2, 2]
    store.update_run("tick-a", status="failed")
    assert list(tick()["status"]) == ["failed", "succeeded"] and builds == [2, 2, 2]


def test_the_group_signature_follows_the_runs_files_but_not_their_logs(lab_home):
    folder = make_run("sig-a", "lora", status="running")
    before = view.group_signature(["sig-a"])
    folder.append_log("a printed line")
    assert view.group_signature(["sig-a"]) == before
    folder.write_progress({"fraction": 0.5, "done": 5, "total": 10})
    assert view.group_signature(["sig-a"]) != before
