"""What runs, in what order and rounds, and what decides: pure functions over plain data.

The local runner calls these directly. The DAG renderer calls them at render / trigger time
to order the points and size the rounds, and embeds the same thresholds in the DAG as JSON, so
a plan makes the same decisions wherever it runs:

- ``grid``: every point, all at once (bounded by parallelism).
- ``early_stop`` ("stochastic grid search"): points shuffled with ``seed``, run in rounds of
  ``parallelism``; after each round stop when the best metric reached ``target`` or ``budget``
  points ran. Points never run are ``skipped``.
- ``canary``: run the candidate (the notebook's defaults when the grid is empty, else the
  grid's best point) and compare it with the baseline (``baseline`` or the pipeline's last
  champion) within ``tolerance``: ``deploy`` or ``alert`` with a reason.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .models import Point, Strategy


def ordered(strategy: Strategy, points: Sequence[Point]) -> list[Point]:
    """Points in the order the strategy runs them (a seeded shuffle for early_stop)."""
    points = list(points)
    if strategy.kind == "early_stop":
        random.Random(strategy.seed).shuffle(points)
    return points


def budget(strategy: Strategy, n_points: int) -> int:
    """How many points may run at most."""
    if strategy.kind == "early_stop" and strategy.budget is not None:
        return min(strategy.budget, n_points)
    return n_points


def rounds(strategy: Strategy, points: Sequence[Point], parallelism: int) -> list[list[Point]]:
    """Batches of points, each decided on before the next starts. ``points`` are already in
    the strategy's order (``ordered``), as RunSpec.points and the DAG's conf hold them.

    Only early_stop decides between rounds; grid and canary run everything as one round
    (the executor still bounds how many run at once).
    """
    todo = list(points)[: budget(strategy, len(points))]
    if strategy.kind != "early_stop":
        return [todo] if todo else []
    size = max(1, parallelism)
    return [todo[i : i + size] for i in range(0, len(todo), size)]


def n_rounds(strategy: Strategy, n_points: int, parallelism: int) -> int:
    if strategy.kind != "early_stop":
        return 1 if n_points else 0
    return math.ceil(budget(strategy, n_points) / max(1, parallelism))


def metric_value(metrics: Mapping[str, Any] | None, metric: str | None) -> float | None:
    """The strategy's metric from a point's metrics, when it is a real number."""
    if not metrics or metric is None:
        return None
    value = metrics.get(metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def is_better(a: float, b: float | None, goal: str) -> bool:
    return b is None or (a > b if goal == "max" else a < b)


def best(
    results: Iterable[tuple[Any, Mapping[str, Any] | None]], metric: str | None, goal: str = "max"
) -> tuple[Any, float] | None:
    """The (item, value) with the best metric; ties go to the earliest item."""
    winner = None
    for item, metrics in results:
        value = metric_value(metrics, metric)
        if value is not None and (winner is None or is_better(value, winner[1], goal)):
            winner = (item, value)
    return winner


def reached(strategy: Strategy, value: float | None) -> bool:
    """Did ``value`` reach the early-stop target?"""
    if value is None or strategy.target is None:
        return False
    return value >= strategy.target if strategy.goal == "max" else value <= strategy.target


def should_stop(
    strategy: Strategy, metrics_so_far: Iterable[Mapping[str, Any] | None], ran: int, total: int
) -> tuple[bool, str | None]:
    """After a round: stop now? Returns (stop, reason)."""
    if strategy.kind != "early_stop":
        return False, None
    top = best(((None, m) for m in metrics_so_far), strategy.metric, strategy.goal)
    if top is not None and reached(strategy, top[1]):
        return True, f"{strategy.metric} {top[1]:g} reached the target {strategy.target:g}"
    if ran >= budget(strategy, total):
        return True, f"the budget of {budget(strategy, total)} points is spent"
    return False, None


@dataclass(frozen=True)
class CanaryDecision:
    outcome: Literal["deploy", "alert"]
    reason: str
    value: float | None  # the candidate's metric
    baseline: float | None  # what it was compared with


def canary_decision(
    strategy: Strategy, candidate: float | None, champion: float | None
) -> CanaryDecision:
    """Deploy the candidate when it is no worse than the baseline minus the tolerance."""
    metric = strategy.metric
    baseline = strategy.baseline if strategy.baseline is not None else champion
    if candidate is None:
        return CanaryDecision(
            "alert", f"the candidate recorded no {metric} (did the notebook fail?)", None, baseline
        )
    if baseline is None:
        return CanaryDecision(
            "deploy", f"{metric} {candidate:g}: first model of this pipeline", candidate, None
        )
    tol = strategy.tolerance
    if strategy.goal == "max":
        ok, word, bound = candidate >= baseline - tol, "below", baseline - tol
    else:
        ok, word, bound = candidate <= baseline + tol, "above", baseline + tol
    source = "the baseline" if strategy.baseline is not None else "the champion's"
    if ok:
        reason = f"{metric} {candidate:g} is within tolerance {tol:g} of {source} {baseline:g}"
        return CanaryDecision("deploy", reason, candidate, baseline)
    reason = f"{metric} {candidate:g} is {word} {source} {baseline:g} (tolerance {tol:g}, bound {bound:g})"
    return CanaryDecision("alert", reason, candidate, baseline)
