"""The run-status events, built in one place to match ``event_schemas/run/v1.yaml``.

The manager emits one event per change of a run (its state, a point's state or metrics, the
canary's outcome) on jupyter_server's event bus; the lab applies them to the run it loaded
over REST. Every event the server sends is built by one of these functions, and the tests
validate each kind against the schema, so the schema and the code cannot drift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from .models import PointStatus

SCHEMA_ID: Final = "https://events.jupyter.org/jupyter_mvdp/run/v1"
SCHEMA_PATH: Final = Path(__file__).resolve().parent.parent / "event_schemas" / "run" / "v1.yaml"

_UNSET: Any = object()


def run_changed(
    state: str,
    progress: str | None,
    message: str | None,
    *,
    unreachable_since: float | None = _UNSET,
) -> dict:
    """The run's state, progress or message changed. ``unreachable_since``: set while polls
    of its target fail, None once they succeed again; left out, the client keeps its own."""
    event = {"kind": "run", "state": state, "progress": progress, "message": message}
    if unreachable_since is not _UNSET:
        event["unreachable_since"] = unreachable_since
    return event


def point_changed(point_id: str, status: PointStatus) -> dict:
    """A point's state (or its tries) changed."""
    return {
        "kind": "point",
        "point_id": point_id,
        "state": status.state,
        "error": status.error,
        "output": status.output,
        "tries": status.tries,
    }


def metrics_recorded(point_id: str, metrics: dict) -> dict:
    """A point's notebook recorded metrics (read from its output)."""
    return {"kind": "metrics", "point_id": point_id, "metrics": metrics}


def outcome_decided(outcome: str, reason: str | None) -> dict:
    """The canary decided: ``deploy`` or ``alert``, and why."""
    return {"kind": "outcome", "outcome": outcome, "reason": reason}


def stamped(event: dict, *, run_id: str, user: str, seq: int) -> dict:
    """The event as sent: whose run it is and its place in the run's sequence."""
    return {**event, "run_id": run_id, "user": user, "seq": seq}
