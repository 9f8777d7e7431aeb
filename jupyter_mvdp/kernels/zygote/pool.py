"""The owner's side (the CLI or server process): one zygote per set of imports, started,
reused, restarted when it died or a module file it imported changed, and stopped with the
owner (its lifeline)."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .preload import forkable_kernel, preload_candidates
from .server import ENTRY

_START_TIMEOUT = 120.0
_MAX_ZYGOTES = 2


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
                [sys.executable, "-c", ENTRY],
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
