"""The optimize strategy's decision (runtime.optimize_ask) and its plan-side rules
(core/optimize.py): search space from the grid's axes, determinism by seed, failed and
non-finite points, budget and target, the run document's history and importance."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys

import jsonschema
import pytest
import yaml

from jupyter_mvdp.core import contract, events, optimize, runtime, strategies
from jupyter_mvdp.core.models import Parameter, Plan, PointStatus
from jupyter_mvdp.exceptions import InvalidPlan

SPACE = {
    "x": {"type": "float", "low": -5.0, "high": 10.0, "log": False},
    "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
    "n": {"type": "int", "low": 10, "high": 100, "step": 10},
    "depth": {"type": "int", "low": 1, "high": 64, "step": 1, "log": True},
    "kind": {"type": "categorical", "choices": ["a", [1, 2], None, {"k": 1}]},
    "fixed": {"type": "fixed", "value": "keep"},
}
OPTS = {"metric": "m", "goal": "max", "seed": 7}


def f(p: dict) -> float:
    """A cheap objective over SPACE (max at x = 2, lr = 0.01, n = 50)."""
    return -((p["x"] - 2) ** 2) - math.log10(p["lr"] / 0.01) ** 2 - ((p["n"] - 50) / 10) ** 2


def history(points: list[dict], values=None, states=None) -> list[dict]:
    values = values or [f(p) for p in points]
    states = states or ["success"] * len(points)
    return [
        {"parameters": p, "state": s, "metrics": {"m": v}}
        for p, v, s in zip(points, values, states, strict=True)
    ]


def test_asked_points_lie_in_the_space_with_their_types():
    points = runtime.optimize_ask(SPACE, [], 20, **OPTS)
    assert len(points) == 20
    for p in points:
        assert list(p) == list(SPACE)  # every parameter, in the grid's order
        assert -5 <= p["x"] <= 10 and isinstance(p["x"], float)
        assert 1e-4 <= p["lr"] <= 1
        assert type(p["n"]) is int and p["n"] in range(10, 101, 10)
        assert type(p["depth"]) is int and 1 <= p["depth"] <= 64
        assert p["kind"] in SPACE["kind"]["choices"]
        assert p["fixed"] == "keep"
    # a log dimension spreads over its decades, not its linear range
    assert sum(p["lr"] < 0.01 for p in points) >= 5


def test_same_seed_same_points_other_seed_other_points():
    first = runtime.optimize_ask(SPACE, [], 4, **OPTS)
    h = history(first)
    again = runtime.optimize_ask(SPACE, h, 4, **OPTS, r=1)
    # in a fresh interpreter (as an Airflow worker would) the same history asks the same
    code = (
        "import json, sys; from jupyter_mvdp.core import runtime;"
        "a = json.loads(sys.argv[1]);"
        "print(json.dumps(runtime.optimize_ask(a['s'], a['h'], 4, metric='m', goal='max',"
        " seed=7, r=1)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps({"s": SPACE, "h": h})],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out) == again
    assert runtime.optimize_ask(SPACE, [], 4, **{**OPTS, "seed": 8}) != first
    assert runtime.optimize_ask(SPACE, h, 4, **OPTS, r=2) != again  # seeded by the round too


def test_tpe_uses_the_history_random_does_not():
    rounds, found = 6, {}
    for sampler in ("tpe", "random"):
        done: list[dict] = []
        for r in range(rounds):
            asked = runtime.optimize_ask(SPACE, history(done), 5, **OPTS, r=r, sampler=sampler)
            done += asked
        found[sampler] = max(f(p) for p in done[15:])  # after TPE's random start
    assert found["tpe"] > found["random"]


def test_failed_and_non_finite_points_are_told_as_failed():
    asked = runtime.optimize_ask(SPACE, [], 3, **OPTS)
    h = history(asked, values=[1.0, float("nan"), "0.9"], states=["failed", "success", "success"])
    study = runtime.optimize_study(SPACE, h, **OPTS)
    states = [t.state.name for t in study.trials]
    assert states == ["FAIL", "FAIL", "FAIL"]  # failed, NaN, text: never a value
    h[2]["metrics"]["m"] = 0.5
    h.append({"parameters": {}, "state": "skipped", "metrics": {}})  # never ran: left out
    h.append({"parameters": {**asked[0], "kind": "not a choice"}, "state": "success"})
    study = runtime.optimize_study(SPACE, h, **OPTS)
    assert [t.state.name for t in study.trials] == ["FAIL", "FAIL", "COMPLETE"]
    assert study.best_value == 0.5


def test_search_space_from_the_grid_axes():
    params = [
        Parameter("lr", "float", "0.1"),
        Parameter("trees", "int", "10"),
        Parameter("depth", "int", "3"),
        Parameter("loss", "str", "'l2'"),
        Parameter("seed", "int", "0"),
        Parameter("scale", "float", "1.0"),
    ]
    space = optimize.search_space(
        {
            "lr": {"start": 0.001, "stop": 1, "num": 5, "log": True},
            "trees": {"start": 10, "stop": 1000, "num": 4, "log": True},
            "depth": {"start": 2, "stop": 11, "step": 3},
            "loss": ["l2", "huber"],
            "seed": 42,
            "scale": {"start": 2.0, "stop": 0.5, "step": -0.5},
        },
        params,
    )
    assert space == {
        "lr": {"type": "float", "low": 0.001, "high": 1.0, "log": True},
        "trees": {"type": "int", "low": 10, "high": 1000, "step": 1, "log": True},
        "depth": {"type": "int", "low": 2, "high": 11, "step": 3},
        "loss": {"type": "categorical", "choices": ["l2", "huber"]},
        "seed": {"type": "fixed", "value": 42},
        "scale": {"type": "float", "low": 0.5, "high": 2.0, "log": False},
    }
    asked = runtime.optimize_ask(space, [], 5, **OPTS)
    assert all(type(p["trees"]) is int and p["depth"] in (2, 5, 8, 11) for p in asked)


@pytest.mark.parametrize(
    ("axes", "field", "words"),
    [
        ({"lr": 0.5}, "grid", "no range or list of values to search"),
        ({"nope": [1, 2]}, "grid.nope", "unknown parameter"),
        ({"lr": ["a", "b"]}, "grid.lr", "float parameter"),
        ({"lr": {"start": 0, "stop": 1, "num": 3, "log": True}}, "grid.lr", "above 0"),
        ({"lr": []}, "grid.lr", "at least one value"),
    ],
)
def test_search_space_errors_name_the_axis(axes, field, words):
    with pytest.raises(InvalidPlan) as e:
        optimize.search_space(axes, [Parameter("lr", "float", "0.1")])
    assert e.value.errors[0]["field"] == field
    assert words in e.value.errors[0]["message"]
    assert optimize.check(axes, [Parameter("lr", "float", "0.1")])[0]["field"] == field


def test_plan_validation_bounds_budget_and_sampler():
    ok = {"kind": "optimize", "metric": "m", "budget": 12, "sampler": "random", "seed": 3}
    plan = Plan.from_json({"grid": {"x": {"start": 0, "stop": 1, "num": 2}}, "strategy": ok})
    assert plan.strategy.to_json() == {**ok, "goal": "max"}
    for bad, words in (
        ({**ok, "budget": 1001}, "1001 is greater than the maximum of 1000"),
        ({**ok, "budget": 0}, "0 is less than the minimum of 1"),
        ({**ok, "sampler": "cmaes"}, "'cmaes' is not one of ['tpe', 'random']"),
        ({"kind": "optimize", "metric": "m"}, "'budget' is a required property"),
    ):
        with pytest.raises(InvalidPlan) as e:
            Plan.from_json({"grid": {}, "strategy": bad})
        assert words in str(e.value), e.value


def test_rounds_budget_and_target_stop():
    plan = Plan.from_json(
        {
            "grid": {"x": {"start": -5, "stop": 10, "num": 2}},
            "strategy": {"kind": "optimize", "metric": "m", "budget": 7, "target": 3},
            "parallelism": 3,
        }
    )
    slots = optimize.slots(plan.strategy)
    assert [p.id for p in slots] == [f"opt-{i:04d}" for i in range(7)]
    rounds = strategies.rounds(plan.strategy, slots, 3)
    assert [len(r) for r in rounds] == [3, 3, 1]  # ceil(7 / 3) rounds, within the budget
    assert contract.n_rounds(plan, len(slots)) == 3
    assert strategies.should_stop(plan.strategy, [{"m": 2}], 3, 7) == (False, None)
    assert strategies.should_stop(plan.strategy, [{"m": 3.5}], 3, 7)[0]  # the target
    stop, reason = strategies.should_stop(plan.strategy, [{"m": 1}], 7, 7)
    assert stop and "budget of 7" in reason


def test_a_plan_without_parallelism_has_the_same_rounds_on_every_target():
    """What Optuna is asked depends on the rounds: they are the plan's, not the target's (a
    2-core local runner and Airflow's 16 slots decide the same points for one seed)."""
    plan = Plan.from_json(
        {
            "grid": {"x": {"start": -5, "stop": 10, "num": 2}},
            "strategy": {"kind": "optimize", "metric": "m", "budget": 10},
        }
    )
    assert contract.round_size(plan, 2) == contract.round_size(plan, 16) == 4
    assert contract.n_rounds(plan, 10) == 3  # the DAG's: ceil(10 / 4)
    slots = optimize.slots(plan.strategy)
    local = strategies.rounds(plan.strategy, slots, contract.round_size(plan, 2))
    assert [len(r) for r in local] == [4, 4, 2]
    early = Plan.from_json(
        {"grid": {"x": [1, 2]}, "strategy": {"kind": "early_stop", "metric": "m", "target": 1}}
    )
    assert contract.round_size(early, 2) == 2  # early stop: what runs at once here


def test_missing_optuna_names_the_side_that_needs_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    with pytest.raises(RuntimeError, match=r"pip install 'jupyter-mvdp\[optimize\]'"):
        runtime.optimize_ask(SPACE, [], 1, **OPTS)
    with pytest.raises(RuntimeError, match="the Airflow workers need optuna"):
        runtime.optimize_ask(SPACE, [], 1, **OPTS, missing=runtime.OPTUNA_WORKERS)


def test_history_and_importance_for_the_run_document():
    asked = runtime.optimize_ask(SPACE, [], 12, **OPTS)
    points = [
        {"id": f"opt-{i:04d}", "state": "success", "metrics": {"m": f(p)}, "parameters": p}
        for i, p in enumerate(asked)
    ]
    points[1]["state"] = "failed"
    points.append({"id": "opt-0012", "state": "skipped", "metrics": {}, "parameters": {}})
    rows = optimize.history(points, "m", "max")
    assert [r["index"] for r in rows] == list(range(12))  # the skipped slot is not shown
    assert rows[1]["value"] is None and rows[1]["state"] == "failed"
    values = [f(p) for p in asked]
    assert rows[-1]["best"] == max(v for i, v in enumerate(values) if i != 1)
    assert all(a["best"] <= b["best"] for a, b in itertools.pairwise(rows))
    found = optimize.importance(SPACE, points, {"metric": "m", "goal": "max"})
    assert set(found) == {"x", "lr", "n", "depth", "kind"}
    assert abs(sum(found.values()) - 1) < 1e-3
    assert optimize.importance(SPACE, points[:5], {"metric": "m"}) is None  # too few


def test_optuna_missing_on_the_server_is_a_field_error(monkeypatch):
    import importlib.util

    assert optimize.optuna_problems(True) == []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    [problem] = optimize.optuna_problems(True)
    assert problem["field"] == "strategy.kind"
    assert "pip install 'jupyter-mvdp[optimize]'" in problem["message"]
    assert optimize.optuna_problems(False) == []  # a remote target's workers need it instead


def test_the_order_of_the_space_decides_nothing():
    """A DAG embeds the space as sorted JSON; the local runner has the grid's order."""
    reordered = dict(sorted(SPACE.items(), reverse=True))
    first = runtime.optimize_ask(SPACE, [], 3, **OPTS)
    assert runtime.optimize_ask(reordered, [], 3, **OPTS) == first
    h = history(first)
    assert runtime.optimize_ask(reordered, h, 3, **OPTS, r=1) == runtime.optimize_ask(
        SPACE, h, 3, **OPTS, r=1
    )


def test_a_points_event_carries_the_parameters_a_round_asked():
    schema = yaml.safe_load(events.SCHEMA_PATH.read_text())
    asked = {"x": 1.5, "kind": [1, 2], "big": float("inf")}
    (said,) = events.points_changed({"opt-0000": PointStatus(parameters=asked)}, {})
    assert said["points"][0]["parameters"] == {"x": 1.5, "kind": [1, 2], "big": "inf"}
    jsonschema.validate(events.stamped(said, run_id="r", user="u", seq=1), schema)
    (grid,) = events.points_changed({"p-1": PointStatus()}, {})
    assert "parameters" not in grid["points"][0]
