"""A notebook's parameters, read the way papermill reads them.

papermill finds the cell tagged ``parameters`` and its translator inspects it (name, annotated
type, default source, trailing comment as help). papermill only knows a type when the
parameter is annotated (``max_depth: int = 4``); for the common unannotated case
(``max_depth = 4``) we infer it from the default's literal, so the grid editor can type-check
values the same way in both cases.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import nbformat
from papermill.inspection import _infer_parameters

from .exceptions import (
    CellIndexError,
    MultipleParametersCells,
    NoParametersCell,
    NotANotebook,
    NotebookNotFound,
)
from .models import Parameter

TAG = "parameters"
HOW_TO_TAG = (
    "tag the cell that holds the notebook's defaults with 'parameters' "
    "(the Parameters button in the cell toolbar, or `jupyter mvdp tag NOTEBOOK --cell N`)"
)

# literal value type -> the name papermill's translators use for annotations
_TYPE_NAMES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict"}


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read a notebook file without converting its nbformat version."""
    path = Path(path)
    if not path.is_file():
        raise NotebookNotFound(f"Notebook not found: {path}")
    try:
        return nbformat.read(path, as_version=nbformat.NO_CONVERT)
    except Exception as e:  # nbformat raises several types for the same user problem
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise NotANotebook(f"{path.name} is not a Jupyter notebook ({reason})") from None


def parameters_cell_index(nb: nbformat.NotebookNode) -> int:
    """Index of the one cell tagged ``parameters``."""
    tagged = [
        i for i, cell in enumerate(nb.cells) if TAG in cell.get("metadata", {}).get("tags", [])
    ]
    if not tagged:
        raise NoParametersCell(f"The notebook has no parameters cell: {HOW_TO_TAG}.")
    if len(tagged) > 1:
        cells = ", ".join(str(i) for i in tagged)
        raise MultipleParametersCells(
            f"Cells {cells} are all tagged 'parameters'; papermill uses only the first. "
            "Keep the tag on one cell."
        )
    return tagged[0]


def notebook_parameters(nb: nbformat.NotebookNode) -> tuple[int, list[Parameter]]:
    """The parameters cell's index and its parameters, in the cell's order."""
    index = parameters_cell_index(nb)
    view = copy.deepcopy(nb)  # papermill's inspection expects every cell to have a tags list
    for cell in view.cells:
        cell.setdefault("metadata", {}).setdefault("tags", [])
    # papermill needs a kernel name to pick a translator; a notebook never run has none
    spec = view.get("metadata", {}).get("kernelspec", {})
    language = spec.get("language") or view.get("metadata", {}).get("language_info", {}).get("name")
    found = _infer_parameters(
        view, name=spec.get("name") or "python3", language=language or "python"
    )
    return index, [_parameter(p) for p in found]


def parameters_of(path: str | Path) -> tuple[int, list[Parameter]]:
    return notebook_parameters(read_notebook(path))


def _parameter(p) -> Parameter:
    try:
        value = ast.literal_eval(p.default)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = None
        literal = False
    else:
        literal = True
    type_name = p.inferred_type_name
    if type_name in (None, "None") and literal:
        type_name = _TYPE_NAMES.get(type(value), "None")
    return Parameter(
        name=p.name, type=type_name or "None", default=p.default, help=p.help or "", value=value
    )


def set_parameters_tag(nb: nbformat.NotebookNode, index: int, tagged: bool = True) -> list[int]:
    """Tag (or untag) cell ``index`` as the parameters cell, keeping its other tags.

    Tagging moves the tag: any other cell tagged ``parameters`` is untagged, since papermill
    uses only one. Returns the indices of cells whose tag was removed.
    """
    if not 0 <= index < len(nb.cells):
        raise CellIndexError(
            f"Cell {index} does not exist; the notebook has {len(nb.cells)} cells."
        )
    if tagged and nb.cells[index].cell_type != "code":
        raise CellIndexError(
            f"Cell {index} is a {nb.cells[index].cell_type} cell; tag a code cell."
        )
    removed = []
    for i, cell in enumerate(nb.cells):
        tags = list(cell.get("metadata", {}).get("tags", []))
        has = TAG in tags
        if i == index and tagged and not has:
            cell.setdefault("metadata", {})["tags"] = [*tags, TAG]
        elif has and (i != index or not tagged):
            tags.remove(TAG)
            if tags:
                cell.metadata["tags"] = tags
            else:
                del cell.metadata["tags"]
            if i != index:
                removed.append(i)
    return removed


def tag_file(path: str | Path, index: int, tagged: bool = True) -> list[int]:
    """Tag / untag a cell of a notebook file in place (nbformat's own writer and layout)."""
    nb = read_notebook(path)
    removed = set_parameters_tag(nb, index, tagged)
    nbformat.write(nb, str(path))
    return removed
