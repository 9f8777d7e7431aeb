"""What runs, in what order and rounds, and what decides: pure functions over plain data.

Plan-level wrappers over runtime.py, which holds the decisions themselves (best, early stop,
canary) once: the local runner calls these, the DAG calls runtime.py with the same thresholds
embedded as JSON, so a plan makes the same decisions wherever it runs:

- ``grid``: every point, all at once (bounded by parallelism).
- ``early_stop`` ("stochastic grid search"): points shuffled with ``seed``, run in rounds of
  ``parallelism``; after each round stop when the best metric reached ``target`` or ``budget``
  points ran. Points never run are ``skipped``.
- ``optimize``: Bayesian optimization (core/optimize.py; Optuna): ``budget`` slots in rounds
  of ``parallelism``, each round's points asked given the earlier rounds; stops like
  early_stop.
- ``canary``: run the candidate (the notebook's defaults when the grid is empty, else the
  grid's best point) and compare it with the baseline (``baseline`` or the pipeline's last
  champion) within ``tolerance``: ``deploy`` or ``alert`` with a reason.
- ``ab``: variants A and B, ``replicates`` runs each paired by a replicate parameter, one
  batch; a paired test at ``alpha`` (runtime.ab_verdict) says which is better, if either;
  with ``promote`` a better B becomes the champion (core/abtest.py).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from . import runtime
from .models import Point, Strategy
from .runtime import best as best  # the shared rules, re-exported
from .runtime import is_better as is_better
from .runtime import metric_value as metric_value

#: the strategies that may run a deploy notebook (canary: the candidate; ab: B, promoted)
DEPLOYS = ("canary", "ab")
#: the strategies that decide between rounds of ``parallelism`` points
ROUNDS = ("early_stop", "optimize")


def ordered(strategy: Strategy, points: Sequence[Point]) -> list[Point]:
    """Points in the order the strategy runs them (a seeded shuffle for early_stop)."""
    points = list(points)
    if strategy.kind == "early_stop":
        random.Random(strategy.seed).shuffle(points)
    return points


def budget(strategy: Strategy, n_points: int) -> int:
    """How many points may run at most."""
    if strategy.kind in ROUNDS:
        return runtime.budget(n_points, strategy.budget)
    return n_points


def rounds(strategy: Strategy, points: Sequence[Point], parallelism: int) -> list[list[Point]]:
    """Batches of points, each decided on before the next starts. ``points`` are already in
    the strategy's order (``ordered``), as RunSpec.points and the DAG's conf hold them.

    Only early_stop and optimize (whose points are slots, asked round by round) decide
    between rounds; grid and canary run everything as one round (the executor still bounds
    how many run at once). Rounds are runtime.round_slice's.
    """
    points = list(points)
    if strategy.kind not in ROUNDS:
        return [points] if points else []
    n = runtime.n_rounds(len(points), parallelism, strategy.budget)
    slices = (runtime.round_slice(r, len(points), parallelism, strategy.budget) for r in range(n))
    return [points[start:stop] for start, stop in slices]


def reached(strategy: Strategy, value: float | None) -> bool:
    """Did ``value`` reach the early-stop target?"""
    return runtime.reached(value, strategy.target, strategy.goal)


def should_stop(
    strategy: Strategy, metrics_so_far: Iterable[Mapping[str, Any] | None], ran: int, total: int
) -> tuple[bool, str | None]:
    """After a round: stop now? ``metrics_so_far``: of the points that succeeded. Returns
    (stop, reason)."""
    if strategy.kind not in ROUNDS:
        return False, None
    top = best(((None, m) for m in metrics_so_far), strategy.metric, strategy.goal)
    return runtime.should_stop(
        strategy.metric,
        strategy.goal,
        strategy.target,
        top[1] if top else None,
        ran,
        budget(strategy, total),
    )


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
    fixed = strategy.baseline is not None
    decision = runtime.canary_decision(
        strategy.metric,
        strategy.goal,
        strategy.tolerance,
        strategy.baseline if fixed else champion,
        fixed,
        candidate,
    )
    return CanaryDecision(**decision)
