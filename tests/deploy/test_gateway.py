"""jupyter-mvdp with kernels behind a real Jupyter Enterprise Gateway (tests/deploy/gateway.py):
a jupyter server in gateway mode (`--gateway-url`, and the same settings as JUPYTER_GATEWAY_*
variables that its point workers inherit). The panel's REST and parameter discovery need no
kernel; a local target with ``kernel_manager: "gateway"`` runs each grid point with papermill
here on a kernel the gateway starts (jupyter_mvdp/gateway.py)."""

from __future__ import annotations

import json
import os
import sys
import time

import nbformat
import pytest
import requests
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mvdp.targets.airflow.dev import free_port
from tests.deploy.gateway import KERNEL, Gateway
from tests.deploy.procs import start, stop, wait_for

TOKEN = "gateway-mode-server-token"
BODY = "import os\nfrom jupyter_mvdp import record\nrecord('score', x)\nprint('cwd:', os.getcwd())"


def write_notebook(path, body: str) -> None:
    """A notebook with the parameters cell ``x = 1`` and ``body``."""
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = new_notebook(metadata={"kernelspec": kernelspec})
    nb.cells = [new_code_cell("x = 1", metadata={"tags": ["parameters"]}), new_code_cell(body)]
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    gw = Gateway(tmp_path_factory.mktemp("gateway"))
    try:
        gw.start()
        yield gw
    finally:
        gw.stop()


@pytest.fixture(scope="module")
def server(gateway, tmp_path_factory):
    base = tmp_path_factory.mktemp("gateway-mode-server")
    root, config = base / "root", base / "config"
    root.mkdir()
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps(
            {"MvdpApp": {"targets": {"on-gateway": {"kind": "local", "kernel_manager": "gateway"}}}}
        )
    )
    write_notebook(root / "gw.ipynb", BODY)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(
        HOME=str(base),
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_DATA_DIR=str(base / "data"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTER_GATEWAY_URL=gateway.url,
        JUPYTER_GATEWAY_AUTH_TOKEN=gateway.token,
        KERNEL_USERNAME="alice",
    )
    log = base / "server.log"
    proc = start(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={TOKEN}",
            f"--gateway-url={gateway.url}",
            f"--GatewayClient.auth_token={gateway.token}",
            "--MvdpApp.poll_interval=0.2",
        ],
        log,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/api/status", proc, log, headers={"Authorization": f"token {TOKEN}"})
        yield {"url": url, "root": root, "log": log}
    finally:
        stop(proc)


def call(server, method: str, path: str, **kwargs):
    r = requests.request(
        method,
        f"{server['url']}/{path}",
        headers={"Authorization": f"token {TOKEN}"},
        timeout=60,
        **kwargs,
    )
    return r.status_code, r.json() if r.content else None


def run_to_end(server, notebook: str, plan: dict, target: str | None = None) -> dict:
    """Productionize ``notebook`` with ``plan`` (on the default target when none is named)
    and wait for the run to end."""
    body = {"notebook": notebook, "plan": plan, **({"target": target} if target else {})}
    status, run = call(server, "POST", "mvdp/runs", json=body)
    assert status == 202, run
    return wait_run(server, run["run_id"])


def gateway_kernels(gateway) -> list:
    return requests.get(f"{gateway.url}/api/kernels", headers=gateway.auth, timeout=10).json()


def wait_run(server, run_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        _, doc = call(server, "GET", f"mvdp/runs/{run_id}")
        if doc["state"] in ("success", "failed", "cancelled"):
            return doc
        assert time.monotonic() < deadline, doc
        time.sleep(0.3)


def test_the_panel_and_parameter_discovery_work_in_gateway_mode(server):
    status, specs = call(server, "GET", "api/kernelspecs")
    assert status == 200 and KERNEL in specs["kernelspecs"]  # the gateway's kernels, not ours
    status, targets = call(server, "GET", "mvdp/targets")
    assert status == 200
    assert {t["name"]: t["reachable"] for t in targets["targets"]} == {
        "local": True,
        "on-gateway": True,
    }
    status, found = call(server, "GET", "mvdp/notebooks/gw.ipynb/parameters")
    assert status == 200 and [p["name"] for p in found["parameters"]] == ["x"]
    plan = {"grid": {"x": [1, 2]}, "strategy": {"kind": "grid", "metric": "score"}}
    status, checked = call(
        server, "POST", "mvdp/plans/validate", json={"notebook": "gw.ipynb", "plan": plan}
    )
    assert status == 200 and checked["valid"] and checked["size"] == 2
    status, bad = call(
        server,
        "POST",
        "mvdp/plans/validate",
        json={"notebook": "gw.ipynb", "plan": {**plan, "grid": {"x": ["a"]}}},
    )
    assert status == 200 and not bad["valid"]


def test_grid_points_run_on_kernels_the_gateway_starts(server, gateway):
    plan = {
        "grid": {"x": [1, 2, 3]},
        "strategy": {"kind": "grid", "metric": "score", "goal": "max"},
        "parallelism": 3,
        "kernel": KERNEL,  # a kernelspec of the gateway
    }
    done = run_to_end(server, "gw.ipynb", plan, "on-gateway")
    assert done["state"] == "success", done
    assert done["best"]["parameters"] == {"x": 3}
    eg_cwd = str(gateway.dir / "eg-home" / "cwd")
    for point in done["points"]:
        out = nbformat.read(server["root"] / point["output"], as_version=4)
        printed = "".join(o.get("text", "") for o in out.cells[-1].outputs)
        assert f"cwd: {eg_cwd}" in printed  # the kernel ran where the gateway runs kernels
        assert out.metadata["mvdp"]["kernel"] == KERNEL
    started = gateway.log.read_text(errors="replace").count("Kernel started:")
    assert started >= 3, gateway.log.read_text()[-3000:]
    assert gateway_kernels(gateway) == []  # papermill shut every point's kernel down


def test_the_default_local_target_still_uses_local_kernels(server, gateway):
    plan = {"grid": {"x": [5]}, "strategy": {"kind": "grid", "metric": "score"}}
    done = run_to_end(server, "gw.ipynb", plan)
    assert done["state"] == "success", done
    out = nbformat.read(server["root"] / done["points"][0]["output"], as_version=4)
    printed = "".join(o.get("text", "") for o in out.cells[-1].outputs)
    assert f"cwd: {server['root']}" in printed


def test_kernel_options_are_resolved_once_and_a_wrong_class_fails_at_start_up():
    from jupyter_mvdp.kernels.gateway import GatewayKernelManager
    from jupyter_mvdp.targets.local import LocalTarget, kernel_options

    assert kernel_options(None, None) == {}
    assert kernel_options("gateway", 300) == {
        "kernel_manager_class": GatewayKernelManager,
        "start_timeout": 300.0,
    }
    with pytest.raises(ImportError):
        LocalTarget("broken", kernel_manager="no_such_module.Manager")


def test_a_point_stopped_mid_run_leaves_no_kernel_on_the_gateway(server, gateway):
    """No parent-death signal reaches a kernel on the gateway: the point's worker shuts it
    down itself when a timeout (or a cancel: the same stop) ends the point."""
    write_notebook(server["root"] / "slow.ipynb", "import time\ntime.sleep(120)")
    plan = {"grid": {"x": [1]}, "strategy": {"kind": "grid"}, "timeout": 8, "kernel": KERNEL}
    done = run_to_end(server, "slow.ipynb", plan, "on-gateway")
    assert done["state"] == "failed" and "timeout" in done["points"][0]["error"], done
    deadline = time.monotonic() + 15
    while kernels := gateway_kernels(gateway):
        assert time.monotonic() < deadline, kernels
        time.sleep(0.5)
