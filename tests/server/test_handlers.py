"""The REST API on a real jupyter_server with auth on: every route authenticated, errors as
JSON with the right status, a run end to end on the local target, events on the websocket."""

from __future__ import annotations

import asyncio
import json
import re
import time

import nbformat
import pytest

from jupyter_mvdp.core.events import SCHEMA_ID
from jupyter_mvdp.exceptions import RunNotFound, TargetUnreachable
from jupyter_mvdp.server.handlers import routes
from jupyter_mvdp.targets import Target, register
from tests.service.test_discover import ScheduledTarget
from tests.targets.test_local import write_notebook


@register
class DownTarget(Target):
    """A target whose service is down: every call fails as an unreachable Airflow would."""

    kind = "down"

    def check(self):
        raise TargetUnreachable(f"Cannot reach Airflow at {self.settings.get('api_url')}")

    def deploy(self, spec, progress=None):
        self.check()

    trigger = poll = fetch_output = cancel = deploy


@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config["MvdpApp"]["targets"] = {
        "broken": {"kind": "down", "api_url": "http://127.0.0.1:9"},
        "sched": {"kind": "scheduled-standin"},  # runs it starts itself (test_discover.py)
    }
    jp_server_config["MvdpApp"]["discover_interval"] = 0.2
    return jp_server_config


@pytest.fixture
def root(jp_root_dir):
    write_notebook(jp_root_dir / "tiny.ipynb")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("a = 1")]
    nbformat.write(nb, jp_root_dir / "untagged.ipynb")
    (jp_root_dir / "sub").mkdir()
    return jp_root_dir


async def call(jp_fetch, *parts, method="GET", body=None, params=None, headers=None):
    """(status, JSON body) of a request, errors included."""
    kwargs = {"method": method, "raise_error": False, "params": params, "headers": headers}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    elif method in ("POST", "PUT"):
        kwargs["body"] = b""
    response = await jp_fetch(*parts, **kwargs)
    text = response.body.decode() if response.body else ""
    return response.code, (json.loads(text) if text else None)


def concrete(pattern: str) -> str:
    """A URL path for a route pattern, named groups filled with sample values."""
    return re.sub(
        r"\(\?P<(\w+)>[^)]*\)", lambda m: {"path": "tiny.ipynb"}.get(m.group(1), "x1"), pattern
    ).lstrip("/")


async def test_every_route_rejects_unauthenticated_requests(jp_fetch, root):
    checked = 0
    for pattern, handler in routes():
        for method in ("GET", "POST", "DELETE"):
            if method.lower() not in vars(handler):
                continue
            body = {} if method == "POST" else None
            status, _ = await call(
                jp_fetch, concrete(pattern), method=method, headers={"Authorization": ""}, body=body
            )
            assert status in (401, 403), f"{method} {pattern} answered {status} without a token"
            checked += 1
    assert checked >= 12


async def test_parameters_and_tagging(jp_fetch, root):
    status, doc = await call(jp_fetch, "mvdp", "notebooks", "tiny.ipynb", "parameters")
    assert status == 200
    assert doc["cell_index"] == 0
    assert [p["name"] for p in doc["parameters"]] == ["x", "fail", "sleep"]
    assert doc["parameters"][0] == {
        "name": "x",
        "type": "int",
        "default": "1",
        "help": "the score this point records",
        "value": 1,
        "choices": None,
        "literal": True,
    }
    assert doc["checked"] and doc["language"] == "python" and doc["note"] is None

    status, doc = await call(jp_fetch, "mvdp", "notebooks", "untagged.ipynb", "parameters")
    assert status == 400 and doc["error"] == "NoParametersCell" and "tag the cell" in doc["message"]

    status, doc = await call(
        jp_fetch,
        "mvdp",
        "notebooks",
        "untagged.ipynb",
        "parameters-cell",
        method="POST",
        body={"cell_index": 0, "tagged": True},
    )
    assert status == 200 and [p["name"] for p in doc["parameters"]] == ["a"]
    assert nbformat.read(root / "untagged.ipynb", as_version=4).cells[0].metadata["tags"] == [
        "parameters"
    ]


@pytest.mark.parametrize(
    ("parts", "method", "body", "status", "needle"),
    [
        (("notebooks", "missing.ipynb", "parameters"), "GET", None, 404, "notebook not found"),
        (("notebooks", "..%2F..%2Fetc%2Fpasswd", "parameters"), "GET", None, 404, "ot found"),
        (
            ("notebooks", "tiny.ipynb", "parameters-cell"),
            "POST",
            {"cell_index": "x"},
            400,
            "cell_index",
        ),
        (
            ("notebooks", "tiny.ipynb", "parameters-cell"),
            "POST",
            {"cell_index": 7, "tagged": True},
            400,
            "Cell 7 does not exist",
        ),
        (
            ("plans", "validate"),
            "POST",
            {"notebook": "missing.ipynb", "plan": {}},
            404,
            "notebook not found",
        ),
        (
            ("runs",),
            "POST",
            {
                "notebook": "tiny.ipynb",
                "plan": {"grid": {"x": ["a"]}, "strategy": {"kind": "grid"}},
            },
            400,
            "x is an int parameter",
        ),
        (
            ("runs",),
            "POST",
            {
                "notebook": "tiny.ipynb",
                "plan": {"grid": {}, "strategy": {"kind": "grid"}, "bad": 1},
            },
            400,
            "unknown key 'bad'",
        ),
        (
            ("runs",),
            "POST",
            {
                "notebook": "tiny.ipynb",
                "plan": {"grid": {}, "strategy": {"kind": "grid"}},
                "target": "mars",
            },
            404,
            "Unknown target 'mars'",
        ),
        (
            ("runs",),
            "POST",
            {
                "notebook": "tiny.ipynb",
                "plan": {"grid": {}, "strategy": {"kind": "grid"}},
                "target": "broken",
            },
            502,
            "Cannot reach Airflow",
        ),
        (("runs",), "POST", {"notebook": "../outside.ipynb", "plan": {}}, 400, "'..'"),
        (("runs", "nope"), "GET", None, 404, "No run 'nope'"),
        (("runs", "nope", "cancel"), "POST", None, 404, "No run 'nope'"),
    ],
)
async def test_bad_input_is_a_json_error_with_a_message(
    jp_fetch, root, parts, method, body, status, needle
):
    got, doc = await call(jp_fetch, "mvdp", *parts, method=method, body=body)
    assert got == status
    assert needle in doc["message"]
    assert "Traceback" not in json.dumps(doc)


async def test_validate_reports_every_field(jp_fetch, root):
    plan = {
        "grid": {"x": [1, "two"], "nope": [1], "sleep": {"start": 0, "stop": 1, "num": 3}},
        "strategy": {"kind": "grid"},
    }
    status, doc = await call(
        jp_fetch,
        "mvdp",
        "plans",
        "validate",
        method="POST",
        body={"notebook": "tiny.ipynb", "plan": plan},
    )
    assert status == 200 and doc["valid"] is False
    fields = {e["field"] for e in doc["errors"]}
    assert fields == {"grid.x", "grid.nope"}
    ok = {
        "grid": {"x": [1, 2], "sleep": {"start": 0, "stop": 1, "num": 3}},
        "strategy": {"kind": "grid"},
    }
    status, doc = await call(
        jp_fetch,
        "mvdp",
        "plans",
        "validate",
        method="POST",
        body={"notebook": "tiny.ipynb", "plan": ok},
    )
    assert doc == {"valid": True, "size": 6, "limit": 10_000, "errors": [], "warnings": []}


async def test_targets_show_reachability_and_no_credentials(jp_fetch, root):
    _status, doc = await call(jp_fetch, "mvdp", "targets")
    by_name = {t["name"]: t for t in doc["targets"]}
    assert by_name["local"]["reachable"] is True and by_name["local"]["default"] is True
    assert by_name["broken"]["reachable"] is False
    assert "Cannot reach Airflow" in by_name["broken"]["message"]


async def wait_for_run(jp_fetch, run_id: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        _, doc = await call(jp_fetch, "mvdp", "runs", run_id)
        if doc["state"] in ("success", "failed", "cancelled"):
            return doc
        assert time.monotonic() < deadline, doc
        await asyncio.sleep(0.2)


async def test_a_run_end_to_end_through_rest(jp_fetch, root):
    plan = {
        "grid": {"x": [1, 3]},
        "strategy": {"kind": "grid", "metric": "score"},
        "parallelism": 2,
    }
    status, doc = await call(
        jp_fetch, "mvdp", "runs", method="POST", body={"notebook": "tiny.ipynb", "plan": plan}
    )
    assert status == 202 and doc["state"] in ("queued", "running") and len(doc["points"]) == 2
    run_id = doc["run_id"]
    done = await wait_for_run(jp_fetch, run_id)
    assert done["state"] == "success"
    assert done["best"]["parameters"] == {"x": 3} and done["best"]["metrics"] == {"score": 3}
    for point in done["points"]:
        assert point["output"].startswith(f"mvdp-runs/{done['pipeline']}/{run_id}/")
        assert (root / point["output"]).exists()
    _, runs = await call(jp_fetch, "mvdp", "runs")
    assert [r["run_id"] for r in runs["runs"]] == [run_id]
    _, dag = await call(jp_fetch, "mvdp", "runs", run_id, "dag")
    assert "PapermillOperator" in dag["source"]
    _, metrics = await call(jp_fetch, "mvdp", "metrics", params={"notebook": "tiny.ipynb"})
    assert metrics == {"metrics": ["score"]}
    status, doc = await call(jp_fetch, "mvdp", "runs", run_id, "cancel", method="POST")
    assert status == 409 and "already ended" in doc["message"]
    status, _ = await call(
        jp_fetch, "mvdp", "runs", run_id, method="DELETE", params={"outputs": "true"}
    )
    assert status == 204
    assert not (root / "mvdp-runs" / done["pipeline"] / run_id).exists()
    status, _ = await call(jp_fetch, "mvdp", "runs", run_id)
    assert status == 404


async def test_status_events_arrive_on_the_websocket_in_order(jp_fetch, jp_ws_fetch, root):
    ws = await jp_ws_fetch("api", "events", "subscribe")
    plan = {
        "grid": {"x": [1, 2]},
        "strategy": {"kind": "grid", "metric": "score"},
        "parallelism": 1,
    }
    _, doc = await call(
        jp_fetch, "mvdp", "runs", method="POST", body={"notebook": "tiny.ipynb", "plan": plan}
    )
    run_id = doc["run_id"]
    events = []
    deadline = time.monotonic() + 90
    while not any(e["kind"] == "run" and e["state"] == "success" for e in events):
        message = json.loads(
            await asyncio.wait_for(ws.read_message(), timeout=max(1, deadline - time.monotonic()))
        )
        if message.get("schema_id") == SCHEMA_ID and message.get("run_id") == run_id:
            events.append(message)
    ws.close()
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert events[-1]["kind"] == "run" and events[-1]["state"] == "success"
    changes = [p for e in events if e["kind"] == "points" for p in e["points"]]
    for point in doc["points"]:
        mine = [p for p in changes if p["id"] == point["id"]]
        states = [p["state"] for p in mine]
        assert states[-1] == "success"
        assert states.count("success") == 1  # only what changed: said once
        assert mine[-1]["metrics"] == {"score": point["parameters"]["x"]}
    assert [e for e in events if e["kind"] == "points"][-1]["counts"]["success"] == 2


async def test_runs_are_per_user(jp_fetch, jp_serverapp, root):
    manager = jp_serverapp.web_app.settings["mvdp_manager"]
    plan = {"grid": {"x": [1]}, "strategy": {"kind": "grid"}}
    mine = manager.submit("tiny.ipynb", plan, background=False, user="alice")
    theirs = manager.submit("tiny.ipynb", plan, background=False, user="bob")
    a, b = manager.document(mine), manager.document(theirs)
    assert a["pipeline"] != b["pipeline"] and "alice" in a["pipeline"] and "bob" in b["pipeline"]
    _, runs = await call(jp_fetch, "mvdp", "runs")
    assert {r["run_id"] for r in runs["runs"]}.isdisjoint(
        {mine, theirs}
    )  # the server's owner is neither
    status, _ = await call(jp_fetch, "mvdp", "runs", mine)
    assert status == 404
    with pytest.raises(RunNotFound):
        manager.document(mine, "bob")
    for run_id in (mine, theirs):
        manager.wait(run_id, interval=0.1)


async def test_a_pipeline_history_is_the_owners_through_rest(jp_fetch, jp_serverapp, root):
    plan = {"grid": {"x": [1, 3]}, "strategy": {"kind": "canary", "metric": "score"}}
    _, doc = await call(
        jp_fetch, "mvdp", "runs", method="POST", body={"notebook": "tiny.ipynb", "plan": plan}
    )
    await wait_for_run(jp_fetch, doc["run_id"])
    pipeline = doc["pipeline"]
    status, history = await call(jp_fetch, "mvdp", "pipelines", pipeline, "history")
    assert status == 200, history
    assert history["pipeline"] == pipeline
    (run,) = history["runs"]
    assert run["run_id"] == doc["run_id"] and run["outcome"] == "deploy", history
    assert run["crowned"]
    assert run["started_by"]["kind"] == "mvdp"
    assert run["best"] == {"id": doc["points"][1]["id"], "parameters": {"x": 3}, "value": 3}
    assert history["champion"]["value"] == 3 and len(history["champions"]) == 1

    status, error = await call(
        jp_fetch, "mvdp", "pipelines", pipeline, "history", params={"limit": "0"}
    )
    assert status == 400 and "limit" in error["message"]
    manager = jp_serverapp.web_app.settings["mvdp_manager"]
    theirs = manager.submit(
        "tiny.ipynb",
        {"grid": {"x": [1]}, "strategy": {"kind": "grid"}},
        background=False,
        user="bob",
    )
    status, error = await call(
        jp_fetch, "mvdp", "pipelines", manager.document(theirs)["pipeline"], "history"
    )
    assert status == 404 and error["error"] == "PipelineNotFound"
    status, _ = await call(jp_fetch, "mvdp", "pipelines", "mvdp_nobody", "history")
    assert status == 404


async def test_a_run_its_schedule_started_comes_home_through_the_servers_watcher(
    jp_fetch, jp_ws_fetch, jp_serverapp, root
):
    plan = {"grid": {"x": [1, 2]}, "strategy": {"kind": "canary", "metric": "acc"}}
    _, doc = await call(
        jp_fetch,
        "mvdp",
        "runs",
        method="POST",
        body={"notebook": "tiny.ipynb", "plan": plan, "target": "sched"},
    )
    assert "run_id" in doc, doc
    await wait_for_run(jp_fetch, doc["run_id"])
    target = jp_serverapp.web_app.settings["mvdp_manager"].targets["sched"]
    assert isinstance(target, ScheduledTarget)
    ws = await jp_ws_fetch("api", "events", "subscribe")
    target.start(doc["pipeline"], "scheduled__2026-12-06T10:00:00+00:00")
    deadline = time.monotonic() + 60
    while True:  # the watcher looks every 0.2 s: no request of ours makes it look
        _, runs = await call(jp_fetch, "mvdp", "runs")
        scheduled = [r for r in runs["runs"] if r["started_by"]["kind"] == "schedule"]
        if scheduled and scheduled[0]["state"] == "success":
            break
        assert time.monotonic() < deadline, runs
        await asyncio.sleep(0.2)
    (run,) = scheduled
    assert run["pipeline"] == doc["pipeline"] and run["outcome"] == "deploy"
    _, run = await call(jp_fetch, "mvdp", "runs", run["run_id"])  # the list has summaries
    assert [p["metrics"] for p in run["points"]] == [{"acc": 0.2}, {"acc": 0.1}]  # ranked
    said = []
    while not any(e.get("kind") == "outcome" for e in said):
        message = json.loads(await asyncio.wait_for(ws.read_message(), timeout=30))
        if message.get("schema_id") == SCHEMA_ID and message.get("run_id") == run["run_id"]:
            said.append(message)
    ws.close()
    assert said[0]["kind"] == "run" and said[0]["state"] == "running"  # the lab learns of it
    _, status = await call(jp_fetch, "mvdp", "status")
    assert status["discoveries"] >= 1 and status["discover_interval"] == 0.2
