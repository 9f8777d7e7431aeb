"""Nothing the project starts outlives its owner: one mechanism for every process.

- A child started with ``subprocess.Popen`` asks the kernel for a parent-death signal (Linux
  ``PR_SET_PDEATHSIG``, ``popen_kwargs``): when its parent dies, even by SIGKILL, it gets
  ``SIGKILL`` (kernels) or ``SIGTERM`` (Airflow's processes, which then stop their children).
- A point worker comes from the multiprocessing forkserver, not from its owner, and holds the
  forkserver's own liveness pipe open, so neither dies with the owner by itself: the worker
  watches the write end of its result pipe (``watch_lifeline``), whose only reader is the
  owner; the owner's death closes it, and the worker kills itself.
- So the chain holds by construction: owner (CLI, jupyter server, test harness) -> point
  workers (lifeline pipe) -> kernels (``LifelineKernelManager``: die with their worker); the
  forkserver exits once no process holds its pipe.
- What no signal reaches (a kernel a gateway runs on another host) is a worker's last words
  (``on_death``): said when its owner is gone and when the owner stops it (SIGTERM: a cancel
  or a timeout), before it dies the way it would have died without them.
- ``signals_as_interrupt`` turns SIGTERM and SIGHUP into ``Interrupted`` in the main thread, so
  a supervisor's stop (``timeout``, CI, systemd, ``docker stop``) takes the same path as
  Ctrl-C: cancel, record why, clean up.
- A point's own processes (what its notebook starts: ``Popen``, a new session, a double fork,
  ``multiprocessing``, ``sleep &``, a kernel that forks itself away) die with the point: the
  process that holds the point (its worker, or the zygote's point process for a warm kernel)
  is a child subreaper (``become_subreaper``), so orphans are re-parented to it rather than to
  init, and ``kill_tree`` kills every descendant it has, round after round until none is left.
  No cgroup is needed (most desktops and containers do not delegate one).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import Type

from .ready import PromptKernelClient

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_SET_NAME = 15
_PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP reached the main thread; ``signal_name`` says which."""

    def __init__(self, signal_name: str = "SIGINT"):
        super().__init__(signal_name)
        self.signal_name = signal_name


def die_with_parent(sig: int = signal.SIGKILL, parent: int | None = None) -> None:
    """Arm the parent-death signal of the calling process. If the parent (``parent``, when
    known) is already gone, the race is lost: exit now rather than live on as an orphan."""
    if _libc is None:
        return
    _prctl(_PR_SET_PDEATHSIG, int(sig))
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def _prctl(option: int, value) -> None:
    if _libc is not None:
        _libc.prctl(option, value, 0, 0, 0)


def become_subreaper() -> None:
    """Orphans of this process's descendants (a double fork, a daemon, a kernel that forked
    itself away) are re-parented to this process instead of init, so ``kill_tree`` finds them."""
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def set_private(private: bool = True) -> None:
    """A private process cannot be traced by other processes of its user, nor its memory read
    or its file descriptors taken (``/proc/<pid>/mem``, ``pidfd_getfd``): a notebook cannot
    borrow what its worker or the zygote holds. Kernels are not private, as fresh ones are not."""
    _prctl(_PR_SET_DUMPABLE, 0 if private else 1)


def set_name(name: str) -> None:
    """The process's name (``/proc/<pid>/comm``, what ``ps`` shows), at most 15 bytes."""
    _prctl(_PR_SET_NAME, name.encode()[:15])


def descendants(root: int) -> list[int]:
    """The live (not zombie) descendants of process ``root``, read from /proc's parent links
    (none where there is no /proc)."""
    children: dict[int, list[int]] = {}
    live = set()
    for name in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # gone meanwhile
            continue
        state, ppid = stat[stat.rindex(b")") + 2 :].split()[:2]
        children.setdefault(int(ppid), []).append(int(name))
        if state != b"Z":
            live.add(int(name))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid in live:
            found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def kill_tree(root: int | None = None, rounds: int = 400) -> None:
    """SIGKILL every descendant of ``root`` (this process by default), round after round until
    none is left: a child forked meanwhile is found in the next round, and an orphan comes
    back to a subreaper root. This process's own dead children are reaped."""
    me = os.getpid()
    root = me if root is None else root
    for _ in range(rounds):
        pids = descendants(root)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if root == me:
            reap()
        time.sleep(0.005)
    if root == me:
        reap()


def reap() -> list[int]:
    """Collect this process's dead children (orphans a subreaper adopted); their pids."""
    reaped = []
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append(pid)


_last_words: dict[int, Callable[[], None]] = {}


def on_death(words: Callable[[], None]) -> Callable[[], None]:
    """Have this worker call ``words()`` before it dies of its owner's death or stop (keep it
    short: the owner kills a stopped worker after a few seconds). Returns the function that
    takes them back, once they need not be said. Call it from the main thread, which the
    SIGTERM handler needs; elsewhere only the owner's death says them."""
    key = id(words)
    _last_words[key] = words
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread and signal.getsignal(signal.SIGTERM) is not _say_last_words_and_die:
        signal.signal(signal.SIGTERM, _say_last_words_and_die)
    return lambda: _last_words.pop(key, None)


def _say_last_words() -> None:
    while _last_words:
        _, words = _last_words.popitem()
        with contextlib.suppress(Exception):
            words()


def _say_last_words_and_die(signum, _frame) -> None:
    _say_last_words()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def watch_lifeline(fd: int) -> None:
    """In a worker: SIGKILL this process as soon as the reader of pipe ``fd`` (the owner)
    is gone: a closed reader makes the write end report POLLERR."""
    import select

    fd = os.dup(fd)  # the worker closes its end when done; the watch must not see that

    def watch() -> None:
        poller = select.poll()
        poller.register(fd, select.POLLERR | select.POLLHUP)
        while True:
            try:
                if poller.poll():
                    break
            except InterruptedError:
                continue
        _say_last_words()
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="mvdp-lifeline", daemon=True).start()


def popen_kwargs(sig: int = signal.SIGTERM) -> dict:
    """``subprocess.Popen`` arguments for a child that dies with this process."""
    if _libc is None:
        return {}
    return {"preexec_fn": functools.partial(die_with_parent, sig, os.getpid())}


class LifelineKernelManager(AsyncKernelManager):
    """The default kernel manager of nbclient, except that the kernel dies with the process
    that started it (jupyter_client puts kernels in their own session, so a group kill of a
    worker never reached them; ipykernel's parent poller took up to a second), and that its
    client sees the kernel ready without waiting for 0.2 s of silence (kernels/ready.py)."""

    client_factory = Type(klass=AsyncKernelClient, default_value=PromptKernelClient)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        kw = {**popen_kwargs(signal.SIGKILL), **kw}
        return await super()._async_launch_kernel(kernel_cmd, **kw)


@contextlib.contextmanager
def signals_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise ``Interrupted`` like Ctrl-C does (main
    thread only; elsewhere a no-op)."""

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, _frame):
        raise Interrupted(signal.Signals(signum).name)

    wanted = [signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)]
    previous = {sig: signal.signal(sig, interrupt) for sig in wanted if sig is not None}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
