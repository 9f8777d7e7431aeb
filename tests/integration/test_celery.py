"""The executor options on Airflow's CeleryExecutor, for real: Redis as the broker, two Celery
workers (``default`` on the default queue, ``ml`` on ``ml`` and the default queue), one
stack for the module. What each point ran on is read back from Airflow's task instances."""

from __future__ import annotations

import itertools
import time

import nbformat
import pytest
import requests

from jupyter_mvdp.service.manager import RunManager
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets import build_targets
from tests.harness.airflow import HarnessAirflow

# Only for these tests: a dead worker's task is noticed after 20 s (default 300 s) and
# retried once, 1 s later (Airflow's defaults: no retry; 300 s between tries).
TEST_SETTINGS = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": "1",
    "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "1",
}


@pytest.fixture(scope="module")
def celery_airflow():
    with HarnessAirflow(executor="celery", settings=TEST_SETTINGS) as running:
        yield running


@pytest.fixture
def celery_manager(tmp_path, celery_airflow):
    """A server root with tiny notebooks that sleep ``seconds``: one per test, so each test
    deploys its own DAG (a re-deployed DAG could still run its former options)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("i = 0\nseconds = 0.5", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import time\n\ntime.sleep(seconds)"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for name in ("queue", "pool", "kill", "deaf"):
        nbformat.write(nb, tmp_path / f"sleep_{name}.ipynb")
    store = RunStore(tmp_path / "runs.sqlite")
    targets = build_targets(
        {"airflow": {**celery_airflow.target_settings(), "request_timeout": 60}}
    )
    # the admin's policy opens the worker queue and the pool these tests use (the default
    # allows none)
    policy = {"queues": ["ml"], "pools": ["mvdp_one"]}
    yield RunManager(store, targets, root_dir=tmp_path, user="tester", policy=policy)
    store.close()


_tokens: dict[str, str] = {}


def api(airflow: HarnessAirflow, method: str, path: str, **kwargs) -> dict:
    """One REST call (a generous timeout: the 2-core CI machine runs other stacks too)."""
    token = _tokens.get(airflow.url) or _tokens.setdefault(airflow.url, airflow.token())
    response = requests.request(
        method,
        f"{airflow.url}/api/v2/{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
        **kwargs,
    )
    response.raise_for_status()
    return response.json()


def point_tasks(airflow: HarnessAirflow, doc: dict) -> list[dict]:
    """The run's run_point task instances, by map index."""
    path = f"dags/{doc['pipeline']}/dagRuns/{doc['run_id']}/taskInstances"
    tis = api(airflow, "GET", path, params={"limit": 100})
    return sorted(
        (t for t in tis["task_instances"] if t["task_id"] == "run_point"),
        key=lambda t: t["map_index"],
    )


def run(manager: RunManager, notebook: str, grid: dict, **plan) -> dict:
    plan = {"grid": grid, "strategy": {"kind": "grid"}, **plan}
    run_id = manager.submit(notebook, plan, "airflow", background=False)
    return manager.wait(run_id, interval=0.5)


def test_queue_ml_runs_every_point_on_the_ml_worker(celery_airflow, celery_manager):
    doc = run(
        celery_manager,
        "sleep_queue.ipynb",
        {"i": [0, 1, 2, 3]},
        parallelism=4,
        executor={"queue": "ml"},
    )
    assert doc["state"] == "success", doc["message"]
    tasks = point_tasks(celery_airflow, doc)
    assert [t["map_index"] for t in tasks] == [0, 1, 2, 3]
    assert {(t["queue"], t["hostname"], t["state"]) for t in tasks} == {("ml", "ml", "success")}


def test_a_pool_of_one_slot_runs_one_point_at_a_time(celery_airflow, celery_manager):
    api(celery_airflow, "POST", "pools", json={"name": "mvdp_one", "slots": 1})
    # default queue: both workers take it, so only the pool keeps the points apart
    doc = run(
        celery_manager,
        "sleep_pool.ipynb",
        {"i": [0, 1, 2, 3], "seconds": [1.0]},
        parallelism=4,
        executor={"pool": "mvdp_one"},
    )
    assert doc["state"] == "success", doc["message"]
    tasks = point_tasks(celery_airflow, doc)
    assert len(tasks) == 4 and {t["pool"] for t in tasks} == {"mvdp_one"}
    spans = sorted((t["start_date"], t["end_date"]) for t in tasks)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, f"two points of a one-slot pool overlapped: {spans}"


def test_a_worker_killed_mid_point(celery_airflow, celery_manager):
    """SIGKILL the worker running the long point: Airflow notices the missing heartbeat and
    retries it as its retry settings say (here: once; on the surviving worker), the other
    points finish, and the run's document says what happened to the point."""
    plan = {"grid": {"seconds": [12.0, 0.5, 0.6, 0.7]}, "strategy": {"kind": "grid"}}
    plan["parallelism"] = 2
    run_id = celery_manager.submit("sleep_kill.ipynb", plan, "airflow", background=True)
    submitted = celery_manager.document(run_id)
    victim, deadline = None, time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            tasks = point_tasks(celery_airflow, submitted)
        except requests.HTTPError:  # deploying: the DAG run does not exist yet
            continue
        long_point = next((t for t in tasks if t["map_index"] == 0), None)
        if long_point and long_point["state"] == "running" and long_point["hostname"]:
            victim = long_point["hostname"]
    assert victim in ("default", "ml"), "the long point never started"
    try:
        time.sleep(2)  # the notebook is running
        celery_airflow.kill_worker(victim)
        doc = celery_manager.wait(run_id, interval=1)
    finally:
        celery_airflow.start_worker(victim)
    tasks = point_tasks(celery_airflow, submitted)
    assert [t["state"] for t in tasks[1:]] == ["success"] * 3
    killed = tasks[0]
    tries = api(
        celery_airflow,
        "GET",
        f"dags/{doc['pipeline']}/dagRuns/{run_id}/taskInstances/run_point/0/tries",
    )["task_instances"]
    first = next(t for t in tries if t["try_number"] == 1)
    assert (first["hostname"], first["state"]) == (victim, "failed")
    point = doc["points"][0]
    if killed["max_tries"] >= 1:  # retried on the worker that is still up
        assert killed["try_number"] == 2 and killed["state"] == "success"
        assert killed["hostname"] != victim
        assert point["state"] == "success"
        assert [t["state"] for t in point["tries"]] == ["failed", "success"]  # its history
        assert doc["state"] == "success", doc["message"]
    else:  # no retries: the point failed, and says so
        assert point["state"] == "failed" and point["error"]
        assert doc["state"] == "failed"


def test_a_queue_no_worker_listens_to_is_named_while_the_points_wait(celery_manager):
    """A Celery task in a queue no worker reads waits forever and Airflow says nothing: the
    run says what it looks like, then can be cancelled."""
    from jupyter_mvdp.core.policy import Policies

    celery_manager.policies = Policies({"queues": None})
    plan = {"grid": {"i": [0]}, "strategy": {"kind": "grid"}, "executor": {"queue": "deaf"}}
    run_id = celery_manager.submit("sleep_deaf.ipynb", plan, "airflow", background=False)
    deadline, message = time.time() + 120, None
    while time.time() < deadline and not message:
        time.sleep(2)
        celery_manager.sync(run_id)
        message = celery_manager.document(run_id)["message"]
    assert message and message.endswith(
        "in the queue 'deaf' (the plan's executor.queue) and none of this run's runs: is a "
        "worker listening to that queue (airflow celery worker --queues deaf)?"
    ), message
    assert celery_manager.document(run_id)["state"] == "running"
    celery_manager.cancel(run_id)
    assert celery_manager.wait(run_id, interval=0.5)["state"] == "cancelled"
