"""Delivery against a stand-in client and a local folder: what is written, when Airflow is
waited for, import errors, the unpause, and removal."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mvdp.exceptions import DagImportError, DagNotParsed, DeployError
from jupyter_mvdp.render.dag import runtime_files, version_digest, version_document
from jupyter_mvdp.targets.airflow.client import ApiError
from jupyter_mvdp.targets.airflow.deliver import Delivery, serves, ship

from .fakes import FakeClient, not_found, spec

DIGEST = "jupyter-mvdp source digest: 0123456789abcdef"


def details(doc_md=DIGEST, stale=False, paused=False):
    return SimpleNamespace(doc_md=doc_md, is_stale=stale, is_paused=paused)


def no_import_errors(**_):
    return SimpleNamespace(import_errors=[])


def shipping(tmp_path, store: str, files: dict[str, bytes] | None = None):
    """A run of a notebook (its snapshot taken) that ships ``files`` (path -> bytes), and
    its version as the target builds it."""
    nb = new_notebook(cells=[new_code_cell("x = 1", metadata={"tags": ["parameters"]})])
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    data = path.read_bytes()
    s = spec({"kind": "grid"}, {"x": [1]})
    s.notebook, s.dag_source = str(path), f"# the DAG\n# {DIGEST}\n"
    s.notebook_path, s.notebook_sha256 = "nb.ipynb", hashlib.sha256(data).hexdigest()
    s.snapshots = {s.notebook_sha256: data}
    for name, content in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
        digest = hashlib.sha256(content).hexdigest()
        s.files.append({"path": name, "sha256": digest, "size": len(content)})
    version = version_document(
        dag_id="p_dag",
        plan=s.plan,
        points=s.points,
        kernel="python3",
        champion=None,
        target="airflow",
        inputs={
            "input": "nb.ipynb",
            "notebook": {"path": "nb.ipynb", "sha256": s.notebook_sha256, "input": "nb.ipynb"},
            "files": s.files,
        },
    )
    return s, version, store


@pytest.fixture
def pipeline(tmp_path):
    s, version, store = shipping(tmp_path, str(tmp_path / "store"))
    settings = {"dags_location": str(tmp_path / "dags"), "parse_timeout": 0.5}
    return s, settings, tmp_path, version, store


@pytest.mark.parametrize(
    ("found", "yes"),
    [
        (details(), True),
        (details(stale=True), False),
        (details(doc_md="old"), False),
        (None, False),
    ],
)
def test_airflow_serves_the_source_only_by_its_digest(found, yes):
    s = spec({"kind": "grid"}, {"x": [1]})
    s.dag_source = f"# {DIGEST}"
    assert serves(found, s) is yes


def test_a_new_dag_is_written_waited_for_and_unpaused(pipeline):
    s, settings, tmp, version, store = pipeline
    answers = iter([not_found(), not_found(), details()])

    def served(dag_id):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = FakeClient(
        {
            "get_dag_details": served,
            "get_import_errors": no_import_errors,
            "patch_dag": None,
        }
    )
    said = []
    Delivery(client, settings).deploy(s, "p_dag", version, store, said.append)
    assert (tmp / "dags" / f"{s.pipeline}.py").read_text() == s.dag_source
    assert all((tmp / "dags" / name).read_bytes() == data for name, data in runtime_files().items())
    assert (tmp / "store" / "objects" / s.notebook_sha256).read_bytes() == s.snapshots[
        s.notebook_sha256
    ]
    assert said[0].startswith("shipping 2 files (")  # the notebook and the runtime module
    assert said[1:] == ["waiting for Airflow to parse the DAG"]
    assert client.calls[-1][0] == "patch_dag" and client.calls[-1][1][0] == "p_dag"
    assert s.extra["admin_paused"] is False


def test_a_dag_airflow_already_serves_is_not_written_again(pipeline):
    s, settings, tmp, version, store = pipeline
    ship(s, "p_dag", version, store, print)  # shipped before: nothing to ship again
    client = FakeClient(
        {"get_dag_details": details(paused=True), "get_import_errors": no_import_errors}
    )
    delivery = Delivery(client, settings)
    dag_file = tmp / "dags" / f"{s.pipeline}.py"
    dag_file.parent.mkdir()
    dag_file.write_text(s.dag_source)
    written = dag_file.stat().st_mtime_ns
    said = []
    delivery.deploy(s, "p_dag", version, store, said.append)
    assert said == ["Airflow already has this DAG"] and dag_file.stat().st_mtime_ns == written
    assert s.extra["admin_paused"] is True  # a pause someone made is theirs to lift
    assert "patch_dag" not in client.methods()


def test_airflows_import_error_is_surfaced(pipeline):
    s, settings, _, version, store = pipeline
    error = SimpleNamespace(
        filename=f"/opt/dags/{s.pipeline}.py",
        timestamp=datetime.now(UTC),
        stack_trace="Traceback...\n  NameError: name 'x' is not defined\n",
    )
    client = FakeClient(
        {
            "get_dag_details": not_found(),
            "get_import_errors": SimpleNamespace(import_errors=[error]),
        }
    )
    with pytest.raises(DagImportError, match=r"NameError: name 'x' is not defined$"):
        Delivery(client, settings).deploy(s, "p_dag", version, store, print)


def test_a_dag_never_parsed_says_where_to_look(pipeline):
    s, settings, _, version, store = pipeline
    client = FakeClient({"get_dag_details": not_found(), "get_import_errors": no_import_errors})
    with pytest.raises(DagNotParsed, match="is the dag-processor running"):
        Delivery(client, settings).deploy(s, "p_dag", version, store, print)


@pytest.fixture(params=["folder", "memory"])
def store_url(request, tmp_path):
    """A store as a local folder and as an fsspec URL of another file system (memory://,
    as s3:// would be)."""
    if request.param == "folder":
        yield str(tmp_path / "store")
        return
    import fsspec

    url = f"memory://mvdp-{uuid.uuid4().hex}"
    yield url
    fsspec.filesystem("memory").rm(url.removeprefix("memory://"), recursive=True)


def test_a_run_ships_its_notebook_files_and_version_by_content_once(tmp_path, store_url):
    """The notebook's bytes as the run read them (not the file as it is now), each file and
    the runtime module under objects/<sha256>, the version under versions/<dag>/<digest>;
    a second deploy of the same files writes nothing (no dataset uploaded again), a run of
    another grid only its version."""
    import fsspec

    data = {"datasets/titanic.csv": b"a,b\n1,2\n" * 1000, "lookup.json": b"{}"}
    s, version, store = shipping(tmp_path, store_url, data)
    Path(s.notebook).write_text("edited after submit")
    said = []
    ship(s, "p_dag", version, store, said.append)
    fs, base = fsspec.core.url_to_fs(store)
    stored = {p.rsplit("/", 1)[1] for p in fs.find(f"{base}/objects")}
    wanted = {s.notebook_sha256, version["runtime"]["sha256"], *(f["sha256"] for f in s.files)}
    assert stored == wanted
    assert fs.cat(f"{base}/objects/{s.notebook_sha256}") == s.snapshots[s.notebook_sha256]
    for entry in s.files:
        assert fs.cat(f"{base}/objects/{entry['sha256']}") == data[entry["path"]]
    digest = version_digest(version)
    assert json.loads(fs.cat(f"{base}/versions/p_dag/{digest}.json")) == json.loads(
        json.dumps(version)
    )
    assert len(said) == 1 and said[0].startswith("shipping 4 files (")
    written = {p: fs.info(p).get("mtime", fs.info(p).get("created")) for p in fs.find(base)}
    said.clear()
    ship(s, "p_dag", version, store, said.append)
    assert said == [] and written == {
        p: fs.info(p).get("mtime", fs.info(p).get("created")) for p in fs.find(base)
    }
    other = {**version, "points": [{"id": "p-other", "parameters": {"x": 2}}]}
    ship(s, "p_dag", other, store, said.append)
    assert said == [] and set(fs.find(base)) - set(written) == {
        f"{base}/versions/p_dag/{version_digest(other)}.json"
    }


def test_a_file_changed_after_submit_is_never_shipped(tmp_path, store_url):
    import fsspec

    s, version, store = shipping(tmp_path, store_url, {"data.csv": b"as submitted"})
    (tmp_path / "data.csv").write_bytes(b"edited meanwhile")
    with pytest.raises(DeployError, match=r"data\.csv changed after the run was submitted"):
        ship(s, "p_dag", version, store, print)
    fs, base = fsspec.core.url_to_fs(store)
    assert not fs.exists(f"{base}/objects/{s.files[0]['sha256']}")
    assert not fs.exists(f"{base}/versions")


def test_remove_deletes_the_file_then_the_dag_and_a_missing_dag_is_fine(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "pipe.py").write_text("# dag")
    client = FakeClient({"delete_dag": not_found()})
    Delivery(client, {"dags_location": str(dags)}).remove("pipe", "p_pipe")
    assert not (dags / "pipe.py").exists()
    assert client.calls == [("delete_dag", ("p_pipe",), {})]


def test_remove_stops_the_runs_airflow_will_not_delete_under_them(tmp_path, monkeypatch):
    """Airflow answers 409 to deleting a DAG whose tasks run (a scheduled pipeline often
    has one): the DAG is paused, its unfinished runs are marked failed, and the delete is
    asked again until Airflow takes it."""
    monkeypatch.setattr("time.sleep", lambda s: None)
    answers = iter([ApiError(409, "Task instances of dag … are still running"), None])

    def delete(dag_id):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer

    running = SimpleNamespace(dag_runs=[SimpleNamespace(dag_run_id="scheduled__1")])
    client = FakeClient(
        {"delete_dag": delete, "patch_dag": None, "get_dag_runs": running, "patch_dag_run": None}
    )
    Delivery(client, {"dags_location": str(tmp_path)}).remove("pipe", "p_pipe")
    assert [c[0] for c in client.calls] == [
        "delete_dag", "patch_dag", "get_dag_runs", "patch_dag_run", "delete_dag"
    ]  # fmt: skip
    assert client.calls[1][2]["update_mask"] == ["is_paused"] and client.calls[1][1][1].is_paused
    patched = client.calls[3]
    assert patched[1][:2] == ("p_pipe", "scheduled__1") and patched[1][2].state == "failed"
    assert client.calls[2][2] == {"state": ["queued", "running"]}

    refused = FakeClient(
        {
            "delete_dag": ApiError(409, "still running"),
            "patch_dag": None,
            "get_dag_runs": SimpleNamespace(dag_runs=[]),
        }
    )
    with pytest.raises(ApiError):  # a run that will not stop: said, not waited on forever
        Delivery(refused, {"dags_location": str(tmp_path)}).remove("pipe", "p_pipe", timeout=0)
