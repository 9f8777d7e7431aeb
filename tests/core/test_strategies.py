"""strategies.py: order, rounds, early-stop and canary decisions (shared by local and DAG)."""

from __future__ import annotations

import math

import pytest

from jupyter_mvdp.core import runtime, strategies
from jupyter_mvdp.core.grid import expand
from jupyter_mvdp.core.models import Strategy

POINTS = expand({"x": list(range(10))})
EARLY = Strategy(kind="early_stop", metric="acc", goal="max", target=0.8, budget=5, seed=0)


def test_grid_and_canary_keep_the_order_and_run_everything_in_one_round():
    for kind in ("grid", "canary"):
        s = Strategy(kind=kind, metric="acc")
        assert strategies.ordered(s, POINTS) == POINTS
        assert strategies.rounds(s, POINTS, 3) == [POINTS]
        assert strategies.should_stop(s, [{"acc": 1.0}], 1, 10) == (False, None)


def test_early_stop_shuffles_with_its_seed():
    once = strategies.ordered(EARLY, POINTS)
    assert once == strategies.ordered(EARLY, POINTS)
    assert once != POINTS and sorted(p.id for p in once) == sorted(p.id for p in POINTS)
    other = strategies.ordered(Strategy(kind="early_stop", metric="acc", target=1, seed=1), POINTS)
    assert other != once


@pytest.mark.parametrize(
    ("budget", "parallelism", "sizes"),
    [(5, 2, [2, 2, 1]), (None, 4, [4, 4, 2]), (20, 3, [3, 3, 3, 1])],
)
def test_rounds_follow_parallelism_and_budget(budget, parallelism, sizes):
    s = Strategy(kind="early_stop", metric="acc", target=1, budget=budget)
    rounds = strategies.rounds(s, POINTS, parallelism)
    assert [len(r) for r in rounds] == sizes
    assert [p for r in rounds for p in r] == POINTS[
        : sum(sizes)
    ]  # no reordering: points come ordered
    assert (
        runtime.n_rounds(len(POINTS), parallelism, s.budget)
        == len(sizes)
        == math.ceil(sum(sizes) / parallelism)
    )


@pytest.mark.parametrize(
    ("goal", "target", "metrics", "ran", "stop", "why"),
    [
        ("max", 0.8, [{"acc": 0.7}, {"acc": 0.81}], 2, True, "acc 0.81 reached the target 0.8"),
        ("max", 0.8, [{"acc": 0.7}, {"acc": 0.79}], 2, False, None),
        ("min", 0.2, [{"acc": 0.3}, {"acc": 0.19}], 2, True, "acc 0.19 reached the target 0.2"),
        ("min", 0.2, [{"acc": 0.3}], 1, False, None),
        ("max", 0.8, [{"acc": 0.5}] * 5, 5, True, "the budget of 5 points is spent"),
        ("max", 0.8, [{"acc": float("nan")}, {"acc": True}, {"other": 1}, None], 4, False, None),
    ],
)
def test_should_stop(goal, target, metrics, ran, stop, why):
    s = Strategy(kind="early_stop", metric="acc", goal=goal, target=target, budget=5)
    assert strategies.should_stop(s, metrics, ran, 10) == (stop, why)


@pytest.mark.parametrize(
    ("strategy", "candidate", "champion", "outcome", "reason"),
    [
        (
            Strategy(kind="canary", metric="acc", tolerance=0.01),
            0.775,
            0.78,
            "deploy",
            "acc 0.775 is within tolerance 0.01 of the champion's 0.78",
        ),
        (
            Strategy(kind="canary", metric="acc", tolerance=0.01),
            0.76,
            0.78,
            "alert",
            "acc 0.76 is below the champion's 0.78 (tolerance 0.01, bound 0.77)",
        ),
        (
            Strategy(kind="canary", metric="loss", goal="min", tolerance=0.1),
            1.05,
            1.0,
            "deploy",
            "within tolerance 0.1",
        ),
        (
            Strategy(kind="canary", metric="loss", goal="min"),
            1.5,
            1.0,
            "alert",
            "loss 1.5 is above the champion's 1 (tolerance 0, bound 1)",
        ),
        (
            Strategy(kind="canary", metric="acc"),
            0.5,
            None,
            "deploy",
            "acc 0.5: first model of this pipeline",
        ),
        (
            Strategy(kind="canary", metric="acc"),
            None,
            0.7,
            "alert",
            "the candidate recorded no acc",
        ),
        (
            Strategy(kind="canary", metric="acc", baseline=0.6),
            0.65,
            0.9,
            "deploy",
            "of the baseline 0.6",
        ),
    ],
)
def test_canary_decision(strategy, candidate, champion, outcome, reason):
    decision = strategies.canary_decision(strategy, candidate, champion)
    assert decision.outcome == outcome
    assert reason in decision.reason


def test_best_ties_go_to_the_earliest_and_junk_is_ignored():
    results = [
        ("a", {"acc": 0.5}),
        ("b", {"acc": 0.9}),
        ("c", {"acc": 0.9}),
        ("d", {"acc": "high"}),
        ("e", None),
    ]
    assert strategies.best(results, "acc", "max") == ("b", 0.9)
    assert strategies.best(results, "acc", "min") == ("a", 0.5)
    assert strategies.best([("x", {"acc": float("nan")})], "acc") is None
