"""Writes the notebook corpus of tests/test_corpus.py: small notebooks a user writes every day
(annotations, comments, magics, scrap kinds, injected cells, nbformat versions, kernelspecs,
failures after a metric), one behaviour each.

Run it after changing a notebook here: ``python tests/notebooks/make_corpus.py``; the
notebooks are committed next to it, so the tests read exactly what a user's file holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbformat import v3
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
PYTHON = {"name": "python3", "display_name": "Python 3", "language": "python"}
BASH = {"name": "bash", "display_name": "Bash", "language": "bash"}
RECORD = "from jupyter_mvdp import record\n"


def notebook(params: str | None, *body: str, kernelspec=PYTHON, cells_before=()) -> dict:
    nb = new_notebook(metadata={"kernelspec": kernelspec} if kernelspec else {})
    nb.cells = [*cells_before]
    if params is not None:
        nb.cells.append(new_code_cell(params, metadata={"tags": ["parameters"]}))
    nb.cells += [new_code_cell(source) for source in body]
    return nb


def injected(nb, source: str):
    """The cell papermill adds after the parameters cell (every papermill output has one)."""
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    cell = new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(index + 1, cell)
    return nb


def version(nb, minor: int):
    """The same notebook saved as nbformat 4.<minor> (no cell ids before 4.5)."""
    nb.nbformat_minor = minor
    if minor < 5:
        for cell in nb.cells:
            cell.pop("id", None)
    return nb


def nbformat3() -> dict:
    cells = [
        v3.new_text_cell("markdown", source="An nbformat 3 notebook"),
        v3.new_code_cell(input="x = 2  # a v3 parameter", metadata={"tags": ["parameters"]}),
        v3.new_code_cell(input=RECORD + "record('x', x)"),
    ]
    return v3.new_notebook(
        worksheets=[v3.new_worksheet(cells=cells)], metadata={"kernelspec": PYTHON}
    )


CORPUS: dict[str, object] = {
    # --- parameters papermill's line parser drops or cuts -------------------------------
    "union.ipynb": notebook("u: float | int = 1.0  # a union", RECORD + "record('u', u)"),
    "optional.ipynb": notebook(
        "import typing\nt: typing.Optional[int] = None", RECORD + "record('t', t)"
    ),
    "pep604_none.ipynb": notebook("z: int | None = None", RECORD + "record('z', z)"),
    "literal.ipynb": notebook(
        'from typing import Literal\nmode: Literal["fast", "slow"] = "fast"  # speed',
        RECORD + "record('mode', mode)",
    ),
    "literal_bad_choice.ipynb": notebook(
        'from typing import Literal\nmode: Literal["fast", "slow"] = "fast"', "print(mode)"
    ),
    "hash_in_string.ipynb": notebook(
        "color = '#ff0000'  # a color, not a comment", RECORD + "record('color', color)"
    ),
    "equals_in_string.ipynb": notebook(
        'url = "https://x.org/?a=1"\nsep = "=="  # a == b', RECORD + "record('url', url)"
    ),
    "multiline_default.ipynb": notebook(
        "layers = [\n    8,\n    4,\n]  # layer sizes", RECORD + "record('n', len(layers))"
    ),
    "typed_list.ipynb": notebook("xs: list[int] = [1, 2]", RECORD + "record('total', sum(xs))"),
    "typed_list_bad.ipynb": notebook(
        "from typing import List\nnames: List[str] = ['a']", "print(names)"
    ),
    "typed_dict.ipynb": notebook(
        'weights: dict[str, float] = {"a": 1.0}',
        RECORD + "record('a', weights['a'])\nrecord('is_float', isinstance(weights['a'], float))",
    ),
    "bool_param.ipynb": notebook("flag: bool = False", "print(flag)"),
    "computed_default.ipynb": notebook(
        "import os\ndata_dir = os.path.join('data', 'raw')  # where the data is",
        RECORD + "record('data_dir', data_dir)",
    ),
    "magics_in_params.ipynb": notebook(
        "%env MVDP_CORPUS=1\nn = 3  # after a magic\n!true", RECORD + "record('n', n)"
    ),
    "type_comment.ipynb": notebook(
        "b = ['Hello', 'World']  # type: List[str] Nice list", RECORD + "record('b', b)"
    ),
    # --- errors, each named -------------------------------------------------------------
    "line_magic_error.ipynb": notebook("x = 1", "%not_a_magic_at_all", "print('not reached')"),
    "sysexit_after_metric.ipynb": notebook(
        "x = 1", RECORD + "record('acc', 0.9)", "import sys\nsys.exit(3)"
    ),
    "failure_after_metric.ipynb": notebook(
        "fail = False",
        RECORD + "record('acc', 0.9 if fail else 0.5)",
        "assert not fail, 'broke after recording'",
        cells_before=[new_markdown_cell("Markdown before the parameters shifts the indices")],
    ),
    "kernel_death.ipynb": notebook("x = 1", "import os\nos._exit(1)"),
    "timeout.ipynb": notebook("x = 1", "import time\ntime.sleep(60)"),
    "metric_missing.ipynb": notebook("x = 1", RECORD + "record('accuracy', x)"),
    # --- every scrap kind is a metric -----------------------------------------------------
    "scrap_kinds.ipynb": notebook(
        "x = 1",
        "import numpy as np\nimport pandas as pd\nimport scrapbook as sb\n"
        "sb.glue('message', 'Hi')  # a text scrap\nsb.glue('n', 3)\nsb.glue('f', 0.25)\nsb.glue('xs', [1, 2])\n"
        "sb.glue('d', {'k': 'v'})\nsb.glue('np', np.float64(0.5))\n"
        "sb.glue('shown', 0.75, display=True)\n"
        "sb.glue('df', pd.DataFrame({'a': [1]}))",
    ),
    "papermill_record.ipynb": notebook(
        "x = 1",
        "from IPython.display import display\n"
        "display({'application/papermill.record+json': {'legacy': x}}, raw=True)",
    ),
    # --- injected cells: what ran is what the run says ------------------------------------
    "injected_stale.ipynb": injected(
        notebook("x = 1", RECORD + "record('x', x)"), "# Parameters\nx = 99\n"
    ),
    "canary_stale.ipynb": injected(
        notebook("x = 1", RECORD + "record('x', x)"), "# Parameters\nx = -5\n"
    ),
    # --- nbformat versions --------------------------------------------------------------
    "nbformat3.ipynb": nbformat3(),
    "nbformat_4_0.ipynb": version(notebook("x = 4", RECORD + "record('x', x)"), 0),
    "nbformat_4_4.ipynb": version(notebook("x = 4", RECORD + "record('x', x)"), 4),
    # --- kernelspecs --------------------------------------------------------------------
    "no_kernelspec.ipynb": notebook("x = 1", RECORD + "record('x', x)", kernelspec=None),
    "no_kernelspec_plan_kernel.ipynb": notebook(
        "x = 1", RECORD + "record('x', x)", kernelspec=None
    ),
    "bash.ipynb": notebook('greeting="hello"', 'echo "$greeting from bash"', kernelspec=BASH),
    "unknown_language.ipynb": notebook(
        "x = 1", "x", kernelspec={"name": "cobol", "display_name": "COBOL", "language": "cobol"}
    ),
    # --- what the user must fix ---------------------------------------------------------
    "no_parameters_cell.ipynb": notebook(None, "x = 1"),
    "two_parameters_cells.ipynb": notebook(
        "x = 1", cells_before=[new_code_cell("y = 2", metadata={"tags": ["parameters"]})]
    ),
    "unknown_parameter.ipynb": notebook("x = 1", "print(x)"),
}
NOT_NOTEBOOKS = {
    "cells_not_a_list.ipynb": json.dumps({"cells": 5}),
    "plain_text.ipynb": "hello, I am not JSON\n",
}


def main() -> None:
    for name, nb in CORPUS.items():
        major = 3 if "worksheets" in nb else 4
        for i, cell in enumerate(nb.get("cells", [])):  # stable ids: a re-run changes nothing
            if "id" in cell:
                cell["id"] = f"cell-{i}"
        (HERE / name).write_text(nbformat.writes(nb, version=major) + "\n", encoding="utf-8")
    for name, text in NOT_NOTEBOOKS.items():
        (HERE / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(CORPUS) + len(NOT_NOTEBOOKS)} notebooks to {HERE}")


if __name__ == "__main__":
    main()
