"""The run document: a run as the REST API and ``jupyter mvdp status --json`` show it
(docs/api.md), built from what the store holds.

Presentation lives here, not in the store: the points in the strategy's order with their
rank, the counts per state, the best point and the warnings.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from ..exceptions import MvdpError
from . import abtest
from .models import POINT_STATES, PointStatus
from .optimize import summary as optimize_summary
from .runtime import json_safe, leaderboard, metric_value, unranked_warning, unrecorded_warning

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


def _status(status: PointStatus) -> dict:
    """``status.to_json()`` without its deep copy (the store's statuses are fresh objects):
    10,000 points in milliseconds, not seconds."""
    doc = {f.name: getattr(status, f.name) for f in fields(status)}
    if doc.get("parameters", ...) is None:
        del doc["parameters"]
    return doc


def _point(pid: str, index: int, parameters: dict, status: PointStatus) -> dict:
    doc = {"id": pid, "index": index, "parameters": parameters, **_status(status)}
    # whatever a notebook recorded (or an older version stored): strict JSON
    doc["metrics"] = json_safe(doc["metrics"]) if isinstance(doc["metrics"], dict) else {}
    return doc


def ranked_points(record: Mapping[str, Any]) -> list[dict]:
    """Every point of the stored run (``RunStore.run_record``) as documents show it, in the
    leaderboard's order (runtime.py ``leaderboard``, the one ranking rule): ranked points best
    first, then the others in the strategy's order; ``rank`` None when not ranked."""
    spec, points = record["spec"], record["points"]
    parameters = {p["id"]: p["parameters"] for p in spec["points"]}
    shown = [
        _point(pid, i, parameters.get(pid, {}), status)
        for i, (pid, status) in enumerate(points.items())
    ]
    return rank_points(shown, spec["plan"]["strategy"])


def with_changes(ranked: list[dict], changes: Mapping[str, PointStatus]) -> list[dict] | None:
    """The points of ``ranked_points`` with ``changes`` (a sync tick's) applied and ranked
    again, without reading the run's other points; None when a change names an unknown point."""
    by_id = {p["id"]: p for p in ranked}
    if any(pid not in by_id for pid in changes):
        return None
    shown = sorted(ranked, key=lambda p: p["index"])
    for i, p in enumerate(shown):
        if p["id"] in changes:
            shown[i] = _point(p["id"], p["index"], p["parameters"], changes[p["id"]])
    return shown


def rank_points(shown: list[dict], strategy: Mapping[str, Any]) -> list[dict]:
    """``shown`` (in the strategy's order) ranked by the strategy's metric, with ties."""
    metric, goal = strategy.get("metric"), strategy.get("goal", "max")
    if not metric:
        return [{**p, "rank": None, "tie": False} for p in shown]
    ranked = leaderboard(shown, metric, goal)
    # a tie: another ranked point has the same value (a page cannot see its neighbours)
    values = Counter(metric_value(p["metrics"], metric) for p in ranked if p["rank"])
    for p in ranked:
        p["tie"] = bool(p["rank"]) and values[metric_value(p["metrics"], metric)] > 1
    return ranked


def run_summary(record: Mapping[str, Any], ranked: list[dict]) -> dict:
    """The run without its points (the run list's entry, the head of a run's document):
    counts per state, the best point, warnings, the parameter and metric names (a
    leaderboard's columns), so its size does not grow with the run."""
    row, plan = record, record["spec"]["plan"]
    strategy = plan["strategy"]
    metric = strategy.get("metric")
    counts = dict.fromkeys(POINT_STATES, 0)
    for p in ranked:
        counts[p["state"]] += 1
    first = ranked[0] if ranked else None
    best = first if first and first["rank"] == 1 else None  # succeeded only
    in_order = sorted(ranked, key=lambda p: p["index"])
    warnings = [unranked_warning(in_order, metric)]
    warnings += json.loads(row.get("warnings") or "[]")  # the target's (Snapshot.warnings)
    if row["state"] not in ("queued", "running"):
        warnings.append(unrecorded_warning(in_order, metric))
    names = list(in_order[0]["parameters"]) if in_order else []
    values: dict[str, set] = {n: set() for n in names}
    recorded: dict[str, None] = {}
    for p in in_order:
        for n in names:
            if len(values[n]) < 2:
                values[n].add(json.dumps(p["parameters"].get(n), sort_keys=True))
        for k, v in p["metrics"].items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                recorded.setdefault(k, None)
    return {
        **{k: row[k] for k in _RUN_FIELDS},
        "started_by": started_by(row),
        "strategy": strategy,
        "plan": plan,
        **{k: row[k] for k in _RUN_TAIL},
        "counts": counts,
        "best": ({k: best[k] for k in ("id", "parameters", "metrics", "output")} if best else None),
        "warnings": [w for w in warnings if w],
        "parameters": names,
        "swept": [n for n in names if len(values[n]) > 1],
        "metric_names": sorted(recorded),
        "optimize": optimize_summary(record, in_order),  # None unless the strategy optimizes
        "ab": abtest.summary(strategy, in_order),  # None unless an A/B test
    }


def run_document(record: Mapping[str, Any]) -> dict:
    """The whole run, every point in the strategy's order with its rank (``jupyter mvdp
    status --json``); REST sends the summary and pages of points instead (``points_page``)."""
    ranked = ranked_points(record)
    return {**run_summary(record, ranked), "points": sorted(ranked, key=lambda p: p["index"])}


#: the first page of points a run's document carries: the whole of a normal run
PAGE_SIZE = 200
#: the most points one page may ask for
MAX_PAGE = 1000
#: what a page may be sorted by, besides ``metric:<name>`` and ``param:<name>``
SORTS = ("rank", "index", "id", "state")
ORDERS = ("asc", "desc")


def page_query(
    sort: str = "rank",
    order: str = "asc",
    state: str = "",
    offset: str | int = 0,
    limit: str | int = PAGE_SIZE,
) -> dict:
    """A page request checked: ``{"sort", "order", "state": [...], "offset", "limit"}``;
    MvdpError (400) naming the bad field."""
    if sort not in SORTS and not re.fullmatch(r"(metric|param):.+", sort):
        raise MvdpError(
            f"sort: expected one of {', '.join(SORTS)}, metric:<name> or param:<name>, not {sort!r}"
        )
    if order not in ORDERS:
        raise MvdpError(f"order: expected asc or desc, not {order!r}")
    states = [s for s in state.split(",") if s] if state else []
    unknown = [s for s in states if s not in POINT_STATES]
    if unknown:
        raise MvdpError(
            f"state: unknown point state {unknown[0]!r} (expected {', '.join(POINT_STATES)})"
        )
    numbers = {}
    for name, raw, low, high in (("offset", offset, 0, None), ("limit", limit, 1, MAX_PAGE)):
        try:
            n = int(raw)
        except (TypeError, ValueError):
            raise MvdpError(f"{name}: expected a whole number, not {str(raw)[:40]!r}") from None
        if n < low or (high is not None and n > high):
            raise MvdpError(f"{name}: expected {low} to {high or 'any'}, not {n}")
        numbers[name] = n
    return {"sort": sort, "order": order, "state": states, **numbers}


def _sort_value(point: Mapping[str, Any], sort: str) -> Any:
    if sort == "state":
        return POINT_STATES.index(point["state"])
    if sort.startswith("metric:"):
        return point["metrics"].get(sort[7:])
    if sort.startswith("param:"):
        return point["parameters"].get(sort[6:])
    return point[sort]


def _key(value: Any) -> tuple:
    """Numbers by value, then text, then anything else by its JSON."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value, "")
    if isinstance(value, str):
        return (1, 0, value)
    return (2, 0, json.dumps(value, sort_keys=True))


def sorted_points(ranked: list[dict], sort: str, order: str, states: list[str]) -> list[dict]:
    """The points of ``states`` (all when empty) by ``sort``: points without a value last in
    either order, equal values in the leaderboard's order."""
    shown = [p for p in ranked if p["state"] in states] if states else list(ranked)
    if sort == "rank" and order == "asc":
        return shown  # the leaderboard's order already
    keyed = [(_sort_value(p, sort), p) for p in shown]
    valued = [(_key(v), p) for v, p in keyed if v is not None]
    missing = [p for v, p in keyed if v is None]
    valued.sort(key=lambda kp: kp[0], reverse=order == "desc")  # stable both ways
    return [p for _, p in valued] + missing


def points_page(ordered: list[dict], query: Mapping[str, Any]) -> dict:
    """One page of points already sorted and filtered (``sorted_points``)."""
    offset, limit = query["offset"], query["limit"]
    return {
        "total": len(ordered),
        "offset": offset,
        "limit": limit,
        "sort": query["sort"],
        "order": query["order"],
        "state": list(query["state"]),
        "points": ordered[offset : offset + limit],
    }
