"""Why an executed notebook failed, in one line: ``In [n]: Name: message``.

Read from the notebook papermill wrote (the local runner's and Airflow's alike), so every
target reports a failed point the same way. The cell is named as the user finds it in that
output notebook: by its prompt, ``In [n]`` (the execution count, as papermill's own error
banner names it), or, for a cell without one, ``cell N``, its position there counted from 1
(as JupyterLab's status bar counts). When the kernel sent no error output (IPython prints a
magic's UsageError on stderr) the message is the cell's last stderr line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

ERROR_MARKER_TAG = "papermill-error-cell-tag"  # papermill.execute.ERROR_MARKER_TAG


_EXCEPTION_LINE = re.compile(r"[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning): \S.*")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CHAINED = ("The above exception was the direct cause", "During handling of the above exception")
_CAUSE_MAX = 300


def one_line(name: str, message: str, traceback: Sequence[str] | None = None) -> str:
    """``Name: first line of the message`` (just the name when there is no message), and the
    cause where the first line is only a summary: the last exception line inside a long
    message (scikit-learn's "All the 10 fits failed" ends with the fits' own error), or the
    exception a chained one was raised from."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    text = f"{name}: {first}" if first else name
    cause = _last_exception_line(lines[1:]) or _chained_cause(traceback or [])
    if cause and cause not in text:
        return f"{text} (cause: {cause[:_CAUSE_MAX]})"
    return text


def _last_exception_line(lines: Sequence[str]) -> str | None:
    return next((line for line in reversed(lines) if _EXCEPTION_LINE.fullmatch(line)), None)


def _chained_cause(traceback: Sequence[str]) -> str | None:
    """The exception line just before "The above exception was the direct cause..."."""
    lines = [
        line.strip()
        for chunk in traceback
        for line in _ANSI.sub("", str(chunk)).splitlines()
        if line.strip()
    ]
    for i, line in enumerate(lines):
        if line.startswith(_CHAINED):
            return _last_exception_line(lines[:i])
    return None


def cell_name(execution_count: object, position: int) -> str:
    """A cell as the output notebook shows it: ``In [n]``, else ``cell N`` (N from 1)."""
    if isinstance(execution_count, int) and not isinstance(execution_count, bool):
        return f"In [{execution_count}]"
    return f"cell {position}"


def notebook_error(nb: Mapping) -> str | None:
    """The first failure papermill recorded in an executed notebook, or None."""
    for position, cell in enumerate(nb.get("cells") or [], start=1):
        tags = (cell.get("metadata") or {}).get("tags") or []
        if ERROR_MARKER_TAG in tags:
            continue
        name = cell_name(cell.get("execution_count"), position)
        clean_exit = False
        for output in cell.get("outputs") or []:
            if output.get("output_type") == "error":
                if output.get("ename") == "SystemExit" and output.get("evalue") in ("", "0"):
                    clean_exit = True  # papermill takes sys.exit() / sys.exit(0) for success
                    continue
                return f"{name}: " + one_line(
                    output.get("ename", ""), output.get("evalue", ""), output.get("traceback")
                )
        failed = ((cell.get("metadata") or {}).get("papermill") or {}).get("exception")
        if failed and not clean_exit:
            return f"{name}: " + _stderr_reason(cell)
    return None


def _stderr_reason(cell: Mapping) -> str:
    lines = [
        line.strip()
        for output in cell.get("outputs") or []
        if output.get("name") == "stderr"
        for line in "".join(output.get("text") or "").splitlines()
        if line.strip()
    ]
    if not lines:
        return "CellExecutionError: the cell failed without an error message"
    name, sep, message = lines[-1].partition(": ")
    return one_line(name, message) if sep and name.isidentifier() else lines[-1]
