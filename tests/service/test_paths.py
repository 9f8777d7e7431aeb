"""Every path a request or plan names goes through one gate (paths.py): 48 hostile paths, tried
on every route and field that takes a path (the URL of the parameters routes, `notebook` of
validate and runs, the canary's `deploy_notebook` on the local and on an Airflow target), are
all refused with a 4xx, and nothing outside the root (or in the Airflow folders) is read or
written."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

import pytest

from jupyter_mvdp.exceptions import MvdpError
from jupyter_mvdp.service.paths import PathResolver
from tests.targets.test_local import write_notebook

MARKER = "SECRET-OUTSIDE-THE-ROOT"

HOSTILE = [
    "../x.ipynb",
    "../../etc/passwd",
    "/etc/passwd",
    "/tmp/x.ipynb",
    "sub/../../outside/secret.ipynb",
    "./../outside/secret.ipynb",
    "%2e%2e/outside/secret.ipynb",
    "%252e%252e/outside/secret.ipynb",
    "..\\outside\\secret.ipynb",
    "sub\\..\\..\\outside\\secret.ipynb",
    "ok.ipynb\x00.txt",
    "\x00",
    "C:/Windows/win.ini",
    "C:\\x.ipynb",
    "//etc/passwd",
    "~/x.ipynb",
    "a" * 300 + ".ipynb",
    "a/" * 2100 + "x.ipynb",
    "link_out/secret.ipynb",
    "link_out_file.ipynb",
    "link_out/../ok.ipynb",
    "linkdir/../../outside/secret.ipynb",
    ".hidden.ipynb",
    ".hid/x.ipynb",
    "sub/.h.ipynb",
    "link_hidden.ipynb",
    "data.csv",
    "notes.txt",
    "secret.py",
    "sub",
    "sub/",
    "",
    " ",
    ".",
    "..",
    "...",
    "ok.ipynb/..",
    "ok.ipynb/../../outside/secret.ipynb",
    "loop.ipynb",
    "file:///etc/passwd",
    "s3://bucket/x.ipynb",
    "https://evil.example/x.ipynb",
    "\n../x.ipynb",
    "ok.ipynb%00",
    "..%2fok.ipynb",
    "sub/%2e%2e/%2e%2e/outside/secret.ipynb",
    "missing.ipynb",
    "link_out",
]


@pytest.fixture
def outside(tmp_path):
    """Files a hostile path would reach: a notebook whose default is MARKER, and more."""
    folder = tmp_path / "outside"
    folder.mkdir()
    write_notebook(folder / "secret.ipynb", f"x = '{MARKER}'", "print(x)")
    write_notebook(folder / "x.ipynb", f"x = '{MARKER}'", "print(x)")
    (folder / "passwd").write_text(MARKER)
    return folder


@pytest.fixture
def airflow_folders(tmp_path):
    folders = {name: tmp_path / "airflow" / name for name in ("dags", "notebooks", "outputs")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    return folders


@pytest.fixture
def jp_server_config(jp_server_config, airflow_folders):
    jp_server_config["MvdpApp"]["targets"] = {
        "af": {
            "kind": "airflow",
            "api_url": "http://127.0.0.1:9",
            "token_env": "MVDP_TEST_NO_TOKEN",
            **{f"{name}_location": str(path) for name, path in airflow_folders.items()},
        }
    }
    return jp_server_config


@pytest.fixture
def root(jp_root_dir, outside):
    write_notebook(jp_root_dir / "ok.ipynb")
    (jp_root_dir / "sub").mkdir()
    write_notebook(jp_root_dir / "sub" / "ok.ipynb")
    write_notebook(jp_root_dir / ".hidden.ipynb")
    (jp_root_dir / ".hid").mkdir()
    write_notebook(jp_root_dir / ".hid" / "x.ipynb")
    write_notebook(jp_root_dir / "sub" / ".h.ipynb")
    for name in ("data.csv", "notes.txt", "secret.py"):
        (jp_root_dir / name).write_text("a,b\n")
    (jp_root_dir / "link_out").symlink_to(outside, target_is_directory=True)
    (jp_root_dir / "link_out_file.ipynb").symlink_to(outside / "secret.ipynb")
    (jp_root_dir / "link_hidden.ipynb").symlink_to(jp_root_dir / ".hidden.ipynb")
    (jp_root_dir / "loop.ipynb").symlink_to(jp_root_dir / "loop.ipynb")
    (jp_root_dir / "linkdir").symlink_to(jp_root_dir / "sub", target_is_directory=True)
    return jp_root_dir


def snapshot(*folders: Path) -> dict:
    """Every file under ``folders`` with its size and modification time."""
    out = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                stat = path.stat()
                out[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return out


def requests_for(path: str) -> list[tuple[str, str, str, dict | None]]:
    """(what, method, url path, body) of every route and field given ``path``."""
    url = quote(path, safe="")
    canary = {"kind": "canary", "metric": "score", "deploy_notebook": path}
    return [
        ("GET parameters", "GET", f"mvdp/notebooks/{url}/parameters", None),
        (
            "POST parameters-cell",
            "POST",
            f"mvdp/notebooks/{url}/parameters-cell",
            {"cell_index": 0},
        ),
        ("validate notebook", "POST", "mvdp/plans/validate", {"notebook": path, "plan": {}}),
        ("runs notebook", "POST", "mvdp/runs", {"notebook": path, "plan": {}}),
        (
            "runs deploy_notebook (local)",
            "POST",
            "mvdp/runs",
            {"notebook": "ok.ipynb", "plan": {"grid": {}, "strategy": canary}},
        ),
        (
            "runs deploy_notebook (airflow)",
            "POST",
            "mvdp/runs",
            {"notebook": "ok.ipynb", "plan": {"grid": {}, "strategy": canary}, "target": "af"},
        ),
    ]


async def test_hostile_paths_are_refused_on_every_route_and_field(
    jp_fetch, jp_base_url, jp_http_port, jp_auth_header, root, outside, airflow_folders
):
    from tornado.httpclient import AsyncHTTPClient

    assert len(HOSTILE) >= 40
    before = snapshot(root, outside)
    client = AsyncHTTPClient()
    tried = 0
    for path in HOSTILE:
        for what, method, route, body in requests_for(path):
            response = await client.fetch(
                f"http://127.0.0.1:{jp_http_port}{jp_base_url}{route}",
                method=method,
                body=json.dumps(body) if body is not None else None,
                headers=jp_auth_header,
                raise_error=False,
            )
            text = response.body.decode(errors="replace")
            assert 400 <= response.code < 500, (what, path, response.code, text)
            assert MARKER not in text, (what, path)
            tried += 1
        # validate answers 200 with the field's problem for the deploy notebook
        response = await jp_fetch(
            "mvdp",
            "plans",
            "validate",
            method="POST",
            body=json.dumps(
                {
                    "notebook": "ok.ipynb",
                    "plan": {"grid": {}, "strategy": requests_for(path)[4][3]["plan"]["strategy"]},
                }
            ),
        )
        doc = json.loads(response.body)
        assert doc["valid"] is False, path
        assert [e["field"] for e in doc["errors"]] == ["strategy.deploy_notebook"], (path, doc)
        tried += 1
    assert tried == len(HOSTILE) * 7
    assert snapshot(root, outside) == before  # nothing read and rewritten, nothing new
    assert not [p for f in airflow_folders.values() for p in f.iterdir()]


@pytest.mark.parametrize("path", HOSTILE)
def test_the_gate_refuses_each_with_an_error_naming_the_field(root, path):
    gate = PathResolver(root)
    with pytest.raises(MvdpError) as error:
        gate.notebook(path, "strategy.deploy_notebook")
    assert error.value.message.startswith("strategy.deploy_notebook:")
    assert 400 <= error.value.http_status < 500


def test_the_gate_takes_plain_paths_and_symlinks_inside(root):
    gate = PathResolver(root)
    assert gate.notebook("ok.ipynb")[1] == "ok.ipynb"
    assert gate.notebook("./sub//ok.ipynb")[1] == "sub/ok.ipynb"
    resolved, relative = gate.notebook("linkdir/ok.ipynb")
    assert relative == "linkdir/ok.ipynb" and resolved == (root / "sub" / "ok.ipynb").resolve()
    assert gate.beside("sub/ok.ipynb", "ok.ipynb", "f")[1] == "sub/ok.ipynb"
    hidden_ok = PathResolver(root, allow_hidden=True)
    assert hidden_ok.notebook(".hid/x.ipynb")[1] == ".hid/x.ipynb"
    assert os.path.islink(root / "link_out_file.ipynb")
