"""A real, local Airflow 3 for trying the Airflow target and for the tests.

Airflow lives in its own virtual environment, as real deployments keep it apart from the
notebook server; jupyter-mvdp only talks to it over its REST API. The venv is created on
first use under ``~/.cache/jupyter-mvdp/airflow-venv-<hash of the pins>`` (or
``$MVDP_AIRFLOW_VENV``) and reused after. ``DevAirflow`` runs ``airflow db migrate`` and then
the api-server, scheduler and dag-processor on 127.0.0.1 at a free port, with the simple auth
manager and a generated password, and stops exactly the processes it started.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

PINS = (
    "apache-airflow==3.3.2",
    "apache-airflow-providers-papermill",
    "ipykernel",
    "pandas",
    "scikit-learn",
    "scrapbook",
)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
_READY = ".mvdp-ready"


def venv_path() -> Path:
    if os.environ.get("MVDP_AIRFLOW_VENV"):
        return Path(os.environ["MVDP_AIRFLOW_VENV"])
    key = hashlib.sha256("\n".join((sys.version.split()[0], *PINS)).encode()).hexdigest()[:12]
    return Path.home() / ".cache" / "jupyter-mvdp" / f"airflow-venv-{key}"


def ensure_airflow_venv(log=print) -> Path:
    """The Airflow venv, created when missing (a marker written last makes an interrupted
    install start again instead of being reused half-done)."""
    venv = venv_path()
    if (venv / _READY).exists():
        return venv
    log(f"creating the Airflow venv at {venv} (once; a few minutes)")
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    python = str(venv / "bin" / "python")
    install_log = venv.parent / f"{venv.name}.install.log"
    with open(install_log, "w") as out:
        for command in (
            [sys.executable, "-m", "venv", str(venv)],
            [python, "-m", "pip", "install", "--upgrade", "pip"],
            [python, "-m", "pip", "install", *PINS],
            [python, "-m", "ipykernel", "install", "--prefix", str(venv), "--name", "python3"],
        ):
            if subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode:
                raise RuntimeError(f"creating the Airflow venv failed; see {install_log}")
    _link_project(venv)
    (venv / _READY).write_text("\n".join(PINS))
    return venv


def _link_project(venv: Path) -> None:
    """Notebooks run by the workers may `from jupyter_mvdp import record`: make the package's
    source importable there (its __init__ imports nothing heavy). A real deployment installs
    jupyter-mvdp (or uses scrapbook.glue) in its worker image instead."""
    purelib = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "_jupyter_mvdp_src.pth").write_text(str(PROJECT_ROOT) + "\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevAirflow:
    """Airflow's api-server, scheduler and dag-processor on loopback, for as long as needed."""

    username = "admin"

    def __init__(
        self, home: str | Path | None = None, port: int | None = None, venv: Path | None = None
    ):
        self.venv = venv or ensure_airflow_venv()
        self._own_home = home is None
        self.home = Path(home or tempfile.mkdtemp(prefix="mvdp-airflow-"))
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        self.dags_folder = self.home / "dags"
        self.notebooks_folder = self.home / "notebooks"
        self.outputs_folder = self.home / "outputs"
        self._procs: list[subprocess.Popen] = []

    @property
    def env(self) -> dict:
        db = self.home / "airflow.db"
        passwords = self.home / "passwords.json"
        return {
            **os.environ,
            "PATH": f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.username}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "1",
            "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "1",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }

    def start(self, timeout: float = 120) -> DevAirflow:
        for folder in (self.dags_folder, self.notebooks_folder, self.outputs_folder):
            folder.mkdir(parents=True, exist_ok=True)
        env = self.env
        (self.home / "passwords.json").write_text(json.dumps({self.username: self.password}))
        airflow = str(self.venv / "bin" / "airflow")
        with open(self.home / "migrate.log", "w") as log:
            subprocess.run(
                [airflow, "db", "migrate"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
            )
        commands = {
            "api-server": [
                airflow,
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],
            "scheduler": [airflow, "scheduler", "--skip-serve-logs"],
            "dag-processor": [airflow, "dag-processor"],
        }
        for name, command in commands.items():
            log = open(self.home / f"{name}.log", "w")  # noqa: SIM115 - kept open for the process
            self._procs.append(
                subprocess.Popen(
                    command,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    cwd=self.home,
                )
            )
        self._await_health(timeout)
        return self

    def _await_health(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self._procs:
                if proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"an Airflow process exited early:\n{self.logs_tail()}")
            try:
                health = requests.get(f"{self.url}/api/v2/monitor/health", timeout=2).json()
                if health.get("scheduler", {}).get("status") == "healthy":
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"Airflow was not healthy after {timeout:g} s:\n{self.logs_tail()}")

    def logs_tail(self, lines: int = 15) -> str:
        out = []
        for log in sorted(self.home.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(out)

    def token(self) -> str:
        response = requests.post(
            f"{self.url}/auth/token",
            json={"username": self.username, "password": self.password},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def target_settings(self) -> dict:
        """Settings of an ``airflow`` target pointed at this Airflow."""
        return {
            "kind": "airflow",
            "api_url": self.url,
            "username": self.username,
            "password": self.password,
            "dags_location": str(self.dags_folder),
            "notebooks_location": str(self.notebooks_folder),
            "outputs_location": str(self.outputs_folder),
            "kernel_name": "python3",
        }

    # --- faults, for the tests: the api-server alone goes down and comes back ------------

    def _process(self, command: str) -> subprocess.Popen:
        return next(p for p in self._procs if command in p.args[1:2])

    def stop_api_server(self) -> None:
        """Stop the api-server (its process group); the scheduler and dag-processor go on."""
        proc = self._process("api-server")
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
        old = self._process("api-server")
        if password is not None:
            self.password = password
            (self.home / "passwords.json").write_text(json.dumps({self.username: password}))
        scheduler = self._process("scheduler")
        raw = Path(f"/proc/{scheduler.pid}/environ").read_bytes()
        env = dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
        log = open(self.home / "api-server.log", "a")  # noqa: SIM115 - kept open for the process
        proc = subprocess.Popen(
            old.args,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.home,
        )
        self._procs[self._procs.index(old)] = proc
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

    def stop(self) -> None:
        """Stop exactly the processes this started (their whole process groups)."""
        for proc in self._procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self._procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._procs.clear()
        if self._own_home:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> DevAirflow:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_forever(port: int | None = None, home: str | None = None) -> int:
    """`jupyter mvdp dev-airflow`: start, print how to use it, stop on Ctrl-C."""
    airflow = DevAirflow(home=home, port=port)
    print("starting Airflow (db migrate, api-server, scheduler, dag-processor)…", file=sys.stderr)
    airflow.start()
    settings = airflow.target_settings()
    print(f"Airflow {airflow.url}  login: {airflow.username} / {airflow.password}")
    print("a target config for it (jupyter mvdp --config FILE, or c.MvdpApp.targets):")
    print(json.dumps({"targets": {"airflow": settings}}, indent=2))
    print("Ctrl-C stops it.", file=sys.stderr)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        airflow.stop()
    return 0
