"""The zygote process itself: imports ipykernel and the preloaded modules, says hello on
stdout, then forks a kernel for every request of its owner's point workers until its owner
is gone.

Who may ask. The zygote listens on no path and reads nothing from its environment: its
configuration comes on stdin, and its owner (the CLI or server that started it) holds the
other end of its control socket (``ctl``, also its lifeline). For each point the owner sends
it, over ``ctl``, one end of a new socket pair whose other end goes to that point's worker
only: no file, no environment and no process a notebook can read holds it (the zygote and
the workers are private processes, ``lifeline.set_private``). Each connection's credentials
are checked (``SO_PEERCRED``: made by the owner, this user).

Serving. One loop, and nothing in it blocks: a connection's request is read as it arrives
(at most ``_MAX_REQUEST`` bytes and 3 file descriptors, within ``_REQUEST_SECONDS``),
checked field by field and refused in one line when anything is wrong; a connection that
breaks the protocol is closed and the others go on.

A request forks a *point process*: the point's subreaper (lifeline.py), which forks the
kernel, answers with its pid and a pidfd, then waits: once the kernel has exited or the
point's worker is gone (the lifeline pipe it sent), it kills every process left under it and
exits, so whatever the notebook started dies with the point.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import struct
import sys
import sysconfig
import time
from pathlib import Path

from ..lifeline import (
    become_subreaper,
    die_with_parent,
    kill_tree,
    reap,
    set_name,
    set_private,
)
from .preload import (
    interpreter_path,
    kernel_command,
    preload_modules,
    renew_random_state,
    track_random_seeds,
)

# how a zygote is started (and restarted without a module that taints it)
ENTRY = "from jupyter_mvdp.kernels.zygote.server import main; main()"
NAME, POINT_NAME = "mvdp-zygote", "mvdp-point"  # what ps shows (tests/processes.py reads it)

# a kernel gets these as a fresh one does, but no module reads them at import: an Airflow
# task's own variables (AIRFLOW_CTX_*: worker.py) differ from task to task
_IGNORED_ENV_PREFIXES = ("JPY_", "PYDEVD_", "AIRFLOW_CTX_")
_INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
# what ipykernel imports while a kernel starts (its debugger alone is ~0.5 s)
_KERNEL_MODULES = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.debugger",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.oinspect",
    "IPython.extensions.storemagic",
    "sqlite3",
    "tornado.platform.asyncio",
)
_MAX_REQUEST = 4 << 20  # bytes: a request carries the kernel's environment
_REQUEST_SECONDS = 10.0  # from a request's first byte to its end
_MAX_CONNECTIONS = 256
_REPLY_SECONDS = 5.0


class Refused(Exception):
    """A request the zygote will not serve; the message says why, in one line."""


def _local_sources() -> dict[str, int]:
    """Files of imported modules outside the stdlib and site-packages, with mtimes: the
    user's own code, which may change under a running zygote."""
    roots = tuple(
        str(Path(p).resolve())
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (p := sysconfig.get_paths().get(key))
    )
    sources = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path:
            continue
        with contextlib.suppress(OSError):
            real = str(Path(path).resolve())
            if not real.startswith(roots):
                sources[path] = os.stat(path).st_mtime_ns
    return sources


def main() -> None:
    """The zygote: preload, say hello on stdout, fork kernels until the owner is gone."""
    import importlib

    set_name(NAME)
    set_private()
    config = json.loads(sys.stdin.buffer.read())  # from the owner, never an environment
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    base_env = dict(os.environ)
    os.environ.setdefault("MPLBACKEND", _INLINE_BACKEND)  # as ipykernel does at start
    stop_tracking = track_random_seeds()
    for name in _KERNEL_MODULES:  # the kernel's own start-up, paid once
        importlib.import_module(name)
    clean, broken = preload_modules(config["modules"])
    stop_tracking()
    if broken is not None:  # a module that taints the process: start over without it
        config["modules"] = [m for m in config["modules"] if m != broken]
        os.environ.clear()
        os.environ.update(base_env)
        _exec_again(config)
    ctl = socket.socket(fileno=config["ctl"])
    hello = {"preloaded": clean, "sources": _local_sources()}
    sys.stdout.write(json.dumps(hello) + "\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # point processes are reaped by the system
    serve(ctl, base_env, tuple(config.get("interpreter") or [sys.executable])[1:])


def _exec_again(config: dict) -> None:
    """Re-execute the zygote with ``config`` on its stdin (a memory file: no environment)."""
    memfd = os.memfd_create("mvdp-zygote-config")
    os.write(memfd, json.dumps(config).encode())
    os.lseek(memfd, 0, os.SEEK_SET)
    os.dup2(memfd, 0)
    os.close(memfd)
    os.set_inheritable(config["ctl"], True)
    python = config.get("interpreter") or [sys.executable]
    os.execv(python[0], [*python, "-c", ENTRY])


class Connection:
    """One point worker's connection: its request read as it comes, never blocking."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.data = bytearray()
        self.fds: list[int] = []
        self.since: float | None = None  # when the request being read began
        sock.setblocking(False)

    def read(self) -> bytes | None:
        """A whole request line, or None until it has come. EOFError once the worker closed
        its end; ``Refused`` (then the connection is closed) when it breaks the protocol."""
        try:
            chunk, fds, flags, _ = socket.recv_fds(self.sock, 1 << 16, 3)
        except BlockingIOError:
            return None
        self.fds += fds
        if flags & socket.MSG_CTRUNC or len(self.fds) > 3:
            raise Refused("more than 3 file descriptors")
        if not chunk:
            raise EOFError
        if self.since is None:
            self.since = time.monotonic()
        self.data += chunk
        if len(self.data) > _MAX_REQUEST:
            raise Refused(f"a request over {_MAX_REQUEST >> 20} MiB")
        end = self.data.find(b"\n")
        if end < 0:
            return None
        if end != len(self.data) - 1:
            raise Refused("a second request before the answer to the first")
        line = bytes(self.data[:end])
        self.data.clear()
        self.since = None
        return line

    def take_fds(self) -> list[int]:
        fds, self.fds = self.fds, []
        return fds

    def late(self, now: float) -> bool:
        return self.since is not None and now - self.since > _REQUEST_SECONDS

    def answer(self, message: dict, fds: list[int] = (), patience: float = 0) -> None:
        """Send a one-line answer (and file descriptors), waiting up to ``patience`` s for room
        (the zygote itself never waits: a peer that does not read loses its answer). The
        socket stays non-blocking: a flag the zygote and its children share."""
        data = json.dumps(message).encode() + b"\n"
        deadline = time.monotonic() + patience
        while data:
            try:
                sent = (
                    socket.send_fds(self.sock, [data], list(fds)) if fds else self.sock.send(data)
                )
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError("the worker does not read its answer") from None
                select.select([], [self.sock], [], 0.1)
                continue
            data, fds = data[sent:], ()

    def close(self) -> None:
        for fd in self.take_fds():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.sock.close()


def _from_owner(sock: socket.socket) -> bool:
    """The connection was made by the zygote's owner (its parent), as this user."""
    with contextlib.suppress(OSError):
        pid, uid, _ = struct.unpack(
            "3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        )
        return pid == os.getppid() and uid == os.getuid()
    return False


def serve(ctl: socket.socket, base_env: dict, options: tuple[str, ...] = ()) -> None:
    """Take connections from the owner on ``ctl`` and answer their requests, until the
    owner is gone (``ctl`` closed); ``options``: the interpreter's, which kernels have."""
    if not _from_owner(ctl):
        return
    connections: dict[int, Connection] = {}
    poller = select.poll()
    poller.register(ctl, select.POLLIN)

    def drop(conn: Connection, why: str | None = None) -> None:
        connections.pop(conn.sock.fileno(), None)
        with contextlib.suppress(ValueError, KeyError):
            poller.unregister(conn.sock)
        if why:
            with contextlib.suppress(Exception):
                conn.answer({"refused": why})
        conn.close()

    while True:
        now = time.monotonic()
        waits = [c.since + _REQUEST_SECONDS - now for c in connections.values() if c.since]
        try:
            events = poller.poll(max(0, min(waits)) * 1000 + 1 if waits else None)
        except InterruptedError:
            continue
        for fd, _ in events:
            if fd == ctl.fileno():
                if not _accept(ctl, connections, poller):
                    return  # the owner is gone
                continue
            conn = connections.get(fd)
            if conn is None:
                continue
            try:
                line = conn.read()
                if line is not None:
                    _answer(conn, line, base_env, options, ctl, connections)
            except Refused as e:
                drop(conn, str(e))
            except Exception:  # closed, reset, unreadable: that connection only
                drop(conn)
        now = time.monotonic()
        for conn in [c for c in connections.values() if c.late(now)]:
            drop(conn, f"a request unfinished after {_REQUEST_SECONDS:g} s")


def _accept(ctl: socket.socket, connections: dict, poller) -> bool:
    """A new connection from the owner; False once the owner is gone."""
    try:
        data, fds, _, _ = socket.recv_fds(ctl, 16, 1)
    except BlockingIOError:
        return True
    except OSError:
        return False
    if not data:
        return False
    for fd in fds:
        sock = socket.socket(fileno=fd)
        if len(connections) >= _MAX_CONNECTIONS or not _from_owner(sock):
            sock.close()
            continue
        conn = Connection(sock)
        connections[sock.fileno()] = conn
        poller.register(sock, select.POLLIN)
    return True


def check_request(line: bytes) -> dict:
    """The request as JSON, each field of the expected type, or ``Refused``."""
    try:
        request = json.loads(line)
    except Exception:  # not UTF-8, not JSON, nested too deep
        raise Refused("a request is one JSON object") from None
    if not isinstance(request, dict):
        raise Refused("a request is one JSON object")
    cmd, cwd, env = request.get("cmd"), request.get("cwd"), request.get("env")
    if not (isinstance(cmd, list) and cmd and all(isinstance(a, str) for a in cmd)):
        raise Refused("cmd: a list of strings expected")
    if not isinstance(cwd, str):
        raise Refused("cwd: a string expected")
    if not (isinstance(env, dict) and all(isinstance(v, str) for v in env.values())):
        raise Refused("env: an object of strings expected")
    return request


def _refusal(request: dict, base_env: dict, options: tuple[str, ...]) -> str | None:
    """Why this zygote cannot fork what a fresh kernel would be, or None: the command must
    start this interpreter (as the owner started it) with its options; the kernel's own
    arguments go to ipykernel as they are."""
    try:
        command = kernel_command(request["cmd"])
    except ValueError as e:
        return f"not an ipykernel command ({e}): {request['cmd'][:6]}"
    python = interpreter_path(command.interpreter, request["env"])
    if os.path.normpath(python or "") != os.path.normpath(sys.executable):
        return f"another interpreter ({command.interpreter}, not {sys.executable})"
    if command.options != options:
        return f"other interpreter options ({' '.join(command.options) or 'none'})"

    def relevant(env):
        return {k: v for k, v in env.items() if not k.startswith(_IGNORED_ENV_PREFIXES)}

    theirs, ours = relevant(request["env"]), relevant(base_env)
    if theirs != ours:
        changed = sorted(k for k in theirs.keys() | ours.keys() if theirs.get(k) != ours.get(k))
        return f"another environment ({', '.join(changed[:5])} differ)"
    return None


def _answer(
    conn: Connection, line: bytes, base_env: dict, options: tuple, ctl, connections: dict
) -> None:
    request = check_request(line)
    fds = conn.take_fds()
    try:
        if len(fds) != 3:
            raise Refused("3 file descriptors expected (lifeline, stdout, stderr)")
        refusal = _refusal(request, base_env, options)
        if refusal:  # the worker starts an ordinary kernel; the connection stays
            conn.answer({"refused": refusal})
            return
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            _point_process(request, fds, conn, ctl, connections)
    finally:
        for fd in fds:
            os.close(fd)


def _point_process(request: dict, fds: list[int], conn: Connection, ctl, connections) -> None:
    """In the zygote's child: the point's subreaper. Forks the kernel, answers the worker,
    then outlives the kernel only to kill what it left; never returns."""
    try:
        os.setsid()  # out of the owner's process group: a Ctrl-C is the owner's to handle
        become_subreaper()
        set_name(POINT_NAME)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        ctl.close()
        for other in list(connections.values()):
            if other is not conn:
                other.close()
        life, out, err = fds
        kernel = os.fork()
        if kernel == 0:
            conn.sock.close()
            os.close(life)
            _become_kernel(request, out, err)
        os.close(out)
        os.close(err)
        pidfd = os.pidfd_open(kernel)
        conn.answer({"pid": kernel}, [pidfd], patience=_REPLY_SECONDS)
        os.close(pidfd)
        conn.sock.close()
        _outlive(kernel, life)
    except BaseException:  # nothing to tell: the worker sees no answer, or its kernel's end
        pass
    finally:
        with contextlib.suppress(BaseException):
            kill_tree()
        os._exit(0)


def _outlive(kernel: int, life: int) -> None:
    """Wait until the kernel has exited, the worker is gone or this process is stopped,
    reaping the orphans that come back meanwhile."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)

    def stop(*_):
        raise SystemExit

    signal.signal(signal.SIGTERM, stop)
    poller = select.poll()
    poller.register(wake_r, select.POLLIN)
    poller.register(life, select.POLLERR | select.POLLHUP)
    while kernel not in reap():
        for fd, _ in poller.poll():
            if fd == life:
                return
            os.read(wake_r, 512)


def _become_kernel(request: dict, out: int, err: int) -> None:
    """In the point process's child: become the point's kernel; never returns."""
    code = 1
    try:
        os.setsid()  # its own session and group, as jupyter_client starts a kernel
        die_with_parent(signal.SIGKILL, os.getppid())  # the point process killed by hand
        set_private(False)  # a kernel is an ordinary process, as a fresh one is
        set_name(os.path.basename(request["cmd"][0]))
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        for fd in (null, out, err):
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        # the parent's pid, as a fresh kernel has it from jupyter_client; its end is watched
        # by the point process, not ipykernel's parent poller (1 means none)
        os.environ["JPY_PARENT_PID"] = str(os.getppid())
        renew_random_state()
        import importlib

        importlib.invalidate_caches()
        command = kernel_command(request["cmd"])
        if command.module == "ipykernel":
            import ipykernel.__main__ as started

            if sys.path[:1] == [""]:  # the zygote's ``-c``: ``-m`` puts the folder first
                sys.path[0] = os.getcwd()
        else:
            import ipykernel_launcher as started

            if sys.path and sys.path[0] in ("", os.getcwd()):
                del sys.path[0]  # as ipykernel_launcher does; the kernel adds it back
        from ipykernel import kernelapp

        sys.argv = [started.__file__, *command.args]
        sys.orig_argv = list(request["cmd"])  # the command a fresh kernel was started with
        app = kernelapp.IPKernelApp.instance(parent_handle=1)
        app.initialize()
        app.start()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
