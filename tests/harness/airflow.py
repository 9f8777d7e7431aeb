"""The controls of a real local Airflow that only the tests and benchmarks use, on top of
``DevAirflow`` (the ``jupyter mvdp dev-airflow`` command, jupyter_mvdp/targets/airflow/dev.py):
an API token, a Celery worker killed as a machine crash would, the api-server stopped and
started again, the dag-processor frozen."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from jupyter_mvdp.targets.airflow.dev import DevAirflow


class HarnessAirflow(DevAirflow):
    """A ``DevAirflow`` the tests can fault: start it the same way (``with HarnessAirflow()``)."""

    def token(self) -> str:
        response = requests.post(
            f"{self.url}/auth/token",
            json={"username": self.username, "password": self.password},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def process(self, command: str) -> subprocess.Popen:
        """The running component ``airflow <command>`` (``scheduler``, ``api-server``…)."""
        return next(p for p in self._procs if command in p.args[1:2])

    # --- faults: a Celery worker crashes; the api-server alone goes down and comes back ---

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker ``name`` and its task processes (each task runs in a session
        of its own), as a machine crash would."""
        proc = self.workers.pop(name)
        tasks = _descendants(proc.pid)
        os.killpg(proc.pid, signal.SIGKILL)
        for pid in tasks:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
        self._procs.remove(proc)

    def stop_api_server(self) -> None:
        """Stop the api-server (its process group); the scheduler and dag-processor go on."""
        proc = self.process("api-server")
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def start_api_server(self, password: str | None = None, timeout: float = 300) -> None:
        """Start the api-server again on the same port, with the scheduler's environment
        (same JWT secret, so running tasks can report again); ``password`` replaces the
        admin's password (the simple auth manager reads the file when it starts)."""
        old = self.process("api-server")
        if password is not None:
            self.password = password
            (self.home / "passwords.json").write_text(json.dumps({self.username: password}))
            self.password_file.write_text(password)  # what target_settings() hands out
        scheduler = self.process("scheduler")
        raw = Path(f"/proc/{scheduler.pid}/environ").read_bytes()
        env = dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
        self._procs.remove(old)
        proc = self._spawn("api-server", old.args, env)  # armed like every component
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the api-server exited at once:\n{self.logs_tail()}")
            try:
                if requests.get(f"{self.url}/api/v2/monitor/health", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(
            f"the api-server did not come back in {timeout:g} s:\n{self.logs_tail()}"
        )

    @contextlib.contextmanager
    def parsing_frozen(self):
        """Freeze the dag-processor (SIGSTOP to its process group) for the block: a DAG file
        written meanwhile is parsed only after it."""
        proc = self.process("dag-processor")
        os.killpg(proc.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(proc.pid, signal.SIGCONT)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc), whatever its process group."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
