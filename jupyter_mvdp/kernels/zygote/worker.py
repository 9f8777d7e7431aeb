"""Warm kernels on Airflow's workers: the point tasks a worker runs (the scheduler's
LocalExecutor, a Celery worker) fork their kernels from zygotes that belong to that worker,
so pandas and scikit-learn are imported once per worker, not once per point.

A deployment opts in with one line in ``$AIRFLOW_HOME/config/airflow_local_settings.py``
(``dev.RECOMMENDED_LOCAL_SETTINGS``), which every Airflow process imports when it starts::

    from jupyter_mvdp.kernels.zygote.worker import warm_kernels; warm_kernels()

How the parts meet (the zygote, its kernels and their point processes are the local
runner's: pool.Zygote, provisioner.kernel_manager, server.py):

- ``warm_kernels()`` does nothing but in the process that owns the worker processes
  (``airflow scheduler``, whose LocalExecutor forks them; ``airflow celery worker``'s main
  process, whose pool forks them; with ``-D``, the daemon python-daemon leaves behind).
  Before it forks the first (a multiprocessing or billiard Process), it starts its
  *broker*: a thread listening on an abstract Unix socket whose name only its memory
  holds, and the owner of the zygotes (one per set of imports, environment and
  interpreter, at most ``_MAX_ZYGOTES``), which all its worker processes share.
- A task process is forked from its worker process (the task-sdk supervisor forks without
  exec), so it inherits the broker's name: the DAG's ``kernel_options`` asks it for a
  zygote with the notebook's imports, and the broker answers with a new connection to it
  (started first when needed); the point's kernel is forked from it
  (``provisioner.kernel_manager``).
- Who may ask: the broker answers a process of its own user (``SO_PEERCRED``) whose parent
  is one of its worker processes, i.e. a task. A kernel never is: a forked kernel is a
  zygote's grandchild, a fresh one the task's child. The socket's name is no secret (Linux
  lists abstract names in /proc/net/unix), so no secret is relied on: the kernel's word on
  the peer is. Workers and tasks are non-dumpable (the supervisor makes them so), so a
  notebook of the same user cannot take their descriptors either.
- Lifetimes: only the owner holds the zygotes' control sockets (their lifeline: a zygote
  exits when its owner is gone, whatever the signal; a forked child closes the copies it
  inherits). A task gets SIGKILL when its worker process dies (``PR_SET_PDEATHSIG``), and
  the point processes that watch the task kill its kernel and whatever the notebook
  started. A Celery pool process dies with its main process (Celery arms the same signal).
- A task's end is seen at once: each task keeps its ends of its supervisor's sockets open
  in a child until it has exited (``_hold_until_exit``: Airflow 3.3's supervisor otherwise
  misses an exit that comes microseconds after the sockets' end, for a whole second).
- When no zygote can serve (a kernelspec a zygote cannot fork, a zygote that did not
  start, a broker that does not answer) the point starts a fresh kernel and its log says
  why; a warm one says so too.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import struct
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from ..lifeline import die_with_parent, set_name

_MAX_ZYGOTES = 2  # sets of imports a worker keeps warm (the most recent ones)
_MAX_REQUEST = 4 << 20  # bytes: a request carries the kernel's environment
_ASK_SECONDS = 180.0  # a zygote's start (imports) included
# the task's own variables (Airflow sets them before the operator runs): a kernel gets
# them, as a fresh one does, but no module reads them at import, so they key no zygote
TASK_ENV_PREFIXES = ("AIRFLOW_CTX_", "JPY_", "PYDEVD_")

_armed = False  # this process (or the one it was forked from) opted in
_broker: Broker | None = None  # its broker (in its children: inherited, its name only)
# the modules whose os.fork starts a worker process: the LocalExecutor's workers are
# multiprocessing Processes, a Celery worker's pool processes billiard's
_WORKER_FORKS = ("multiprocessing.popen_fork", "billiard.popen_fork")


def warm_kernels(force: bool = False) -> bool:
    """Opt this Airflow process's workers in (see the module docstring): in ``airflow
    scheduler`` and ``airflow celery worker``, or anywhere with ``force``. True when armed."""
    global _armed
    if _armed:
        return True
    if not sys.platform.startswith("linux") or not (force or forks_workers(sys.argv)):
        return False
    _armed = True
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork)
    return True


def forks_workers(argv: list[str]) -> bool:
    """The Airflow command forks the processes that supervise tasks."""
    words = [a for a in argv[1:] if not a.startswith("-")]
    return words[:1] == ["scheduler"] or words[:2] == ["celery", "worker"]


def _before_fork() -> None:
    """Before an opted-in process forks its first worker process: its broker; that process
    owns the zygotes. Other forks start none: ``airflow scheduler -D`` (python-daemon) forks
    twice before it runs the scheduler, and the daemon, not the process that exits, is the
    one whose workers run the tasks."""
    global _broker
    if _broker is None and _armed and _forking_a_worker():
        _broker = Broker()


def _forking_a_worker() -> bool:
    """The os.fork being made is a multiprocessing (or billiard) Process's start."""
    frame = sys._getframe(1)
    for _ in range(4):  # the hook is called by os.fork, called by Popen._launch
        if frame is None:
            return False
        if frame.f_globals.get("__name__") in _WORKER_FORKS:
            return True
        frame = frame.f_back
    return False


def _after_fork() -> None:
    if _broker is None or _broker.owner == os.getpid():
        return
    _broker.forget()  # nothing of the owner's is a child's own
    parent = os.getppid()
    if _parent_of(parent) == _broker.owner:  # a task (or a process a worker starts)
        die_with_parent(signal.SIGKILL, parent)
        _hold_until_exit()


def _hold_until_exit() -> None:
    """Keep this task's ends of its supervisor's sockets open, in a child, until this
    process has exited. Airflow 3.3's supervisor learns that a task ended from the sockets'
    EOF, then checks once whether the process can be reaped: an exit whose sockets close
    microseconds before it is reapable (a big process's exit) is missed, and the supervisor
    sleeps a whole ``min_heartbeat_interval`` (1 s) holding the worker's slot, which on a
    Celery worker delays the next point. The child dies when this process has (its
    parent-death signal, sent once this process is a zombie), so the EOF comes after."""
    task = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        return
    if pid:
        return
    try:
        die_with_parent(signal.SIGKILL, task)
        set_name("mvdp-task-exit")
        while True:
            signal.pause()
    finally:
        os._exit(0)


class Broker:
    """The owner's zygotes and the thread that hands its tasks connections to them."""

    def __init__(self):
        self.owner = os.getpid()
        self.name = b"\0mvdp-zygotes-" + secrets.token_hex(16).encode()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._listener.bind(self.name)
        self._listener.listen(64)
        self._zygotes: dict[tuple, object] = {}  # key -> pool.Zygote, most recent last
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, name="mvdp-zygotes", daemon=True).start()
        with contextlib.suppress(Exception):  # asked once here, inherited by every task
            from .preload import other_python

            other_python(sys.executable)

    def forget(self) -> None:
        """In a forked child: close what is the owner's (the listener, the zygotes' control
        sockets: a zygote's lifeline), without touching objects another thread may have
        been using."""
        if os.getpid() == self.owner:
            return
        for sock in [self._listener, *(z._ctl for z in list(self._zygotes.values()))]:
            with contextlib.suppress(OSError):
                fd = sock.detach()
                if fd >= 0:
                    os.close(fd)
        self._zygotes = {}

    def pids(self) -> list[int]:
        with self._lock:
            return [z.pid for z in self._zygotes.values() if z.proc.poll() is None]

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve_one, args=(conn,), daemon=True).start()

    def _serve_one(self, conn: socket.socket) -> None:
        """One task's request (tasks ask at once: one waiting for a zygote to start does
        not hold back one whose zygote is ready)."""
        with conn:
            conn.settimeout(10)
            try:
                self._answer(conn)
            except Exception as e:  # that request only
                with contextlib.suppress(OSError):
                    conn.send(json.dumps({"refused": f"the worker's broker: {e}"}).encode())

    def _answer(self, conn: socket.socket) -> None:
        pid, uid, _ = struct.unpack(
            "3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        )
        if uid != os.getuid() or not self._is_task(pid):
            return  # not a task of this worker: no answer at all
        request = json.loads(conn.recv(_MAX_REQUEST))
        modules, env = request.get("modules"), request.get("env")
        interpreter = request.get("interpreter")
        if not (isinstance(modules, list) and all(isinstance(m, str) for m in modules)):
            raise ValueError("modules: a list of strings expected")
        if not (isinstance(env, dict) and all(isinstance(v, str) for v in env.values())):
            raise ValueError("env: an object of strings expected")
        if interpreter is not None and not (
            isinstance(interpreter, list) and all(isinstance(a, str) for a in interpreter)
        ):
            raise ValueError("interpreter: a list of strings expected")
        env = {k: v for k, v in env.items() if not k.startswith(TASK_ENV_PREFIXES)}
        zygote, why = self.zygote(sorted(set(modules)), env, interpreter)
        channel = zygote.channel() if zygote is not None else None
        if channel is None:
            conn.send(json.dumps({"refused": why or "the zygote is gone"}).encode())
            return
        with channel:
            reply = {"zygote": zygote.pid, "preloaded": zygote.preloaded}
            socket.send_fds(conn, [json.dumps(reply).encode()], [channel.fileno()])

    def _is_task(self, pid: int) -> bool:
        """``pid``'s parent is a worker process: a child of the owner, not one of its
        zygotes (whose grandchildren are kernels)."""
        parent = _parent_of(pid)
        if parent is None or _parent_of(parent) != self.owner:
            return False
        return parent not in {z.pid for z in list(self._zygotes.values())}

    def zygote(self, modules: list[str], env: dict, interpreter: list[str] | None):
        """(the zygote for these imports, environment and interpreter: started, or restarted
        when it died or went stale; None and why when none starts)."""
        from .pool import Zygote

        key = (tuple(modules), tuple(sorted(env.items())), tuple(interpreter or ()))
        with self._lock:
            zygote = self._zygotes.pop(key, None)
            if zygote is not None and not zygote.usable(env):
                zygote.stop()
                zygote = None
            if zygote is None:
                try:
                    zygote = Zygote(modules, env, tuple(interpreter or ()))
                except Exception as e:
                    return None, f"no zygote started ({e})"
            self._zygotes[key] = zygote
            while len(self._zygotes) > _MAX_ZYGOTES:
                self._zygotes.pop(next(iter(self._zygotes))).stop()
            return zygote, None


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return int(stat[stat.rindex(b")") + 2 :].split()[1])


# --- the task's side ---------------------------------------------------------------------


def kernel_options(
    notebook_path: str,
    cwd: str,
    kernel_name: str | None,
    warn: Callable[[str], None],
    info: Callable[[str], None] | None = None,
) -> dict:
    """papermill's options for this point: a kernel forked from this worker's zygote for the
    notebook's imports; ``{}`` (a fresh kernel) when none can serve, after ``warn``-ing why."""
    try:
        channel, reply = _ask(notebook_path, cwd, kernel_name)
    except Exception as e:  # never a failed point for want of a warm kernel
        channel, reply = None, f"{type(e).__name__}: {e}"
    if channel is None:
        warn(f"jupyter-mvdp: a fresh kernel, not a warm one: {reply}")
        return {}
    from .provisioner import kernel_manager

    preloaded = ", ".join(reply["preloaded"]) or "nothing but ipykernel"
    (info or warn)(
        f"jupyter-mvdp: a warm kernel, forked from this worker's zygote {reply['zygote']} "
        f"(preloaded: {preloaded})"
    )
    return {"kernel_manager_class": kernel_manager(channel)}


def _ask(notebook_path: str, cwd: str, kernel_name: str | None):
    """(a connection to this worker's zygote, its reply) or (None, why not)."""
    broker = _broker
    if broker is None or broker.owner != _parent_of(os.getppid()):
        return (
            None,
            "this task's worker keeps no zygotes (see warm_kernels in airflow_local_settings.py)",
        )
    from . import preload

    env = dict(os.environ)
    interpreter, why = preload.warm_kernel(kernel_name, env)
    if why:
        return None, why
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    request = {
        "modules": preload.preload_candidates(notebook, cwd),
        "env": env,
        "interpreter": list(interpreter) if interpreter else None,
    }
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
        sock.settimeout(_ASK_SECONDS)
        try:
            sock.connect(broker.name)
        except OSError as e:
            return None, f"this task's worker does not answer ({e.strerror})"
        sock.send(json.dumps(request).encode())
        data, fds, _, _ = socket.recv_fds(sock, 1 << 16, 1)
    reply = json.loads(data or b"{}")
    if len(fds) != 1:
        for fd in fds:
            os.close(fd)
        return None, reply.get("refused") or "no answer from this task's worker"
    return socket.socket(fileno=fds[0]), reply
