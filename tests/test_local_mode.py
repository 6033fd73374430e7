"""Local (single-user) mode: every run is the viewer's, whatever browser session they open (issue 25, item 5).

On a laptop the lab is one person's: a new browser session gets a new visitor key, yet "Try a tuned
model" still lists the earlier fine-tunes and the Runs table never says "another visitor". In Space mode
the same rows stay another visitor's. Runs are queued without a dispatcher: nothing starts a process.
"""
import pytest

from lab.classroom import access
from lab.finetune import view
from lab.runs import runner, runs_view, store
from lab.specs import spec_from_dict

OLD, NEW = "old-browser-key-01", "new-browser-key-02"


def finished_finetune(owner: str) -> str:
    run_id = runner.submit(spec_from_dict({"kind": "finetune", "method": "lora"}), owner=owner, start_dispatcher=False)
    store.update_run(run_id, status="succeeded")
    return run_id


@pytest.fixture
def local(lab_home, monkeypatch):
    monkeypatch.setenv("LAB_SPACE", "0")
    monkeypatch.delenv("SPACE_ID", raising=False)
    return lab_home


def test_a_new_browser_session_still_owns_the_earlier_runs(local):
    run_id = finished_finetune(OLD)
    row, newcomer = store.get_run(run_id), access.Viewer.of(NEW)
    assert access.owns(row, newcomer) and access.can_cancel(row, newcomer) and access.can_delete(row, newcomer)
    assert runs_view.owner_text(row["owner"], NEW, "en") == runs_view.t("runs.owner_you", "en")
    assert "another" not in runs_view.owner_text(row["owner"], NEW, "en")
    assert runs_view.owner_text("cli", NEW, "en") == runs_view.t("runs.owner_cli", "en")
    # "Try a tuned model" of a fresh session (no comparison in its browser) lists the earlier fine-tune
    assert [value for _, value in view.finished_choices([], "en", newcomer)] == [run_id]
    assert view.finished_choices([], "en") == []  # without a viewer: the comparison's runs only


def test_on_a_space_the_same_runs_stay_another_visitors(lab_home, monkeypatch):
    monkeypatch.setenv("LAB_SPACE", "1")
    from lab.classroom import visitors

    old, new = visitors.new_visitor_key(), visitors.new_visitor_key()
    run_id = finished_finetune(old)
    store.update_run(run_id, private=0)  # even a shared run is not the newcomer's own
    row, newcomer = store.get_run(run_id), access.Viewer.of(new)
    assert not access.owns(row, newcomer) and not access.can_cancel(row, newcomer)
    assert runs_view.owner_text(row["owner"], new, "en") == runs_view.t("runs.owner_other", "en")
    assert view.finished_choices([], "en", newcomer) == []
    assert [value for _, value in view.finished_choices([], "en", access.Viewer.of(old))] == [run_id]
