"""Every run of a pipeline comes home, on a real Airflow 3: a run its schedule started and a
run a colleague triggered through Airflow's REST API are adopted, followed and shown with
their points, metrics, outputs, canary outcome and who started them; their canary outcomes
make champions; the pipeline's history says it all. The schedule is a real one (a 10 s
timedelta: Airflow's scheduler creates the runs, run_type "scheduled")."""

from __future__ import annotations

import time

import pytest
import requests

from jupyter_mvdp.service.manager import RunManager
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets import build_targets
from tests.targets.test_local import write_notebook

CANARY = {
    "grid": {"x": [2]},
    "strategy": {"kind": "canary", "metric": "score"},
    "schedule": "PT10S",
    "timeout": 300,
}


@pytest.fixture
def scheduling(workspace, airflow):
    """A manager whose policy lets a plan run every 10 s; the pipeline is removed after the
    test so its schedule stops."""
    # a notebook of its own: its pipeline is no other test's (the tests share one Airflow,
    # and a run another test left on a pipeline of the same id would be adopted here)
    write_notebook(workspace / "scheduled.ipynb")
    targets = build_targets({"airflow": airflow.target_settings()})
    manager = RunManager(
        RunStore(workspace / "runs.sqlite"),
        targets,
        root_dir=workspace,
        user="tester",
        policy={"schedules": "any", "min_schedule_interval": 0},
    )
    yield manager
    for row in manager.store.pipelines():
        targets["airflow"].remove(row["pipeline"])
    manager.close()


def trigger_as_a_colleague(airflow, dag_id: str) -> str:
    """POST /api/v2/dags/{dag_id}/dagRuns, as someone would from a script."""
    response = requests.post(
        f"{airflow.url}/api/v2/dags/{dag_id}/dagRuns",
        json={"logical_date": None, "conf": {}},
        headers={"Authorization": f"Bearer {airflow.token()}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["dag_run_id"]


def follow_until(manager, done, timeout: float = 420) -> list[dict]:
    """What the server's watcher does (a look for new runs, a poll of each) until ``done``
    holds for the user's documents."""
    deadline = time.monotonic() + timeout
    while True:
        manager.refresh("tester")
        docs = manager.documents("tester")
        if done(docs):
            return docs
        assert time.monotonic() < deadline, [(d["started_by"], d["state"]) for d in docs]
        time.sleep(1)


def test_a_scheduled_run_and_an_api_triggered_run_come_home_with_their_outcomes(
    scheduling, airflow, workspace
):
    manager = scheduling
    lab = manager.submit("scheduled.ipynb", CANARY, "airflow", background=False)
    pipeline = manager.document(lab)["pipeline"]
    colleague = trigger_as_a_colleague(airflow, pipeline)

    def finished(docs, kind):
        return [d for d in docs if d["started_by"]["kind"] == kind and d["state"] == "success"]

    docs = follow_until(manager, lambda docs: finished(docs, "schedule") and finished(docs, "api"))
    scheduled, by_api = finished(docs, "schedule")[-1], finished(docs, "api")[0]
    assert by_api["started_by"] == {"kind": "api", "user": airflow.username}
    assert scheduled["started_by"] == {"kind": "schedule", "user": None}
    store = manager.store
    assert store.spec(by_api["run_id"]).target_run_id == colleague
    assert store.spec(scheduled["run_id"]).target_run_id.startswith("scheduled__")
    for summary in (scheduled, by_api):
        doc = manager.document(summary["run_id"])  # the list holds summaries, not points
        assert doc["pipeline"] == pipeline and doc["target"] == "airflow"
        (point,) = doc["points"]
        assert point["parameters"] == {"x": 2} and point["metrics"] == {"score": 2}
        assert (workspace / point["output"]).exists()  # the output notebook came home
        assert doc["outcome"] == "deploy", doc["reason"]  # 2 is within 0 of the champion's 2
    assert manager.document(lab)["started_by"] == {"kind": "mvdp", "user": "tester"}

    history = manager.history(pipeline, "tester")
    assert history["deployed"][0]["schedule"] == "PT10S"
    crowned = {c["run_id"] for c in history["champions"]}
    assert {lab, scheduled["run_id"], by_api["run_id"]} <= crowned
    assert history["champion"]["value"] == 2
    by_id = {r["run_id"]: r for r in history["runs"]}
    assert by_id[scheduled["run_id"]]["started_by"]["kind"] == "schedule"
    assert by_id[scheduled["run_id"]]["best"]["value"] == 2

    # the DAG itself keeps the champion its runs crowned: the next scheduled run compares
    # with it without anyone passing it one
    variable = requests.get(
        f"{airflow.url}/api/v2/variables/mvdp_champion__{pipeline}",
        headers={"Authorization": f"Bearer {airflow.token()}"},
        timeout=10,
    ).json()
    assert '"value": 2' in variable["value"]
