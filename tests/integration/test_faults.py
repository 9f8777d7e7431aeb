"""Faults of a real Airflow 3, injected while runs go on: the api-server stopped and started
again (with a new password), the DAG deleted or paused by an admin, an output notebook lost.
Each says so on the run, and retries carry the points across the outage."""

from __future__ import annotations

import re
import secrets
import time

import pytest
import requests

from jupyter_mvdp.service.manager import RunManager
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets import build_targets
from tests.targets.test_local import kernel_that_dies_once, write_notebook

UNREACHABLE = re.compile(r"^Airflow unreachable since \d\d:\d\d:\d\d; retrying every 0\.5 s$")


@pytest.fixture
def faults(tmp_path, airflow):
    """A manager on its own store, reporting a run "unknown" after 4 s without Airflow;
    every event it emits is kept."""
    write_notebook(tmp_path / "tiny.ipynb")
    store = RunStore(tmp_path / "runs.sqlite")
    manager = RunManager(
        store,
        build_targets({"airflow": airflow.target_settings()}),
        root_dir=tmp_path,
        user="faults",
        poll_interval=0.5,
        unreachable_limit=4,
    )
    manager.events = []
    manager.emit = manager.events.append
    yield manager
    store.close()


def notebook(manager, name: str) -> str:
    """A copy of the tiny notebook under its own name: its own pipeline, its own DAG."""
    (manager.root / name).write_bytes((manager.root / "tiny.ipynb").read_bytes())
    return name


def admin(airflow, method: str, path: str, **kwargs) -> requests.Response:
    """A call of Airflow's REST API as its admin would make it (the UI does the same)."""
    slow = 60  # a busy 2-core machine can be slow to answer; that is not what is tested
    token = requests.post(
        f"{airflow.url}/auth/token",
        json={"username": airflow.username, "password": airflow.password},
        timeout=slow,
    ).json()["access_token"]
    return requests.request(
        method,
        f"{airflow.url}/api/v2/{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=slow,
        **kwargs,
    )


def sync_until(manager, run_id: str, done, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        manager.sync(run_id)
        doc = manager.document(run_id)
        if done(doc):
            return doc
        assert time.monotonic() < deadline, doc
        time.sleep(0.5)


def first_try(doc: dict) -> dict:
    tries = doc["points"][0]["tries"]
    return tries[0] if tries else {"state": None}


def run_events(manager, run_id: str) -> list[dict]:
    return [e for e in manager.events if e["run_id"] == run_id and e["kind"] == "run"]


def test_an_api_server_outage_and_a_new_password_show_and_retries_carry_the_points(faults, airflow):
    """The issue's scenario: 4 points, the api-server stopped 3 s after the first points
    started, then started again on the same port (here with a new password)."""
    plan = {
        "grid": {"x": [1, 2, 3, 4], "sleep": [6.0]},
        "strategy": {"kind": "grid", "metric": "score"},
        "parallelism": 2,
        "retries": 1,
        "retry_delay": 60,  # past the outage and the restart: the next try finds Airflow up
    }
    run_id = faults.submit(notebook(faults, "outage.ipynb"), plan, "airflow", background=False)
    sync_until(faults, run_id, lambda d: d["counts"]["running"] > 0)
    time.sleep(3)
    airflow.stop_api_server()
    try:
        down = sync_until(faults, run_id, lambda d: d["state"] == "unknown", timeout=30)
        assert UNREACHABLE.match(down["message"]), down["message"]
        assert down["unreachable_since"] is not None
        warned = run_events(faults, run_id)[-2:]  # the warning while running, then unknown
        assert [e["state"] for e in warned] == ["running", "unknown"]
        assert all(e["message"] == down["message"] for e in warned)
        # long enough for the tasks in flight to give up reporting to the api-server (the
        # task SDK retries its calls 5 times, with random exponential waits up to ~30 s)
        time.sleep(35)
    finally:
        new_password = secrets.token_urlsafe(12)
        airflow.start_api_server(password=new_password)

    refused = sync_until(faults, run_id, lambda d: "refused" in (d["message"] or ""))
    assert refused["state"] == "unknown"  # still not followed since the outage began
    assert refused["unreachable_since"] == down["unreachable_since"]
    assert "wrong user or password" in refused["message"] and new_password not in str(refused)
    faults.targets["airflow"].settings["password"] = new_password  # the config is fixed

    back = sync_until(faults, run_id, lambda d: d["state"] != "unknown")
    assert back["state"] in ("running", "success") and back["message"] is None
    assert back["unreachable_since"] is None
    cleared = run_events(faults, run_id)[-1] if back["state"] == "running" else None
    assert cleared is None or (cleared["message"], cleared["unreachable_since"]) == (None, None)

    doc = faults.wait(run_id, interval=0.5)
    assert doc["state"] == "success", doc
    assert doc["counts"]["success"] == 4
    assert sorted(p["metrics"]["score"] for p in doc["points"]) == [1, 2, 3, 4]
    retried = [p for p in doc["points"] if len(p["tries"]) > 1]
    assert retried, "the points in flight were tried again"
    for point in retried:
        first, last = point["tries"][0], point["tries"][-1]
        assert first["state"] == "failed" and last["state"] == "success"
        assert first["error"] and "see its log" not in first["error"]
        assert "API_SERVER_ERROR" in first["error"] or "Connection" in first["error"], first
    assert all(p["tries"][-1]["state"] == "success" for p in doc["points"])


def test_the_dag_deleted_mid_run_fails_the_run_and_it_can_be_productionized_again(faults, airflow):
    """An admin deletes the DAG (file, then the DAG) while its run waits to retry a point."""
    name = notebook(faults, "deleted.ipynb")
    plan = {
        "grid": {"x": [1], "fail": [True]},
        "strategy": {"kind": "grid"},
        "retries": 1,
        "retry_delay": 120,
    }
    run_id = faults.submit(name, plan, "airflow", background=False)
    pipeline = faults.document(run_id)["pipeline"]
    waiting = sync_until(faults, run_id, lambda d: first_try(d)["state"] == "failed")
    assert waiting["state"] == "running"
    assert first_try(waiting)["error"] == "ValueError: boom at x=1 (in the notebook)"

    (airflow.dags_folder / f"{pipeline}.py").unlink()
    assert admin(airflow, "DELETE", f"dags/{pipeline}").status_code == 204
    doc = faults.wait(run_id, interval=0.5)
    assert doc["state"] == "failed"
    assert doc["message"] == (
        f"the DAG {pipeline} was deleted from Airflow while the run was going on; "
        "productionize the pipeline again"
    )
    assert doc["points"][0]["state"] == "failed" and doc["points"][0]["error"] == doc["message"]

    again = faults.submit(
        name, {"grid": {"x": [2]}, "strategy": {"kind": "grid"}}, "airflow", background=False
    )
    doc = faults.wait(again, interval=0.5)
    assert doc["state"] == "success" and doc["points"][0]["metrics"] == {"score": 2}


def test_an_output_that_cannot_be_read_back_keeps_the_airflow_state(faults, airflow):
    """The points succeeded in Airflow, but one output is gone and one is damaged."""
    plan = {"grid": {"x": [1, 2, 3]}, "strategy": {"kind": "grid", "metric": "score"}}
    run_id = faults.submit(notebook(faults, "lost.ipynb"), plan, "airflow", background=False)
    pipeline = faults.document(run_id)["pipeline"]
    deadline = time.monotonic() + 240
    while (
        state := admin(airflow, "GET", f"dags/{pipeline}/dagRuns/{run_id}").json()["state"]
    ) not in (
        "success",
        "failed",
    ):
        assert time.monotonic() < deadline, state
        time.sleep(1)
    tis = admin(airflow, "GET", f"dags/{pipeline}/dagRuns/{run_id}/taskInstances").json()
    assert state == "success", [
        (t["task_id"], t["map_index"], t["state"]) for t in tis["task_instances"]
    ]
    ids = [p["id"] for p in faults.document(run_id)["points"]]
    outputs = airflow.outputs_folder / pipeline / run_id
    (outputs / f"{ids[0]}.ipynb").unlink()
    (outputs / f"{ids[1]}.ipynb").write_text("{not a notebook")

    doc = faults.wait(run_id, interval=0.5)
    missing, damaged, fine = doc["points"]
    assert [p["state"] for p in doc["points"]] == ["success"] * 3, [
        (p["state"], p["error"]) for p in doc["points"]
    ]
    assert missing["output"] is None and missing["error"] == "its output notebook is missing"
    assert damaged["error"].startswith("its output notebook cannot be read:")
    assert damaged["metrics"] == {} and fine["error"] is None and fine["metrics"] == {"score": 3}
    assert doc["best"]["id"] == fine["id"]


def test_a_kernel_that_dies_while_starting_on_a_worker_is_started_again(faults, airflow, tmp_path):
    """As on the local runner: the task starts another kernel instead of failing the point
    (or spending one of its retries): the kernel ran no cell."""
    marker = tmp_path / "first-start-died"
    python = str(airflow.venv / "bin" / "python")
    with kernel_that_dies_once(airflow.venv, python, marker) as kernel:
        plan = {"grid": {"x": [7]}, "strategy": {"kind": "grid", "metric": "score"}}
        plan["kernel"] = kernel
        run_id = faults.submit(notebook(faults, "dies.ipynb"), plan, "airflow", background=False)
        doc = faults.wait(run_id, interval=0.5)
    assert marker.exists()  # the first start did die
    (point,) = doc["points"]
    assert (doc["state"], point["state"], point["metrics"]) == ("success", "success", {"score": 7})
    assert len(point["tries"]) == 1, point["tries"]  # one task try, two kernels


def test_a_run_triggered_while_an_admin_paused_the_dag_says_so(faults, airflow):
    """jupyter-mvdp does not unpause a DAG an admin paused: the run waits, and says why."""
    name = notebook(faults, "paused.ipynb")
    plan = {"grid": {"x": [5]}, "strategy": {"kind": "grid"}}
    first = faults.wait(faults.submit(name, plan, "airflow", background=False), interval=0.5)
    assert first["state"] == "success"
    pipeline = first["pipeline"]
    paused = admin(airflow, "PATCH", f"dags/{pipeline}", json={"is_paused": True})
    assert paused.status_code == 200

    run_id = faults.submit(name, plan, "airflow", background=False)
    waits = sync_until(faults, run_id, lambda d: d["message"] is not None, timeout=30)
    assert waits["state"] == "running"
    assert waits["message"] == (
        f"the DAG {pipeline} is paused in Airflow: this run waits until someone unpauses it there"
    )
    assert admin(airflow, "GET", f"dags/{pipeline}").json()["is_paused"] is True

    admin(airflow, "PATCH", f"dags/{pipeline}", json={"is_paused": False})
    doc = faults.wait(run_id, interval=0.5)
    assert doc["state"] == "success" and doc["message"] is None


def test_a_pool_missing_in_airflow_is_named_at_deploy_and_while_the_run_waits(faults, airflow):
    """Airflow never schedules a task in a pool it does not have, and says so only in its
    scheduler's log: the deploy refuses such a plan, and a run whose pool goes away says so
    at its next poll, until the pool is back."""
    from jupyter_mvdp.core.policy import Policies

    faults.policies = Policies({"pools": None})  # the admin's policy lets any pool through
    plan = {"grid": {"x": [3]}, "strategy": {"kind": "grid"}, "executor": {"pool": "mvdp_none"}}
    refused = faults.document(
        faults.submit(notebook(faults, "nopool.ipynb"), plan, "airflow", background=False)
    )
    assert refused["state"] == "failed"
    assert "has no pool 'mvdp_none' (the plan's executor.pool)" in refused["message"]

    gate = {"name": "mvdp_gate", "slots": 0, "include_deferred": False}  # nothing starts yet
    assert admin(airflow, "POST", "pools", json=gate).status_code == 201
    plan["executor"]["pool"] = "mvdp_gate"
    run_id = faults.submit(notebook(faults, "gated.ipynb"), plan, "airflow", background=False)
    assert faults.document(run_id)["state"] == "running"
    assert admin(airflow, "DELETE", "pools/mvdp_gate").status_code == 204
    faults.sync(run_id)
    waits = faults.document(run_id)
    assert waits["state"] == "running"
    assert waits["message"] == (
        "the pool 'mvdp_gate' (the plan's executor.pool) does not exist in Airflow: its tasks "
        "wait until someone creates it there (Admin > Pools)"
    )
    gate["slots"] = 1
    assert admin(airflow, "POST", "pools", json=gate).status_code == 201
    doc = faults.wait(run_id, interval=0.5)
    assert doc["state"] == "success" and doc["message"] is None


def test_a_notify_connection_missing_in_airflow_is_named_while_the_run_goes_on(faults, airflow):
    """An alert through a connection Airflow lacks fails in a task log nobody reads: the run
    names the connection (not refused: a secrets backend may hold it, unseen by the API)."""
    from jupyter_mvdp.core.policy import Policies

    faults.policies = Policies({"pools": None, "connections": None})
    gate = {"name": "mvdp_hold", "slots": 0, "include_deferred": False}  # the run waits
    assert admin(airflow, "POST", "pools", json=gate).status_code == 201
    plan = {
        "grid": {"x": [3]},
        "strategy": {"kind": "grid"},
        "executor": {"pool": "mvdp_hold"},
        "notify": [
            {"channel": "slack", "on": ["run_failed"], "slack_webhook_conn_id": "mvdp_nobody"}
        ],
    }
    run_id = faults.submit(notebook(faults, "noconn.ipynb"), plan, "airflow", background=False)
    faults.sync(run_id)
    waits = faults.document(run_id)
    assert waits["state"] == "running"
    assert waits["message"] == (
        "Airflow has no connection 'mvdp_nobody' (the plan's notify.0.slack_webhook_conn_id): "
        "its alerts fail unless a secrets backend or an AIRFLOW_CONN_ variable defines it "
        "(Admin > Connections)"
    )
    gate["slots"] = 1
    assert admin(airflow, "PATCH", "pools/mvdp_hold", json=gate).status_code == 200
    doc = faults.wait(run_id, interval=0.5)
    assert doc["state"] == "success" and doc["message"] is None
