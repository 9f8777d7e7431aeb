"""Warm kernels on Airflow's workers (kernels/zygote/worker.py) on real processes, without
Airflow: airflow_worker_sim.py forks a worker from an opted-in parent and tasks from the
worker, as the scheduler's LocalExecutor or a Celery worker and the task-sdk supervisor do.
The real-Airflow side is tests/integration/test_warm_airflow.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mvdp.kernels.zygote import worker
from tests.kernels.test_zygote import cells
from tests.processes import children, left_behind, subreaper

SIM = Path(__file__).with_name("airflow_worker_sim.py")
SOURCE = "import os, pandas as pd\nprint(pd.DataFrame({'a': [1, 2]}))\nprint(os.getcwd())"


def write(path: Path, source: str) -> Path:
    spec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = new_notebook(metadata={"kernelspec": spec})
    nb.cells = [new_code_cell(source)]
    nbformat.write(nb, path)
    return path


def simulate(tmp_path: Path, tasks: int, *flags: str) -> tuple[list[dict], Path]:
    nb = write(tmp_path / "nb.ipynb", SOURCE)
    out = tmp_path / ("out" + "".join(flags))
    out.mkdir()
    with subreaper():
        before = children()
        done = subprocess.run(
            [sys.executable, str(SIM), str(nb), str(out), str(tasks), *flags],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert left_behind(before, within=10) == {}  # zygote and kernels ended with the worker
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")]
    return lines, out


@pytest.mark.timeout(300)
def test_tasks_fork_their_kernels_from_their_workers_zygote_and_get_a_fresh_ones_output(tmp_path):
    lines, out = simulate(tmp_path, 3)
    tasks = [x for x in lines if "task" in x]
    assert [t["warm"] for t in tasks] == [True, True, True]
    assert all("(preloaded: os, pandas)" in t["told"][0] and not t["warned"] for t in tasks)
    (zygote,) = lines[-1]["zygotes"]  # the owner's one zygote served the three
    assert all(f"zygote {zygote} " in t["told"][0] for t in tasks)
    cold_lines, cold_out = simulate(tmp_path, 1, "--no-opt-in")
    (cold,) = [x for x in cold_lines if "task" in x]
    assert not cold["warm"] and "keeps no zygotes" in cold["warned"][0]
    expected = cells(cold_out / "0.ipynb")
    assert expected[0][0][2].startswith("   a\n0  1\n1  2\n")
    for i in range(3):
        assert cells(out / f"{i}.ipynb") == expected


@pytest.mark.timeout(300)
def test_a_daemonized_owner_keeps_warm_kernels_for_its_workers(tmp_path):
    """``airflow scheduler -D``: python-daemon forks twice before the scheduler runs; the
    daemon, whose workers run the tasks, owns the zygotes, not the process that exited."""
    lines, _ = simulate(tmp_path, 2, "--daemon")
    tasks = [x for x in lines if "task" in x]
    assert [t["warm"] for t in tasks] == [True, True], tasks
    (zygote,) = lines[-1]["zygotes"]
    assert all(f"zygote {zygote} " in t["told"][0] for t in tasks)


@pytest.mark.timeout(120)
def test_only_the_workers_own_tasks_are_answered(tmp_path):
    """The broker (of this process, the owner) answers the children of its worker
    processes (tasks): not a worker process itself, nor a task's child (a kernel, what a
    notebook starts), whoever knows the socket's name. ``sh`` stands for the processes in
    between (``; true``: it forks python instead of exec'ing it)."""
    broker = worker.Broker()
    ask = textwrap.dedent(
        """
        import json, socket, sys
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(60)
        s.connect(bytes.fromhex(sys.argv[1]))
        try:
            s.send(json.dumps({"modules": [], "env": {"A": "1"}}).encode())
            data, fds, _, _ = socket.recv_fds(s, 65536, 1)
        except OSError:  # closed unanswered
            data, fds = b"", []
        print(json.dumps([data.decode(), len(fds)]))
        """
    )
    python = f'"{sys.executable}" -c "$0" {broker.name.hex()}; true'

    def asked(command: list[str]) -> list:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.stdout, done.stderr
        return json.loads(done.stdout)

    try:
        assert asked([sys.executable, "-c", ask, broker.name.hex()]) == ["", 0]  # a worker
        reply, fds = asked(["sh", "-c", python, ask])  # a task
        assert fds == 1 and json.loads(reply)["zygote"] in broker.pids()
        nested = f"sh -c '{python}' \"$0\"; true"  # a task's child
        assert asked(["sh", "-c", nested, ask]) == ["", 0]
    finally:
        for z in list(broker._zygotes.values()):
            z.stop()
        broker._listener.close()


def test_only_the_processes_that_fork_workers_opt_in():
    assert worker.forks_workers(["/venv/bin/airflow", "scheduler", "--skip-serve-logs"])
    assert worker.forks_workers(["airflow", "celery", "worker", "-q", "default"])
    assert not worker.forks_workers(["airflow", "api-server"])
    assert not worker.forks_workers(["airflow", "dag-processor"])
    assert not worker.forks_workers(["airflow", "celery", "flower"])


def test_a_socket_name_nobody_listens_on_is_a_fresh_kernel_with_a_reason(monkeypatch, tmp_path):
    nb = write(tmp_path / "nb.ipynb", "import os")
    fake = worker.Broker.__new__(worker.Broker)
    fake.owner = worker._parent_of(os.getppid())
    fake.name = b"\0mvdp-zygotes-nobody-" + os.urandom(4).hex().encode()
    monkeypatch.setattr(worker, "_broker", fake)
    warned = []
    assert worker.kernel_options(str(nb), str(tmp_path), None, warned.append) == {}
    assert "does not answer" in warned[0], warned


# A task that closes its end of the supervisor's socket, then takes a while to exit: without
# the exit holder the supervisor reads EOF while the task is still alive (Airflow 3.3's
# supervisor then sleeps a whole min_heartbeat_interval before it looks again).
EXIT_RACE = """
import multiprocessing, os, socket, sys, time
from jupyter_mvdp.kernels.zygote import worker
assert worker.warm_kernels(force=True)
def work():  # the worker (as the LocalExecutor's or a Celery pool's)
    sup, child = socket.socketpair()
    task = os.fork()  # the task (as the task-sdk's supervisor forks it)
    if task == 0:
        sup.close()
        mine = [p for p in os.listdir("/proc") if p.isdigit() and f" {os.getpid()} " in open(f"/proc/{p}/stat").read().rsplit(")", 1)[1][:24]]
        holders = [p for p in mine if open(f"/proc/{p}/comm").read().strip() == "mvdp-task-exit"]
        child.close()  # its last socket, as the task-sdk's exit() closes them
        time.sleep(0.3)  # a big process's exit
        os._exit(len(holders))
    child.close()
    while sup.recv(4096):
        pass
    reaped, status = os.waitpid(task, os.WNOHANG)  # what the supervisor checks at EOF
    print(reaped == task, os.waitstatus_to_exitcode(status) if reaped else None, flush=True)
    os._exit(0)
process = multiprocessing.get_context("fork").Process(target=work)
process.start()
process.join()
"""


@pytest.mark.timeout(60)
def test_a_task_is_reapable_when_its_supervisor_reads_the_end_of_its_sockets():
    with subreaper():
        before = children()
        done = subprocess.run(
            [sys.executable, "-c", EXIT_RACE], capture_output=True, text=True, timeout=30
        )
        assert left_behind(before, within=5) == {}  # the holder died with its task
    assert done.returncode == 0, done.stderr
    # EOF came once the task had exited, not before; the task had its holder (its exit code)
    assert done.stdout.split() == ["True", "1"]
