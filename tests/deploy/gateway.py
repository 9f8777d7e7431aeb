"""Jupyter Enterprise Gateway on loopback for the gateway tests.

EG 3.3 pins jupyter_server < 2 and jupyter_client < 7, so it cannot share the project's venv
(jupyter_server 2 / JupyterLab 4): it gets its own venv, created on first use and cached
under ``~/.cache/jupyter-mvdp/eg-venv-<hash of the pins>`` (a marker written last, as for the
Airflow venv). Its kernelspec ``mvdp-py`` runs this venv's Python, so kernels started by the
gateway can import the notebook's libraries and ``jupyter_mvdp``.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from jupyter_mvdp.targets.airflow.dev import free_port
from tests.deploy.procs import start, stop, wait_for

PINS = (
    "jupyter_enterprise_gateway==3.3.0",
    "ipykernel<7",
    "jupyter_client>=6.1.12,<7",
    "pyzmq<25",
)
KERNEL = "mvdp-py"
_READY = ".mvdp-ready"


def ensure_eg_venv() -> Path:
    key = hashlib.sha256("\n".join((sys.version.split()[0], *PINS)).encode()).hexdigest()[:12]
    venv = Path.home() / ".cache" / "jupyter-mvdp" / f"eg-venv-{key}"
    if (venv / _READY).exists():
        return venv
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    log = venv.parent / f"{venv.name}.install.log"
    with open(log, "w") as out:
        for command in (
            [sys.executable, "-m", "venv", str(venv)],
            [str(venv / "bin" / "python"), "-m", "pip", "install", *PINS],
        ):
            if subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode:
                raise RuntimeError(f"creating the Enterprise Gateway venv failed; see {log}")
    (venv / _READY).write_text("\n".join(PINS))
    return venv


class Gateway:
    """`jupyter enterprisegateway` on 127.0.0.1 with an auth token, its own Jupyter dirs."""

    def __init__(self, run_dir: Path):
        self.dir = run_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(16)
        self.log = run_dir / "gateway.log"
        self.proc = None

    def write_kernelspec(self) -> Path:
        data = self.dir / "eg-data"
        spec = data / "kernels" / KERNEL
        spec.mkdir(parents=True)
        env = {"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}
        (spec / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": "Python (jupyter-mvdp, on the gateway)",
                    "language": "python",
                    "env": env,
                }
            )
        )
        return data

    def start(self) -> None:
        venv = ensure_eg_venv()
        data = self.write_kernelspec()
        home = self.dir / "eg-home"
        (home / "cwd").mkdir(parents=True)
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTHON", "EG_"))
        }
        env.update(
            HOME=str(home),
            PATH=f"{venv / 'bin'}:{env.get('PATH', '')}",
            JUPYTER_PATH=str(data),
            JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_DATA_DIR=str(home / "data"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        )
        self.proc = start(
            [
                str(venv / "bin" / "jupyter"),
                "enterprisegateway",
                "--ip=127.0.0.1",
                f"--port={self.port}",
                "--port_retries=0",
                f"--EnterpriseGatewayApp.auth_token={self.token}",
                "--EnterpriseGatewayApp.list_kernels=True",
                "--EnterpriseGatewayApp.unauthorized_users=set()",
            ],
            self.log,
            cwd=home / "cwd",
            env=env,
        )
        wait_for(f"{self.url}/api", self.proc, self.log, headers=self.auth)

    @property
    def auth(self) -> dict:
        return {"Authorization": f"token {self.token}"}

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
