"""Task logs: reading one try's log and finding in it why the try failed.

Airflow 3 keeps a task's exception only in its structured log (``error_detail``), which the
API client's log model drops; so the log is read as plain REST, and the failure line is picked
out of it here, for a point's error in a poll and for a point's log on request.
"""

from __future__ import annotations

from ...core import contract
from ...core.models import RunSpec
from .client import AirflowClient


def log_lines(
    client: AirflowClient,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
    try_number: int,
) -> list:
    """The structured lines of one try's log (plain REST: the client's log model drops
    ``error_detail``, where Airflow 3 keeps the exception)."""
    content = client.get_json(
        f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
        {"map_index": map_index, "full_content": "true"},
    ).get("content", [])
    return content if isinstance(content, list) else str(content).splitlines()


def point_log(client: AirflowClient, spec: RunSpec, dag_id: str, point_id: str) -> str:
    """The log of the point's last try, as text: the mapped task instance that ran it."""
    index = next(i for i, p in enumerate(spec.points) if p.id == point_id)
    layout = contract.papermill_tasks(spec.plan, len(spec.points))
    task_id, first = next((t, f) for t, f in reversed(layout) if f <= index)
    ti = client.call(
        "TaskInstanceApi",
        "get_mapped_task_instance",
        dag_id,
        spec.target_run_id,
        task_id,
        index - first,
    )
    content = log_lines(
        client, dag_id, spec.target_run_id, task_id, index - first, max(ti.try_number, 1)
    )
    return "\n".join(_log_line(line) for line in content)


def _log_line(line) -> str:
    """One line of a task log: Airflow 3 serves structured messages (an event, and for a
    failure the exception's type and value)."""
    if isinstance(line, str):
        return line
    text = str(line.get("event", ""))
    for error in line.get("error_detail") or []:
        text += f"\n{error.get('exc_type')}: {error.get('exc_value')}"
    return text


def why_failed(lines: list) -> str | None:
    """The first meaningful line of a failed task's log: the exception it ended with (for a
    notebook, papermill's error: the cell's exception), else the first error-level message."""
    for line in lines:
        for error in (line.get("error_detail") or []) if isinstance(line, dict) else []:
            return _exception_line(error.get("exc_type"), str(error.get("exc_value") or ""))
    for line in lines:  # the task's own stderr (a kernel's chatter) is not why it failed
        if (
            isinstance(line, dict)
            and str(line.get("level", "")).lower() in ("error", "critical")
            and line.get("logger") != "task.stderr"
        ):
            return " ".join(str(line.get("event", "")).split())[:500] or None
        if isinstance(line, str) and " ERROR " in line:
            return line.strip()[:500]
    return None


def _exception_line(exc_type: str | None, value: str) -> str:
    """``Type: value`` in one line; papermill's value is a banner plus the cell's
    traceback, of which the last line (``ValueError: boom``) is the point."""
    lines = [line.strip() for line in value.splitlines() if line.strip()]
    if exc_type and exc_type.endswith("PapermillExecutionError") and lines:
        return f"{lines[-1]} (in the notebook)"[:500]
    return f"{exc_type}: {lines[0] if lines else ''}".rstrip(": ")[:500]
