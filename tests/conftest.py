"""Shared fixtures: a private data folder per test, and clean-up of the dispatchers it started."""
import os
from pathlib import Path
import signal
import time

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "integration: uses the real default model (slower; converts it once)")
    config.addinivalue_line("markers", "browser: drives the app in headless Chromium")
    config.addinivalue_line("markers", "gpu: needs CUDA; skipped without it")


def _stop_lab_processes(home):
    """SIGTERM the dispatcher holding this data folder's lease, and kill any worker still running."""
    os.environ["LAB_HOME"] = str(home)
    from lab.runs import store
    from lab.runs.dispatcher import kill_tree

    try:
        for run in store.list_runs(statuses=("running",)):
            if run["pid"] and store.process_alive(run["pid"], run["pid_start"]):
                kill_tree(run["pid"], signal.SIGKILL)  # torchrun's ranks lead sessions of their own
        holder = store.lease_holder()
    except Exception:  # noqa: BLE001  (a test may have broken the database on purpose)
        holder = None
    if holder:
        try:
            os.kill(holder["holder_pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.time() + 5
        while time.time() < deadline and store.process_alive(holder["holder_pid"], holder["holder_start"]):
            time.sleep(0.05)


@pytest.fixture
def lab_home(tmp_path, monkeypatch):
    """A fresh LAB_HOME; dispatchers started in it exit quickly when idle and are stopped at the end."""
    home = tmp_path / "lab_home"
    monkeypatch.setenv("LAB_HOME", str(home))
    monkeypatch.setenv("LAB_IDLE_EXIT", "5")
    monkeypatch.delenv("LAB_MAX_JOBS", raising=False)
    monkeypatch.delenv("LAB_MODELS", raising=False)  # models live in this home unless a test asks to share
    yield home
    _stop_lab_processes(home)


@pytest.fixture(scope="session")
def models_cache(tmp_path_factory):
    """One folder of converted models for the whole test session ($LAB_TEST_MODELS keeps it between sessions)."""
    return Path(os.environ.get("LAB_TEST_MODELS") or tmp_path_factory.mktemp("models"))


@pytest.fixture
def lab_home_default_model(lab_home, models_cache, monkeypatch):
    """A fresh LAB_HOME whose jobs find the default model converted once per session (integration tests)."""
    monkeypatch.setenv("LAB_MODELS", str(models_cache))
    return lab_home
