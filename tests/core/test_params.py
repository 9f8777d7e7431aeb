"""params.py: papermill's own inspection, typed defaults, tagging that keeps everything else."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from jupyter_mvdp.core.params import parameters_of, python_parameters, set_parameters_tag, tag_file
from jupyter_mvdp.exceptions import (
    CellIndexError,
    MultipleParametersCells,
    NoParametersCell,
    NotANotebook,
    NotebookNotFound,
)

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def notebook(tmp_path, *cells, name="nb.ipynb") -> Path:
    nb = new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        }
    )
    nb.cells = list(cells)
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def tagged(source: str, *tags: str):
    return new_code_cell(source, metadata={"tags": ["parameters", *tags]})


@pytest.mark.parametrize(
    ("line", "name", "type", "default", "help"),
    [
        ("n = 100  # trees", "n", "int", "100", "trees"),
        ("n: int = 100", "n", "int", "100", ""),
        ("rate = 0.5", "rate", "float", "0.5", ""),
        ("rate: float = 1  # annotated wins", "rate", "float", "1", "annotated wins"),
        ('name = "gini"', "name", "str", '"gini"', ""),
        ("flag = True", "flag", "bool", "True", ""),
        ("layers = [1, 2]", "layers", "list", "[1, 2]", ""),
        ('opts = {"a": 1}', "opts", "dict", '{"a": 1}', ""),
        ("anything = None", "anything", "None", "None", ""),
        ("path = os.getcwd()", "path", "None", "os.getcwd()", ""),
    ],
)
def test_parameters_through_papermill(tmp_path, line, name, type, default, help):
    index, found = parameters_of(notebook(tmp_path, new_markdown_cell("# t"), tagged(line)))
    assert index == 1
    (p,) = found
    assert (p.name, p.type, p.default, p.help) == (name, type, default, help)


def test_the_titanic_example():
    index, found = parameters_of(NOTEBOOKS / "titanic.ipynb")
    assert index == 2
    assert {p.name: p.type for p in found} == {
        "n_estimators": "int",
        "max_depth": "int",
        "criterion": "str",
        "test_size": "float",
        "random_state": "int",
        "data_path": "str",
    }


def test_a_notebook_never_run_has_no_kernelspec_and_still_works(tmp_path):
    nb = new_notebook()
    nb.cells = [tagged("a = 1")]
    path = tmp_path / "bare.ipynb"
    nbformat.write(nb, path)
    assert [p.name for p in parameters_of(path)[1]] == ["a"]


@pytest.mark.parametrize(
    ("make", "error", "needle"),
    [
        (lambda t: t / "missing.ipynb", NotebookNotFound, "Notebook not found"),
        (
            lambda t: (t / "notes.txt").write_text("hello") and t / "notes.txt",
            NotANotebook,
            "notes.txt is not a Jupyter notebook",
        ),
        (
            lambda t: (t / "bad.ipynb").write_text("{not json") and t / "bad.ipynb",
            NotANotebook,
            "bad.ipynb is not a Jupyter notebook",
        ),
        (
            lambda t: notebook(t, new_code_cell("a = 1")),
            NoParametersCell,
            "tag the cell that holds the notebook's defaults",
        ),
        (
            lambda t: notebook(t, tagged("a = 1"), tagged("b = 2")),
            MultipleParametersCells,
            "Cells 0, 1 are all tagged 'parameters'",
        ),
    ],
)
def test_errors(tmp_path, make, error, needle):
    with pytest.raises(error) as caught:
        parameters_of(make(tmp_path))
    assert needle in caught.value.message


def test_tagging_moves_the_tag_and_keeps_everything_else(tmp_path):
    path = notebook(
        tmp_path,
        new_code_cell("import os", metadata={"tags": ["setup"], "collapsed": True}),
        new_code_cell("a = 1", metadata={"tags": ["keep", "parameters"]}),
        new_markdown_cell("text"),
    )
    before = json.loads(path.read_text())
    assert tag_file(path, 0) == [1]
    after = json.loads(path.read_text())
    assert after["cells"][0]["metadata"] == {"tags": ["setup", "parameters"], "collapsed": True}
    assert after["cells"][1]["metadata"] == {"tags": ["keep"]}
    for key in ("metadata", "nbformat", "nbformat_minor"):
        assert after[key] == before[key]
    assert [c["source"] for c in after["cells"]] == [c["source"] for c in before["cells"]]
    assert tag_file(path, 0, tagged=False) == []
    assert json.loads(path.read_text())["cells"][0]["metadata"] == {
        "tags": ["setup"],
        "collapsed": True,
    }


@pytest.mark.parametrize(
    ("index", "needle"),
    [(5, "Cell 5 does not exist; the notebook has 2 cells"), (1, "Cell 1 is a markdown cell")],
)
def test_tagging_errors(tmp_path, index, needle):
    nb = nbformat.read(
        notebook(tmp_path, new_code_cell("a = 1"), new_markdown_cell("x")), as_version=4
    )
    with pytest.raises(CellIndexError, match=needle):
        set_parameters_tag(nb, index)


def test_tuple_assignments_are_parameters_as_papermill_injects_into_them():
    """The statsmodels example's cell: papermill injects after it, so each name is one."""
    source = (
        "count1, n1, count2, n2 = 60, 514.775, 30, 543.087  # the two samples\n"
        "(a, b) = make()\n"
        "[c, d] = [True, 'x']\n"
    )
    found = {p.name: (p.type, p.default, p.literal) for p in python_parameters(source)}
    assert found == {
        "count1": ("int", "60", True),
        "n1": ("float", "514.775", True),
        "count2": ("int", "30", True),
        "n2": ("float", "543.087", True),
        "a": ("None", "make()", False),
        "b": ("None", "make()", False),
        "c": ("bool", "True", True),
        "d": ("str", "'x'", True),
    }
    nb = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "language": "python", "display_name": "P"},
            "papermill": {},
        }
    )
    nb.cells = [nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]})]
    from papermill.parameterize import parameterize_notebook

    injected = parameterize_notebook(nb, {"n1": 1.5, "count2": 7})
    namespace: dict = {"make": lambda: (1, 2)}
    for cell in injected.cells:
        exec(cell.source, namespace)
    assert (namespace["n1"], namespace["count2"], namespace["count1"]) == (1.5, 7, 60)
