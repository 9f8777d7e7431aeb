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
