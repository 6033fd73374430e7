"""The Align tab's data views: curves, the margin histogram, before/after tables, starting points —
pure functions over run folders, checked without a browser."""
from lab import config
from lab.runs import run_files, store
from lab.align import view


def make_run(run_id, kind, status="succeeded", metrics=None, outputs=None, records=(), spec=None, adapter=False):
    folder = config.runs_dir() / run_id
    (folder / "artifacts").mkdir(parents=True)
    run_files.write_json(folder / "spec.json", spec or {"kind": kind})
    run_files.write_json(folder / "result.json", {"status": status, "metrics": metrics or {}, "outputs": outputs or {}})
    for record in records:
        run_files.append_jsonl(folder / "metrics.jsonl", record)
    if adapter:
        (folder / "artifacts" / "adapter").mkdir()
        run_files.write_json(folder / "artifacts" / "adapter" / "lab_finetune.json", {"method": "lora"})
    store.insert_run(run_id, kind, "", "", False, "h", "v", status=status)
    return folder


RECORDS = [{"step": 0, "reward_accuracy": 0.0, "kl": 0.0},
           {"step": 1, "loss": 0.69, "reward_accuracy": 0.5, "reward_chosen": 0.01, "reward_rejected": -0.02, "kl": 0.001},
           {"step": 2, "loss": 0.60, "reward_accuracy": 1.0, "reward_chosen": 0.02, "reward_rejected": -0.2, "kl": 0.01}]


def test_dpo_curves_draw_loss_accuracy_both_rewards_and_kl_in_either_language(lab_home):
    make_run("r1", "dpo", records=RECORDS)
    loss, accuracy, rewards, kl = view.dpo_curves("r1", "en")
    assert list(loss.data[0].y) == [0.69, 0.60] and list(accuracy.data[0].y) == [0.0, 0.5, 1.0]
    assert [trace.name for trace in rewards.data] == ["chosen", "rejected"]
    assert list(rewards.data[1].y) == [-0.02, -0.2] and list(kl.data[0].x) == [0, 1, 2]
    assert view.dpo_curves("r1", "zh")[2].data[0].name == "被选回答"
    assert all(not figure.data for figure in view.dpo_curves("", "en"))  # no run: empty placeholders


def test_margin_histogram_overlays_before_and_after():
    figure = view.margin_histogram({"before": [-1.0, 0.5], "after": [1.0, 2.0, 3.0]}, "en", "align.plot.dpo_margins")
    assert [trace.name for trace in figure.data] == ["before training", "after training"]
    assert list(figure.data[1].x) == [1.0, 2.0, 3.0] and figure.layout.barmode == "overlay"
    assert not view.margin_histogram({}, "en", "align.plot.dpo_margins").data


def test_dpo_margins_come_from_the_saved_log_probabilities(lab_home):
    folder = make_run("r2", "dpo")
    run_files.write_json(folder / "artifacts" / "held_out_logps.json",
                         {"before": [[-5.0, -4.0]], "after": [[-3.0, -6.0]]})
    assert view.dpo_margins("r2") == {"before": [-1.0], "after": [3.0]}


def test_before_after_tables_and_the_answers_marked_by_the_rule_judge():
    result = {"metrics": {"margin_before": 0.5, "margin_after": 2.5, "pair_accuracy_before": 0.5,
                          "pair_accuracy_after": 0.75, "held_out_reward_accuracy": 0.75, "kl_final": 0.2, "steps": 20,
                          "win_rate": 0.625, "wins": 2, "ties": 1, "losses": 1},
              "outputs": {"outputs": [{"prompt": "What is 2 + 2?", "before": "The answer is 5.",
                                       "after": "The answer is 4.", "answer": "4"}]}}
    table, line = view.dpo_summary(result, "en")
    assert table.shape == (2, 3) and list(table.iloc[0, 1:]) == ["0.5", "2.5"]  # no task accuracy: no row
    assert "0.625" in line and "2 wins" in line
    answers = view.answers_frame(result, "zh")
    assert list(answers.iloc[0]) == ["What is 2 + 2?", "✗ The answer is 5.", "✓ The answer is 4.", "4"]
    assert view.answers_frame(None, "en").empty and view.dpo_summary(None, "en")[1] == ""


def test_sample_rewards_are_listed_best_first():
    result = {"outputs": {"samples": [{"answer": "a", "reward": -1.0}, {"answer": "b", "reward": 2.0}]}}
    assert list(view.samples_frame(result, "en").iloc[:, 0]) == ["b", "a"]
    assert list(view.reward_summary({"metrics": {"reward_accuracy_before": 0.5, "reward_accuracy": 1.0}},
                                    "en").iloc[0, 1:]) == ["0.5", "1"]


def test_dpo_can_start_from_finished_finetune_and_dpo_runs_only(lab_home):
    make_run("ft-done", "finetune", adapter=True, spec={"kind": "finetune", "method": "ia3"})
    make_run("ft-failed", "finetune", status="failed", adapter=True)
    make_run("ft-no-adapter", "finetune")
    make_run("dpo-done", "dpo", adapter=True)
    make_run("gen", "generate")
    choices = view.starting_choices("en")
    assert choices[0][1] == "" and sorted(value for _, value in choices[1:]) == ["dpo-done", "ft-done"]
    assert "ia3" in dict((v, k) for k, v in choices)["ft-done"]


def test_the_run_signature_changes_with_new_metric_records(lab_home):
    folder = make_run("r3", "dpo", status="running", records=RECORDS[:1])
    first = view.run_signature("r3", "en")
    run_files.append_jsonl(folder / "metrics.jsonl", RECORDS[1])
    assert view.run_signature("r3", "en") != first and view.run_signature("r3", "zh") != view.run_signature("r3", "en")
