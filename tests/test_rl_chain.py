"""The lifecycle chain runs: each step is submitted when the one before succeeded, fed with its run id,
through the dispatcher's end-of-run hook (here called in-process on tiny models); the progress and the
class board say where each chain is; a failed step stops the chain."""
import pytest

from lab.classroom import chains
from lab.runs import dispatcher, runner, store
from lab.runs.folder import RunFolder

TINY = {"max_steps": 2, "batch_size": 4, "accuracy_examples": 2, "eval_pairs": 2, "eval_prompts": 2,
        "max_completion_length": 4, "n_questions": 2, "max_new_tokens": 4, "dtype": "fp32", "eval_steps": 0,
        "save_steps": 0}


@pytest.fixture
def no_dispatcher(lab_home, monkeypatch):
    monkeypatch.setattr(runner, "ensure_dispatcher", lambda: False)  # the test runs each queued job itself
    return lab_home


def run_queued() -> str:
    """Run the one queued job in this process, then end it as the dispatcher does (finalize + chain hook)."""
    from lab.runs.worker import run_job

    queued = store.list_runs(statuses=("queued",))
    assert len(queued) == 1, queued
    run_id = queued[0]["id"]
    store.update_run(run_id, status="running")
    code = run_job(RunFolder(run_id).path)
    dispatcher.finalize(run_id, code)
    return run_id


def test_the_lifecycle_chain_runs_each_step_on_the_output_of_the_one_before(no_dispatcher):
    import torch

    from tiny_models import trained_tiny_model_dir

    torch.set_num_threads(1)
    group, first = chains.start("align/lifecycle", owner="cli", overrides={"model": str(trained_tiny_model_dir()), **TINY})
    assert store.get_run(first)["preset"] == "align/lifecycle_1_sft" and store.get_run(first)["group_id"] == group
    assert [s["status"] for s in chains.progress(group)] == ["queued", "waiting", "waiting", "waiting"]
    ran = [run_queued() for _ in range(4)]
    assert not store.list_runs(statuses=("queued",))  # the last step queued nothing more
    states = [store.get_run(r)["status"] for r in ran]
    assert states == ["succeeded"] * 4, [RunFolder(r).read_result().get("error") for r in ran]
    kinds = [RunFolder(r).read_spec()["kind"] for r in ran]
    assert kinds == ["finetune", "reward", "grpo", "evaluate"]
    grpo, evaluate = RunFolder(ran[2]).read_spec(), RunFolder(ran[3]).read_spec()
    assert (grpo["start_from"], grpo["reward_run"], grpo["reward"]) == (ran[0], ran[1], "model")  # fed the outputs
    assert evaluate["model"] == ran[2] and grpo["max_steps"] == 2  # the overrides reached every step
    steps = chains.progress(group)
    assert [s["run_id"] for s in steps] == ran and "held_out_reward_after" in steps[2]["figures"]
    text = chains.progress_markdown(group, "en")
    assert "step 4 of 4" in text and ran[2] in text and text.count("✓") == 4
    assert chains.done_by("align/lifecycle", "cli") and chains.latest_group("align/lifecycle", "cli") == group
    board = chains.board_frame("align/lifecycle", None, "en")
    assert len(board) == 1 and board.iloc[0, 1].startswith("4/4") and list(board.columns)[-4:] == ["sft", "reward", "grpo", "evaluate"]


def test_a_failed_step_stops_the_chain_and_says_where(no_dispatcher, monkeypatch):
    group, first = chains.start("align/lifecycle", owner="cli")
    store.update_run(first, status="failed")
    assert chains.after_run(first) is None and len(store.list_runs()) == 1
    store.update_run(first, status="succeeded")
    monkeypatch.setattr(chains.Chain, "next_step", lambda *a, **k: (_ for _ in ()).throw(
        chains.LabError("rl_no_reward_run")))  # the next step refused when it is submitted
    assert chains.after_run(first) is None and len(store.list_runs()) == 1
    assert "stopped" in chains.progress_markdown(group, "en")
    assert chains.after_run("20990101-000000-grpo-ffffff") is None  # not a chain's run: nothing happens


def test_a_bad_override_is_refused_before_anything_runs(no_dispatcher):
    from lab.errors import LabError

    with pytest.raises(LabError):
        chains.start("align/lifecycle", owner="cli", overrides={"max_steps": -3})
    assert store.list_runs() == []


def test_the_home_path_runs_a_chain_step_and_ticks_it_only_when_every_step_succeeded(no_dispatcher, tmp_path):
    from lab.classroom import guided_path
    from lab.runs import run_files

    path_file = tmp_path / "path.yaml"
    path_file.write_text("steps:\n  - {tab: align, preset: align/lifecycle_1_sft.yaml, chain: align/lifecycle}\n"
                         "  - {tab: align, preset: align/reward_chatterbot.json}\n", encoding="utf-8")
    assert guided_path.chain_of("align/lifecycle_1_sft", path_file) == "align/lifecycle"
    assert guided_path.chain_of("align/reward_chatterbot", path_file) == ""
    group, run_id = chains.start("align/lifecycle", owner="cli")
    for number in range(4):  # each step "succeeds" in turn; the hook queues the next, fed with the runs before
        assert "○ **1." in guided_path.path_markdown("cli", "en", path_file)
        store.update_run(run_id, status="succeeded")
        adapter = RunFolder(run_id).artifact_dir / "adapter"  # what a trained step leaves: the next one loads it
        adapter.mkdir(parents=True)
        run_files.write_json(adapter / "lab_finetune.json", {"method": "lora"})
        RunFolder(run_id).write_result(status="succeeded")
        submitted = chains.after_run(run_id)
        if number < 3:
            assert submitted is not None and store.get_run(submitted[1])["status"] == "queued"
            run_id = submitted[1]
    assert submitted is None and "✓ **1." in guided_path.path_markdown("cli", "en", path_file)
    record = chains.read_record(group)
    assert RunFolder(record["runs"]["evaluate"]).read_spec()["model"] == record["runs"]["grpo"]
    assert chains.after_run(run_id) is None and len(store.list_runs()) == 4  # a second call queues nothing twice
