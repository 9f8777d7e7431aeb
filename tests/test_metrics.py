"""metrics.py: record in a real kernel, read back (scrapbook's format too), rank."""

from __future__ import annotations

import papermill
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mvdp.metrics import leaderboard, read_metrics


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        }
    )
    nb.cells = [
        new_code_cell("from jupyter_mvdp import record\nimport scrapbook as sb"),
        new_code_cell("record('accuracy', 0.5)\nrecord('accuracy', 0.75)  # the last one wins"),
        new_code_cell("sb.glue('f1', 0.6)\nsb.glue('notes', {'k': [1, 2]})"),
        new_code_cell("print('not a metric')"),
    ]
    folder = tmp_path_factory.mktemp("metrics")
    out = folder / "out.ipynb"
    papermill.execute_notebook(nb, str(out), kernel_name="python3", progress_bar=False)
    import nbformat

    return nbformat.read(out, as_version=4)


def test_record_and_scrapbook_glue_are_read_back_from_a_real_kernel(executed):
    assert read_metrics(executed) == {"accuracy": 0.75, "f1": 0.6, "notes": {"k": [1, 2]}}


def test_outputs_without_scraps_give_no_metrics():
    assert read_metrics(new_notebook(cells=[new_code_cell("1")])) == {}


@pytest.mark.parametrize(
    ("goal", "order"),
    [("max", ["b", "a", "c", "d"]), ("min", ["a", "b", "c", "d"])],
)
def test_leaderboard_ranks_by_metric_and_goal(goal, order):
    points = [
        {"id": "a", "metrics": {"acc": 0.5}},
        {"id": "b", "metrics": {"acc": 0.9}},
        {"id": "c", "metrics": {}},
        {"id": "d", "metrics": {"acc": "n/a"}},
    ]
    rows = leaderboard(points, "acc", goal)
    assert [r["id"] for r in rows] == order
    assert [r["rank"] for r in rows] == [1, 2, None, None]
