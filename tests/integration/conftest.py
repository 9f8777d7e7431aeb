"""A real Airflow 3 for the whole session: its own venv (cached), api-server, scheduler and
dag-processor on 127.0.0.1 with auth on; stopped at the end. Never skipped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jupyter_mvdp.service.manager import RunManager
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets import build_targets
from tests.harness.airflow import HarnessAirflow

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in item.nodeid:
            item.add_marker(pytest.mark.airflow)


@pytest.fixture(scope="session")
def airflow():
    with HarnessAirflow() as running:
        yield running


@pytest.fixture
def workspace(tmp_path):
    """A server root with the Titanic example (its data path made absolute, so the Airflow
    workers, whose working directory is elsewhere, find it)."""
    shutil.copy(NOTEBOOKS / "titanic.ipynb", tmp_path)
    shutil.copy(NOTEBOOKS / "deploy_titanic.ipynb", tmp_path)
    shutil.copytree(NOTEBOOKS / "datasets", tmp_path / "datasets")
    return tmp_path


@pytest.fixture
def manager(workspace, airflow):
    store = RunStore(workspace / "runs.sqlite")
    targets = build_targets(
        {"airflow": airflow.target_settings(), "local": {"kind": "local", "parallelism": 2}}
    )
    yield RunManager(store, targets, root_dir=workspace, user="tester")
    store.close()
