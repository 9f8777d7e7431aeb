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
from jupyter_mvdp.service.paths import PathResolver, ship
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


# --- the plan's files: what travels with a notebook ---------------------------------------


# what is hostile for a notebook field but a plain file or folder to ship
SHIPPABLE = {"data.csv", "notes.txt", "secret.py", "sub", "sub/"}


@pytest.mark.parametrize("path", [p for p in HOSTILE if p not in SHIPPABLE])
def test_every_hostile_path_in_files_is_refused_naming_its_entry(root, path):
    """The plan's ``files`` go through the same gate: each hostile path is refused, named by
    its entry (``files.<i>``), and nothing outside the root is shipped."""
    gate = PathResolver(root)
    with pytest.raises(MvdpError) as error:
        ship(gate, "ok.ipynb", ["data.csv", path])
    assert [e["field"] for e in error.value.errors] == ["files.1"], error.value.errors
    assert 400 <= error.value.http_status < 500


def test_files_are_paths_folders_and_globs_next_to_the_notebook(root):
    """A path, a folder (every file below it, hidden ones left out), a glob (``**`` for any
    depth), relative to the notebook's folder; symlinks inside the root are followed and
    land at the path named; the notebook itself is not counted twice."""
    gate = PathResolver(root)
    (root / "sub" / "data" / "deep").mkdir(parents=True)
    for name in ("data/a.csv", "data/b.json", "data/deep/c.csv", "data/.secret", "x.txt"):
        (root / "sub" / name).write_text(name)
    found = ship(gate, "sub/ok.ipynb", ["x.txt", "data", "**/*.csv", "*.ipynb"])
    assert [f.path for f in found] == ["data/a.csv", "data/b.json", "data/deep/c.csv", "x.txt"]
    assert found[0].source == (root / "sub" / "data" / "a.csv").resolve()
    assert found[0].size == len("data/a.csv")
    linked = ship(gate, "ok.ipynb", ["linkdir/data/a.csv"])
    assert [(f.path, f.source) for f in linked] == [
        ("linkdir/data/a.csv", (root / "sub" / "data" / "a.csv").resolve())
    ]
    assert ship(gate, "ok.ipynb", []) == []


def test_bad_files_are_all_named_with_the_fix(root):
    gate = PathResolver(root)
    with pytest.raises(MvdpError) as error:
        ship(
            gate,
            "ok.ipynb",
            ["missing.csv", "*.parquet", "link_out/passwd", ".hid", "data.csv", "../x"],
        )
    assert {e["field"]: e["message"] for e in error.value.errors} == {
        "files.0": "missing.csv is not next to the notebook",
        "files.1": "'*.parquet' matches no file next to the notebook",
        "files.2": "link_out/passwd leads outside the server root",
        "files.3": "'.hid' is hidden; hidden files are not shipped",
        "files.5": "'..' is not allowed in '../x'",
    }
    assert error.value.message == "files.0: missing.csv is not next to the notebook"


def test_files_over_the_size_limits_are_named(root):
    (root / "big.bin").write_bytes(b"x" * 3000)
    (root / "small.bin").write_bytes(b"x" * 1000)
    gate = PathResolver(root)
    with pytest.raises(MvdpError) as error:
        ship(gate, "ok.ipynb", ["small.bin", "*.bin"], file_limit=2048)
    assert error.value.errors == [
        {"field": "files.1", "message": "big.bin is 2.9 KiB, over the limit of 2.0 KiB per file"}
    ]
    with pytest.raises(MvdpError) as error:
        ship(gate, "ok.ipynb", ["*.bin"], total_limit=3500)
    assert error.value.errors == [
        {"field": "files", "message": "the files add up to 3.9 KiB, over the limit of 3.4 KiB"}
    ]
    assert [f.path for f in ship(gate, "ok.ipynb", ["*.bin"])] == ["big.bin", "small.bin"]


async def test_hostile_files_are_refused_by_validate_and_runs_on_every_target(
    jp_fetch, jp_http_port, jp_base_url, jp_auth_header, root, outside, airflow_folders
):
    from tornado.httpclient import AsyncHTTPClient

    before = snapshot(root, outside)
    client = AsyncHTTPClient()

    async def post(route: str, body: dict):
        response = await client.fetch(
            f"http://127.0.0.1:{jp_http_port}{jp_base_url}mvdp/{route}",
            method="POST",
            body=json.dumps(body),
            headers=jp_auth_header,
            raise_error=False,
        )
        return response.code, json.loads(response.body)

    for path in ("../outside/passwd", "link_out/passwd", "/etc/passwd", ".hid/x.ipynb", "~/x"):
        plan = {"grid": {}, "strategy": {"kind": "grid"}, "files": ["data.csv", path]}
        for target in ("local", "af"):
            code, doc = await post("plans/validate", {"notebook": "ok.ipynb", "plan": plan})
            assert code == 200 and doc["valid"] is False, doc
            assert [e["field"] for e in doc["errors"]] == ["files.1"], (path, doc)
            code, doc = await post("runs", {"notebook": "ok.ipynb", "plan": plan, "target": target})
            assert 400 <= code < 500 and MARKER not in json.dumps(doc), (path, target, doc)
    assert snapshot(root, outside) == before
    assert not [p for f in airflow_folders.values() for p in f.iterdir()]
