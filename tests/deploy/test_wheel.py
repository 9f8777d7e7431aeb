"""The wheel a hub's single-user image installs: built from this tree (the prebuilt lab
extension inside, so installing it needs no Node), installed into a fresh venv whose PATH has
no node/jlpm, and used there: both extension lists show jupyter-mvdp enabled and
`jupyter mvdp run` runs the Titanic example on real kernels."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """`python -m build --wheel` once per session. The lab extension built by the editable
    install (or a previous build) is reused (hatch-jupyter-builder's skip-if-exists), and the
    build runs without isolation so it needs nothing from the network."""
    assert (ROOT / "jupyter_mvdp/labextension/package.json").exists(), (
        "build the lab extension first (pip install -e . or jlpm build:prod)"
    )
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("jupyter_mvdp-*.whl")
    return built


@pytest.fixture(scope="session")
def installed(wheel, tmp_path_factory) -> dict:
    """A fresh venv with the wheel installed, and the environment to run it in: no node or
    jlpm reachable, no PYTHONPATH to this tree, its own HOME and Jupyter dirs."""
    base = tmp_path_factory.mktemp("wheel-venv")
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    home = base / "home"
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JUPYTER", "PYTHON", "VIRTUAL_ENV", "MVDP"))
    }
    env.update(PATH=str(bin_dir), HOME=str(home), PIP_CACHE_DIR=_pip_cache())
    assert shutil.which("node", path=env["PATH"]) is None
    assert shutil.which("jlpm", path=env["PATH"]) is None
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-compile", str(wheel)],
        env=env,
        cwd=base,
        check=True,
        capture_output=True,
    )
    return {"bin": bin_dir, "env": env, "cwd": base}


def _pip_cache() -> str:
    """The pip cache of the user running the tests, so the fresh venv installs from it."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True
    ).stdout.strip()
    return out or str(Path.home() / ".cache" / "pip")


def jupyter(installed: dict, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(installed["bin"] / "jupyter"), *args],
        env=installed["env"],
        cwd=cwd or installed["cwd"],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_wheel_carries_the_prebuilt_lab_extension_and_server_config(wheel):
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    data = next(n for n in names if ".data/data/" in n).split(".data/data/")[0] + ".data/data/"
    assert f"{data}share/jupyter/labextensions/jupyter-mvdp/package.json" in names
    assert f"{data}share/jupyter/labextensions/jupyter-mvdp/install.json" in names
    assert any(
        n.startswith(f"{data}share/jupyter/labextensions/jupyter-mvdp/static/") for n in names
    )
    assert f"{data}etc/jupyter/jupyter_server_config.d/jupyter_mvdp.json" in names


def test_both_extension_lists_show_it_enabled_without_node(installed):
    where = subprocess.run(
        [
            str(installed["bin"] / "python"),
            "-c",
            "import jupyter_mvdp; print(jupyter_mvdp.__file__)",
        ],
        env=installed["env"],
        cwd=installed["cwd"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(installed["bin"].parent)), where  # the wheel, not this tree

    labext = jupyter(installed, "labextension", "list")
    assert labext.returncode == 0, labext.stderr
    lines = (labext.stdout + labext.stderr).splitlines()
    line = next(s for s in lines if "jupyter-mvdp" in s)
    assert "enabled" in line and "OK" in line and "(python, jupyter_mvdp)" in line, line

    server = jupyter(installed, "server", "extension", "list")
    assert server.returncode == 0, server.stderr
    lines = (server.stdout + server.stderr).splitlines()
    assert any("jupyter_mvdp" in s and "enabled" in s for s in lines), lines
    assert any("jupyter_mvdp" in s and "OK" in s for s in lines), lines


def test_jupyter_mvdp_run_works_on_the_example(installed, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(ROOT / "notebooks", work)
    plan = {
        "grid": {"n_estimators": [10], "max_depth": [2, 3]},
        "strategy": {"kind": "grid", "metric": "accuracy", "goal": "max"},
        "parallelism": 2,
        "timeout": 300,
    }
    (work / "small.plan.json").write_text(json.dumps(plan))
    result = jupyter(
        installed, "mvdp", "run", "titanic.ipynb", "--plan", "small.plan.json", "--json", cwd=work
    )
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["state"] == "success"
    assert len(doc["points"]) == 2
    for point in doc["points"]:
        assert point["state"] == "success"
        assert 0.5 < point["metrics"]["accuracy"] <= 1.0
        assert (work / point["output"]).exists()
    assert doc["best"]["parameters"]["max_depth"] in (2, 3)
