"""storefile.py: the run store's file is private, a damaged or missing one is said and set
aside (never silently replaced), one deleted under a live process comes back, and a full
disk is named with the path."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets.airflow.dev import free_port
from tests.service.test_restart import Server
from tests.service.test_store import make_spec
from tests.targets.test_local import write_notebook

GARBAGE = b"this is not a database, just bytes someone wrote over it " * 100


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_store_its_wal_and_its_folder_are_their_owners_only(tmp_path):
    db = tmp_path / "new" / "mvdp" / "runs.sqlite"
    store = RunStore(db)
    store.create(make_spec(), notebook="nb.ipynb", user="alice")  # the WAL and SHM exist now
    assert {p.name for p in db.parent.iterdir()} >= {
        "runs.sqlite",
        "runs.sqlite-wal",
        "runs.sqlite-shm",
    }
    for path in db.parent.iterdir():
        assert mode(path) == 0o600, path
    assert mode(db.parent) == mode(db.parent.parent) == 0o700
    store.close()


def test_a_damaged_store_is_set_aside_and_said(tmp_path):
    db = tmp_path / "runs.sqlite"
    db.write_bytes(GARBAGE)
    store = RunStore(db)
    (aside,) = tmp_path.glob("runs.sqlite.corrupt-*")
    assert aside.read_bytes() == GARBAGE  # kept as it was, for whoever wants to look
    (problem,) = store.problems
    assert problem.startswith(f"The run store {db} was damaged (file is not a database)")
    assert f"set aside as {aside.name} and a new, empty store started" in problem
    store.create(make_spec(), notebook="nb.ipynb", user="alice")  # the new one works
    store.close()
    again = RunStore(db)
    assert again.problems == [] and again.notices() == [problem]  # said with the run list
    assert again.run_ids() == ["r1"]
    again.close()


def test_a_store_deleted_while_closed_is_said_missing(tmp_path):
    db = tmp_path / "runs.sqlite"
    store = RunStore(db)
    store.create(make_spec(), notebook="nb.ipynb", user="alice")
    store.close()
    db.unlink()
    again = RunStore(db)
    (problem,) = again.problems
    assert problem.startswith(f"The run store {db} (in use since ")
    assert problem.endswith("was missing: the runs it held are gone; a new, empty store started")
    again.close()


def test_a_store_deleted_under_a_live_process_is_written_back(tmp_path):
    db = tmp_path / "runs.sqlite"
    store = RunStore(db)
    store.create(make_spec(), notebook="nb.ipynb", user="alice")
    for path in tmp_path.glob("runs.sqlite*"):
        path.unlink()
    store.check_file()
    assert mode(db) == 0o600
    store.create(make_spec("r2"), notebook="nb.ipynb", user="alice")
    store.close()
    again = RunStore(db)  # a restart finds every run
    assert again.problems == [] and set(again.run_ids()) == {"r1", "r2"}
    assert again.notices() == [f"The run store {db} was deleted while in use: it was written back"]
    again.close()


@pytest.fixture
def jp_server_config(jp_server_config, request):
    """The server of this module starts on a damaged store, or (``folder``) on a path it
    cannot open at all."""
    db = Path(jp_server_config["MvdpApp"]["db_path"])
    if getattr(request, "param", None) == "folder":
        db.mkdir()
    else:
        db.write_bytes(GARBAGE)
    return jp_server_config


async def test_a_damaged_store_leaves_every_route_answering(jp_fetch, jp_root_dir):
    """It was every route 404 (the extension failed to load)."""
    write_notebook(jp_root_dir / "tiny.ipynb")
    response = await jp_fetch("mvdp", "runs")
    body = json.loads(response.body)
    assert body["runs"] == []
    (warning,) = body["warnings"]
    assert (
        "was damaged (file is not a database): it was set aside as runs.sqlite.corrupt-" in warning
    )
    response = await jp_fetch("mvdp", "notebooks", "tiny.ipynb", "parameters")
    assert response.code == 200


@pytest.mark.parametrize("jp_server_config", ["folder"], indirect=True)
async def test_a_store_that_cannot_be_opened_is_named_and_the_other_routes_answer(
    jp_fetch, jp_root_dir, jp_server_config
):
    write_notebook(jp_root_dir / "tiny.ipynb")
    db = jp_server_config["MvdpApp"]["db_path"]
    response = await jp_fetch("mvdp", "runs", raise_error=False)
    assert response.code == 503
    assert json.loads(response.body) == {
        "message": f"Cannot open the run store {db}: unable to open database file",
        "error": "StoreUnavailable",
    }
    response = await jp_fetch("mvdp", "notebooks", "tiny.ipynb", "parameters")
    assert response.code == 200


def test_the_cli_says_a_damaged_store_in_one_line(tmp_path):
    db = tmp_path / "runs.sqlite"
    db.write_bytes(GARBAGE)
    out = subprocess.run(
        [sys.executable, "-m", "jupyter_mvdp.cli", "--db", str(db), "status"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    (line,) = out.stderr.splitlines()
    assert line.startswith(f"jupyter mvdp: warning: The run store {db} was damaged")


# --- a full disk -------------------------------------------------------------------------------


def _in_a_mount_namespace(disk: Path, size: str) -> tuple[str, ...]:
    """A command prefix that execs its command in a new mount namespace where ``disk`` is a
    tmpfs of ``size`` (a user namespace makes it possible without privileges)."""
    script = f'mount -t tmpfs -o size={size},mode=0700 tmpfs "{disk}" && exec "$@"'
    return ("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh")


def _fill(path: Path) -> None:
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


@pytest.mark.timeout(120)
def test_a_full_disk_under_the_store_answers_507_naming_the_disk_and_the_store(tmp_path):
    probe = subprocess.run([*_in_a_mount_namespace(tmp_path, "1m"), "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no user and mount namespaces here: {probe.stderr.decode().strip()}")
    root, disk = tmp_path / "root", tmp_path / "disk"
    root.mkdir()
    disk.mkdir()
    write_notebook(root / "tiny.ipynb")
    db = disk / "runs.sqlite"
    server = Server(root, db, free_port(), wrap=_in_a_mount_namespace(disk, "2m"))
    server.start()
    try:
        seen = Path(f"/proc/{server.proc.pid}/root") / str(disk).lstrip("/")
        assert (seen / "runs.sqlite").exists()  # on the server's own small disk
        _fill(seen / "filler")
        body = {
            "notebook": "tiny.ipynb",
            "plan": {"grid": {"x": [1]}, "strategy": {"kind": "grid"}},
        }
        url = f"{server.url}/mvdp/runs"
        full = requests.post(url, json=body, headers=server.auth, timeout=30)
        assert full.status_code == 507, full.text
        error = full.json()
        assert error["error"] == "StoreFull"
        assert error["message"].startswith(
            f"The run store {db} cannot grow: the disk mounted at {disk} ("
        )
        assert error["message"].endswith("is full; free space there and try again")
        os.unlink(seen / "filler")
        assert requests.post(url, json=body, headers=server.auth, timeout=30).status_code == 202
    finally:
        server.kill()
