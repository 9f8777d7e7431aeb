"""A notebook's parameters: the cell tagged ``parameters``, read with Python's own parser.

papermill's inspection is a line regex: it drops annotated unions, ``Optional`` and
``Literal``, and cuts ``#`` or ``=`` inside strings. For Python kernels we parse the cell with
``ast`` (IPython magics transformed first, as the kernel does): every top-level assignment is
a parameter, its annotation is its type (``Literal`` choices offered to the grid editor), an
unannotated default's literal gives the type, a trailing comment is the help, and a default
that is not a literal is shown as such. For kernels papermill injects into but cannot
inspect (R, Julia, bash...), the grid accepts any name, unchecked (``checked`` is False).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..exceptions import (
    CellIndexError,
    MultipleParametersCells,
    NoParametersCell,
    NotANotebook,
    NotebookNotFound,
    UnsupportedKernel,
)
from . import runtime
from .models import Parameter

TAG = "parameters"
HOW_TO_TAG = (
    "tag the cell that holds the notebook's defaults with 'parameters' "
    "(the Parameters button in the cell toolbar, or `jupyter mvdp tag NOTEBOOK --cell N`)"
)

# literal value type -> the name papermill's translators use for annotations
_TYPE_NAMES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict"}
_TYPE_COMMENT = re.compile(r"type:\s*(?P<type>\S+)\s*(?P<help>.*)")
_LITERAL_ERRORS = (ValueError, SyntaxError, TypeError, MemoryError, RecursionError)


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read a notebook file, upgraded to nbformat 4 (3 and 4.0-4.5 alike, as papermill and
    JupyterLab do); anything that is not a notebook is a one-line NotANotebook."""
    path = Path(path)
    if not path.is_file():
        raise NotebookNotFound(f"Notebook not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise NotANotebook(f"{path.name} is not a Jupyter notebook ({type(e).__name__})") from None
    return reads_notebook(text, path.name)


def read_notebook_bytes(path: str | Path) -> tuple[bytes, nbformat.NotebookNode]:
    """``read_notebook`` that also gives the bytes it read: a run reads its notebook once,
    so the bytes it hashes are the ones it parses, runs and ships."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotebookNotFound(f"Notebook not found: {path}") from None
    except OSError as e:
        raise NotANotebook(f"{path.name} is not a Jupyter notebook ({type(e).__name__})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotANotebook(f"{path.name} is not a Jupyter notebook (not UTF-8 text)") from None
    return data, reads_notebook(text, path.name)


def reads_notebook(text: str, name: str = "notebook") -> nbformat.NotebookNode:
    """``read_notebook`` for the text of a notebook."""
    try:
        # from_dict: an upgraded v3 notebook is made of nbformat.v3's own node class, which
        # papermill does not take for a notebook
        nb = nbformat.from_dict(nbformat.reads(text, as_version=4))
    except Exception as e:  # nbformat raises several types for the same user problem
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise NotANotebook(f"{name} is not a Jupyter notebook ({reason})") from None
    cells = nb.get("cells")
    if not isinstance(cells, list) or not all(
        isinstance(c, dict) and isinstance(c.get("cell_type"), str) for c in cells
    ):
        raise NotANotebook(f"{name} is not a Jupyter notebook (its cells are not a list of cells)")
    return nb


def without_injected(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook without the ``injected-parameters`` cells an earlier papermill run left:
    run as is (an empty grid, a canary of the defaults) it must use its own defaults, not the
    stale injected values, so that what ran is what the run says."""
    return runtime.drop_injected(nb)


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


def kernel_of(nb: nbformat.NotebookNode) -> tuple[str | None, str | None]:
    """(kernel name, language) the notebook names, either may be None."""
    meta = nb.get("metadata", {})
    spec = meta.get("kernelspec") or {}
    language = spec.get("language") or (meta.get("language_info") or {}).get("name")
    return spec.get("name") or None, language or None


@dataclass(frozen=True)
class NotebookParameters:
    """What the grid may set: the parameters cell, its parameters, and whether names and
    types are checked (False for kernels papermill cannot inspect)."""

    cell_index: int
    parameters: list[Parameter] = field(default_factory=list)
    language: str = "python"
    checked: bool = True
    note: str | None = None

    def to_json(self) -> dict:
        return {
            "cell_index": self.cell_index,
            "parameters": [p.to_json() for p in self.parameters],
            "language": self.language,
            "checked": self.checked,
            "note": self.note,
        }


def inspect(nb: nbformat.NotebookNode, kernel: str | None = None) -> NotebookParameters:
    """The notebook's parameters, for the kernel that will run it (``kernel``, else the
    notebook's own; a notebook never run is taken for Python)."""
    index = parameters_cell_index(nb)
    name, language = kernel_of(nb)
    name = kernel or name or "python3"
    language = language or ("python" if name.startswith("python") else name)
    if language == "python":  # papermill's PythonTranslator; importing papermill here would
        # cost the server ~55 MB (it imports pyarrow), which only point workers need
        return NotebookParameters(index, python_parameters(nb.cells[index].source), language)
    from papermill.exceptions import PapermillException
    from papermill.translators import PythonTranslator, papermill_translators

    try:
        translator = papermill_translators.find_translator(name, language)
    except PapermillException:
        raise UnsupportedKernel(
            f"papermill cannot inject parameters into a {language} notebook (kernel {name}); "
            "it supports Python, R, Julia, Scala, MATLAB, .NET, PowerShell and bash kernels"
        ) from None
    if issubclass(translator, PythonTranslator):
        return NotebookParameters(index, python_parameters(nb.cells[index].source), language)
    return NotebookParameters(
        index,
        [],
        language,
        checked=False,
        note=(
            f"papermill injects parameters into {language} notebooks but cannot read them: "
            "the grid accepts any name, and types are not checked"
        ),
    )


def notebook_parameters(nb: nbformat.NotebookNode) -> tuple[int, list[Parameter]]:
    """The parameters cell's index and its parameters, in the cell's order."""
    found = inspect(nb)
    return found.cell_index, found.parameters


def parameters_of(path: str | Path) -> tuple[int, list[Parameter]]:
    return notebook_parameters(read_notebook(path))


# --- reading a Python parameters cell ------------------------------------------------------


def python_parameters(source: str) -> list[Parameter]:
    """Every top-level ``name = default`` / ``name: type = default`` of a Python cell."""
    code = _python_source(source)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return _papermill_parameters(source)
    comments = _comments(code)
    found: dict[str, Parameter] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
            pairs, annotation = [(stmt.target.id, stmt.value)], stmt.annotation
        elif isinstance(stmt, ast.Assign):
            pairs, annotation = _assigned(stmt), None
        else:
            continue
        help_text = comments.get(stmt.end_lineno, "")
        typed = _TYPE_COMMENT.match(help_text)  # papermill's "# type: List[str] help"
        if typed and annotation is None:
            annotation = ast.Constant(typed["type"])
            help_text = typed["help"]
        for name, value in pairs:
            default = ast.get_source_segment(code, value) or ""
            found[name] = _parameter(name, annotation, code, default, help_text)
    return list(found.values())


def _assigned(stmt: ast.Assign) -> list[tuple[str, ast.expr]]:
    """(name, value) of each name an assignment binds: ``x = y = 1``, and tuple unpacking
    ``a, b = 1, 2`` (papermill's injected cell assigns after it, so each name is a
    parameter); a name unpacked from anything but a literal tuple of the same length gets
    the whole value, a computed default."""
    pairs: list[tuple[str, ast.expr]] = []
    for target in stmt.targets:
        if isinstance(target, ast.Name):
            pairs.append((target.id, stmt.value))
        elif isinstance(target, ast.Tuple | ast.List) and all(
            isinstance(e, ast.Name) for e in target.elts
        ):
            value = stmt.value
            if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts):
                pairs += [(e.id, v) for e, v in zip(target.elts, value.elts, strict=True)]
            else:
                pairs += [(e.id, value) for e in target.elts]
    return pairs


def _parameter(name: str, annotation, code: str, default: str, help_text: str) -> Parameter:
    try:
        value, literal = ast.literal_eval(default), True
    except _LITERAL_ERRORS:
        value, literal = None, False
    choices = None
    if annotation is not None:
        type_name = ast.get_source_segment(code, annotation) or "None"
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            type_name = annotation.value  # a string annotation: x: "int" = 1
        choices = literal_choices(type_name)
    else:
        type_name = _TYPE_NAMES.get(type(value), "None") if literal else "None"
    return Parameter(
        name=name,
        type=type_name,
        default=default,
        help=help_text,
        value=value,
        choices=choices,
        literal=literal,
    )


def literal_choices(type_name: str) -> list | None:
    """The values of a ``Literal[...]`` annotation (also inside ``Optional`` / a union)."""
    try:
        node = ast.parse(type_name, mode="eval").body
    except SyntaxError:
        return None
    for sub in ast.walk(node):
        if isinstance(sub, ast.Subscript) and _last_name(sub.value) == "Literal":
            elts = sub.slice.elts if isinstance(sub.slice, ast.Tuple) else [sub.slice]
            try:
                choices = [ast.literal_eval(e) for e in elts]
            except _LITERAL_ERRORS:
                return None
            if _allows_none(node):
                choices.append(None)
            return choices
    return None


def _allows_none(node) -> bool:
    if isinstance(node, ast.Constant) and node.value is None:
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _allows_none(node.left) or _allows_none(node.right)
    if isinstance(node, ast.Subscript) and _last_name(node.value) == "Optional":
        return True
    if isinstance(node, ast.Subscript) and _last_name(node.value) == "Union":
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return any(_allows_none(e) for e in elts)
    return False


def _last_name(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _python_source(source: str) -> str:
    """The cell as the kernel runs it: IPython magics and shell escapes become calls (one
    line for one line, so comments keep their line numbers)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - ipykernel depends on IPython
        return source
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # IPython's own syntax errors: let ast report the cell unparsable
        return source


def _comments(code: str) -> dict[int, str]:
    """Line number -> the text of the comment that ends the line (a string's ``#`` is not
    a comment: tokenize knows)."""
    found = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.COMMENT:
                found[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, SyntaxError):
        pass
    return found


def _papermill_parameters(source: str) -> list[Parameter]:
    """papermill's line parser, for a cell Python cannot parse (it reads what it can)."""
    from papermill.translators import PythonTranslator

    cell = nbformat.v4.new_code_cell(source)
    out = []
    for p in PythonTranslator.inspect(cell):
        try:
            value, literal = ast.literal_eval(p.default), True
        except _LITERAL_ERRORS:
            value, literal = None, False
        type_name = p.inferred_type_name
        if type_name in (None, "None") and literal:
            type_name = _TYPE_NAMES.get(type(value), "None")
        out.append(
            Parameter(
                name=p.name,
                type=type_name or "None",
                default=p.default,
                help=p.help or "",
                value=value,
                choices=literal_choices(type_name or ""),
                literal=literal,
            )
        )
    return out


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
    nb = read_notebook(path)  # an nbformat 3 notebook is saved upgraded, as JupyterLab does
    removed = set_parameters_tag(nb, index, tagged)
    nbformat.write(nb, str(path))
    return removed
