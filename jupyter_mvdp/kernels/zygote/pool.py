"""The owner's side (the CLI or server process): a zygote per set of imports for the runs
that use it, started, restarted when it died or a module file it imported changed, stopped
once its last run ended (the next run gets a new one: a fresh hash seed, as a fresh kernel
has) and with the owner (its control socket is its lifeline)."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .preload import preload_candidates, warm_kernel
from .server import ENTRY

_START_TIMEOUT = 120.0
# zygotes at once (each holds its imports' memory, ~100-300 MB): one a set of imports in use;
# a run beyond them, all busy, gets ordinary kernels and says so
_MAX_ZYGOTES = 4
_CONTROL_SECONDS = 10.0


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
    """A running zygote as its owner sees it: the process, the owner's end of its control
    socket (closing it stops the zygote) and the files it must be replaced after."""

    def __init__(self, modules: list[str], env: dict[str, str], interpreter: tuple[str, ...] = ()):
        """``interpreter``: the Python and its options the kernels run (preload.warm_kernel),
        this one by default."""
        self.dir = tempfile.mkdtemp(prefix="mvdp-zygote-")  # its cwd: nothing to shadow
        self.env = env
        self.interpreter = tuple(interpreter) or (sys.executable,)
        self._ctl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._ctl.settimeout(_CONTROL_SECONDS)
        self._lock = threading.Lock()
        config = {"ctl": theirs.fileno(), "modules": modules, "interpreter": self.interpreter}
        try:
            self.proc = subprocess.Popen(
                [*self.interpreter, "-c", ENTRY],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                cwd=self.dir,
                env=env,
            )
        finally:
            theirs.close()
        try:  # its configuration on stdin: no environment a kernel inherits holds it
            self.proc.stdin.write(json.dumps(config).encode())
            self.proc.stdin.close()
            ready, _, _ = select.select([self.proc.stdout], [], [], _START_TIMEOUT)
            line = self.proc.stdout.readline() if ready else b""
        except OSError:
            line = b""
        self.proc.stdout.close()
        if not line:
            self.stop()
            raise RuntimeError("it exited or did not answer")
        hello = json.loads(line)
        self.pid = self.proc.pid
        self.preloaded: list[str] = hello["preloaded"]
        self.sources: dict[str, int] = hello["sources"]
        self.runs: set[str] = set()

    def channel(self) -> socket.socket | None:
        """A new connection to this zygote for one point's worker (pass it to that worker
        only), or None when the zygote is gone."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self._lock:
                socket.send_fds(self._ctl, [b"c"], [mine.fileno()])
        except OSError:
            theirs.close()
            return None
        finally:
            mine.close()
        return theirs

    def usable(self, env: dict[str, str]) -> bool:
        if self.proc.poll() is not None or env != self.env:
            return False
        for path, mtime in self.sources.items():
            try:
                if os.stat(path).st_mtime_ns != mtime:
                    return False
            except OSError:
                return False
        return True

    def stop(self) -> None:
        self._ctl.close()
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class ZygotePool:
    """The zygotes of this process, one per set of imports, each serving the runs that
    started while it lived (at most ``_MAX_ZYGOTES``; one that serves a run is never stopped
    for another: its points would lose their zygote mid-run)."""

    def __init__(self):
        # (interpreter and options, sorted modules) -> zygote
        self._zygotes: dict[tuple[tuple[str, ...], tuple[str, ...]], Zygote] = {}
        self._lock = threading.Lock()

    def acquire(self, run_id: str, notebook, cwd: str | Path, kernel_name: str | None):
        """The zygote of this run (for this notebook's imports: started, or restarted when it
        died or went stale), or None when its kernel cannot be forked or no zygote started.
        Runs running at once share one; ``release`` it when the run ends."""
        return self.warm(run_id, notebook, cwd, kernel_name)[0]

    def warm(
        self, run_id: str, notebook, cwd: str | Path, kernel_name: str | None
    ) -> tuple[Zygote | None, str | None]:
        """``acquire``, and when it gives no zygote for a Python kernel, why (one line: the
        run says it)."""
        env = worker_env()
        warmth = warm_kernel(kernel_name, env)
        if warmth.reason:
            return None, None if warmth.quiet else warmth.reason
        key = (warmth.interpreter, tuple(sorted(preload_candidates(notebook, cwd))))
        with self._lock:
            for other in self._zygotes.values():  # a run's imports changed with its notebook
                other.runs.discard(run_id)
            zygote = self._zygotes.pop(key, None)
            runs = {run_id}
            if zygote is not None and not zygote.usable(env):
                zygote.stop()
                runs |= zygote.runs  # they get the new one from their next batch on
                zygote = None
            busy = [z for z in self._zygotes.values() if z.runs]
            if zygote is None and len(busy) >= _MAX_ZYGOTES:
                return None, (
                    f"{len(busy)} zygotes already serve runs with other imports (at most "
                    f"{_MAX_ZYGOTES} at once)"
                )
            if zygote is None:
                try:
                    zygote = Zygote(list(key[1]), env, warmth.interpreter)
                except Exception as e:  # no zygote: ordinary kernels, as without this module
                    return None, f"a zygote did not start: {e}"
            zygote.runs |= runs
            self._zygotes[key] = zygote  # most recent last
            for idle in [k for k, z in self._zygotes.items() if not z.runs]:
                self._zygotes.pop(idle).stop()
            return zygote, None

    def release(self, run_id: str) -> None:
        """The run ended: a zygote no run uses any more stops (the next run gets a new one)."""
        with self._lock:
            for key, zygote in list(self._zygotes.items()):
                zygote.runs.discard(run_id)
                if not zygote.runs:
                    self._zygotes.pop(key).stop()

    def pids(self) -> list[int]:
        with self._lock:
            return [z.pid for z in self._zygotes.values() if z.proc.poll() is None]

    def stop_all(self) -> None:
        with self._lock:
            for zygote in self._zygotes.values():
                zygote.stop()
            self._zygotes.clear()


POOL = ZygotePool()
