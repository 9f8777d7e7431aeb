"""Start and stop the real services these tests drive (hub, proxy, gateway, servers): each in
its own session, stopped by its process group, so nothing outlives a test."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import requests


def start(command: list[str], log: Path, **kwargs) -> subprocess.Popen:
    """``command`` in its own session, stdout and stderr to ``log``."""
    out = open(log, "ab")  # noqa: SIM115 (closed by stop())
    proc = subprocess.Popen(
        command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kwargs
    )
    proc.log_file = out
    return proc


def stop(proc: subprocess.Popen, grace: float = 15) -> bool:
    """SIGTERM to the process group (the service cleans up its children), SIGKILL after
    ``grace`` seconds. False if it had to be killed."""
    clean = True
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            clean = False
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
    proc.log_file.close()
    return clean


def wait_for(
    url: str,
    proc: subprocess.Popen,
    log: Path,
    headers: dict | None = None,
    timeout: float = 90,
    ok: Callable[[requests.Response], bool] = lambda r: r.ok,
) -> None:
    """Until ``url`` answers; fail with the service's log tail if it dies or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited ({proc.returncode}):\n{tail(log)}")
        try:
            if ok(requests.get(url, headers=headers, timeout=2)):
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer in {timeout:g} s:\n{tail(log)}")


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
