"""The run-status events, built in one place to match ``event_schemas/run/v2.yaml``.

The manager emits the changes of a run (its state, the canary's outcome, and per sync tick one
``points`` event with only the points that changed) on jupyter_server's event bus; the lab applies them to the run it loaded
over REST. Every event the server sends is built by one of these functions, and the tests
validate each kind against the schema, so the schema and the code cannot drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from .models import PointStatus
from .runtime import json_safe

SCHEMA_ID: Final = "https://events.jupyter.org/jupyter_mvdp/run/v2"
SCHEMA_PATH: Final = Path(__file__).resolve().parent.parent / "event_schemas" / "run" / "v2.yaml"

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


#: the most points one event carries (a tick that ends a 10,000-point run sends a few)
BATCH = 500


def point_entry(point_id: str, status: PointStatus) -> dict:
    """A point as a ``points`` event carries it: its status; parameters only where a round
    decided them (optimize), else the run's document has them."""
    entry = {
        "id": point_id,
        "state": status.state,
        "error": status.error,
        "output": status.output,
        "tries": status.tries,
        "metrics": json_safe(status.metrics) if isinstance(status.metrics, dict) else {},
    }
    if status.parameters is not None:
        entry["parameters"] = json_safe(status.parameters)
    return entry


def points_changed(changed: Mapping[str, PointStatus], counts: Mapping[str, int]) -> list[dict]:
    """The points that changed in one sync tick, in events of at most ``BATCH`` points, each
    with the run's ``counts`` per state after the tick."""
    entries = [point_entry(pid, status) for pid, status in changed.items()]
    return [
        {"kind": "points", "points": entries[i : i + BATCH], "counts": dict(counts)}
        for i in range(0, len(entries), BATCH)
    ]


def outcome_decided(outcome: str, reason: str | None) -> dict:
    """The canary decided: ``deploy`` or ``alert``, and why."""
    return {"kind": "outcome", "outcome": outcome, "reason": reason}


def stamped(event: dict, *, run_id: str, user: str, seq: int) -> dict:
    """The event as sent: whose run it is and its place in the run's sequence."""
    return {**event, "run_id": run_id, "user": user, "seq": seq}
