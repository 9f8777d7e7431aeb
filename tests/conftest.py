"""Shared fixtures: a real jupyter_server (pytest-jupyter) with the extension and auth ON."""

from __future__ import annotations

import pytest

pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def jp_server_config(tmp_path):
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mvdp": True},
            "allow_unauthenticated_access": False,
        },
        "MvdpApp": {"db_path": str(tmp_path / "runs.sqlite"), "poll_interval": 0.2},
    }


@pytest.fixture(scope="session")
def bash_kernel():
    """A real non-Python kernel (bash_kernel, from the test extras): its kernelspec is
    installed into this environment's prefix on first use."""
    import subprocess
    import sys

    from jupyter_client.kernelspec import KernelSpecManager

    if "bash" not in KernelSpecManager().find_kernel_specs():
        subprocess.run(
            [sys.executable, "-m", "bash_kernel.install", "--sys-prefix"],
            check=True,
            capture_output=True,
        )
    return "bash"
