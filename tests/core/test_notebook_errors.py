"""notebook_errors.py: one line saying why an executed notebook failed, counted in input cells."""

from __future__ import annotations

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from jupyter_mvdp.core.notebook_errors import notebook_error


def error(ename: str, evalue: str):
    return new_output("error", ename=ename, evalue=evalue, traceback=[])


def stderr(text: str):
    return new_output("stream", name="stderr", text=text)


def cell(*outputs, tags=(), exception=False):
    c = new_code_cell("...", metadata={"tags": list(tags)})
    c.outputs = list(outputs)
    if exception:
        c.metadata["papermill"] = {"exception": True}
    return c


def banner():
    return new_markdown_cell("An Exception...", metadata={"tags": ["papermill-error-cell-tag"]})


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ([cell(), cell()], None),
        ([cell(), cell(error("ValueError", "boom\nmore"))], "cell 1: ValueError: boom"),
        (  # papermill's cells (banners, injected parameters) are not the user's
            [
                banner(),
                cell(tags=["parameters"]),
                cell(tags=["injected-parameters"]),
                new_markdown_cell("text"),
                banner(),
                cell(error("KeyError", "'x'"), exception=True),
            ],
            "cell 2: KeyError: 'x'",
        ),
        (  # a magic's UsageError goes to stderr, with no error output
            [cell(stderr("UsageError: Line magic function `%nope` not found.\n"), exception=True)],
            "cell 0: UsageError: Line magic function `%nope` not found.",
        ),
        (
            [cell(exception=True)],
            "cell 0: CellExecutionError: the cell failed without an error message",
        ),
        ([cell(error("SystemExit", "0"), exception=True)], None),  # a clean exit: success
        ([cell(error("SystemExit", "3"), exception=True)], "cell 0: SystemExit: 3"),
    ],
)
def test_notebook_error(cells, expected):
    assert notebook_error(new_notebook(cells=cells)) == expected
