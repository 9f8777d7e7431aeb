"""ownership.py: a run is hosted by one live process at a time, whoever shares the store.

A ledger notebook appends its ``x`` to a file when it runs: each point must be in it exactly
once, with a CLI and a server on one store, two servers, and an owner killed mid-run."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from jupyter_mvdp.core.document import run_document
from jupyter_mvdp.service.manager import RunManager
from jupyter_mvdp.service.ownership import Owner, process_started, why_dead
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets import build_targets
from jupyter_mvdp.targets.airflow.dev import free_port
from tests.processes import wait_for
from tests.service.test_restart import LEDGER_BODY, LEDGER_PARAMS, Server, wait_until
from tests.targets.test_local import write_notebook


def ledger_plan(ledger: Path, xs: list[int], sleep: float) -> dict:
    return {
        "grid": {"x": xs, "sleep": [sleep], "ledger": [str(ledger)]},
        "strategy": {"kind": "grid", "metric": "score"},
        "parallelism": 1,
    }


def executions(ledger: Path) -> Counter:
    return Counter(int(x) for x in ledger.read_text().split()) if ledger.exists() else Counter()


def stored(db: Path, run_id: str | None = None) -> dict | None:
    """The run document as the store has it (the only run when no id is given)."""
    store = RunStore(db)
    try:
        ids = [run_id] if run_id else store.run_ids()
        return run_document(store.run_record(ids[0])) if ids else None
    finally:
        store.close()


def cli(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "jupyter_mvdp.cli", "--db", str(db), *args]


def ledger_workspace(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(server root with the ledger notebook, ledger file, run store)."""
    root = tmp_path / "root"
    root.mkdir()
    write_notebook(root / "ledger.ipynb", LEDGER_PARAMS, LEDGER_BODY)
    return root, tmp_path / "ledger.txt", tmp_path / "runs.sqlite"


def cli_run(root: Path, ledger: Path, db: Path, xs: list[int]) -> subprocess.Popen:
    """``jupyter mvdp run`` of the ledger notebook over ``xs``, 2 s a point, one at a time."""
    (root / "plan.json").write_text(json.dumps(ledger_plan(ledger, xs, 2.0)))
    return subprocess.Popen(
        cli(db, "run", "ledger.ipynb", "--plan", "plan.json"),
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def a_dead_owner() -> dict:
    """The owner columns of a process of this host that has just ended."""
    proc = subprocess.Popen(["sleep", "60"])
    columns = {**Owner.here().columns(), "owner_pid": proc.pid}
    columns["owner_started"] = process_started(proc.pid)
    columns["owner_token"] = "dead"
    proc.kill()
    proc.wait()
    return columns


# --- the rules ---------------------------------------------------------------------------


def test_an_owner_is_dead_when_its_pid_is_gone_or_reused_or_elsewhere_its_lease_lapsed():
    me = Owner.here()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        alive = {
            **me.columns(),
            "owner_pid": sleeper.pid,
            "owner_started": process_started(sleeper.pid),
            "owner_token": "other",
            "lease_expires": time.time() - 3600,  # lapsed: on this host the pid decides
        }
        assert why_dead(alive, me) is None
        reused = {**alive, "owner_started": alive["owner_started"] - 100}
        assert "its pid is another's now" in why_dead(reused, me)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert f"(pid {sleeper.pid}) is gone" in why_dead(alive, me)
    elsewhere = {**alive, "owner_host": "another-host", "lease_expires": time.time() + 30}
    assert why_dead(elsewhere, me) is None  # its pid means nothing here
    lapsed = {**elsewhere, "lease_expires": time.time() - 1}
    assert "on another-host) stopped renewing its lease" in why_dead(lapsed, me)
    assert why_dead({**lapsed, "owner_token": me.token}, me) is None
    assert "no process owns it" in why_dead({**alive, "owner_token": None}, me)


def test_of_two_processes_that_judge_an_owner_dead_one_takes_the_run(tmp_path):
    write_notebook(tmp_path / "tiny.ipynb")
    first = RunManager(RunStore(tmp_path / "runs.sqlite"), build_targets({}), root_dir=tmp_path)
    second = RunManager(RunStore(tmp_path / "runs.sqlite"), build_targets({}), root_dir=tmp_path)
    spec = first.prepare("tiny.ipynb", {"grid": {"x": [1]}, "strategy": {"kind": "grid"}})
    first.store.create(spec, notebook="tiny.ipynb", user="u", owner=a_dead_owner())
    seen = first.store.run_state(spec.run_id)
    assert why_dead(seen, first.owner) and why_dead(seen, second.owner)
    won = [m.store.claim(spec.run_id, m.owner.columns(), seen) for m in (first, second)]
    assert won == [True, False]
    now = second.store.run_state(spec.run_id)
    assert now["owner_token"] == first.owner.token
    assert why_dead(now, second.owner) is None  # the winner lives: the loser leaves it be
    for m in (first, second):
        m.close()


@pytest.mark.timeout(120)
def test_an_owner_whose_run_was_taken_over_stops_running_it(tmp_path):
    """An owner that stalled past its lease (another host took the run) runs no more of it."""
    write_notebook(tmp_path / "ledger.ipynb", LEDGER_PARAMS, LEDGER_BODY)
    ledger = tmp_path / "ledger.txt"
    manager = RunManager(RunStore(tmp_path / "runs.sqlite"), build_targets({}), root_dir=tmp_path)
    run_id = manager.submit(
        "ledger.ipynb", ledger_plan(ledger, [1, 2, 3, 4], 3.0), "local", background=False
    )
    wait_for(lambda: (manager.sync(run_id), executions(ledger))[1], 60, "a first point to run")
    elsewhere = Owner("another-host", 1, 0.0, "elsewhere")
    assert manager.store.claim(run_id, elsewhere.columns(), manager.store.run_state(run_id))
    manager.leases.renew()
    local = manager.targets["local"]._runs[run_id]
    wait_for(lambda: local.snapshot().state != "running", 60, "the run to stop here")
    assert local.snapshot().state == "cancelled"
    ran = executions(ledger)
    assert sum(ran.values()) <= 2 and all(n == 1 for n in ran.values())  # the one in flight
    assert manager.sync(run_id) == []  # not its run to follow any more
    assert manager.store.run_state(run_id)["owner_token"] == "elsewhere"
    manager.close()


def test_a_store_of_an_older_version_gets_owners_and_its_runs_are_taken_over(tmp_path):
    import sqlite3

    write_notebook(tmp_path / "tiny.ipynb")
    db = tmp_path / "runs.sqlite"
    old = RunManager(RunStore(db), build_targets({}), root_dir=tmp_path)
    spec = old.prepare("tiny.ipynb", {"grid": {"x": [1]}, "strategy": {"kind": "grid"}})
    old.store.create(spec, notebook="tiny.ipynb", user="u")
    old.close()
    with sqlite3.connect(db) as raw:  # as an older version left it: no owner columns
        for column in ("owner_host", "owner_pid", "owner_started", "owner_token", "lease_expires"):
            raw.execute(f"ALTER TABLE runs DROP COLUMN {column}")
    raw.close()
    manager = RunManager(RunStore(db), build_targets({}), root_dir=tmp_path)
    assert manager.store.run_state(spec.run_id)["owner_token"] is None
    manager.resume_all()
    assert manager.store.run_state(spec.run_id)["owner_token"] == manager.owner.token
    doc = manager.wait(spec.run_id, interval=0.2)
    assert doc["state"] == "success"
    manager.close()


# --- two owners on one store -------------------------------------------------------------


@pytest.mark.timeout(300)
async def test_a_server_started_during_a_cli_run_runs_none_of_its_points(tmp_path):
    root, ledger, db = ledger_workspace(tmp_path)
    run = cli_run(root, ledger, db, [1, 2, 3, 4])
    server = Server(root, db, free_port())
    try:
        await wait_until(lambda: executions(ledger), 120, "the CLI's first point")
        server.start()  # resumes what it owns at start: nothing of the CLI's
        _, err = await asyncio.to_thread(run.communicate, timeout=180)
        assert run.returncode == 0, err
        run_id = stored(db)["run_id"]
        doc = requests.get(f"{server.url}/mvdp/runs/{run_id}", headers=server.auth, timeout=10)
        assert doc.json()["state"] == "success"
        assert executions(ledger) == Counter({1: 1, 2: 1, 3: 1, 4: 1})
    finally:
        if run.poll() is None:
            run.kill()
        if server.proc:
            server.kill()


@pytest.mark.timeout(400)
async def test_two_servers_run_each_point_once_and_take_over_a_killed_ones_run(tmp_path):
    root, ledger, db = ledger_workspace(tmp_path)
    first, second = Server(root, db, free_port()), Server(root, db, free_port())
    first.start()
    second.start()
    try:
        run_id = requests.post(
            f"{first.url}/mvdp/runs",
            json={"notebook": "ledger.ipynb", "plan": ledger_plan(ledger, [1, 2, 3, 4, 5], 2.0)},
            headers=first.auth,
            timeout=30,
        ).json()["run_id"]

        def doc(server: Server) -> dict:
            url = f"{server.url}/mvdp/runs/{run_id}"
            return requests.get(url, headers=server.auth, timeout=10).json()

        await wait_until(lambda: doc(second)["counts"]["success"] >= 2, 120, "two points")
        assert doc(second)["state"] == "running"  # the other server's, not taken
        first.kill()  # its whole process group, as a crash of its host would
        await wait_until(
            lambda: doc(second)["state"] not in ("queued", "running"), 180, "the takeover"
        )
        assert doc(second)["state"] == "success", doc(second)
        assert {p["metrics"]["score"] for p in doc(second)["points"]} == {1, 2, 3, 4, 5}
        assert executions(ledger) == Counter({1: 1, 2: 1, 3: 1, 4: 1, 5: 1})
    finally:
        for server in (first, second):
            if server.proc and server.proc.poll() is None:
                server.kill()


@pytest.mark.timeout(300)
async def test_a_killed_cli_run_is_orphaned_until_a_server_resumes_it(tmp_path):
    root, ledger, db = ledger_workspace(tmp_path)
    run = cli_run(root, ledger, db, [1, 2, 3])
    await wait_until(
        lambda: (stored(db) or {"counts": {"success": 0}})["counts"]["success"] >= 1,
        120,
        "a first point",
    )
    os.kill(run.pid, signal.SIGKILL)  # the CLI alone: its workers die with it (lifeline.py)
    run.wait()
    run_id = stored(db)["run_id"]
    status = subprocess.run(
        cli(db, "status", run_id, "--json"),
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    doc = json.loads(status.stdout)
    assert doc["state"] == "orphaned", doc
    assert f"(pid {run.pid}) is gone" in doc["message"]
    server = Server(root, db, free_port())
    server.start()
    try:

        def state() -> dict:
            url = f"{server.url}/mvdp/runs/{run_id}"
            return requests.get(url, headers=server.auth, timeout=10).json()

        await wait_until(lambda: state()["state"] not in ("orphaned", "running"), 120, "the end")
        assert state()["state"] == "success", state()
        assert executions(ledger) == Counter({1: 1, 2: 1, 3: 1})
    finally:
        server.kill()
