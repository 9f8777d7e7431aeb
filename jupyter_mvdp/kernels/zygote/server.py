"""The zygote process itself: imports ipykernel and the preloaded modules, says hello on
stdout, then forks a kernel for every request on its unix socket until its owner is gone."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys
import sysconfig
from pathlib import Path

from .preload import preload_modules

# how a zygote is started (and restarted without a module that taints it)
ENTRY = "from jupyter_mvdp.kernels.zygote.server import main; main()"

_IGNORED_ENV_PREFIXES = ("JPY_", "PYDEVD_")
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

    config = json.loads(os.environ.pop("MVDP_ZYGOTE"))
    base_env = dict(os.environ)
    os.environ.setdefault("MPLBACKEND", _INLINE_BACKEND)  # as ipykernel does at start
    for name in _KERNEL_MODULES:  # the kernel's own start-up, paid once
        importlib.import_module(name)

    clean, broken = preload_modules(config["modules"])
    if broken is not None:  # a module that taints the process: start over without it
        config["modules"] = [m for m in config["modules"] if m != broken]
        os.environ.clear()
        os.environ.update(base_env, MVDP_ZYGOTE=json.dumps(config))
        os.execv(sys.executable, [sys.executable, "-c", ENTRY])
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(config["socket"])
    listener.listen(64)
    hello = {"preloaded": clean, "sources": _local_sources()}
    sys.stdout.write(json.dumps(hello) + "\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # kernels are reaped by the system
    _serve(listener, config["lifeline"], base_env)


def _serve(listener: socket.socket, lifeline: int, base_env: dict) -> None:
    poller = select.poll()
    poller.register(listener.fileno(), select.POLLIN)
    poller.register(lifeline, select.POLLERR | select.POLLHUP)
    try:
        while True:
            try:
                events = poller.poll()
            except InterruptedError:
                continue
            if any(fd == lifeline for fd, _ in events):
                return  # the owner is gone
            conn, _ = listener.accept()
            with conn:
                _answer(conn, listener, lifeline, base_env)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(listener.getsockname())
            os.rmdir(os.path.dirname(listener.getsockname()))


def _refusal(request: dict, base_env: dict) -> str | None:
    cmd = request["cmd"]
    # nbclient adds traitlets options (--HistoryManager.hist_file=:memory:): the kernel's argv
    if cmd[1:4] != ["-m", "ipykernel_launcher", "-f"] or not all(
        a.startswith("--") for a in cmd[5:]
    ):
        return f"not an ipykernel command: {cmd}"
    if os.path.normpath(cmd[0]) != os.path.normpath(sys.executable):
        return "another interpreter"

    def relevant(env):
        return {k: v for k, v in env.items() if not k.startswith(_IGNORED_ENV_PREFIXES)}

    theirs, ours = relevant(request["env"]), relevant(base_env)
    if theirs != ours:
        changed = sorted(k for k in theirs.keys() | ours.keys() if theirs.get(k) != ours.get(k))
        return f"another environment ({', '.join(changed[:5])} differ)"
    return None


def _answer(conn: socket.socket, listener, lifeline: int, base_env: dict) -> None:
    fds: list[int] = []
    try:
        conn.settimeout(30)
        data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
        while data and not data.endswith(b"\n"):  # a large environment comes in pieces
            more = conn.recv(1 << 16)
            if not more:
                break
            data += more
        request = json.loads(data)
        refusal = _refusal(request, base_env) if len(fds) == 3 else "no lifeline"
        if refusal:
            conn.sendall(json.dumps({"refused": refusal}).encode())
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _become_kernel(request, fds, conn, listener, lifeline)
        pidfd = os.pidfd_open(pid)
        try:
            socket.send_fds(conn, [json.dumps({"pid": pid}).encode()], [pidfd])
        finally:
            os.close(pidfd)
    except (OSError, ValueError):
        pass  # the worker falls back to an ordinary kernel
    finally:
        for fd in fds:
            os.close(fd)


def _become_kernel(request: dict, fds: list[int], conn, listener, lifeline: int) -> None:
    """In the forked child: become the point's kernel; never returns."""
    code = 1
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        conn.close()
        listener.close()
        os.close(lifeline)
        life, out, err = fds
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        for fd in (null, out, err):
            os.close(fd)
        from ..lifeline import watch_lifeline

        watch_lifeline(life)
        os.close(life)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        if "numpy.random" in sys.modules:  # its global state was seeded in the zygote
            sys.modules["numpy.random"].seed()
        import importlib

        importlib.invalidate_caches()
        if sys.path and sys.path[0] in ("", os.getcwd()):
            del sys.path[0]  # as ipykernel_launcher does; the kernel adds it back
        import ipykernel_launcher
        from ipykernel import kernelapp

        sys.argv = [ipykernel_launcher.__file__, *request["cmd"][3:]]
        # the worker's pid for the notebook to read, as a fresh kernel has it; the worker's
        # end is watched through the lifeline, not ipykernel's parent poller (the kernel's
        # parent is the zygote; 1 means none)
        os.environ["JPY_PARENT_PID"] = str(request["parent"])
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
