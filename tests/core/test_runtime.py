"""runtime.notice: what the plan's channels are told, the same from the DAG and the local
target: the pipeline, the run, the outcome, the reason, the best point and its metric."""

from __future__ import annotations

import json

from jupyter_mvdp.core.runtime import notice, notice_html

BEST = {"id": "p-1a2b", "parameters": {"n_estimators": 10, "criterion": "gini"}, "value": 0.71}


def test_an_alert_names_pipeline_run_outcome_reason_and_the_best_point():
    m = notice(
        "canary_alert",
        "mvdp_ann_titanic_0123",
        "scheduled__2026-12-06T10:00:00+00:00",
        metric="accuracy",
        best=BEST,
        reason="accuracy 0.71 is below the champion's 0.78 (tolerance 0.01, bound 0.77)",
        outcome="alert",
    )
    assert m["subject"] == (
        "[jupyter-mvdp] canary alert on mvdp_ann_titanic_0123: the new model is not deployed"
    )
    assert m["text"].splitlines() == [
        "Pipeline: mvdp_ann_titanic_0123",
        "Run: scheduled__2026-12-06T10:00:00+00:00",
        "Outcome: alert (the candidate is not deployed)",
        "Reason: accuracy 0.71 is below the champion's 0.78 (tolerance 0.01, bound 0.77)",
        'Best point: p-1a2b (n_estimators=10, criterion="gini")',
        "accuracy: 0.71",
    ]
    assert (m["event"], m["outcome"], m["best"]) == ("canary_alert", "alert", BEST)
    json.dumps(m, allow_nan=False)  # a webhook posts the whole document


def test_a_failed_run_says_its_state_and_that_no_point_won():
    m = notice(
        "run_failed", "p", "r1", metric="accuracy", reason="2 of 2 points failed", state="failed"
    )
    assert m["subject"] == "[jupyter-mvdp] run r1 of p failed"
    assert "State: failed" in m["text"] and "Reason: 2 of 2 points failed" in m["text"]
    assert "Best point: none" in m["text"]


def test_no_header_injection_and_html_is_escaped():
    m = notice("run_succeeded", "p", "r1\r\nBcc: evil@example.com", state="success")
    assert "\n" not in m["subject"] and "\r" not in m["subject"]
    html = notice_html(
        notice("canary_deployed", "p", "r", best={**BEST, "parameters": {"x": "<b>"}})
    )
    assert "<b>" not in html.removeprefix("<pre>").removesuffix("</pre>")
    assert "&lt;b&gt;" in html


def test_a_metric_that_is_not_a_finite_number_is_not_shown_as_one():
    m = notice("canary_alert", "p", "r", metric="acc", best={**BEST, "value": "NaN"})
    assert "acc: none recorded" in m["text"]


# --- what ran: the notebook's bytes, its working copy, its provenance -----------------------


def test_imports_read_with_pythons_parser_give_the_top_level_packages():
    from jupyter_mvdp.core import runtime

    code = [
        "import pandas as pd, numpy\nfrom sklearn.metrics import f1_score\n%matplotlib inline",
        "from . import local\nfrom __future__ import annotations\nfrom os import *",
        "def f(:",  # does not parse: skipped
    ]
    modules = runtime.imported_modules(code)
    assert modules == [
        "pandas",
        "numpy",
        "sklearn.metrics",
        "sklearn.metrics.f1_score",
        "__future__",
        "__future__.annotations",
        "os",
    ]
    assert runtime.top_level_packages(modules) == ["numpy", "os", "pandas", "sklearn"]


def test_the_kernel_says_its_versions_in_a_namespace_of_its_own():
    """versions_expression, evaluated as a kernel evaluates user_expressions: the versions
    of the distributions the packages come from (not of the standard library), the
    kernel's Python, and nothing left in the namespace it ran in."""
    import importlib.metadata
    import sys

    from jupyter_mvdp.core import runtime

    namespace: dict = {}
    names = ["json", "nbformat", "yaml", "no_such_package"]  # yaml: PyYAML's
    text = eval(runtime.versions_expression(names), namespace)
    assert set(namespace) == {"__builtins__"}
    reply = {"user_expressions": {"versions": {"status": "ok", "data": {"text/plain": repr(text)}}}}
    assert runtime.read_versions(reply) == {
        "python": sys.version.split()[0],
        "packages": {
            "nbformat": importlib.metadata.version("nbformat"),
            "yaml": importlib.metadata.version("PyYAML"),
            "no_such_package": None,
        },
    }
    for bad in (
        {},
        {"user_expressions": {"versions": {"status": "error", "ename": "NameError"}}},
        {"user_expressions": {"versions": {"status": "ok", "data": {"text/plain": "'[1]'"}}}},
        {"user_expressions": {"versions": {"status": "ok", "data": {"text/plain": "x("}}}},
    ):
        assert runtime.read_versions(bad) is None


def test_provenance_has_one_shape():
    from jupyter_mvdp.core import runtime

    said = runtime.provenance(
        run_id="r",
        pipeline="p",
        point_id="pt",
        parameters={"x": float("inf")},
        input="nb.ipynb",
        input_sha256="0" * 64,
        kernel="python3",
        target="airflow",
    )
    assert said == {
        "run_id": "r",
        "pipeline": "p",
        "point_id": "pt",
        "parameters": {"x": "inf"},  # strict JSON, as every document
        "input": "nb.ipynb",
        "input_sha256": "0" * 64,
        "kernel": "python3",
        "target": "airflow",
        "versions": {"python": None, "papermill": None, "packages": {}},
    }


def test_a_notebook_whose_bytes_are_not_the_ones_named_never_runs(tmp_path):
    from jupyter_mvdp.core import runtime

    path = tmp_path / "nb.ipynb"
    path.write_text('{"cells": []}')

    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError("papermill was reached")

    try:
        runtime.execute_notebook(
            Untouchable(), Untouchable(), str(path), "out", input_sha256="0" * 64, provenance={}
        )
    except RuntimeError as e:
        assert "nb.ipynb is not the notebook this run was started with" in str(e)
        assert "nothing ran" in str(e)
    else:
        raise AssertionError("ran")


def test_a_point_runs_the_named_bytes_with_its_provenance_and_a_path_as_input(tmp_path):
    """On a real kernel: stale injected cells dropped, provenance written with the versions
    the kernel saw (its own packages, the worker's papermill), papermill's input_path a
    path, and no cell added to the notebook for asking."""
    import hashlib
    import importlib.metadata

    import nbformat
    import papermill
    from nbformat.v4 import new_code_cell, new_notebook

    from jupyter_mvdp.core import runtime

    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "P"}})
    nb.cells = [
        new_code_cell("import nbformat\nx = 1", metadata={"tags": ["parameters"]}),
        new_code_cell("x = 99", metadata={"tags": ["injected-parameters"]}),  # stale
        new_code_cell("print(x * 2)"),
    ]
    path = tmp_path / "in.ipynb"
    nbformat.write(nb, path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    said = runtime.provenance(
        run_id="r",
        pipeline="p",
        point_id="pt",
        parameters={},
        input="in.ipynb",
        input_sha256=sha,
        kernel="python3",
        target="local",
    )
    runtime.execute_notebook(
        papermill,
        nbformat,
        str(path),
        str(tmp_path / "out.ipynb"),
        input_sha256=sha,
        provenance=said,
        kernel_name="python3",
        progress_bar=False,
    )
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert len(out.cells) == 2 and out.cells[1].outputs[0]["text"] == "2\n"
    assert out.metadata["papermill"]["input_path"] == str(path)
    meta = out.metadata["mvdp"]
    assert {k: v for k, v in meta.items() if k != "versions"} == {
        k: v for k, v in said.items() if k != "versions"
    }
    assert meta["versions"]["packages"] == {"nbformat": importlib.metadata.version("nbformat")}
    assert meta["versions"]["papermill"] == papermill.__version__
    assert meta["versions"]["python"]


class Store:
    """A content store for working_copy: sha256 -> bytes, counting reads."""

    def __init__(self, objects: dict[str, bytes]):
        import hashlib

        self.objects = {hashlib.sha256(b).hexdigest(): b for b in objects.values()}
        self.names = {name: hashlib.sha256(b).hexdigest() for name, b in objects.items()}
        self.reads = 0

    def __call__(self, sha256: str):
        import io

        self.reads += 1
        return io.BytesIO(self.objects[sha256])

    def entries(self) -> list[dict]:
        return [{"path": name, "sha256": sha} for name, sha in self.names.items()]


def test_a_working_copy_holds_the_shipped_files_checked_and_is_made_once(tmp_path):
    from jupyter_mvdp.core import runtime

    store = Store({"nb.ipynb": b"{}", "datasets/titanic.csv": b"a,b\n1,2\n"})
    folder = tmp_path / "work" / "run-1"
    assert runtime.working_copy(str(folder), store.entries(), store) == str(folder)
    assert (folder / "datasets" / "titanic.csv").read_bytes() == b"a,b\n1,2\n"
    assert (folder / "nb.ipynb").read_bytes() == b"{}"
    assert store.reads == 2
    runtime.working_copy(str(folder), store.entries(), store)  # another point of the run
    assert store.reads == 2
    assert [p.name for p in (tmp_path / "work").iterdir()] == ["run-1"]


def test_a_working_copy_refuses_what_the_store_should_not_hold(tmp_path):
    import pytest

    from jupyter_mvdp.core import runtime

    store = Store({"data.csv": b"as deployed"})
    store.objects[store.names["data.csv"]] = b"tampered"
    with pytest.raises(RuntimeError, match=r"data\.csv: the stored copy is not the file deployed"):
        runtime.working_copy(str(tmp_path / "w" / "r"), store.entries(), store)
    assert list((tmp_path / "w").iterdir()) == []  # nothing half made is left
    for path in ("../x", "/etc/passwd", "a/../../x", "", "a//b"):
        with pytest.raises(ValueError, match="not a relative path"):
            runtime.working_copy(str(tmp_path / "w" / "r"), [{"path": path, "sha256": "0"}], store)
