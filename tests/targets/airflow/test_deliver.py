"""Delivery against a stand-in client and a local folder: what is written, when Airflow is
waited for, import errors, the unpause, and removal."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mvdp.exceptions import DagImportError, DagNotParsed
from jupyter_mvdp.render.dag import runtime_files
from jupyter_mvdp.targets.airflow.deliver import Delivery, serves

from .fakes import FakeClient, not_found, spec

DIGEST = "jupyter-mvdp source digest: 0123456789abcdef"


def details(doc_md=DIGEST, stale=False, paused=False):
    return SimpleNamespace(doc_md=doc_md, is_stale=stale, is_paused=paused)


def no_import_errors(**_):
    return SimpleNamespace(import_errors=[])


@pytest.fixture
def pipeline(tmp_path):
    nb = new_notebook(cells=[new_code_cell("x = 1", metadata={"tags": ["parameters"]})])
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    s = spec({"kind": "grid"}, {"x": [1]})
    s.notebook, s.dag_source = str(path), f"# the DAG\n# {DIGEST}\n"
    settings = {"dags_location": str(tmp_path / "dags"), "parse_timeout": 0.5}
    return s, settings, tmp_path


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
    s, settings, tmp = pipeline
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
    Delivery(client, settings).deploy(s, "p_dag", str(tmp / "nbs" / "a.ipynb"), None, said.append)
    assert (tmp / "dags" / f"{s.pipeline}.py").read_text() == s.dag_source
    assert all((tmp / "dags" / name).read_bytes() == data for name, data in runtime_files().items())
    assert (tmp / "nbs" / "a.ipynb").exists()
    assert said == ["waiting for Airflow to parse the DAG"]
    assert client.calls[-1][0] == "patch_dag" and client.calls[-1][1][0] == "p_dag"
    assert s.extra["admin_paused"] is False


def test_a_dag_airflow_already_serves_is_not_written_again(pipeline):
    s, settings, tmp = pipeline
    client = FakeClient(
        {"get_dag_details": details(paused=True), "get_import_errors": no_import_errors}
    )
    delivery = Delivery(client, settings)
    dag_file = tmp / "dags" / f"{s.pipeline}.py"
    dag_file.parent.mkdir()
    dag_file.write_text(s.dag_source)
    written = dag_file.stat().st_mtime_ns
    said = []
    delivery.deploy(s, "p_dag", str(tmp / "a.ipynb"), None, said.append)
    assert said == ["Airflow already has this DAG"] and dag_file.stat().st_mtime_ns == written
    assert s.extra["admin_paused"] is True  # a pause someone made is theirs to lift
    assert "patch_dag" not in client.methods()


def test_airflows_import_error_is_surfaced(pipeline):
    s, settings, tmp = pipeline
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
        Delivery(client, settings).deploy(s, "p_dag", str(tmp / "a.ipynb"), None, print)


def test_a_dag_never_parsed_says_where_to_look(pipeline):
    s, settings, tmp = pipeline
    client = FakeClient({"get_dag_details": not_found(), "get_import_errors": no_import_errors})
    with pytest.raises(DagNotParsed, match="is the dag-processor running"):
        Delivery(client, settings).deploy(s, "p_dag", str(tmp / "a.ipynb"), None, print)


def test_remove_deletes_the_file_then_the_dag_and_a_missing_dag_is_fine(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "pipe.py").write_text("# dag")
    client = FakeClient({"delete_dag": not_found()})
    Delivery(client, {"dags_location": str(dags)}).remove("pipe", "p_pipe")
    assert not (dags / "pipe.py").exists()
    assert client.calls == [("delete_dag", ("p_pipe",), {})]
