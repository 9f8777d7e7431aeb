"""Load through the hub, bounded: 5 users x 10 concurrent productionize requests of the same
notebook name. Correctness only (the timings are bench/hub_load.py's): every request accepted,
no run record lost or duplicated, no pipeline shared between users, every run finishes with its
own output, and each user's events are about their own runs only."""

from __future__ import annotations

import pytest

from tests.deploy.conftest import USERS
from tests.deploy.hubload import NOTEBOOK, run_load

PER_USER = 10


@pytest.mark.timeout(900)
async def test_five_users_times_ten_concurrent_productionizes(hub):
    load = await run_load(hub, USERS, PER_USER)
    pipelines: dict[str, set[str]] = {}
    every_run: list[str] = []
    for client, result in zip(load["clients"], load["users"], strict=True):
        assert result.statuses == [202] * PER_USER, result.statuses
        assert sorted(result.posted.values()) == list(range(PER_USER))
        every_run += list(result.posted)

        status, listed = await client.call("GET", "mvdp/runs")
        assert status == 200
        ids = [r["run_id"] for r in listed["runs"] if r["notebook"] == NOTEBOOK]
        assert sorted(ids) == sorted(result.posted), "a run record was lost or duplicated"

        for run_id, x in result.posted.items():
            status, doc = await client.call("GET", f"mvdp/runs/{run_id}")
            assert status == 200, doc
            errors = [(p["error"], p.get("log")) for p in doc["points"]]
            assert doc["state"] == "success", (doc["message"], errors)
            assert [p["metrics"] for p in doc["points"]] == [{"score": x}]  # its own output
            assert doc["points"][0]["output"].startswith(f"mvdp-runs/{doc['pipeline']}/{run_id}/")
            pipelines.setdefault(doc["pipeline"], set()).add(client.user)
            events = result.events[run_id]
            assert {e["user"] for e in events} == {client.user}
            seqs = [e["seq"] for e in events]
            assert len(seqs) == len(set(seqs)), "an event was delivered twice"
            assert events[-1]["kind"] == "run" and events[-1]["state"] == "success"
        # The websocket carried this user's runs only.
        assert set(result.events) == set(result.posted)

    assert len(every_run) == len(set(every_run)) == len(USERS) * PER_USER
    assert all(len(owners) == 1 for owners in pipelines.values()), pipelines  # no collision
    assert len(pipelines) == len(USERS)
