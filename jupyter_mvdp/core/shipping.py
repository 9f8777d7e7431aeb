"""Which files a notebook seems to read, for the plan's ``files`` (what travels with it).

A remote target runs the notebook in a folder holding only what the plan ships, so a
``pd.read_csv("datasets/x.csv")`` whose file is not in ``files`` fails there on every point.
Validation warns before the click: this module reads the relative paths a notebook's code
names (string literals of code cells, read with ``ast``; the constant start of an f-string;
string values of the grid), and ``unshipped`` keeps those that exist next to the notebook but
are not shipped. Pure: the caller says what exists (through the path gate, service/paths.py).
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Callable, Iterable

MAX_LITERAL = 1024  # longer strings are data, not paths


def path_literals(sources: Iterable[str], values: Iterable[object] = ()) -> list[str]:
    """Strings of ``sources`` (code cells; IPython lines dropped) and ``values`` (e.g. the
    grid's) that read as a relative path, normalized, in order of appearance, once each."""
    found: list[str] = []

    def add(text: object) -> None:
        path = _relative(text)
        if path is not None and path not in found:
            found.append(path)

    for source in sources:
        code = "\n".join(
            "" if line.lstrip().startswith(("%", "!")) else line
            for line in (source or "").splitlines()
        )
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):  # f"datasets/{name}.csv": its folder
                head = node.values[0] if node.values else None
                if isinstance(head, ast.Constant) and isinstance(head.value, str):
                    add(head.value.rpartition("/")[0])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                add(node.value)
    for value in values:
        add(value)
    return found


def _relative(text: object) -> str | None:
    """``text`` as a normalized relative path inside the notebook's folder, or None."""
    if not isinstance(text, str) or not text or len(text) > MAX_LITERAL:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in text) or "://" in text or "\\" in text:
        return None
    if text.startswith(("/", "~")) or (len(text) > 1 and text[1] == ":"):
        return None
    path = posixpath.normpath(text)
    if path in (".", "") or path == ".." or path.startswith("../"):
        return None
    if any(part.startswith(".") for part in path.split("/")):  # hidden: never shipped
        return None
    return path


def unshipped(
    candidates: Iterable[str], kind_of: Callable[[str], str | None], shipped: Iterable[str]
) -> list[tuple[str, str]]:
    """``(path, "file" | "folder")`` of each candidate that exists next to the notebook
    (``kind_of(path)`` says which, or None) and that ``shipped`` (paths relative to the
    notebook's folder) does not cover: a file not shipped, or a folder with nothing shipped
    under it."""
    shipped = set(shipped)

    def covered(path: str, kind: str | None) -> bool:
        if kind == "file":
            return path in shipped
        return any(s.startswith(path + "/") for s in shipped)

    return [(p, k) for p in candidates if (k := kind_of(p)) and not covered(p, k)]


def warning(path: str, kind: str) -> dict:
    """The validation warning for a file or folder the notebook names but does not ship."""
    return {
        "field": "files",
        "message": (
            f"the notebook names {path!r}, a {kind} next to it that is not shipped to the "
            f'target, where reading it fails: add "{path}" to files'
        ),
    }
