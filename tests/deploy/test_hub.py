"""jupyter-mvdp under a real JupyterHub (tests/deploy/conftest.py): two users, their servers
behind the hub's proxy at /user/<name>/, each driving the extension with their own hub token.

The users' servers run as the same OS user (SimpleLocalProcessSpawner), so what tells them
apart is the hub's identity: runs, pipelines and events must carry the hub user's name.
"""

from __future__ import annotations

import asyncio

import pytest

from jupyter_mvdp.core.naming import pipeline_id
from tests.deploy.conftest import SHARED_TARGET
from tests.deploy.hubclient import UserClient, tiny_notebook

PLAN = {
    "grid": {"x": [1, 2]},
    "strategy": {"kind": "grid", "metric": "score", "goal": "max"},
    "parallelism": 2,
}


async def productionize_as(client: UserClient) -> dict:
    """The panel's whole flow for one user, through the proxy; returns the finished run."""
    await client.put_notebook("same.ipynb", tiny_notebook())  # the same name for every user

    status, found = await client.call("GET", "mvdp/notebooks/same.ipynb/parameters")
    assert status == 200, found
    assert [p["name"] for p in found["parameters"]] == ["x", "sleep"]

    status, checked = await client.call(
        "POST", "mvdp/plans/validate", {"notebook": "same.ipynb", "plan": PLAN}
    )
    assert status == 200 and checked["valid"] and checked["size"] == 2, checked

    ws = await client.events()
    status, run = await client.call(
        "POST", "mvdp/runs", {"notebook": "same.ipynb", "plan": PLAN, "target": "local"}
    )
    assert status == 202, run
    events = await client.wait_run(ws, run["run_id"])
    ws.close()
    assert events[-1]["state"] == "success", events[-1]
    assert {e["user"] for e in events} == {client.user}  # the hub's user, not the OS user

    status, done = await client.call("GET", f"mvdp/runs/{run['run_id']}")
    assert status == 200 and done["state"] == "success"
    assert done["best"]["parameters"] == {"x": 2}
    for point in done["points"]:  # every output notebook through the contents API
        status, model = await client.call("GET", f"api/contents/{point['output']}")
        assert status == 200, point
        provenance = model["content"]["metadata"]["mvdp"]
        assert provenance["run_id"] == run["run_id"]
        assert provenance["pipeline"] == done["pipeline"]
    return done


@pytest.mark.timeout(600)
async def test_two_hub_users_productionize_the_same_notebook_apart(hub):
    alice = UserClient(hub.url, "alice", hub.server("alice"))
    bob = UserClient(hub.url, "bob", hub.server("bob"))

    a, b = await asyncio.gather(productionize_as(alice), productionize_as(bob))

    # Same notebook name, two pipelines, each carrying its owner.
    assert a["pipeline"] != b["pipeline"]
    assert "alice" in a["pipeline"] and "bob" in b["pipeline"]
    assert all(p["output"].startswith(f"mvdp-runs/{a['pipeline']}/") for p in a["points"])
    # Separate run stores: each user's server lists only its user's run.
    for client, mine, theirs in ((alice, a, b), (bob, b, a)):
        status, runs = await client.call("GET", "mvdp/runs")
        assert status == 200
        listed = [r["run_id"] for r in runs["runs"] if r["notebook"] == "same.ipynb"]
        assert listed == [mine["run_id"]]
        status, _ = await client.call("GET", f"mvdp/runs/{theirs['run_id']}")
        assert status == 404
    assert (hub.home("alice") / ".local/share/jupyter/mvdp/runs.sqlite").exists()
    assert (hub.home("bob") / ".local/share/jupyter/mvdp/runs.sqlite").exists()

    # Bob's token opens nothing of Alice's: no list, no run, no cancel, no output, no delete.
    run = a["run_id"]
    for method, path in (
        ("GET", "mvdp/runs"),
        ("GET", f"mvdp/runs/{run}"),
        ("POST", f"mvdp/runs/{run}/cancel"),
        ("DELETE", f"mvdp/runs/{run}"),
        ("GET", f"api/contents/{a['points'][0]['output']}"),
    ):
        status, _ = await alice.call(method, path, token=bob.token)
        assert status == 403, (method, path, status)
    status, still = await alice.call("GET", f"mvdp/runs/{run}")
    assert status == 200 and still["state"] == "success"

    # The owner is whoever the hub authenticated for the request, not the server's user or OS
    # account: the admin service acting on Alice's server runs under its own name.
    status, service_run = await alice.call(
        "POST",
        "mvdp/runs",
        {"notebook": "same.ipynb", "plan": {**PLAN, "grid": {"x": [1]}}},
        token=hub.service_token,
    )
    assert status == 202, service_run
    assert service_run["pipeline"] == pipeline_id("test-driver", "same.ipynb")
    status, runs = await alice.call("GET", "mvdp/runs")
    assert service_run["run_id"] not in {r["run_id"] for r in runs["runs"]}
    status, _ = await alice.call("GET", f"mvdp/runs/{service_run['run_id']}")
    assert status == 404


@pytest.mark.timeout(300)
async def test_a_target_the_admin_configured_reaches_every_user_without_its_secret(hub):
    for user in ("alice", "bob"):
        client = UserClient(hub.url, user, hub.server(user))
        status, doc = await client.call("GET", "mvdp/targets")
        assert status == 200
        shared = next(t for t in doc["targets"] if t["name"] == SHARED_TARGET)
        assert shared["kind"] == "airflow"
        assert shared["settings"]["api_url"] == hub.airflow.url
        assert shared["reachable"] is False  # the stand-in refuses every login

        # A productionize on it fails cleanly (502, nothing stored), without the secret.
        await client.put_notebook("same.ipynb", tiny_notebook())
        status, error = await client.call(
            "POST", "mvdp/runs", {"notebook": "same.ipynb", "plan": PLAN, "target": SHARED_TARGET}
        )
        assert status == 502, error
        for body in (doc, error):
            assert hub.shared_secret not in str(body)
    # The secret did reach the target, from the users' servers: server to server only.
    assert {"username": "mvdp", "password": hub.shared_secret} in hub.airflow.logins
    assert hub.shared_secret not in hub.log.read_text(errors="replace")
