"""hub/app.py without a hub: what the service serves, the user's namespace, the path gate and
the policy on a request, as the handlers hand them over (tests/deploy/test_hub_service.py runs
it under a real JupyterHub with a real Airflow)."""

from __future__ import annotations

import json
import time

import pytest

from jupyter_mvdp.core.naming import pipeline_id
from jupyter_mvdp.exceptions import (
    InvalidPlan,
    MvdpError,
    NotYours,
    PathRefused,
    PolicyViolation,
    RunConflict,
    RunNotFound,
)
from jupyter_mvdp.hub.app import HubService, load_config, service_targets
from tests.deploy.hubclient import tiny_notebook

AIRFLOW = {  # nothing listens there: rendering needs no Airflow
    "kind": "airflow",
    "api_url": "http://127.0.0.1:9",
    "username": "mvdp",
    "password": "not-used",
    "dags_location": "/tmp/mvdp-hub-test/dags",
    "notebooks_location": "/tmp/mvdp-hub-test/notebooks",
    "outputs_location": "/tmp/mvdp-hub-test/outputs",
    "kernel_name": "python3",
}
PLAN = {"grid": {"x": [1, 2]}, "strategy": {"kind": "grid", "metric": "score"}}


@pytest.fixture
def service(tmp_path):
    running = HubService(
        {"targets": {"team": AIRFLOW}, "policy": {"queues": ["ml"]}}, tmp_path / "state"
    )
    yield running
    running.close()


def body(**changes) -> dict:
    return {"target": "team", "notebook": "work/same.ipynb", "content": tiny_notebook(),
            "plan": PLAN, **changes}  # fmt: skip


@pytest.mark.parametrize("kind", ["local", "hub"])
def test_only_targets_that_run_elsewhere_are_served(kind):
    with pytest.raises(ValueError, match="runs notebooks here"):
        service_targets({"x": {"kind": kind, "url": "http://x/"}})
    with pytest.raises(ValueError, match="no target"):
        service_targets({})


def test_the_pipeline_is_the_token_owners(service, tmp_path):
    for owner in ("ann.lee", "ann_lee", "张三"):
        doc = service.render(owner, body())
        assert doc["pipeline"] == pipeline_id(owner, "work/same.ipynb")
        assert doc["pipeline"] in doc["dag_source"]
    assert service.render("ann.lee", body(pipeline=pipeline_id("ann.lee", "work/same.ipynb")))
    with pytest.raises(NotYours, match=r"not in ann\.lee's namespace"):
        service.render("ann.lee", body(pipeline=pipeline_id("ann_lee", "work/same.ipynb")))
    with pytest.raises(NotYours):
        service.render("ann.lee", body(pipeline="mvdp_anything"))
    assert not list((tmp_path / "state" / "work").iterdir())  # a render leaves nothing


@pytest.mark.parametrize("path", ["../same.ipynb", "/etc/x.ipynb", "a/../../b.ipynb", "a\\b.ipynb"])
def test_notebook_paths_pass_the_gate(service, path):
    with pytest.raises(PathRefused):
        service.render("ann.lee", body(notebook=path))


def test_the_policy_and_the_plan_are_checked_by_the_service(service):
    with pytest.raises(PolicyViolation) as refused:
        service.render("ann.lee", body(plan={**PLAN, "executor": {"queue": "team-b"}}))
    assert refused.value.errors[0]["rule"] == "queues"
    with pytest.raises(PolicyViolation):
        service.render(
            "ann.lee",
            body(plan={**PLAN, "executor": {"executor_config": {"pod_override": {}}}}),
        )
    assert service.render("ann.lee", body(plan={**PLAN, "executor": {"queue": "ml"}}))
    with pytest.raises(InvalidPlan):
        service.render("ann.lee", body(plan={**PLAN, "grid": {"nope": [1]}}))


def test_runs_ids_are_the_clients_once_and_runs_their_owners(service):
    with pytest.raises(MvdpError, match="not a run id"):
        service.submit("ann.lee", body(run_id="../../x"))
    run_id = "20260101T000000-0123456789abcdef"
    doc = service.submit("ann.lee", body(run_id=run_id))  # Airflow is down: it will fail
    assert doc["run_id"] == run_id and doc["pipeline"] == pipeline_id("ann.lee", "work/same.ipynb")
    with pytest.raises(RunConflict):
        service.submit("ann_lee", body(run_id=run_id))
    deadline = time.monotonic() + 60
    while service.run_doc("ann.lee", run_id)["state"] == "queued":  # its deploy, in a thread
        assert time.monotonic() < deadline
        time.sleep(0.1)
    done = service.run_doc("ann.lee", run_id)
    assert done["state"] == "failed" and "Cannot reach Airflow" in done["message"]
    assert service.snapshot("ann.lee", run_id)["state"] == "failed"  # never triggered
    for read in (service.run_doc, service.snapshot):
        with pytest.raises(NotYours):
            read("ann_lee", run_id)
    with pytest.raises(NotYours):
        service.log("ann_lee", run_id, "p-x")
    with pytest.raises(RunNotFound):
        service.run_doc("ann.lee", "20260101T000000-ffffffffffffffff")
    with pytest.raises(RunNotFound):
        service.output("ann.lee", run_id, "not-a-point")


def test_the_config_is_read_strictly(tmp_path):
    path = tmp_path / "service.json"
    path.write_text(json.dumps({"targets": {}, "polcy": {}}))
    with pytest.raises(ValueError, match="unknown keys: polcy"):
        load_config(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="cannot read"):
        load_config(path)
