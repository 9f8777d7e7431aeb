"""compare.py: nbdime's diff of two output notebooks leaves out papermill's timings."""

from __future__ import annotations

import nbformat
from nbdime.diffing.notebooks import diff_notebooks, reset_notebook_differ
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mvdp.server.compare import hide_papermill_metadata


def output(duration: float, tag: str) -> nbformat.NotebookNode:
    cell = new_code_cell("x = 1", id="c1", metadata={"tags": [tag]})
    cell.metadata["papermill"] = {"duration": duration, "status": "completed"}
    cell.metadata["execution"] = {"iopub.status.busy": f"2026-12-06T12:00:0{duration}"}
    nb = new_notebook(cells=[cell])
    nb.metadata["papermill"] = {"duration": duration}
    return nb


def test_papermill_timings_are_not_a_difference_other_metadata_is():
    reset_notebook_differ()  # a server started by an earlier test set the ignores already
    try:
        assert diff_notebooks(output(1, "a"), output(2, "a"))  # nbdime alone: timings differ
        assert hide_papermill_metadata()
        assert diff_notebooks(output(1, "a"), output(2, "a")) == []
        assert diff_notebooks(output(1, "a"), output(2, "b"))  # a tag still shows
    finally:
        reset_notebook_differ()
