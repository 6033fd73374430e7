"""Sweeps: expansion of the grid, refusals (bad values, too large, Space-mode limits as a whole), the group
table, the summary across seeds, the loss overlay and the heatmap — over fake finished runs (no training)."""
import pytest

from lab.errors import LabError
from lab.finetune import sweep
from lab.runs import store
from lab.runs.folder import RunFolder
from lab.specs import spec_from_dict

FIELDS = {"model": "smollm2-135m-instruct", "dataset": "arithmetic", "method": "lora", "max_steps": 10,
          "eval_steps": 0, "save_steps": 0, "seed": 0}


def test_grid_times_seeds_with_everything_else_equal():
    axes = sweep.parse_axes({"learning_rate": "1e-4, 1e-3,1e-3", "lora_r": "4; 16", "batch_size": ""})
    assert axes == {"learning_rate": [1e-4, 1e-3], "lora_r": [4, 16]}  # duplicates dropped, empty not swept
    specs = sweep.expand(FIELDS, axes, seeds=3)
    assert len(specs) == 2 * 2 * 3
    assert {(s["learning_rate"], s["lora_r"], s["seed"]) for s in specs} == {
        (lr, r, seed) for lr in (1e-4, 1e-3) for r in (4, 16) for seed in (0, 1, 2)}
    for data in specs:  # equal budgets: nothing else differs
        rest = {k: v for k, v in data.items() if k not in ("learning_rate", "lora_r", "seed", "name")}
        assert rest == {k: v for k, v in {**FIELDS, "kind": "finetune"}.items() if k != "seed"}
        spec_from_dict(data)  # every one a valid spec
    assert specs[0]["name"] == "lr=0.0001 r=4 seed=0"
    assert sweep.expand(FIELDS, {"learning_rate": [1e-3]}, seeds=1)[0]["name"] == "lr=0.001"


@pytest.mark.parametrize("texts, key, fragment", [
    ({"learning_rate": "1e-3, fast"}, "sweep_bad_value", "fast"),
    ({"lora_r": "-4"}, "sweep_bad_value", "-4"),
    ({"lora_r": "2.5"}, "sweep_bad_value", "2.5"),
    ({"learning_rate": "__import__('os')"}, "sweep_bad_value", "__import__"),
    ({"dropout": "0.1"}, "sweep_bad_axis", "dropout"),
])
def test_bad_sweep_values_are_refused_naming_them(texts, key, fragment):
    with pytest.raises(LabError) as info:
        sweep.parse_axes(texts)
    assert info.value.key == key and fragment in str(info.value)


def test_a_sweep_past_the_hard_limit_is_refused_with_its_count():
    axes = {"learning_rate": [1e-4, 2e-4, 3e-4, 4e-4, 5e-4], "lora_r": [1, 2, 4, 8, 16]}
    with pytest.raises(LabError) as info:
        sweep.expand(FIELDS, axes, seeds=3)
    assert info.value.key == "sweep_too_large" and "75" in str(info.value)


def test_space_mode_refuses_the_whole_sweep_before_queuing_anything(lab_home, monkeypatch):
    from lab.classroom import visitors

    monkeypatch.setenv("LAB_SPACE", "1")
    key = visitors.new_visitor_key()
    axes = {"learning_rate": [1e-4, 3e-4, 1e-3, 3e-3]}
    with pytest.raises(LabError) as info:
        sweep.submit_sweep(FIELDS, axes, seeds=2, owner=key)  # 8 runs > 6
    assert info.value.key == "limit_sweep_runs" and "8" in str(info.value)
    with pytest.raises(LabError) as info:
        sweep.submit_sweep({**FIELDS, "max_steps": 200}, {"learning_rate": [1e-4, 1e-3]}, seeds=2, owner=key)
    assert info.value.key == "limit_sweep_steps" and "800" in str(info.value)
    assert store.list_runs() == []  # nothing was queued


def fake_runs(values):
    """Finished fine-tunes with the given (learning_rate, lora_r, seed, final loss) and a short loss curve."""
    run_ids = []
    for index, (lr, r, seed, loss) in enumerate(values):
        run_id = f"20260101-000000-finetune-{index:06x}"
        data = sweep.expand({**FIELDS, "learning_rate": lr, "lora_r": r}, {}, seeds=[seed])[0]
        data["name"] = sweep.run_name({"learning_rate": lr, "lora_r": r, "seed": seed})
        spec = spec_from_dict(data)
        folder = RunFolder(run_id).create()
        folder.write_spec(spec)
        for step, value in enumerate((loss + 1.0, loss + 0.5, loss), start=1):
            folder.append_metric({"step": step, "loss": value})
        folder.write_result(status="succeeded", metrics={"train_loss_last": loss, "trainable_percent": 0.3})
        store.insert_run(run_id, "finetune", spec.name, "", False, spec.spec_hash(), "test", group_id="sweep-test")
        store.update_run(run_id, status="succeeded")
        run_ids.append(run_id)
    return run_ids


def test_group_table_summary_overlay_and_heatmap(lab_home):
    values = [(lr, r, seed, 2.0 - 0.5 * (lr == 1e-3) + 0.01 * seed + 0.001 * r)
              for lr in (1e-4, 1e-3) for r in (4, 16) for seed in (0, 1)]
    run_ids = fake_runs(values)
    frame = sweep.sweep_frame(run_ids)
    assert len(frame) == 8 and sweep.swept(frame) == ["learning_rate", "lora_r"]
    assert sweep.final_metric(frame) == "train_loss_last"  # no eval loss measured: the last training loss
    assert frame.set_index("name").loc["lr=0.001 r=16 seed=1", "train_loss_last"] == pytest.approx(1.526)
    summary = sweep.summary_frame(frame)
    assert list(summary.columns) == ["learning_rate", "lora_r", "runs", "mean", "std"]
    row = summary[(summary["learning_rate"] == 1e-3) & (summary["lora_r"] == 4)].iloc[0]
    assert row["runs"] == 2 and row["mean"] == pytest.approx(1.509) and row["std"] == pytest.approx(0.00707, abs=1e-4)
    overlay = sweep.loss_overlay(run_ids, "en")
    assert len(overlay.data) == 8 and {len(trace.y) for trace in overlay.data} == {3}
    assert "lr=0.0001 r=4 seed=0" in {trace.name for trace in overlay.data}
    figure = sweep.heatmap(frame, "zh")
    cells = figure.data[0]
    assert list(cells.x) == ["0.0001", "0.001"] and list(cells.y) == ["4", "16"]
    assert cells.z[0][1] == pytest.approx(1.509) and cells.z[1][0] == pytest.approx(2.021)  # mean over seeds
    single = sweep.heatmap(frame[frame["lora_r"] == 4], "en")
    assert len(single.data[0].z) == 1 and len(single.data[0].z[0]) == 2  # one swept setting: one row


def test_the_tab_table_shows_swept_settings_and_final_figures(lab_home):
    from lab.finetune import view

    run_ids = fake_runs([(1e-4, 8, 0, 2.5), (1e-3, 8, 0, 1.5)])
    table = view.sweep_table(sweep.sweep_frame(run_ids), "zh")
    assert list(table.columns)[:3] == ["运行", "状态", "学习率"] and "LoRA 秩 r" not in table.columns  # r not swept
    assert list(table.iloc[:, 2]) == ["0.0001", "0.001"]


def test_the_learning_rate_sweep_preset_is_a_sweep_over_the_rate_only():
    from lab.classroom import presets

    preset = presets.load("finetune/learning_rate_sweep")
    assert sweep.preset_axes(preset.specs) == {"learning_rate": [1e-4, 1e-3, 1e-2]}
    specs = preset.build()
    assert len({(s.method, s.max_steps, s.batch_size, s.lora_r, s.seed) for s in specs}) == 1  # one budget


def test_the_summary_table_is_translated(lab_home):
    from lab.finetune import view

    run_ids = fake_runs([(1e-4, 8, 0, 2.5), (1e-4, 8, 1, 2.7), (1e-3, 8, 0, 1.5), (1e-3, 8, 1, 1.7)])
    table = view.sweep_summary_table(sweep.sweep_frame(run_ids), "train_loss_last", "zh")
    columns = list(table.columns)
    assert columns[:2] == ["学习率", "运行数"] and columns[2].endswith("平均值") and columns[3] == "种子间离散(标准差)"
    assert list(table.iloc[:, 1]) == [2, 2] and float(table.iloc[0, 3]) == pytest.approx(0.1414, abs=1e-4)
