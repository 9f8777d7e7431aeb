"""notebook_errors.py: one line saying why an executed notebook failed, naming the cell as the
output notebook shows it (its prompt In [n], else its position there from 1)."""

from __future__ import annotations

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from jupyter_mvdp.core.notebook_errors import notebook_error


def error(ename: str, evalue: str):
    return new_output("error", ename=ename, evalue=evalue, traceback=[])


def stderr(text: str):
    return new_output("stream", name="stderr", text=text)


def cell(*outputs, tags=(), exception=False, count=None):
    c = new_code_cell("...", metadata={"tags": list(tags)}, execution_count=count)
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
        ([cell(), cell(error("ValueError", "boom\nmore"))], "cell 2: ValueError: boom"),
        (  # counted as the output notebook's cells (JupyterLab's status bar: cell 6 of 6)
            [
                banner(),
                cell(tags=["parameters"]),
                cell(tags=["injected-parameters"]),
                new_markdown_cell("text"),
                banner(),
                cell(error("KeyError", "'x'"), exception=True),
            ],
            "cell 6: KeyError: 'x'",
        ),
        (  # the prompt the output notebook shows, as papermill's banner names it
            [
                banner(),
                cell(tags=["parameters"], count=1),
                cell(tags=["injected-parameters"], count=2),
                new_markdown_cell("text"),
                banner(),
                cell(error("KeyError", "'x'"), exception=True, count=3),
            ],
            "In [3]: KeyError: 'x'",
        ),
        (  # a magic's UsageError goes to stderr, with no error output
            [cell(stderr("UsageError: Line magic function `%nope` not found.\n"), exception=True)],
            "cell 1: UsageError: Line magic function `%nope` not found.",
        ),
        (
            [cell(exception=True)],
            "cell 1: CellExecutionError: the cell failed without an error message",
        ),
        ([cell(error("SystemExit", "0"), exception=True)], None),  # a clean exit: success
        ([cell(error("SystemExit", "3"), exception=True)], "cell 1: SystemExit: 3"),
    ],
)
def test_notebook_error(cells, expected):
    assert notebook_error(new_notebook(cells=cells)) == expected
