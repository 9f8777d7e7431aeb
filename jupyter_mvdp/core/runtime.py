"""The rules every runner shares: reading metrics, ranking, early stop, canary (stdlib only).

One copy: the local runner, the run document / leaderboard / ``best`` and the generated DAG
all call these functions. The deploy ships this file next to the DAG as
``mvdp_runtime_<digest>.py`` (Airflow puts the DAGs folder and bundle roots on ``sys.path``),
named by its content so two pipelines rendered by different versions never import each
other's rules. Keep it free of any import beyond the standard library and of package-relative
imports: in Airflow it is a top-level module.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

SCRAP_PREFIX = "application/scrapbook.scrap."  # scrapbook.glue: .json+json, .text+json, ...
SCRAP_MIMETYPE = SCRAP_PREFIX + "json+json"  # what jupyter_mvdp.record writes
RECORD_PREFIX = "application/papermill.record"  # papermill.record(), before scrapbook


# --- metrics recorded by a notebook ------------------------------------------------------


def read_metrics(nb: Mapping) -> dict[str, Any]:
    """Every scrap of an executed notebook (an nbformat node or the plain JSON document):
    scrapbook's JSON and text scraps (``glue(..., display=True)`` included) and
    ``papermill.record``; the last value recorded under a name wins, as in scrapbook.
    Scraps of other encoders (pandas: parquet bytes) are named with a placeholder; a scrap
    that is only displayed (no data) gives its text/plain form."""
    metrics: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    for cell in _cells(nb):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs") or []:
            data = output.get("data") or {}
            for mimetype, payload in data.items():
                if mimetype.startswith(SCRAP_PREFIX) and isinstance(payload, Mapping):
                    if "name" in payload:
                        metrics[payload["name"]] = _decode(mimetype, payload.get("data"))
                elif mimetype.startswith(RECORD_PREFIX) and isinstance(payload, Mapping):
                    metrics.update(payload)
            scrap = (output.get("metadata") or {}).get("scrapbook") or {}
            if scrap.get("display") and not scrap.get("data") and "text/plain" in data:
                text = data["text/plain"]
                shown[scrap.get("name")] = "".join(text) if isinstance(text, list) else text
    found = {**{k: v for k, v in shown.items() if k is not None}, **metrics}
    return {str(k): json_safe(v) for k, v in found.items()}


def _decode(mimetype: str, value: Any) -> Any:
    encoder = mimetype[len(SCRAP_PREFIX) :].removesuffix("+json")
    if encoder == "json" and isinstance(value, str):  # scrapbook's JsonEncoder.decode
        try:  # strict JSON: the text "Infinity" or "NaN" stays text, never a number
            return json.loads(value, parse_constant=_not_a_number)
        except ValueError:
            return value
    if encoder in ("json", "text"):
        return value if encoder == "json" or isinstance(value, str) else str(value)
    return f"<{encoder} scrap>"


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: the largest integer a metric may be and still be a number (JSON clients read doubles)
LARGEST_INT = 2**53


def json_safe(value: Any) -> Any:
    """``value`` as strict JSON can carry it: a number that is not finite (NaN, ±inf) or an
    integer beyond ±2**53 becomes its text, inside lists and dicts too. What a notebook
    recorded is kept and shown; it just never reaches a client as a bare ``Infinity``."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= LARGEST_INT else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return str(value)


def _cells(nb: Mapping) -> list:
    """Cells of a v4 notebook, or of every worksheet of a v3 one."""
    if "cells" in nb:
        return list(nb.get("cells") or [])
    return [c for ws in nb.get("worksheets") or [] for c in ws.get("cells") or []]


def read_metrics_text(text: str) -> dict[str, Any]:
    return read_metrics(json.loads(text))


def read_metrics_file(path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return read_metrics(json.load(f))


# --- ranking -------------------------------------------------------------------------------


def metric_value(metrics: Mapping[str, Any] | None, metric: str | None) -> float | None:
    """The metric from a point's metrics, when it is a finite number: never NaN, ±inf, a
    bool, text (not even "0.99") or an integer beyond ±2**53. Only these are ranked, decide
    an early stop or a canary, or make a point the best."""
    if not isinstance(metrics, Mapping) or metric is None:
        return None
    value = metrics.get(metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) <= LARGEST_INT else None
    return value if math.isfinite(value) else None


def is_better(a: float, b: float | None, goal: str) -> bool:
    return b is None or (a > b if goal == "max" else a < b)


def best(
    results: Iterable[tuple[Any, Mapping[str, Any] | None]], metric: str | None, goal: str = "max"
) -> tuple[Any, float] | None:
    """The (item, value) with the best metric among points that SUCCEEDED (the caller passes
    only those); ties go to the earliest item."""
    winner = None
    for item, metrics in results:
        value = metric_value(metrics, metric)
        if value is not None and (winner is None or is_better(value, winner[1], goal)):
            winner = (item, value)
    return winner


def leaderboard(
    points: Iterable[Mapping[str, Any]], metric: str | None, goal: str = "max"
) -> list[dict]:
    """Point documents with a ``rank``: succeeded points with the metric, best first; then
    every other point (failed, skipped, or without the metric) unranked, in its order. A
    failed point is never ranked, whatever it recorded before failing."""
    rows = [dict(p) for p in points]
    scored = [
        r
        for r in rows
        if r.get("state", "success") == "success"
        and metric_value(r.get("metrics"), metric) is not None
    ]
    rest = [r for r in rows if not any(r is s for s in scored)]
    sign = -1 if goal == "max" else 1
    scored.sort(key=lambda r: sign * metric_value(r["metrics"], metric))
    for rank, row in enumerate(scored, 1):
        row["rank"] = rank
    for row in rest:
        row["rank"] = None
    return scored + rest


def unrecorded_warning(points: Iterable[Mapping[str, Any]], metric: str | None) -> str | None:
    """A warning when points finished but none recorded ``metric`` as a number."""
    done = [p for p in points if p.get("state") in ("success", "failed")]
    if (
        not metric
        or not done
        or any(metric_value(p.get("metrics"), metric) is not None for p in done)
    ):
        return None
    names = sorted({k for p in done for k in (p.get("metrics") or {})})
    seen = f"recorded: {', '.join(names)}" if names else "no point recorded any metric"
    return (
        f"No point recorded the metric {metric!r} as a number ({seen}); check the strategy's metric"
    )


def unranked_warning(points: Iterable[Mapping[str, Any]], metric: str | None) -> str | None:
    """A warning naming the points whose ``metric`` is there but is no finite number (text,
    NaN, infinite, too large): they are shown as recorded and never ranked."""
    if not metric:
        return None
    odd = [
        p
        for p in points
        if isinstance(p.get("metrics"), Mapping)
        and metric in p["metrics"]
        and metric_value(p["metrics"], metric) is None
    ]
    if not odd:
        return None
    shown = ", ".join(f"{p.get('id')} ({str(p['metrics'][metric])[:40]!r})" for p in odd[:5])
    more = f" and {len(odd) - 5} more" if len(odd) > 5 else ""
    return (
        f"{metric!r} is not a finite number at {shown}{more}: "
        "those points are shown as recorded and not ranked"
    )


# --- early stop ----------------------------------------------------------------------------


def budget(n_points: int, limit: int | None) -> int:
    """How many points may run at most."""
    return n_points if limit is None else min(limit, n_points)


def n_rounds(n_points: int, size: int, limit: int | None) -> int:
    """How many rounds of ``size`` points the budget allows (early stop)."""
    return -(-budget(n_points, limit) // max(1, size))


def round_slice(r: int, n_points: int, size: int, limit: int | None) -> tuple[int, int]:
    """(start, stop) in the ordered points of round ``r``: the next ``size`` points, within
    the budget. The one rule for the local runner, the DAG and the targets that follow it."""
    size = max(1, size)
    last = budget(n_points, limit)
    return min(r * size, last), min((r + 1) * size, last)


def reached(value: float | None, target: float | None, goal: str) -> bool:
    """Did ``value`` reach the target (at or above it for max, at or below it for min)?"""
    if value is None or target is None:
        return False
    return value >= target if goal == "max" else value <= target


def should_stop(
    metric: str | None,
    goal: str,
    target: float | None,
    best_value: float | None,
    ran: int,
    limit: int,
) -> tuple[bool, str | None]:
    """After a round: stop now? ``best_value`` is the best metric so far, ``limit`` the
    budget in points. Returns (stop, reason)."""
    if reached(best_value, target, goal):
        return True, f"{metric} {best_value:g} reached the target {target:g}"
    if ran >= limit:
        return True, f"the budget of {limit} points is spent"
    return False, None


# --- canary --------------------------------------------------------------------------------


def canary_decision(
    metric: str | None,
    goal: str,
    tolerance: float,
    baseline: float | None,
    fixed_baseline: bool,
    candidate: float | None,
) -> dict:
    """Deploy the candidate when it is no worse than the baseline minus the tolerance.
    ``fixed_baseline``: the plan's baseline (else the pipeline's last champion). Returns
    ``{"outcome": "deploy" | "alert", "reason", "value", "baseline"}``."""

    def decision(outcome: str, reason: str) -> dict:
        return {"outcome": outcome, "reason": reason, "value": candidate, "baseline": baseline}

    if candidate is None:
        return decision("alert", f"the candidate recorded no {metric} (did the notebook fail?)")
    if baseline is None:
        return decision("deploy", f"{metric} {candidate:g}: first model of this pipeline")
    tol = tolerance
    if goal == "max":
        ok, word, bound = candidate >= baseline - tol, "below", baseline - tol
    else:
        ok, word, bound = candidate <= baseline + tol, "above", baseline + tol
    source = "the baseline" if fixed_baseline else "the champion's"
    if ok:
        return decision(
            "deploy", f"{metric} {candidate:g} is within tolerance {tol:g} of {source} {baseline:g}"
        )
    return decision(
        "alert",
        f"{metric} {candidate:g} is {word} {source} {baseline:g} (tolerance {tol:g}, bound {bound:g})",
    )


# --- kernel starts -------------------------------------------------------------------------

KERNEL_STARTS = 3
# nbclient's words for a kernel that exited before answering kernel_info (seen when many
# start at once, on one machine or one Airflow worker: two picking the same free port)
_DIED_STARTING = "Kernel died before replying to kernel_info"


def starting_kernels_again(execute: Callable[[], T], say: Callable[[str], None]) -> T:
    """``execute()`` (one papermill run), again with a new kernel when the kernel died while
    starting, up to KERNEL_STARTS times: no cell ran, so this never runs work twice."""
    for _ in range(KERNEL_STARTS - 1):
        try:
            return execute()
        except RuntimeError as e:
            if not str(e).startswith(_DIED_STARTING):
                raise
            say(f"the kernel died while starting ({e}); starting another")
    return execute()
