"""Warm kernels: pay a notebook's imports once per grid, not once per point.

A *zygote* is a Python process that has imported ipykernel and the modules the notebook
imports, then waits. For every point, the point's kernel manager asks it (over a unix socket)
to ``fork`` a fresh kernel: a new process with a clean namespace whose ``import pandas`` is
already done. jupyter_client drives that kernel through a kernel provisioner
(``ZygoteProvisioner``): connection file, interrupt (SIGINT to its process group), shutdown
and kill work as for any kernel, so papermill and nbclient see nothing different.

Which modules are preloaded (decided once, here):

- the top-level modules the notebook's code cells import (``ast``; relative imports and
  ``__future__`` aside), minus ``NEVER_PRELOAD`` (GPU, distributed and fork-unsafe runtimes)
  and minus any name a file or folder in the notebook's own folder would shadow;
- of those, only the ones that import cleanly in the zygote: no exception, nothing printed or
  warned (a fresh kernel would show it in the first cell's output), and no Python thread
  started (threads do not survive ``fork``). A module that breaks a rule is left to the
  kernel to import, and the zygote re-executes itself without it.
- a zygote is keyed by that module set, restarted when it died, and replaced when a module
  file it imported from outside the interpreter's stdlib/site-packages (your own code on
  ``PYTHONPATH``) changed since.

A kernel is forked only when a fresh kernel would be the same process: a Python kernelspec
whose command is exactly ``<this interpreter> -m ipykernel_launcher -f {connection_file}``,
without ``env`` or its own provisioner, and a kernel environment equal to the zygote's
(``JPY_*`` and ``PYDEVD_*`` aside). Anything else (R, bash, another venv or interpreter,
a gateway kernel manager, a changed environment) gets an ordinary kernel, silently.
After the fork the kernel takes the worker's stdout/stderr, working directory and
environment, reseeds ``numpy.random`` (``random`` reseeds itself), and sets matplotlib's
inline backend before preloading, as ipykernel would.

Lifetimes follow lifeline.py: the zygote watches a pipe whose only reader is its owner (the
CLI or server process) and exits when the owner is gone; each forked kernel watches a pipe
whose only reader is its point worker, so a killed worker (timeout, cancel) kills its kernel
and nothing else.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path

NEVER_PRELOAD = frozenset(
    {
        # fork-unsafe or device-bound runtimes: their state must be created in the kernel
        "torch",
        "tensorflow",
        "jax",
        "jaxlib",
        "cupy",
        "numba",
        "ray",
        "pyspark",
        "dask",
        "distributed",
        "multiprocessing",
        "concurrent",
        "asyncio",
        # kernel-facing: they look for a running kernel when imported
        "ipywidgets",
        "ipykernel",
        "IPython",
        "__future__",
    }
)
_IGNORED_ENV_PREFIXES = ("JPY_", "PYDEVD_")
_INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
_START_TIMEOUT = 120.0
_MAX_ZYGOTES = 2
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


# --- which modules ---------------------------------------------------------------------


def imports_of(notebook) -> list[str]:
    """Modules imported by the notebook's code cells, in order of appearance: ``import a.b``
    gives ``a.b``, ``from a.b import c`` gives ``a.b`` and ``a.b.c`` (imported only if it is
    a module). IPython lines (``%magic``, ``!shell``) are dropped before parsing."""
    names: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(
            "" if line.lstrip().startswith(("%", "!")) else line
            for line in cell.source.splitlines()
        )
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found = [node.module]
                found += [f"{node.module}.{a.name}" for a in node.names if a.name != "*"]
            else:
                continue
            names.extend(n for n in found if n not in names)
    return names


def preload_candidates(notebook, cwd: str | Path) -> list[str]:
    """The notebook's imports the zygote may try (see the module docstring)."""
    folder = Path(cwd)
    return [
        name
        for name in imports_of(notebook)
        if (top := name.split(".")[0]) not in NEVER_PRELOAD
        and top not in sys.builtin_module_names
        and not (folder / f"{top}.py").exists()
        and not (folder / top).is_dir()
    ]


def forkable_kernel(kernel_name: str | None) -> bool:
    """True when the kernelspec starts exactly what a zygote forks: ipykernel on this
    interpreter, without an env of its own or another provisioner."""
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME, KernelSpecManager

    name = kernel_name or NATIVE_KERNEL_NAME
    # not the native spec jupyter_client builds from ipykernel (importing it costs the server
    # memory): when no spec is installed under that name, it is this interpreter's ipykernel
    specs = KernelSpecManager(ensure_native_kernel=False)
    try:
        spec = specs.get_kernel_spec(name)
    except Exception:  # unknown kernel: papermill reports it, not us
        return name == NATIVE_KERNEL_NAME and importlib.util.find_spec("ipykernel") is not None
    argv = list(spec.argv)
    return (
        (spec.language or "").lower() == "python"
        and not spec.env
        and not spec.metadata.get("kernel_provisioner")
        and len(argv) == 5
        and argv[1:] == ["-m", "ipykernel_launcher", "-f", "{connection_file}"]
        and (
            argv[0] in ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}")
            or os.path.normpath(argv[0]) == os.path.normpath(sys.executable)
        )
    )


# --- the owner's side: start, reuse, restart zygotes ---------------------------------------


def worker_env() -> dict[str, str]:
    """The environment of the point workers, which their kernels get: the forkserver's (the
    owner's own may have changed since it started it). The zygote imports under it."""
    from multiprocessing import forkserver

    forkserver.ensure_running()  # as the first point would
    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    proc = Path(f"/proc/{pid}")
    deadline = time.monotonic() + 10
    with contextlib.suppress(OSError):
        while pid and time.monotonic() < deadline:
            if b"multiprocessing.forkserver" in (proc / "cmdline").read_bytes():  # exec'd
                raw = (proc / "environ").read_bytes().decode("utf-8", "surrogateescape")
                return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)
            time.sleep(0.01)
    return dict(os.environ)


class Zygote:
    """A running zygote as its owner sees it: the process, its socket, the owner's end of its
    lifeline (closing it stops the zygote) and the files it must be replaced after."""

    def __init__(self, modules: list[str], env: dict[str, str]):
        self.dir = tempfile.mkdtemp(prefix="mvdp-zygote-")
        self.socket = os.path.join(self.dir, "sock")
        lifeline_r, lifeline_w = os.pipe()
        config = {"socket": self.socket, "lifeline": lifeline_w, "modules": modules}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from jupyter_mvdp.kernels.zygote import main; main()"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                pass_fds=(lifeline_w,),
                cwd=self.dir,
                env={**env, "MVDP_ZYGOTE": json.dumps(config)},
            )
        finally:
            os.close(lifeline_w)
        self._lifeline = lifeline_r
        ready, _, _ = select.select([self.proc.stdout], [], [], _START_TIMEOUT)
        line = self.proc.stdout.readline() if ready else b""
        self.proc.stdout.close()
        if not line:
            self.stop()
            raise RuntimeError("the zygote did not start")
        hello = json.loads(line)
        self.pid = self.proc.pid
        self.preloaded: list[str] = hello["preloaded"]
        self.sources: dict[str, int] = hello["sources"]

    def usable(self) -> bool:
        if self.proc.poll() is not None:
            return False
        for path, mtime in self.sources.items():
            try:
                if os.stat(path).st_mtime_ns != mtime:
                    return False
            except OSError:
                return False
        return True

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._lifeline)
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class ZygotePool:
    """The zygotes of this process, one per module set (the most recent ``_MAX_ZYGOTES``)."""

    def __init__(self):
        self._zygotes: dict[tuple[str, ...], Zygote] = {}  # (*modules, environment)
        self._lock = threading.Lock()

    def socket_for(self, notebook, cwd: str | Path, kernel_name: str | None) -> str | None:
        """The socket of a zygote for this notebook's imports (started or restarted as
        needed), or None when its kernel cannot be forked or the zygote failed to start."""
        if not forkable_kernel(kernel_name):
            return None
        env = worker_env()
        key = (*sorted(preload_candidates(notebook, cwd)), json.dumps(env, sort_keys=True))
        with self._lock:
            zygote = self._zygotes.pop(key, None)
            if zygote is not None and not zygote.usable():
                zygote.stop()
                zygote = None
            if zygote is None:
                try:
                    zygote = Zygote(list(key[:-1]), env)
                except Exception:  # no zygote: ordinary kernels, as without this module
                    return None
            self._zygotes[key] = zygote  # most recent last
            while len(self._zygotes) > _MAX_ZYGOTES:
                self._zygotes.pop(next(iter(self._zygotes))).stop()
            return zygote.socket

    def pids(self) -> list[int]:
        with self._lock:
            return [z.pid for z in self._zygotes.values() if z.proc.poll() is None]

    def stop_all(self) -> None:
        with self._lock:
            for zygote in self._zygotes.values():
                zygote.stop()
            self._zygotes.clear()


POOL = ZygotePool()


# --- the worker's side: a provisioner whose process is a forked kernel -------------------


class ForkedKernel:
    """The ``subprocess.Popen`` face jupyter_client's LocalProvisioner expects, over a kernel
    that is the zygote's child: watched and signalled through a pidfd. Its exit status
    belongs to the zygote, so an exited kernel reports 0."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int, lifeline_r: int):
        self.pid, self.pidfd, self.lifeline = pid, pidfd, lifeline_r
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self.pidfd], [], [], 0)[0]:
            self.returncode = 0
            self._close()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and not select.select([self.pidfd], [], [], timeout)[0]:
            raise subprocess.TimeoutExpired("kernel", timeout)
        return self.poll() or 0

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            signal.pidfd_send_signal(self.pidfd, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _close(self) -> None:
        for fd in (self.pidfd, self.lifeline):
            with contextlib.suppress(OSError):
                os.close(fd)


def fork_kernel(socket_path: str, cmd: list[str], kwargs: dict) -> ForkedKernel | None:
    """Ask the zygote for a kernel running ``cmd`` with ``kwargs`` (Popen's); None when it
    cannot or will not (then the caller starts an ordinary kernel)."""
    if any(kwargs.get(k) is not None for k in ("stdin", "stdout", "stderr")):
        return None
    request = {
        "cmd": cmd,
        "cwd": os.path.abspath(kwargs.get("cwd") or os.getcwd()),
        "env": dict(kwargs.get("env") or os.environ),
        "parent": os.getpid(),
    }
    lifeline_r, lifeline_w = os.pipe()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(30)
            conn.connect(socket_path)
            socket.send_fds(conn, [json.dumps(request).encode() + b"\n"], [lifeline_w, 1, 2])
            data, fds, _, _ = socket.recv_fds(conn, 65536, 1)
        reply = json.loads(data or b"{}")
    except (OSError, ValueError):
        reply, fds = {}, []
    finally:
        os.close(lifeline_w)
    if not reply.get("pid") or len(fds) != 1:
        for fd in [lifeline_r, *fds]:
            os.close(fd)
        why = reply.get("refused", "no answer from the zygote")
        print(f"jupyter-mvdp: an ordinary kernel, not a warm one: {why}", file=sys.stderr)
        return None
    return ForkedKernel(reply["pid"], fds[0], lifeline_r)


def kernel_manager(socket_path: str):
    """A LifelineKernelManager class whose kernels come from the zygote at ``socket_path``."""
    import uuid

    from jupyter_client.provisioning import LocalProvisioner

    from .lifeline import LifelineKernelManager

    class ZygoteProvisioner(LocalProvisioner):
        async def launch_kernel(self, cmd, **kwargs):
            forked = fork_kernel(socket_path, cmd, kwargs)
            if forked is None:
                return await super().launch_kernel(cmd, **kwargs)
            self.process = forked
            self.pid = self.pgid = forked.pid  # its own session: signals reach its group
            self.cwd = kwargs.get("cwd", os.getcwd())
            return self.connection_info

    class ZygoteKernelManager(LifelineKernelManager):
        async def _async_pre_start_kernel(self, **kw):
            if self.provisioner is None:
                self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or str(uuid.uuid4())
                self.provisioner = ZygoteProvisioner(
                    kernel_id=self.kernel_id,
                    kernel_spec=self.kernel_spec,
                    parent=self,
                )
            return await super()._async_pre_start_kernel(**kw)

    return ZygoteKernelManager


# --- the zygote process ----------------------------------------------------------------


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


def _preload(modules: list[str]) -> tuple[list[str], str | None]:
    """Import each module; returns (clean ones, the first that broke a rule or None)."""
    import importlib
    import importlib.util
    import warnings

    clean = []
    for name in modules:
        out = io.StringIO()
        before = set(threading.enumerate())
        try:
            with (
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(out),
                warnings.catch_warnings(record=True) as caught,
            ):
                warnings.simplefilter("always")
                # ``a.b.c`` of ``from a.b import c`` may be a function, not a module
                if "." not in name or importlib.util.find_spec(name) is not None:
                    importlib.import_module(name)
        except BaseException:  # does not import cleanly: the kernel will report it
            if set(threading.enumerate()) - before:
                return clean, name
            continue
        if out.getvalue() or caught or set(threading.enumerate()) - before:
            return clean, name
        clean.append(name)
    return clean, None


def main() -> None:
    """The zygote: preload, say hello on stdout, fork kernels until the owner is gone."""
    import importlib

    config = json.loads(os.environ.pop("MVDP_ZYGOTE"))
    base_env = dict(os.environ)
    os.environ.setdefault("MPLBACKEND", _INLINE_BACKEND)  # as ipykernel does at start
    for name in _KERNEL_MODULES:  # the kernel's own start-up, paid once
        importlib.import_module(name)

    clean, broken = _preload(config["modules"])
    if broken is not None:  # a module that taints the process: start over without it
        config["modules"] = [m for m in config["modules"] if m != broken]
        os.environ.clear()
        os.environ.update(base_env, MVDP_ZYGOTE=json.dumps(config))
        os.execv(
            sys.executable,
            [sys.executable, "-c", "from jupyter_mvdp.kernels.zygote import main; main()"],
        )
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
        from .lifeline import watch_lifeline

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
