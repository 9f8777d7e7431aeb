"""metrics.py / runtime.py: record in a real kernel, read back (every scrap kind), rank only
points that succeeded, warn when no point recorded the metric."""

from __future__ import annotations

import papermill
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mvdp.core.metrics import leaderboard, read_metrics
from jupyter_mvdp.core.runtime import SCRAP_PREFIX, unrecorded_warning


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


def test_a_failed_point_is_listed_after_and_never_ranked():
    points = [
        {"id": "ok", "state": "success", "metrics": {"acc": 0.5}},
        {"id": "broke", "state": "failed", "metrics": {"acc": 0.99}},
        {"id": "skipped", "state": "skipped", "metrics": {}},
        {"id": "better", "state": "success", "metrics": {"acc": 0.7}},
    ]
    rows = leaderboard(points, "acc", "max")
    assert [(r["id"], r["rank"]) for r in rows] == [
        ("better", 1),
        ("ok", 2),
        ("broke", None),
        ("skipped", None),
    ]


@pytest.mark.parametrize(
    ("points", "warning"),
    [
        ([{"state": "success", "metrics": {"accuracy": 1}}], "(recorded: accuracy)"),
        ([{"state": "failed", "metrics": {}}], "(no point recorded any metric)"),
        ([{"state": "success", "metrics": {"acc": "high"}}], "(recorded: acc)"),
        ([{"state": "failed", "metrics": {"acc": 0.3}}], None),  # recorded, then failed
        ([{"state": "queued", "metrics": {}}], None),  # nothing finished yet
    ],
)
def test_a_metric_no_point_recorded_is_a_warning(points, warning):
    got = unrecorded_warning(points, "acc")
    assert (got is None) if warning is None else (warning in got and "'acc'" in got)


def test_scraps_of_an_nbformat3_notebook_and_of_every_encoder():
    def out(mimetype, payload):
        return {"output_type": "display_data", "data": {mimetype: payload}, "metadata": {}}

    nb = {
        "nbformat": 3,
        "worksheets": [
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "outputs": [
                            out(SCRAP_PREFIX + "text+json", {"name": "t", "data": "Hi"}),
                            out(SCRAP_PREFIX + "json+json", {"name": "j", "data": "[1, 2]"}),
                            out(SCRAP_PREFIX + "pandas+json", {"name": "df", "data": "UEFS"}),
                            out("application/papermill.record+json", {"old": 2}),
                        ],
                    }
                ]
            }
        ],
    }
    assert read_metrics(nb) == {"t": "Hi", "j": [1, 2], "df": "<pandas scrap>", "old": 2}
