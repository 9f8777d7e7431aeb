"""Fixtures of the CLI tests: a working directory with a notebook and its own run store."""

from __future__ import annotations

import pytest

from tests.targets.test_local import write_notebook


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MVDP_DB", str(tmp_path / "runs.sqlite"))
    write_notebook(tmp_path / "tiny.ipynb")
    (tmp_path / "notes.txt").write_text("not a notebook")
    return tmp_path
