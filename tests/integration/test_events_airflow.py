"""A run on the real Airflow through the server extension: its events arrive on the
websocket in order, and its output notebooks land in the workspace through the contents
manager."""

from __future__ import annotations

import asyncio
import json
import shutil
import time

import pytest

from tests.server.test_handlers import SCHEMA_ID, call
from tests.targets.test_local import write_notebook


@pytest.fixture
def jp_server_config(jp_server_config, airflow):
    jp_server_config["MvdpApp"]["targets"] = {"airflow": airflow.target_settings()}
    return jp_server_config


async def test_airflow_run_streams_events_and_outputs_through_contents(
    jp_fetch, jp_ws_fetch, jp_root_dir, jp_serverapp
):
    write_notebook(jp_root_dir / "tiny.ipynb")
    saved = []
    cm = jp_serverapp.contents_manager
    original = cm.save

    def spy(model, path):
        saved.append(path)
        return original(model, path)

    cm.save = spy
    ws = await jp_ws_fetch("api", "events", "subscribe")
    plan = {"grid": {"x": [1, 2]}, "strategy": {"kind": "grid", "metric": "score"}}
    status, doc = await call(
        jp_fetch,
        "mvdp",
        "runs",
        method="POST",
        body={"notebook": "tiny.ipynb", "plan": plan, "target": "airflow"},
    )
    assert status == 202
    run_id, events = doc["run_id"], []
    deadline = time.monotonic() + 240
    while not any(e["kind"] == "run" and e["state"] in ("success", "failed") for e in events):
        message = json.loads(
            await asyncio.wait_for(ws.read_message(), timeout=max(1, deadline - time.monotonic()))
        )
        if message.get("schema_id") == SCHEMA_ID and message.get("run_id") == run_id:
            events.append(message)
    ws.close()
    progress = [e["progress"] for e in events if e["kind"] == "run"]
    assert "waiting for Airflow to parse the DAG" in progress
    assert events[-1]["state"] == "success"
    assert [e["seq"] for e in events] == sorted({e["seq"] for e in events})
    _, done = await call(jp_fetch, "mvdp", "runs", run_id)
    assert sorted(p["metrics"]["score"] for p in done["points"]) == [1, 2]
    for point in done["points"]:
        assert point["output"] in saved  # through the contents manager, not the file system
        assert (jp_root_dir / point["output"]).exists()
    shutil.rmtree(jp_root_dir / "mvdp-runs", ignore_errors=True)
