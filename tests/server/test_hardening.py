"""What an attacker (or a typo) tries against the REST API and the CLI, one rule each: schedules
checked as Airflow would, grids sized in closed form, unknown points 404, unique run ids,
strict JSON, no traceback from the CLI, no secret in the server's DEBUG log."""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import time

import pytest
import requests

from jupyter_mvdp.cli import main
from jupyter_mvdp.core import grid, schedules
from jupyter_mvdp.core.models import Plan
from jupyter_mvdp.core.naming import new_run_id
from jupyter_mvdp.exceptions import InvalidPlan, MvdpError
from jupyter_mvdp.server import documents
from jupyter_mvdp.targets.airflow.dev import free_port
from tests.server.test_handlers import call
from tests.service.test_restart import Server
from tests.targets.test_local import write_notebook

PLAN = {"grid": {"x": [1, 2]}, "strategy": {"kind": "grid", "metric": "score"}}


@pytest.mark.parametrize(
    ("schedule", "ok"),
    [
        (None, True),
        ("@daily", True),
        ("@once", True),
        ("@continuous", True),
        ("0 6 * * 1-5", True),
        ("*/15 * * * *", True),
        ("PT30M", True),
        ("P1DT12H", True),
        ("every tuesday-ish", False),
        ("61 * * * *", False),
        ("0 0 1 1 * 2030", False),
        ("* * * *", False),
        ("@fortnightly", False),
        ("P0D", False),
        ("P400D", False),
        ("", False),
    ],
)
def test_schedules_are_checked_as_airflow_reads_them(schedule, ok):
    doc = {**PLAN, "schedule": schedule}
    if ok:
        assert Plan.from_json(doc).schedule == schedule
        return
    with pytest.raises(InvalidPlan) as error:
        Plan.from_json(doc)
    assert error.value.errors[0]["field"] == "schedule"
    assert error.value.message.startswith("schedule: ")


def test_a_duration_is_seconds():
    assert schedules.duration_seconds("PT1H30M") == 5400
    assert schedules.duration_seconds("@daily") is None


@pytest.mark.parametrize(
    ("axis", "message"),
    [
        ({}, "expected a list of values"),
        ({"start": "a", "stop": 1, "step": 1}, "expected a list of values"),
        ({"start": 0, "stop": 1, "step": 0}, "expected a list of values"),
        ({"start": 0, "stop": 10**400, "step": 1}, "values (limit"),
        ({"start": 0, "stop": 1e308, "step": 1e-308}, "too large to step through"),
        ({"start": 0, "stop": 1, "num": 100_000_000}, "100,000,000 values (limit 10,000)"),
        ({"start": 1, "stop": 0, "step": 1}, "never gets from 1 to 0"),
    ],
)
def test_grid_check_sizes_axes_without_building_them(axis, message):
    _, errors = grid.check({"x": axis}, [], limit=10_000)
    assert any(message in e["message"] for e in errors), errors
    assert all(e["field"].startswith("grid") for e in errors)


async def test_a_1e8_point_grid_is_refused_with_flat_memory(jp_fetch, jp_root_dir):
    write_notebook(jp_root_dir / "tiny.ipynb")
    plan = {
        "grid": {"x": {"start": 0, "stop": 1, "num": 100_000_000}},
        "strategy": {"kind": "grid"},
    }
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB, a high-water mark
    status, doc = await call(
        jp_fetch,
        "mvdp",
        "plans",
        "validate",
        method="POST",
        body={"notebook": "tiny.ipynb", "plan": plan},
    )
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert status == 200 and doc["valid"] is False
    assert doc["size"] == 100_000_000 and "limit 10,000" in json.dumps(doc["errors"])
    assert grown < 50 * 1024, f"validate grew the server by {grown} KiB"
    status, doc = await call(
        jp_fetch, "mvdp", "runs", method="POST", body={"notebook": "tiny.ipynb", "plan": plan}
    )
    assert status == 400 and "above the limit of 10,000" in doc["message"]


async def test_the_log_of_an_unknown_point_is_404(jp_fetch, jp_root_dir):
    write_notebook(jp_root_dir / "tiny.ipynb")
    status, run = await call(
        jp_fetch, "mvdp", "runs", method="POST", body={"notebook": "tiny.ipynb", "plan": PLAN}
    )
    assert status == 202
    status, doc = await call(jp_fetch, "mvdp", "runs", run["run_id"], "points", "p-nope", "log")
    assert status == 404 and "has no point 'p-nope'" in doc["message"]
    known = run["points"][0]["id"]
    for _ in range(300):
        status, doc = await call(jp_fetch, "mvdp", "runs", run["run_id"])
        if doc["state"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    status, doc = await call(jp_fetch, "mvdp", "runs", run["run_id"], "points", known, "log")
    assert status == 200 and isinstance(doc["log"], str)


def test_run_ids_are_unique_with_64_random_bits():
    ids = {new_run_id() for _ in range(20_000)}
    assert len(ids) == 20_000
    assert all(re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]{16}", i) for i in ids)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"a": NaN}', "NaN is not a JSON number"),
        (b'{"a": Infinity}', "Infinity is not a JSON number"),
        (b'{"a": 1e999}', "too large"),
        (b'{"a": "\\ud800"}', "lone surrogate"),
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
        (b"[" * 100 + b"]" * 100, "nested deeper than 64"),
        (b"\xff\xfe", "not valid JSON"),
        (b"x" * (2 << 20), "over 1024 KiB"),
    ],
)
def test_strict_json_refuses_what_python_would_accept(raw, message):
    with pytest.raises(MvdpError) as error:
        documents.parse(raw)
    assert message in error.value.message


def test_the_cli_writes_into_a_new_folder_and_never_prints_a_traceback(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MVDP_DB", str(tmp_path / "runs.sqlite"))
    write_notebook(tmp_path / "tiny.ipynb")
    (tmp_path / "plan.json").write_text(json.dumps(PLAN))
    assert main(["render", "tiny.ipynb", "--plan", "plan.json", "-o", "new/folder/dag.py"]) == 0
    assert "def pipeline():" in (tmp_path / "new" / "folder" / "dag.py").read_text()
    (tmp_path / "file").write_text("")
    assert main(["render", "tiny.ipynb", "--plan", "plan.json", "-o", "file/dag.py"]) == 2
    (tmp_path / "nan.json").write_text('{"grid": {"x": [NaN]}, "strategy": {"kind": "grid"}}')
    assert main(["run", "tiny.ipynb", "--plan", "nan.json"]) == 2
    err = capsys.readouterr().err
    assert "Cannot write file/dag.py" in err and "NaN is not a JSON number" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 3


def test_secrets_never_reach_the_debug_log(tmp_path, monkeypatch):
    """A server at --log-level=DEBUG with targets whose secrets come from the environment and
    from a file: neither value is in its log; a target with an inline password is refused
    (traitlets logs the raw config at DEBUG before any extension runs)."""
    env_secret, file_secret = "env-SECRET-4f1c9a", "file-SECRET-77ab02"
    (tmp_path / "token").write_text(file_secret)
    root = tmp_path / "root"
    root.mkdir()
    config = {
        "MvdpApp": {
            "targets": {
                "prod": {
                    "kind": "airflow",
                    "api_url": "http://127.0.0.1:9",
                    "username": "mvdp",
                    "password_env": "MVDP_TEST_AIRFLOW_PASSWORD",
                    "dags_location": str(tmp_path),
                    "notebooks_location": str(tmp_path),
                    "outputs_location": str(tmp_path),
                },
                "astro": {
                    "kind": "astro",
                    "organization_id": "o",
                    "deployment_id": "d",
                    "airflow_url": "http://127.0.0.1:9",
                    "token_file": str(tmp_path / "token"),
                    "outputs_location": str(tmp_path),
                },
                "broken": {"kind": "airflow"},
                "inline": {
                    "kind": "airflow",
                    "api_url": "http://127.0.0.1:9",
                    "password": "inline-not-loaded",
                    "dags_location": str(tmp_path),
                    "notebooks_location": str(tmp_path),
                    "outputs_location": str(tmp_path),
                },
            }
        }
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("MVDP_TEST_AIRFLOW_PASSWORD", env_secret)
    server = Server(
        root,
        tmp_path / "runs.sqlite",
        free_port(),
        extra=(f"--config={tmp_path / 'config.json'}", "--log-level=DEBUG"),
    )
    server.start()
    try:
        targets = requests.get(f"{server.url}/mvdp/targets", headers=server.auth, timeout=30).json()
        names = {t["name"] for t in targets["targets"]}
        assert names == {"local", "prod", "astro"}
        requests.post(
            f"{server.url}/mvdp/runs", json={"notebook": "x.ipynb"}, headers=server.auth, timeout=30
        )
    finally:
        server.kill()
    log = "\n".join(p.read_text() for p in tmp_path.glob("server-*.log"))
    assert "DEBUG" in log and "Config changed" in log
    assert env_secret not in log and file_secret not in log
    assert env_secret not in json.dumps(targets) and file_secret not in json.dumps(targets)
    assert "target 'inline' is not loaded: it has an inline password" in log
    assert "target 'broken' is not loaded: " in log


def test_the_cli_never_prints_a_traceback_for_a_bad_plan_file(tmp_path):
    write_notebook(tmp_path / "tiny.ipynb")
    (tmp_path / "deep.json").write_text("[" * 50_000 + "]" * 50_000)
    out = subprocess.run(
        [sys.executable, "-m", "jupyter_mvdp.cli", "render", "tiny.ipynb", "--plan", "deep.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"MVDP_DB": str(tmp_path / "runs.sqlite"), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == "jupyter mvdp: error: The plan deep.json is nested too deeply"


def test_library_warnings_only_with_verbose(tmp_path):
    """A notebook without cell ids makes nbformat warn (MissingIDFieldWarning): the CLI's
    default output is its own lines only; --verbose shows the libraries' too."""
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"tags": ["parameters"]},
                "source": "x = 1",
                "outputs": [],
                "execution_count": None,
            },
            {
                "cell_type": "code",
                "metadata": {},
                "source": "from jupyter_mvdp import record\nrecord('s', x)",
                "outputs": [],
                "execution_count": None,
            },
        ],
    }
    (tmp_path / "noids.ipynb").write_text(json.dumps(nb))
    (tmp_path / "p.json").write_text(
        json.dumps({"grid": {"x": [1]}, "strategy": {"kind": "grid", "metric": "s"}})
    )
    command = [sys.executable, "-m", "jupyter_mvdp.cli", "--db", str(tmp_path / "r.sqlite")]
    run = ["run", "noids.ipynb", "--plan", "p.json"]
    quiet = subprocess.run([*command, *run], cwd=tmp_path, capture_output=True, text=True)
    loud = subprocess.run(
        [*command, "--verbose", *run], cwd=tmp_path, capture_output=True, text=True
    )
    assert quiet.returncode == 0 and loud.returncode == 0
    assert "Warning" not in quiet.stderr and "validator.py" not in quiet.stderr
    assert "MissingIDFieldWarning" in loud.stderr
