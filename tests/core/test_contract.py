"""core/contract.py: the task layout a DAG has and the rounds the local runner runs agree."""

from __future__ import annotations

import pytest

from jupyter_mvdp.core import contract, runtime, strategies
from jupyter_mvdp.core.models import Plan, Point


def plan(kind: str, **extra) -> Plan:
    strategy = {"kind": kind, "metric": "m", **({"target": 1} if kind == "early_stop" else {})}
    strategy.update(extra.pop("strategy", {}))
    extra = {k: v for k, v in extra.items() if v is not None}
    return Plan.from_json({"grid": {}, "strategy": strategy, **extra})


@pytest.mark.parametrize("n", [0, 1, 5, 16, 17, 40])
@pytest.mark.parametrize("parallelism", [None, 1, 3, 16])
@pytest.mark.parametrize("budget", [None, 1, 7, 100])
def test_each_mapped_task_starts_where_the_runners_round_starts(n, parallelism, budget):
    p = plan("early_stop", parallelism=parallelism, strategy={"budget": budget} if budget else {})
    points = [Point(f"p{i}", {"i": i}) for i in range(n)]
    rounds = strategies.rounds(p.strategy, points, contract.parallelism_of(p))
    layout = contract.papermill_tasks(p, n)
    assert len(layout) == len(rounds) == contract.n_rounds(p, n)
    assert [first for _, first in layout] == [points.index(r[0]) for r in rounds]
    assert [task for task, _ in layout] == [
        contract.TASKS["run_round"].format(r) for r in range(len(rounds))
    ]
    ran = sum(len(r) for r in rounds)
    assert ran == runtime.budget(n, budget)
    for r, batch in enumerate(rounds):
        start, stop = runtime.round_slice(r, n, contract.parallelism_of(p), budget)
        assert points[start:stop] == batch


@pytest.mark.parametrize("kind", ["grid", "canary"])
def test_grid_and_canary_map_every_point_in_one_task(kind):
    assert contract.papermill_tasks(plan(kind), 30) == [(contract.TASKS["run_point"], 0)]
    assert contract.n_rounds(plan(kind), 30) == 1 and contract.n_rounds(plan(kind), 0) == 0


def test_the_decision_comes_from_the_canary_branch_or_the_round_checks():
    assert contract.decision_task(plan("grid")) is None
    assert contract.decision_task(plan("canary")) == contract.TASKS["decide"]
    prefix = contract.decision_task(plan("early_stop"))
    assert contract.TASKS["check_round"].format(12).startswith(prefix)
