"""A real, local Airflow 3 for trying the Airflow target and for the tests.

Airflow lives in its own virtual environment, as real deployments keep it apart from the
notebook server; jupyter-mvdp only talks to it over its REST API. The venv is created on
first use under ``~/.cache/jupyter-mvdp/airflow-venv-<hash of the pins>`` (or
``$MVDP_AIRFLOW_VENV``) and reused after. ``DevAirflow`` runs ``airflow db migrate`` and then
the api-server, scheduler and dag-processor on 127.0.0.1 at a free port, with the simple auth
manager and a generated password, and stops exactly the processes it started. With
``executor="celery"`` it also runs Redis (Debian's ``redis-server``: loopback, its own port, no
persistence) as the broker and two Celery workers: ``default`` on the default queue and ``ml``
on the ``ml`` queue (plus the default one, so a point can be retried on the survivor when a
worker dies). ``RECOMMENDED_SETTINGS`` are the settings the README tells a deployment to set;
the harness uses exactly those. The controls only the tests use (faults, an API token) are
in tests/harness/airflow.py, a subclass.
"""

from __future__ import annotations

import contextlib
import fcntl
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

from ...core import filemodes
from ...kernels.lifeline import Interrupted, popen_kwargs

PINS = (
    "apache-airflow==3.3.2",
    "apache-airflow-providers-papermill",
    "ipykernel",
    "pandas",
    "scikit-learn",
    "scrapbook",
    # the CeleryExecutor set-up (celery 5.7.0 breaks providers-celery 3.26's scheduler)
    "apache-airflow-providers-celery",
    "celery[redis]<5.7",
    # pod_override for the KubernetesExecutor (parsed and serialized; no cluster needed)
    "apache-airflow-providers-cncf-kubernetes",
    # the plan's `notify` channels: Airflow's own notifiers (SmtpNotifier,
    # SlackWebhookNotifier, HttpNotifier), credentials in Airflow connections
    "apache-airflow-providers-smtp",
    "apache-airflow-providers-slack",
    "apache-airflow-providers-http",
    # the `optimize` strategy's round tasks ask Optuna for the next points
    "optuna>=4",
)
PROJECT_ROOT = Path(__file__).resolve().parents[3]  # the folder holding jupyter_mvdp/
_READY = ".mvdp-ready"

# README "Recommended Airflow settings": what a deployment running jupyter-mvdp DAGs should set.
RECOMMENDED_SETTINGS = {
    # the task supervisor notices a finished task only at its next wake-up (default 5 s):
    # each point would keep its executor slot up to 5 s after its notebook ended
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
    # a deployed DAG file is parsed within a second instead of after up to 5 minutes (a
    # changed file is parsed again at once, whatever [dag_processor] min_file_process_interval:
    # leave that at its default, 30 s, rather than re-parse every file all the time)
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "1",
    "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "1",
    # the scheduler loop schedules the mapped points and the next task without idling 1 s
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.1",
    # a re-deployed DAG is stored as soon as it is parsed: by default a DAG whose serialized
    # copy changed in the last 30 s is not stored (nor re-read by the API's cache) until a
    # later parse, so a second "Productionize" within 30 s waits up to a minute for Airflow
    # to serve it (the target waits for the file's digest, so it never runs the old DAG)
    "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "0",
}
# $AIRFLOW_HOME/config/airflow_local_settings.py, which every Airflow process imports when it
# starts: a task process is forked from its executor's worker (LocalExecutor, Celery) and
# inherits the import, instead of paying ~1 s of CPU to import papermill for every point
# (and for every other task of the DAG, which imports the operator's module too).
# The opt-in to warm kernels (kernels/zygote/worker.py): each worker (the scheduler's
# LocalExecutor, a Celery worker) keeps a zygote per set of imports, and its point tasks fork
# their kernels from it.
WARM_KERNELS_SETTING = (
    "from jupyter_mvdp.kernels.zygote.worker import warm_kernels; warm_kernels()  # noqa: E702\n"
)
RECOMMENDED_LOCAL_SETTINGS = (
    """\
# Imported once by each Airflow process; the tasks forked from it inherit it.
import papermill  # noqa: F401
"""
    + WARM_KERNELS_SETTING
)
# Only for the CeleryExecutor set-up.
RECOMMENDED_CELERY_SETTINGS = {
    # one notebook per worker process slot: papermill kernels are CPU-bound
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
    # Redis redelivers a task not acknowledged after this long (acks are late: a notebook
    # running longer would run twice); this is Celery's default, set to silence its warning
    "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "86400",
}


def venv_path() -> Path:
    if os.environ.get("MVDP_AIRFLOW_VENV"):
        return Path(os.environ["MVDP_AIRFLOW_VENV"])
    key = hashlib.sha256("\n".join((sys.version.split()[0], *PINS)).encode()).hexdigest()[:12]
    return Path.home() / ".cache" / "jupyter-mvdp" / f"airflow-venv-{key}"


def ensure_airflow_venv(log=print) -> Path:
    """The Airflow venv, created when missing (a marker written last makes an interrupted
    install start again instead of being reused half-done)."""
    venv = venv_path()
    venv.parent.mkdir(parents=True, exist_ok=True)
    # two test sessions starting at once build it once: the second waits for the first
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure_airflow_venv(venv, log)


def _ensure_airflow_venv(venv: Path, log) -> Path:
    if (venv / _READY).exists():
        _link_project(venv)  # a cached venv serves whichever checkout runs now
        return venv
    log(f"creating the Airflow venv at {venv} (once; a few minutes)")
    if venv.exists():
        shutil.rmtree(venv)
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
    purelib = next((venv / "lib").glob("python3*/site-packages"))
    Path(purelib, "_jupyter_mvdp_src.pth").write_text(str(PROJECT_ROOT) + "\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The Celery workers: name -> queues it consumes (the first is the one named after it).
CELERY_WORKERS = {"default": "default", "ml": "ml,default"}


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the Celery set-up: the task instance's ``hostname``
    names the worker that ran it (every worker of this one machine would say the same)."""
    return os.environ.get("MVDP_WORKER_NAME") or socket.getfqdn()


class DevAirflow:
    """Airflow's api-server, scheduler and dag-processor on loopback, for as long as needed
    (``executor="celery"``: plus Redis and two Celery workers)."""

    username = "admin"

    def __init__(
        self,
        home: str | Path | None = None,
        port: int | None = None,
        venv: Path | None = None,
        executor: str = "local",
        settings: dict | None = None,
        warm_kernels: bool = True,
    ):
        if executor not in ("local", "celery"):
            raise ValueError(f"executor must be 'local' or 'celery', not {executor!r}")
        self.executor = executor
        self.extra_settings = dict(settings or {})
        self.warm_kernels = warm_kernels  # False: every point starts a fresh kernel
        self.venv = venv or ensure_airflow_venv()
        self._own_home = home is None
        self.home = Path(home or tempfile.mkdtemp(prefix="mvdp-airflow-"))
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        self.dags_folder = self.home / "dags"
        self.notebooks_folder = self.home / "notebooks"
        self.outputs_folder = self.home / "outputs"
        self.redis_port = free_port() if executor == "celery" else None
        self.jwt_secret = secrets.token_hex(32)
        self._procs: list[subprocess.Popen] = []
        self.workers: dict[str, subprocess.Popen] = {}

    @property
    def env(self) -> dict:
        db = self.home / "airflow.db"
        passwords = self.home / "passwords.json"
        return {
            **self._base_env(db, passwords),
            **RECOMMENDED_SETTINGS,
            **(self._celery_env() if self.executor == "celery" else {}),
            **self.extra_settings,
        }

    def _celery_env(self) -> dict:
        return {
            **RECOMMENDED_CELERY_SETTINGS,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+sqlite:///{self.home / 'celery_results.db'}",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "jupyter_mvdp.targets.airflow.dev.worker_hostname",
        }

    def _base_env(self, db: Path, passwords: Path) -> dict:
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
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.username}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }

    def write_credentials(self) -> None:
        """The admin's password for Airflow (passwords.json) and for the target
        (mvdp-password), readable by their owner only from the moment they exist."""
        passwords = json.dumps({self.username: self.password})
        filemodes.write_file(self.home / "passwords.json", passwords)
        filemodes.write_file(self.password_file, self.password)

    def start(self, timeout: float = 120) -> DevAirflow:
        filemodes.make_dirs(self.home)  # a home it creates is its owner's only
        for folder in (self.dags_folder, self.notebooks_folder, self.outputs_folder):
            folder.mkdir(parents=True, exist_ok=True)
        env = self.env
        self.write_credentials()
        (self.home / "config").mkdir(exist_ok=True)  # on Airflow's sys.path
        (self.home / "config" / "airflow_local_settings.py").write_text(
            RECOMMENDED_LOCAL_SETTINGS
            if self.warm_kernels
            else RECOMMENDED_LOCAL_SETTINGS.replace(WARM_KERNELS_SETTING, "")
        )
        airflow = str(self.venv / "bin" / "airflow")
        if self.executor == "celery":
            self._spawn("redis", redis_command(self.redis_port), env)
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
            self._spawn(name, command, env)
        for name in CELERY_WORKERS if self.executor == "celery" else ():
            self.start_worker(name)
        self._await_health(timeout)
        return self

    def _spawn(self, name: str, command: list[str], env: dict) -> subprocess.Popen:
        """Start one component in its own process group (so stop() ends exactly it and its
        children), its output in <home>/<name>.log, armed to get SIGTERM if this process dies,
        even by SIGKILL (lifeline.py): Airflow then stops its own children."""
        log = open(self.home / f"{name}.log", "a")  # noqa: SIM115 - kept open for the process
        proc = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.home,
            **popen_kwargs(signal.SIGTERM),
        )
        self._procs.append(proc)
        return proc

    def start_worker(self, name: str) -> subprocess.Popen:
        """(Re)start the Celery worker ``name`` of CELERY_WORKERS."""
        command = [
            str(self.venv / "bin" / "airflow"),
            "celery",
            "worker",
            "--queues",
            CELERY_WORKERS[name],
            "--celery-hostname",
            f"{name}@mvdp",
            "--concurrency",
            "1",
            "--skip-serve-logs",  # the api-server reads the logs from the shared AIRFLOW_HOME
        ]
        self.workers[name] = self._spawn(
            f"worker-{name}",
            command,
            {**self.env, "MVDP_WORKER_NAME": name},
        )
        return self.workers[name]

    def workers_ready(self) -> bool:
        """Every Celery worker consumes: its control queue is bound in the broker (Celery
        binds it once the worker is ready; the log says nothing at Airflow's log level)."""
        if not self.workers:
            return True
        cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        query = ["SMEMBERS", "_kombu.binding.celery.pidbox"]
        bound = subprocess.run(
            [cli, "-h", "127.0.0.1", "-p", str(self.redis_port), *query],
            capture_output=True,
            text=True,
        ).stdout
        return all(f"{name}@mvdp.celery.pidbox" in bound for name in self.workers)

    def _await_health(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self._procs:
                if proc.poll() is not None:
                    tail = self.logs_tail()
                    self.stop()
                    raise RuntimeError(f"an Airflow process exited early:\n{tail}")
            try:
                health = requests.get(f"{self.url}/api/v2/monitor/health", timeout=2).json()
                if health.get("scheduler", {}).get("status") == "healthy" and (
                    self.workers_ready()
                ):
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.5)
        tail = self.logs_tail()
        self.stop()
        raise RuntimeError(f"Airflow was not healthy after {timeout:g} s:\n{tail}")

    def logs_tail(self, lines: int = 15) -> str:
        out = []
        for log in sorted(self.home.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(out)

    @property
    def password_file(self) -> Path:
        return self.home / "mvdp-password"

    def target_settings(self) -> dict:
        """Settings of an ``airflow`` target pointed at this Airflow (the password in a file:
        the form the server extension accepts)."""
        return {
            "kind": "airflow",
            "api_url": self.url,
            "username": self.username,
            "password_file": str(self.password_file),
            "dags_location": str(self.dags_folder),
            "notebooks_location": str(self.notebooks_folder),
            "outputs_location": str(self.outputs_folder),
            "kernel_name": "python3",
        }

    def stop(self) -> None:
        """Stop exactly the processes this started: their whole process groups, SIGTERM
        then, after 15 s, SIGKILL (also to group members whose leader already exited)."""
        for proc in self._procs:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        self._procs.clear()
        if self._own_home:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> DevAirflow:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def redis_command(port: int) -> list[str]:
    """Debian's redis-server as the Celery broker: loopback only, nothing written to disk."""
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    return [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


def serve_forever(
    port: int | None = None,
    home: str | None = None,
    executor: str = "local",
    warm_kernels: bool = True,
) -> int:
    """`jupyter mvdp dev-airflow`: start, print how to use it, stop on Ctrl-C, SIGTERM or
    SIGHUP (the CLI turns those into ``Interrupted``); SIGKILL: the lifeline stops Airflow."""
    airflow = DevAirflow(home=home, port=port, executor=executor, warm_kernels=warm_kernels)
    parts = "db migrate, api-server, scheduler, dag-processor"
    if executor == "celery":
        parts = f"redis, {parts}, Celery workers {', '.join(CELERY_WORKERS)}"
    print(f"starting Airflow ({parts})…", file=sys.stderr)
    try:
        airflow.start()
        settings = airflow.target_settings()
        print(f"Airflow {airflow.url}  login: {airflow.username} / {airflow.password}")
        print("a target config for it (jupyter mvdp --config FILE):")
        print(json.dumps({"targets": {"airflow": settings}}, indent=2), flush=True)
        print("Ctrl-C stops it.", file=sys.stderr, flush=True)
        while True:
            signal.pause()
    except Interrupted as e:
        print(f"{e.signal_name}: stopping Airflow…", file=sys.stderr)
        return 0
    finally:
        airflow.stop()
