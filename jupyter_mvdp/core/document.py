"""The run document: a run as the REST API and ``jupyter mvdp status --json`` show it
(docs/api.md), built from what the store holds.

Presentation lives here, not in the store: the points in the strategy's order with their
rank, the counts per state, the best point and the warnings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .models import POINT_STATES
from .runtime import json_safe, leaderboard, unranked_warning, unrecorded_warning

#: the stored run fields a document shows as they are
_RUN_FIELDS = (
    "run_id",
    "pipeline",
    "notebook",
    "target",
    "state",
    "progress",
)
_RUN_TAIL = (
    "outcome",
    "reason",
    "message",
    "unreachable_since",
    "created",
    "updated",
    "finished",
)


def started_by(row: Mapping[str, Any]) -> dict:
    """Who or what started the run, ``{"kind", "user"}``: ``mvdp`` (productionized from
    the lab or ``jupyter mvdp run`` by its owner), else what its target said when the run was
    adopted (``schedule``, ``ui``, ``api``, ``cli``...: targets/airflow/listing.py)."""
    stored = row.get("started_by")
    if stored:
        return json.loads(stored) if isinstance(stored, str) else dict(stored)
    return {"kind": "mvdp", "user": row.get("user")}


def run_document(record: Mapping[str, Any]) -> dict:
    """``record``: the stored run (``RunStore.run_record``): its fields, ``spec`` (plan and
    points, as JSON) and ``points``, every point's status in the strategy's order."""
    row, spec, points = record, record["spec"], record["points"]
    strategy = spec["plan"]["strategy"]
    parameters = {p["id"]: p["parameters"] for p in spec["points"]}
    shown = [
        {"id": pid, "index": i, "parameters": parameters.get(pid, {}), **status.to_json()}
        for i, (pid, status) in enumerate(points.items())
    ]
    for p in shown:  # whatever a notebook recorded (or an older version stored): strict JSON
        p["metrics"] = json_safe(p["metrics"]) if isinstance(p["metrics"], dict) else {}
    counts = dict.fromkeys(POINT_STATES, 0)
    for p in shown:
        counts[p["state"]] += 1
    metric, goal = strategy.get("metric"), strategy.get("goal", "max")
    ranked = leaderboard(shown, metric, goal) if metric else []
    best = ranked[0] if ranked and ranked[0]["rank"] == 1 else None  # succeeded only
    ranks = {r["id"]: r["rank"] for r in ranked}
    for p in shown:  # the leaderboard's order, for every client (None: not ranked)
        p["rank"] = ranks.get(p["id"])
    warnings = [unranked_warning(shown, metric)]
    if row["state"] not in ("queued", "running"):
        warnings.append(unrecorded_warning(shown, metric))
    return {
        **{k: row[k] for k in _RUN_FIELDS},
        "started_by": started_by(row),
        "strategy": strategy,
        "plan": spec["plan"],
        **{k: row[k] for k in _RUN_TAIL},
        "counts": counts,
        "points": shown,
        "best": ({k: best[k] for k in ("id", "parameters", "metrics", "output")} if best else None),
        "warnings": [w for w in warnings if w],
    }
