"""What a test needs to see every process an entry point started, even after it exited.

The test process becomes a child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``): orphans of the
entry point are re-parented to it instead of init, so ``descendants`` finds them by walking
``/proc``'s parent links. Zombies are dead and are not counted (they are reaped here).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import time
from collections.abc import Iterator

from jupyter_mvdp.kernels.zygote.server import NAME, POINT_NAME

_PR_SET_CHILD_SUBREAPER = 36


@contextlib.contextmanager
def subreaper() -> Iterator[None]:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        yield
    finally:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def _stat(pid: int) -> tuple[int, str, str, str] | None:
    """(parent pid, state, command line, name) of a live process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], cmdline, stat[stat.index("(") + 1 : stat.rindex(")")]


def _table() -> dict[int, tuple[int, str, str, str]]:
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (info := _stat(int(name))) is not None:
            table[int(name)] = info
    return table


def children() -> set[int]:
    """This process's direct children (live or zombie)."""
    me = os.getpid()
    return {pid for pid, (ppid, *_) in _table().items() if ppid == me}


def left_behind(before: set[int], within: float) -> dict[int, str]:
    """Processes this test started since ``before`` (``children()`` then) or that were
    re-parented to it, with their whole subtrees, still alive after up to ``within`` s:
    pid -> command line. Zombies are reaped, not counted."""
    deadline = time.monotonic() + within
    while True:
        found = _subtrees(before)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def _subtrees(before: set[int]) -> dict[int, str]:
    me = os.getpid()
    table = _table()
    kids: dict[int, list[int]] = {}
    for pid, (ppid, *_) in table.items():
        kids.setdefault(ppid, []).append(pid)
    found, todo = {}, [pid for pid in kids.get(me, []) if pid not in before]
    while todo:
        pid = todo.pop()
        _, state, cmdline, _ = table[pid]
        if state == "Z":
            if table[pid][0] == me:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
        else:
            found[pid] = cmdline
        todo.extend(kids.get(pid, []))
    return found


def tree(root: int) -> dict[int, str]:
    """Live descendants of ``root``: pid -> command line."""
    table = _table()
    kids: dict[int, list[int]] = {}
    for pid, (ppid, *_) in table.items():
        kids.setdefault(ppid, []).append(pid)
    found, todo = {}, list(kids.get(root, []))
    while todo:
        pid = todo.pop()
        if table[pid][1] != "Z":
            found[pid] = table[pid][2]
        todo.extend(kids.get(pid, []))
    return found


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)
    return result


def _descendants(root: int, table: dict) -> list[int]:
    kids: dict[int, list[int]] = {}
    for pid, (ppid, *_) in table.items():
        kids.setdefault(ppid, []).append(pid)
    found, todo = [], list(kids.get(root, []))
    while todo:
        pid = todo.pop()
        if table[pid][1] != "Z":
            found.append(pid)
        todo.extend(kids.get(pid, []))
    return found


def _forked_kernel(pid: int, table: dict) -> bool:
    """A kernel forked by a zygote: the child of a zygote's point process (kernels/zygote/
    server.py names both; the kernel shares the zygote's command line)."""
    parent = table.get(table[pid][0])
    return parent is not None and parent[3] == POINT_NAME


def kernels(root: int) -> dict[int, str]:
    """Live kernels under ``root``: ipykernel processes, and kernels forked by a zygote."""
    table = _table()
    return {
        pid: table[pid][2]
        for pid in _descendants(root, table)
        if "ipykernel" in table[pid][2] or _forked_kernel(pid, table)
    }


def zygotes(root: int) -> dict[int, str]:
    """Live zygotes under ``root`` (not the kernels they forked)."""
    table = _table()
    return {pid: table[pid][2] for pid in _descendants(root, table) if table[pid][3] == NAME}
