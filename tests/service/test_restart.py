"""A server killed mid-run and started again resumes the run: it completes, its outputs
arrive, nothing already reported is emitted twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from tornado.websocket import websocket_connect

from jupyter_mvdp.core.events import SCHEMA_ID
from jupyter_mvdp.targets.airflow.dev import free_port
from tests.targets.test_local import write_notebook

TOKEN = "restart-test-token"


class Server:
    def __init__(
        self,
        root: Path,
        db: Path,
        port: int,
        poll_interval: float = 0.2,
        extra: tuple = (),
        wrap: tuple = (),
    ):
        """``wrap``: a command that execs the server (e.g. into a mount namespace)."""
        self.root, self.db, self.port = root, db, port
        self.poll_interval = poll_interval
        self.extra = list(extra)
        self.wrap = list(wrap)
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            *self.wrap,
            sys.executable,
            "-m",
            "jupyter_server",
            f"--ServerApp.port={self.port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.open_browser=False",
            "--ServerApp.port_retries=0",
            "--ServerApp.allow_root=True",
            f"--MvdpApp.db_path={self.db}",
            f"--MvdpApp.poll_interval={self.poll_interval}",
            *self.extra,
        ]
        log = open(self.root.parent / f"server-{time.time_ns()}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/api/status", headers=self.auth, timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("jupyter server did not start")

    @property
    def auth(self) -> dict:
        return {"Authorization": f"token {TOKEN}"}

    def kill(self) -> None:
        """Like a crash: SIGKILL to the server and everything it started."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


async def collect(server: Server, events: list, stop: asyncio.Event) -> None:
    ws = await websocket_connect(f"ws://127.0.0.1:{server.port}/api/events/subscribe?token={TOKEN}")
    while not stop.is_set():
        try:
            message = await asyncio.wait_for(ws.read_message(), timeout=0.5)
        except asyncio.TimeoutError:
            continue
        if message is None:
            break
        event = json.loads(message)
        if event.get("schema_id") == SCHEMA_ID:
            events.append(event)
    ws.close()


def point_changes(events: list) -> list[dict]:
    """The points the ``points`` events said changed, in order."""
    return [p for e in events if e["kind"] == "points" for p in e["points"]]


async def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


@pytest.mark.timeout(300)
async def test_a_killed_server_resumes_its_runs_without_repeating_events(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    write_notebook(root / "tiny.ipynb")
    server = Server(root, tmp_path / "runs.sqlite", free_port())
    server.start()
    first_events: list = []
    stop = asyncio.Event()
    listener = asyncio.ensure_future(collect(server, first_events, stop))
    await asyncio.sleep(0.5)
    plan = {
        "grid": {"x": [1, 2, 3], "sleep": [1.0]},
        "strategy": {"kind": "grid", "metric": "score"},
        "parallelism": 1,
    }
    run = requests.post(
        f"{server.url}/mvdp/runs",
        json={"notebook": "tiny.ipynb", "plan": plan},
        headers=server.auth,
        timeout=30,
    ).json()
    run_id = run["run_id"]

    def succeeded(events):
        return {p["id"] for p in point_changes(events) if p["state"] == "success"}

    await wait_until(lambda: len(succeeded(first_events)) >= 1, 90, "a first point to succeed")
    server.kill()
    stop.set()
    await listener
    done_before = succeeded(first_events)
    assert 1 <= len(done_before) < 3

    server.start()
    second_events: list = []
    stop = asyncio.Event()
    listener = asyncio.ensure_future(collect(server, second_events, stop))

    def state():
        return requests.get(
            f"{server.url}/mvdp/runs/{run_id}", headers=server.auth, timeout=10
        ).json()

    await wait_until(
        lambda: state()["state"] in ("success", "failed"),
        120,
        "the run to finish after the restart",
    )
    await asyncio.sleep(0.5)
    stop.set()
    await listener
    doc = state()
    assert doc["state"] == "success"
    assert {p["metrics"]["score"] for p in doc["points"]} == {1, 2, 3}
    assert all((root / p["output"]).exists() for p in doc["points"])
    mine = [e for e in first_events + second_events if e["run_id"] == run_id]
    # nothing already reported is reported again: no point succeeds twice, seq never repeats
    successes = [p["id"] for p in point_changes(mine) if p["state"] == "success"]
    assert sorted(successes) == sorted(set(successes))
    assert not done_before & succeeded(second_events)
    seqs = [e["seq"] for e in mine]
    assert len(seqs) == len(set(seqs))
    assert min(e["seq"] for e in second_events if e["run_id"] == run_id) > max(
        e["seq"] for e in first_events if e["run_id"] == run_id
    )
    server.kill()


LEDGER_PARAMS = "x = 1\nsleep = 0.0\nledger = ''"
LEDGER_BODY = (
    "import time\n"
    "from jupyter_mvdp import record\n"
    "time.sleep(sleep)\n"
    "with open(ledger, 'a') as f:\n"
    "    f.write(f'{x}\\n')\n"
    "record('score', x)"
)


@pytest.mark.timeout(400)
async def test_a_server_killed_alone_runs_every_point_exactly_once(tmp_path):
    """kill -9 of the server process only (not its group): its workers and kernels die with
    it (lifeline.py), the restarted server runs what did not finish, once; a run left queued
    by the crash is started, not left queued."""
    from jupyter_mvdp.service.manager import RunManager
    from jupyter_mvdp.service.store import RunStore
    from jupyter_mvdp.targets import build_targets
    from tests.processes import children, kernels, left_behind, subreaper

    root = tmp_path / "root"
    root.mkdir()
    write_notebook(root / "ledger.ipynb", LEDGER_PARAMS, LEDGER_BODY)
    ledger = tmp_path / "ledger.txt"
    db = tmp_path / "runs.sqlite"
    plan = {
        "grid": {"x": [1, 2, 3, 4, 5, 6], "sleep": [2.5], "ledger": [str(ledger)]},
        "strategy": {"kind": "grid", "metric": "score"},
        "parallelism": 2,
    }
    # a run stored but never triggered, as a crash between the two leaves it
    store = RunStore(db)
    manager = RunManager(store, build_targets({}), root_dir=root)
    queued = manager.prepare("ledger.ipynb", {**plan, "grid": {**plan["grid"], "x": [7]}})
    store.create(queued, notebook="ledger.ipynb", user=manager.user)
    store.close()

    server = Server(root, db, free_port())
    with subreaper():
        before = children()
        server.start()
        run_id = requests.post(
            f"{server.url}/mvdp/runs",
            json={"notebook": "ledger.ipynb", "plan": plan},
            headers=server.auth,
            timeout=30,
        ).json()["run_id"]

        def in_flight() -> bool:  # a point recorded done, the next ones mid-sleep
            done = requests.get(
                f"{server.url}/mvdp/runs/{run_id}", headers=server.auth, timeout=10
            ).json()["counts"]["success"]
            return done >= 1 and len(kernels(server.proc.pid)) >= 1

        await wait_until(in_flight, 120, "a finished point and one in flight")
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        assert left_behind(before, within=10) == {}
    finished_before_crash = ledger.read_text().split()
    assert 1 <= len(finished_before_crash) < 7

    server.start()

    def doc(rid):
        return requests.get(f"{server.url}/mvdp/runs/{rid}", headers=server.auth, timeout=10).json()

    try:
        await wait_until(
            lambda: (
                doc(run_id)["state"] not in ("queued", "running")
                and doc(queued.run_id)["state"] not in ("queued", "running")
            ),
            240,
            "both runs to end after the restart",
        )
        assert doc(run_id)["state"] == "success" and doc(queued.run_id)["state"] == "success"
        assert {p["metrics"]["score"] for p in doc(run_id)["points"]} == {1, 2, 3, 4, 5, 6}
        lines = ledger.read_text().split()
        assert sorted(lines) == ["1", "2", "3", "4", "5", "6", "7"], lines  # each point once
    finally:
        server.kill()


@pytest.mark.timeout(400)
async def test_a_notebook_edited_while_its_server_was_down_is_not_what_the_run_resumes(
    tmp_path,
):
    """kill -9 of the server mid-run, the notebook edited, the server started again: the
    points run after the restart run the notebook as it was submitted (the run store keeps
    it), so every output's input_sha256 names the bytes it ran."""
    import hashlib

    import nbformat

    from tests.targets.test_local import marked

    root = tmp_path / "root"
    root.mkdir()
    path = write_notebook(root / "edited.ipynb", "x = 1\nsleep = 0.0", marked(1))
    submitted = hashlib.sha256(path.read_bytes()).hexdigest()
    server = Server(root, tmp_path / "runs.sqlite", free_port())
    server.start()
    plan = {
        "grid": {"x": [1, 2, 3, 4], "sleep": [1.5]},
        "strategy": {"kind": "grid", "metric": "score"},
        "parallelism": 1,
    }
    run_id = requests.post(
        f"{server.url}/mvdp/runs",
        json={"notebook": "edited.ipynb", "plan": plan},
        headers=server.auth,
        timeout=30,
    ).json()["run_id"]

    def doc():
        return requests.get(
            f"{server.url}/mvdp/runs/{run_id}", headers=server.auth, timeout=10
        ).json()

    try:
        await wait_until(lambda: doc()["counts"]["success"] >= 1, 120, "a first point")
        server.kill()
        write_notebook(path, "x = 1\nsleep = 0.0", marked(2))  # edited while it was down
        restarted = time.time()
        server.start()
        await wait_until(lambda: doc()["state"] not in ("queued", "running"), 240, "the end")
        final = doc()
        assert final["state"] == "success", final["message"]
        assert final["counts"]["success"] == 4
        assert any(p["started"] >= restarted for p in final["points"])  # ran after the restart
        for point in final["points"]:
            assert point["metrics"]["version"] == 1, point
            nb = nbformat.read(root / point["output"], as_version=4)
            assert nb.metadata["mvdp"]["input_sha256"] == submitted
    finally:
        server.kill()
