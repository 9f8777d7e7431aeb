"""A point's process tree dies with it, on real kernels, warm and plain: every kind of process
a notebook can leave behind (a ``Popen``, a new session, a double fork, ``multiprocessing``,
a background shell, a fork of the kernel, a kernel that forks itself away) is gone once the
point ended: succeeded, timed out, cancelled, failed and retried, or its owner died."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import children, left_behind, subreaper, wait_for
from tests.targets.test_local import local_manager, write_notebook

KINDS = ["popen", "setsid", "double_fork", "multiprocessing", "shell", "kernel_fork"]

PARAMS = 'pids = "."  # a folder the notebook writes its processes\' pids to\nhow = "sleep"'
# every kind of process a notebook can leave behind, each pid written to <pids>/<kernel>/<kind>
START = r"""
import multiprocessing, os, subprocess, sys, time
from pathlib import Path

out = Path(pids) / str(os.getpid())
out.mkdir(parents=True, exist_ok=True)
SLEEP = [sys.executable, "-c", "import time; time.sleep(600)"]


def note(kind, pid):
    (out / kind).write_text(str(pid))


note("popen", subprocess.Popen(SLEEP).pid)
note("setsid", subprocess.Popen(SLEEP, start_new_session=True).pid)
# the grandchild of a double fork writes its own pid; its parent is gone at once
grandchild = (
    "import os, sys, time\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    f"    open({str(out / 'double_fork')!r}, 'w').write(str(os.getpid()))\n"
    "    time.sleep(600)\n"
)
subprocess.run([sys.executable, "-c", grandchild], check=True)
child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(600,))
child.start()
note("multiprocessing", child.pid)
subprocess.run(f"sleep 600 & echo $! > {out / 'shell'}", shell=True, check=True)
forked = os.fork()
if forked == 0:  # a copy of the kernel that goes on living
    time.sleep(600)
    os._exit(0)
note("kernel_fork", forked)
"""
# then the point ends in one of these ways
END = r"""
if how == "sleep":  # until a timeout or a cancel stops it
    time.sleep(600)
elif how == "away":  # the kernel forks itself away: its parent half exits, the copy lives on
    if os.fork() == 0:
        note("forked_away", os.getpid())
        time.sleep(600)
    os._exit(0)
"""


def alive(pid: int) -> bool:
    """Not gone and not a zombie (a dead process waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def noted(pids: Path) -> dict[str, int]:
    """``<kernel pid>/<kind>`` -> pid, of every kernel (try) that ran."""
    return {
        f"{kernel.name}/{kind.name}": int(kind.read_text())
        for kernel in pids.iterdir()
        for kind in kernel.iterdir()
        if kind.read_text().strip()
    }


def survivors(pids: Path) -> dict[str, int]:
    """What the point left alive: every noted process still alive after 10 s (the owner's
    last words and kills take milliseconds; the bound only keeps a failing test finite)."""
    found = noted(pids)
    with contextlib.suppress(AssertionError):
        wait_for(lambda: not any(alive(p) for p in found.values()), 10, "the point's processes")
    return {kind: pid for kind, pid in found.items() if alive(pid)}


def kill(found: dict[str, int]) -> None:
    for pid in found.values():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def workspace(tmp_path):
    write_notebook(tmp_path / "tree.ipynb", PARAMS, START + END)
    (tmp_path / "pids").mkdir()
    return tmp_path


@pytest.fixture
def manager(workspace):
    with local_manager(workspace) as manager:
        yield manager


def submit(manager, workspace, warm: bool, **plan) -> str:
    doc = {
        "grid": {"pids": str(workspace / "pids"), **plan.pop("grid", {})},
        "strategy": {"kind": "grid"},
        "warm_kernels": warm,
        **plan,
    }
    return manager.submit("tree.ipynb", doc, "local", background=False)


def every_kind_started(pids: Path, kernels: int = 1) -> bool:
    kernels_dirs = list(pids.iterdir())
    return len(kernels_dirs) >= kernels and all(
        all((k / kind).exists() and (k / kind).read_text() for kind in KINDS) for k in kernels_dirs
    )


@pytest.mark.timeout(180)
@pytest.mark.parametrize("warm", [True, False], ids=["warm", "plain"])
@pytest.mark.parametrize("end", ["success", "timeout", "cancel", "retried"])
def test_a_points_processes_die_with_it(manager, workspace, warm, end):
    pids = workspace / "pids"
    with subreaper():  # orphans come to this test process, not init: found, and reaped
        before = children()
        if end == "success":
            run_id = submit(manager, workspace, warm, grid={"how": "done"})
        elif end == "timeout":
            run_id = submit(manager, workspace, warm, timeout=20)
        elif end == "cancel":
            run_id = submit(manager, workspace, warm)
            wait_for(lambda: every_kind_started(pids), 60, "the notebook's processes")
            manager.cancel(run_id)
        else:  # the kernel forks itself away, the point fails and is tried again
            run_id = submit(manager, workspace, warm, grid={"how": "away"}, retries=1)
        doc = manager.wait(run_id, interval=0.1)
        (point,) = doc["points"]
        expected = {"success": "success", "timeout": "failed", "cancel": "failed"}
        assert point["state"] == expected.get(end, "failed"), point
        assert every_kind_started(pids, kernels=2 if end == "retried" else 1)
        if end == "retried":
            assert len(point["tries"]) == 2
            assert sum(k.endswith("/forked_away") for k in noted(pids)) == 2
        left = survivors(pids)
        kill(left)
        left_behind(before, within=10)  # reaps what this test adopted
    assert left == {}


CLI = [sys.executable, "-m", "jupyter_mvdp.cli"]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("warm", [True, False], ids=["warm", "plain"])
def test_a_points_processes_die_with_its_owner(workspace, warm):
    """The CLI killed with SIGKILL (nothing can clean up after it): its workers notice
    through their lifeline, and each takes its point's processes with it."""
    plan = {
        "grid": {"pids": str(workspace / "pids")},
        "strategy": {"kind": "grid"},
        "warm_kernels": warm,
    }
    (workspace / "plan.json").write_text(json.dumps(plan))
    pids = workspace / "pids"
    with subreaper():
        before = children()
        cli = subprocess.Popen(
            [*CLI, "--db", "runs.sqlite", "run", "tree.ipynb", "--plan", "plan.json"],
            cwd=workspace,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: every_kind_started(pids), 90, "the notebook's processes")
        cli.kill()
        cli.wait(30)
        left = survivors(pids)
        kill(left)
        left_behind(before, within=10)
    assert left == {}
