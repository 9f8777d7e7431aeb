"""Warm kernels on Airflow's workers (kernels/zygote/worker.py), on a real Airflow: the
harness opts in (its airflow_local_settings.py carries the line the README recommends), so
each point's kernel is forked from a zygote of the worker that runs it. The corpus of
tests/kernels/test_zygote.py gives the same output notebooks as on an Airflow whose workers
start every kernel from scratch, and each point's log says which kernel it got."""

from __future__ import annotations

import pytest

from jupyter_mvdp.service.manager import RunManager
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets import build_targets
from tests.harness.airflow import HarnessAirflow
from tests.kernels.test_zygote import CORPUS, cells, notebook
from tests.processes import zygotes

# the corpus minus the notebooks that import the test's own modules from its PYTHONPATH
# (the workers' environment is Airflow's) and the plot (no matplotlib in Airflow's venv)
NOTEBOOKS = {
    k: v for k, v in CORPUS.items() if "mvdp_probe" not in "".join(v) and "matplotlib" not in v[0]
}
WARM = "a warm kernel, forked from this worker's zygote"
INFO = {"AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"}  # the warm kernel's line is an info


@pytest.fixture(scope="module")
def warm_airflow():
    """An Airflow as the README recommends: its workers keep warm kernels."""
    with HarnessAirflow(settings=INFO) as running:
        yield running


@pytest.fixture(scope="module")
def cold_airflow():
    """An Airflow whose deployment did not opt in: every point starts a fresh kernel."""
    with HarnessAirflow(warm_kernels=False, settings=INFO) as running:
        yield running


def run_all(airflow, workspace, name: str) -> tuple[dict, RunManager]:
    store = RunStore(workspace / f"{name}.sqlite")
    manager = RunManager(
        store, build_targets({"airflow": airflow.target_settings()}), root_dir=workspace, user=name
    )
    docs = {}
    for nb in NOTEBOOKS:
        plan = {"grid": {"x": [1, 2]}, "strategy": {"kind": "grid"}, "parallelism": 2}
        run_id = manager.submit(f"{nb}.ipynb", plan, "airflow", background=False)
        docs[nb] = manager.wait(run_id, interval=0.5)
    return docs, manager


@pytest.mark.timeout(900)
def test_the_corpus_on_warm_workers_equals_fresh_kernels(warm_airflow, cold_airflow, tmp_path):
    for name, sources in NOTEBOOKS.items():
        notebook(tmp_path / f"{name}.ipynb", sources)
    cold, cold_manager = run_all(cold_airflow, tmp_path, "cold")
    warm, warm_manager = run_all(warm_airflow, tmp_path, "warm")
    for name in NOTEBOOKS:
        expected = cells(tmp_path / cold[name]["points"][0]["output"])
        for doc_cold, doc_warm in zip(cold[name]["points"], warm[name]["points"], strict=True):
            assert cells(tmp_path / doc_warm["output"]) == expected, name
            assert (doc_warm["state"], doc_warm["error"], doc_warm["metrics"]) == (
                doc_cold["state"],
                doc_cold["error"],
                doc_cold["metrics"],
            ), name
            warm_log = warm_manager.point_log(warm[name]["run_id"], doc_warm["id"])
            assert WARM in warm_log, warm_log[-2000:]
            cold_log = cold_manager.point_log(cold[name]["run_id"], doc_cold["id"])
            assert "a fresh kernel: this worker has no warm kernels" in cold_log
    # the corpus did exercise what it claims: a scrap, an error
    assert warm["metrics"]["points"][0]["metrics"] == {"slope": 2.0}
    assert "ValueError: boom" in warm["error"]["points"][0]["error"]
    # the zygotes are the scheduler's LocalExecutor workers' (one a set of imports each)
    assert zygotes(warm_airflow.process("scheduler").pid)
    assert not zygotes(cold_airflow.process("scheduler").pid)


@pytest.mark.timeout(300)
def test_a_plan_that_asks_for_fresh_kernels_gets_them_on_warm_workers(warm_airflow, tmp_path):
    notebook(tmp_path / "fresh.ipynb", ["import os\nprint(os.getpid() > 0)"])
    manager = RunManager(
        RunStore(tmp_path / "fresh.sqlite"),
        build_targets({"airflow": warm_airflow.target_settings()}),
        root_dir=tmp_path,
        user="fresh",
    )
    plan = {"grid": {"x": [1, 2]}, "strategy": {"kind": "grid"}, "warm_kernels": False}
    run_id = manager.submit("fresh.ipynb", plan, "airflow", background=False)
    doc = manager.wait(run_id, interval=0.5)
    assert [p["state"] for p in doc["points"]] == ["success", "success"], doc["message"]
    for point in doc["points"]:
        log = manager.point_log(run_id, point["id"])
        assert "a fresh kernel: the plan asks for them (warm_kernels: false)" in log, log[-2000:]
        assert WARM not in log
