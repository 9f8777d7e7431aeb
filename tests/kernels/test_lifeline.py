"""Nothing outlives its owner: each entry point (CLI `run`, `dev-airflow`, a jupyter server
with a local run) is started, sent SIGINT, SIGTERM, SIGHUP or SIGKILL, and /proc shows no
process of its tree left 10 s later; the run store says what happened."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import requests

from jupyter_mvdp.core.document import run_document
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets.airflow.dev import free_port
from tests.processes import (
    children,
    kernels,
    left_behind,
    subreaper,
    tree,
    wait_for,
    zygotes,
)
from tests.service.test_restart import Server
from tests.targets.test_local import write_notebook

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL]
PLAN = {
    "grid": {"x": [1, 2, 3, 4], "sleep": [60.0]},
    "strategy": {"kind": "grid", "metric": "score"},
    "parallelism": 2,
}


def kernels_running(pid: int) -> bool:
    return len(kernels(pid)) >= 2


def only_run(db) -> dict:
    store = RunStore(db)
    try:
        (run_id,) = store.run_ids()
        return run_document(store.run_record(run_id))
    finally:
        store.close()


def assert_recorded(db, sig: signal.Signals) -> None:
    doc = only_run(db)
    if sig == signal.SIGKILL:  # nothing can record a SIGKILL; its children are gone all the same
        return
    assert doc["state"] == "cancelled", doc
    assert sig.name in (doc["message"] or ""), doc["message"]
    assert doc["counts"]["success"] == 0 and doc["counts"]["running"] == 0


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_cli_run_ends_with_its_workers_and_kernels(tmp_path, sig):
    write_notebook(tmp_path / "tiny.ipynb")
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    db = tmp_path / "runs.sqlite"
    command = [sys.executable, "-m", "jupyter_mvdp.cli", "--db", str(db), "run", "tiny.ipynb"]
    with subreaper():
        before = children()
        cli = subprocess.Popen(
            [*command, "--plan", "plan.json"],
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_for(lambda: kernels_running(cli.pid), 60, "two points' kernels")
        assert zygotes(cli.pid)  # warm kernels: the zygote must go too
        cli.send_signal(sig)
        _, err = cli.communicate(timeout=30)
        assert left_behind(before, within=10) == {}
    if sig != signal.SIGKILL:
        assert cli.returncode == 128 + sig.value
        assert b"Traceback" not in err and sig.name.encode() in err
    assert_recorded(db, sig)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_a_jupyter_server_ends_with_its_local_runs(tmp_path, sig):
    root = tmp_path / "root"
    root.mkdir()
    write_notebook(root / "tiny.ipynb")
    db = tmp_path / "runs.sqlite"
    with subreaper():
        before = children()
        server = Server(root, db, free_port())
        server.start()
        response = requests.post(
            f"{server.url}/mvdp/runs",
            json={"notebook": "tiny.ipynb", "plan": PLAN},
            headers=server.auth,
            timeout=30,
        )
        assert response.status_code == 202, response.text
        wait_for(lambda: kernels_running(server.proc.pid), 60, "two points' kernels")
        assert zygotes(server.proc.pid)
        server.proc.send_signal(sig)
        server.proc.wait(30)
        assert left_behind(before, within=10) == {}
    assert_recorded(db, sig)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_dev_airflow_ends_with_every_airflow_process(tmp_path, sig):
    with subreaper():
        before = children()
        dev = subprocess.Popen(
            [sys.executable, "-m", "jupyter_mvdp.cli", "dev-airflow", "--home", str(tmp_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        first = dev.stdout.readline()
        assert first.startswith("Airflow http://127.0.0.1:"), first
        components = tree(dev.pid)
        assert any("scheduler" in cmd for cmd in components.values()), components
        dev.send_signal(sig)
        dev.wait(30)
        assert left_behind(before, within=10) == {}
    if sig != signal.SIGKILL:
        assert dev.returncode == 0


def _worker_with_last_words(reader, writer, said) -> None:
    """A point worker in miniature: it watches its owner through ``writer`` and has a word
    to say (as a gateway kernel's shutdown) before it dies."""
    import time
    from pathlib import Path

    from jupyter_mvdp.kernels.lifeline import on_death, watch_lifeline

    reader.close()  # the owner's end: the worker must not keep it open
    watch_lifeline(writer.fileno())
    on_death(lambda: Path(said).write_text("kernel shut down"))
    take_back = on_death(lambda: Path(said).write_text("taken back, never said"))
    take_back()
    writer.send("ready")
    time.sleep(60)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("end", ["stopped", "owner gone"])
def test_a_worker_says_its_last_words_when_stopped_and_when_its_owner_dies(tmp_path, end):
    """What no signal reaches (a kernel on a gateway) is shut down by the worker itself,
    whichever way it ends; then it dies as it would have without them (SIGTERM, SIGKILL)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    reader, writer = ctx.Pipe(duplex=False)
    said = tmp_path / "said"
    worker = ctx.Process(target=_worker_with_last_words, args=(reader, writer, str(said)))
    worker.start()
    writer.close()
    assert reader.poll(30) and reader.recv() == "ready"
    if end == "stopped":
        worker.terminate()
    else:
        reader.close()
    worker.join(30)
    assert said.read_text() == "kernel shut down"
    assert worker.exitcode == (-signal.SIGTERM if end == "stopped" else -signal.SIGKILL)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("victim", ["worker", "worker process"])
def test_an_airflow_worker_killed_by_sigkill_takes_its_zygote_and_kernels_along(tmp_path, victim):
    """Warm kernels on Airflow's workers (kernels/zygote/worker.py), SIGKILL while a task's
    kernel forked from the worker's zygote runs. ``worker``: the process owning the zygotes
    (a Celery worker's main process, the LocalExecutor's scheduler): the zygote, its worker
    processes, the task, the point process and the kernel are gone. ``worker process`` (a
    LocalExecutor worker, a Celery pool process): its task, point process and kernel are
    gone at once, the zygote stays with its owner (airflow_worker_sim.py: Airflow's process
    tree without Airflow; its owner ends when the test says so)."""
    from tests.kernels.test_worker_zygote import SIM, write

    nb = write(tmp_path / "sleep.ipynb", "import json, time\ntime.sleep(600)")
    with subreaper():
        before = children()
        sim = subprocess.Popen(
            [sys.executable, str(SIM), str(nb), str(tmp_path), "1"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        worker = json.loads(sim.stdout.readline())["worker"]
        wait_for(lambda: kernels(sim.pid) and zygotes(sim.pid), 60, "the task's warm kernel")
        (zygote,) = zygotes(sim.pid)
        assert json.loads(sim.stdout.readline())["warm"]
        if victim == "worker":
            os.kill(sim.pid, signal.SIGKILL)
            sim.wait(30)
        else:
            os.kill(worker, signal.SIGKILL)
            wait_for(lambda: not kernels(sim.pid), 10, "the kernel to go with its task")
            assert zygote in zygotes(sim.pid)  # the owner's, until it ends
            sim.stdin.close()
            sim.wait(30)
        assert left_behind(before, within=10) == {}
