"""The run manager when a target cannot be reached: the run says so, then turns "unknown"."""

from __future__ import annotations

import hashlib
import re

from jupyter_mvdp.service.manager import RunManager
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets import build_targets
from jupyter_mvdp.targets.airflow.dev import free_port
from tests.targets.test_local import write_notebook


def test_a_run_whose_airflow_is_unreachable_says_so_then_is_unknown(tmp_path):
    """A real Airflow target pointed at a port nobody listens on (the Airflow side, and the
    run's recovery when Airflow answers again, are in integration/test_faults.py)."""
    write_notebook(tmp_path / "tiny.ipynb")
    settings = {
        "kind": "airflow",
        "api_url": f"http://127.0.0.1:{free_port()}",
        "username": "u",
        "password": "p",
        "dags_location": str(tmp_path / "dags"),
        "notebooks_location": str(tmp_path / "nb"),
        "outputs_location": str(tmp_path / "out"),
    }
    store = RunStore(tmp_path / "runs.sqlite")
    events = []
    manager = RunManager(
        store,
        build_targets({"airflow": settings}),
        root_dir=tmp_path,
        user="u",
        emit=events.append,
        poll_interval=2,
        unreachable_limit=3600,
    )
    spec = manager.prepare(
        "tiny.ipynb", {"grid": {"x": [1]}, "strategy": {"kind": "grid"}}, "airflow"
    )
    store.create(spec, notebook="tiny.ipynb", user="u")
    store.update_run(spec.run_id, state="running")

    manager.sync(spec.run_id)
    doc = manager.document(spec.run_id)
    assert doc["state"] == "running"
    assert re.fullmatch(
        r"Airflow unreachable since \d\d:\d\d:\d\d; retrying every 2 s", doc["message"]
    )
    assert [(e["kind"], e["state"], e["message"]) for e in events] == [
        ("run", "running", doc["message"])
    ]
    assert events[0]["unreachable_since"] == doc["unreachable_since"] is not None

    assert manager.sync(spec.run_id) == []  # nothing new to say while it stays down
    manager.unreachable_limit = 0
    manager.sync(spec.run_id)
    doc = manager.document(spec.run_id)
    assert doc["state"] == "unknown" and events[-1]["state"] == "unknown"
    assert spec.run_id in store.active_run_ids()  # still followed: it may come back
    store.close()


def test_validation_warns_of_a_file_a_remote_target_would_not_have(tmp_path):
    """On a target that ships files (Airflow), validation warns before the click of a file
    the notebook reads that sits next to it but is not shipped, naming it and the fix; not
    once it is shipped, not on the local target (the notebook runs in its own folder); a
    bad entry of ``files`` is an error naming it."""
    write_notebook(
        tmp_path / "reads.ipynb", 'data_path = "datasets/x.csv"', "print(open(data_path).read())"
    )
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "x.csv").write_text("a,b\n")
    settings = {
        "kind": "airflow",
        "api_url": f"http://127.0.0.1:{free_port()}",
        "token": "t",
        "dags_location": str(tmp_path / "dags"),
        "notebooks_location": str(tmp_path / "nb"),
        "outputs_location": str(tmp_path / "out"),
    }
    store = RunStore(tmp_path / "runs.sqlite")
    manager = RunManager(store, build_targets({"airflow": settings}), root_dir=tmp_path, user="u")
    plan = {"grid": {}, "strategy": {"kind": "grid"}}
    try:
        found = manager.validate("reads.ipynb", plan, "airflow")
        assert found["valid"] is True
        (warning,) = found["warnings"]
        assert warning["field"] == "files" and "'datasets/x.csv'" in warning["message"]
        assert warning["message"].endswith('add "datasets/x.csv" to files')
        shipped = manager.validate("reads.ipynb", {**plan, "files": ["datasets"]}, "airflow")
        assert shipped["valid"] is True and shipped["warnings"] == []
        assert manager.validate("reads.ipynb", plan, "local")["warnings"] == []
        bad = manager.validate("reads.ipynb", {**plan, "files": ["nope.csv"]}, "airflow")
        assert bad["valid"] is False
        assert bad["errors"] == [
            {"field": "files.0", "message": "nope.csv is not next to the notebook"}
        ]
        spec = manager.prepare("reads.ipynb", {**plan, "files": ["datasets"]}, "airflow")
        assert spec.files == [
            {
                "path": "datasets/x.csv",
                "sha256": hashlib.sha256(b"a,b\n").hexdigest(),
                "size": 4,
            }
        ]
        data = (tmp_path / "reads.ipynb").read_bytes()
        assert spec.snapshots == {spec.notebook_sha256: data}
        assert spec.notebook_sha256 == hashlib.sha256(data).hexdigest()
    finally:
        store.close()
