"""A real JupyterHub on loopback for the deploy tests: configurable-http-proxy from npm
(tests/deploy/proxy, `npm ci` once, cached in its node_modules), the dummy authenticator,
SimpleLocalProcessSpawner (every user's server runs as the hub's OS user, each in its own home,
so the identity can only come from the hub), and single-user servers running this package.

An admin's shared target reaches every single-user server the way a hub deployment does it:
a `jupyter_server_config.json` on the servers' config path (the image's /etc/jupyter in
production; here a folder named by JUPYTER_CONFIG_PATH) names the target; its secret is in
the spawner's environment only. (A `jupyter_server_config.d/*.json` file would not do: jupyter_server
reads those folders for `jpserver_extensions` only.)
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from jupyter_mvdp.targets.airflow.dev import free_port
from tests.deploy.procs import start, stop, tail, wait_for

PROXY_DIR = Path(__file__).parent / "proxy"
USERS = ("alice", "bob", "carol", "dave", "erin")
SHARED_TARGET = "team-airflow"
SHARED_SECRET_ENV = "TEAM_AIRFLOW_PASSWORD"


def ensure_proxy() -> Path:
    """configurable-http-proxy as pinned in tests/deploy/proxy/package-lock.json."""
    binary = PROXY_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
    if not binary.exists():
        npm = shutil.which("npm")
        assert npm, "the hub tests need npm (Node >= 18) to install configurable-http-proxy"
        subprocess.run(
            [npm, "ci", "--prefix", str(PROXY_DIR), "--no-audit", "--no-fund"],
            check=True,
            capture_output=True,
        )
    return binary


class LoginRecorder(ThreadingHTTPServer):
    """Stands where the shared Airflow would be: records the logins it receives and refuses
    them (401), so a test sees which credentials a user's server sent, server to server."""

    def __init__(self):
        self.logins: list[dict] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    recorder.logins.append(json.loads(body or b"{}"))
                except ValueError:
                    recorder.logins.append({"raw": body.decode(errors="replace")})
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"detail": "Invalid credentials"}')

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


class Hub:
    """jupyterhub + its proxy + the users' servers; driven over the hub's REST API with a
    service token that has the admin role (only to start servers and mint user tokens)."""

    def __init__(self, run_dir: Path, users: tuple[str, ...] = USERS):
        self.dir = run_dir
        self.users = users
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.service_token = secrets.token_hex(16)
        self.shared_secret = "s3cr3t-" + secrets.token_hex(12)
        self.log = run_dir / "hub.log"
        self.tokens: dict[str, str] = {}
        self.airflow = LoginRecorder()
        self.proc: subprocess.Popen | None = None

    def home(self, user: str) -> Path:
        return self.dir / "home" / user

    def shared_targets(self) -> dict:
        """The targets the admin gives every user's server (environment-variable mode: the
        shared target's password in the spawner's environment)."""
        return {
            # the embedded runner, with room for kernels starting on a crowded node
            "local": {"kind": "local", "start_timeout": 300},
            SHARED_TARGET: {
                "kind": "airflow",
                "api_url": self.airflow.url,
                "username": "mvdp",
                "password_env": SHARED_SECRET_ENV,
                "dags_location": str(self.dir / "airflow" / "dags"),
                "notebooks_location": str(self.dir / "airflow" / "notebooks"),
                "outputs_location": str(self.dir / "airflow" / "outputs"),
            },
        }

    def spawner_environment(self) -> dict:
        return {SHARED_SECRET_ENV: self.shared_secret}

    def extra_config(self) -> str:
        """More jupyterhub_config.py lines (``s``: the settings, ``c``: the config)."""
        return ""

    @property
    def admin_config(self) -> Path:
        """The single-user servers' config folder (JUPYTER_CONFIG_PATH)."""
        return self.dir / "admin-config"

    def write_config(self) -> Path:
        admin = self.admin_config
        admin.mkdir()
        shared = {"MvdpApp": {"poll_interval": 0.2, "targets": self.shared_targets()}}
        (admin / "jupyter_server_config.json").write_text(json.dumps(shared))
        settings = {
            "bind_url": self.url,
            "hub_bind_url": f"http://127.0.0.1:{free_port()}",
            "proxy_api_url": f"http://127.0.0.1:{free_port()}",
            "proxy": str(ensure_proxy()),
            "run": str(self.dir),
            "singleuser": str(Path(sys.prefix) / "bin" / "jupyterhub-singleuser"),
            "root": os.geteuid() == 0,
            "service_token": self.service_token,
            "users": list(self.users),
            "environment": {"JUPYTER_CONFIG_PATH": str(admin), **self.spawner_environment()},
        }
        config = self.dir / "jupyterhub_config.py"
        config.write_text(
            f"s = {json.dumps(settings)!r}\n"
            + """
import json
s = json.loads(s)
c.JupyterHub.bind_url = s["bind_url"]
c.JupyterHub.hub_bind_url = s["hub_bind_url"]
c.ConfigurableHTTPProxy.api_url = s["proxy_api_url"]
c.ConfigurableHTTPProxy.command = [s["proxy"]]
c.ConfigurableHTTPProxy.pid_file = s["run"] + "/proxy.pid"
c.ConfigurableHTTPProxy.auth_token = s["service_token"] + "-proxy"
c.JupyterHub.db_url = "sqlite:///" + s["run"] + "/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = s["run"] + "/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = s["run"] + "/jupyterhub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = set(s["users"])
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = s["run"] + "/home/{username}"
c.Spawner.cmd = [s["singleuser"]]
c.Spawner.args = ["--allow-root"] if s["root"] else []
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.environment = s["environment"]
c.JupyterHub.services = [{"name": "test-driver", "api_token": s["service_token"]}]
c.JupyterHub.load_roles = [{"name": "admin", "services": ["test-driver"]}]
"""
            + self.extra_config()
        )
        return config

    @property
    def admin(self) -> dict:
        return {"Authorization": f"token {self.service_token}"}

    def start(self) -> None:
        config = self.write_config()
        self.proc = start(
            [str(Path(sys.prefix) / "bin" / "jupyterhub"), "-f", str(config)],
            self.log,
            cwd=self.dir,
        )
        wait_for(f"{self.url}/hub/api/", self.proc, self.log)

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(
            method, f"{self.url}/hub/api{path}", headers=self.admin, timeout=60, **kwargs
        )

    def server(self, user: str) -> str:
        """The user's server, started if needed; returns the user's own API token."""
        if user not in self.tokens:
            r = self.api("POST", f"/users/{user}/server", json={})
            assert r.status_code in (201, 202), r.text
            deadline = time.monotonic() + 150
            while True:
                server = self.api("GET", f"/users/{user}").json()["servers"].get("")
                if server and server["ready"]:
                    break
                assert server and time.monotonic() < deadline, (
                    f"{user}'s server did not start:\n{tail(self.log)}"
                )
                time.sleep(0.3)
            r = self.api(
                "POST", f"/users/{user}/tokens", json={"note": "deploy tests", "expires_in": 3600}
            )
            assert r.status_code == 201, r.text
            self.tokens[user] = r.json()["token"]
        return self.tokens[user]

    def stop(self) -> None:
        self.airflow.shutdown()
        self.airflow.server_close()
        self._stop_hub()

    def _stop_hub(self) -> None:
        """SIGTERM: the hub stops the users' servers and the proxy. If it hangs, every process
        it started is killed by the pids it recorded (each runs in its own session)."""
        if stop(self.proc, grace=60):
            return
        pids = []
        pid_file = self.dir / "proxy.pid"
        if pid_file.exists():
            pids.append(int(pid_file.read_text().strip() or 0))
        db = self.dir / "jupyterhub.sqlite"
        if db.exists():
            with sqlite3.connect(db) as con:
                for (state,) in con.execute("SELECT state FROM spawners"):
                    pid = json.loads(state or "{}").get("pid") if state else None
                    pids.append(pid or 0)
        for pid in filter(None, pids):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def hub(tmp_path_factory):
    hub = Hub(tmp_path_factory.mktemp("hub"))
    try:
        hub.start()
        yield hub
    finally:
        if hub.proc is not None:
            hub.stop()
