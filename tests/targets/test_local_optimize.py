"""The optimize strategy on the embedded local runner, real kernels: a noisy Branin notebook
(tests/notebooks/optimize/branin.ipynb) searched in rounds; every round's points are the ones
runtime.optimize_ask decides from the earlier rounds' results (what the DAG's ask tasks call)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jupyter_mvdp.cli.printing import print_run
from jupyter_mvdp.core import runtime
from jupyter_mvdp.core.metrics import format_value
from jupyter_mvdp.exceptions import InvalidPlan

from .test_local import local_manager, run

BRANIN = Path(__file__).resolve().parents[1] / "notebooks" / "optimize" / "branin.ipynb"
GRID = {
    "x": {"start": -5, "stop": 10, "num": 2},
    "y": {"start": 0, "stop": 15, "num": 2},
    "k": {"start": 1, "stop": 6, "step": 1},
    "bias": ["none", "high"],
    "noise": 0.1,
}


@pytest.fixture
def manager(tmp_path):
    shutil.copy(BRANIN, tmp_path / "branin.ipynb")
    with local_manager(tmp_path) as manager:
        yield manager


def replay(doc: dict, parallelism: int) -> list[dict]:
    """The points runtime decides, round by round, given the run's own results."""
    strategy, space = doc["strategy"], doc["optimize"]["space"]
    options = {
        "metric": strategy["metric"],
        "goal": strategy["goal"],
        "seed": strategy.get("seed", 0),
        "sampler": strategy.get("sampler", "tpe"),
    }
    ran = [p for p in doc["points"] if p["state"] in ("success", "failed")]
    decided: list[dict] = []
    for r, start in enumerate(range(0, len(ran), parallelism)):
        n = len(ran[start : start + parallelism])
        decided += runtime.optimize_ask(space, ran[:start], n, **options, r=r, startup=parallelism)
    return decided


def test_rounds_are_asked_from_the_earlier_results(manager):
    plan = {
        "grid": {**GRID, "fail_above": 8.0},  # a failing region: those points are FAIL
        "strategy": {"kind": "optimize", "metric": "value", "goal": "min", "budget": 6, "seed": 5},
        "parallelism": 3,
    }
    doc = run(manager, plan, "branin.ipynb")
    assert doc["state"] in ("success", "failed")
    points = doc["points"]
    assert [p["id"] for p in points] == runtime.optimize_slots(6)
    assert all(p["state"] in ("success", "failed") for p in points)
    for p in points:
        assert type(p["parameters"]["k"]) is int and p["parameters"]["noise"] == 0.1
        assert (p["state"] == "failed") == (p["parameters"]["x"] > 8.0)
    assert [p["parameters"] for p in points] == replay(doc, 3)
    history = doc["optimize"]["history"]
    assert [h["index"] for h in history] == list(range(6))
    values = [p["metrics"].get("value") for p in points if p["state"] == "success"]
    assert history[-1]["best"] == min(values)
    assert doc["best"]["metrics"]["value"] == min(values)
    assert doc["reason"] == "the budget of 6 points is spent"
    served = manager.view(doc["run_id"])  # what REST sends: the cached summary and a page
    assert served["optimize"] == doc["optimize"]
    by_id = {p["id"]: p["parameters"] for p in served["points"]}  # a page, best first
    assert by_id == {p["id"]: p["parameters"] for p in points}


def test_the_cli_prints_the_best_point_and_the_history(manager, capsys):
    plan = {
        "grid": GRID,
        "strategy": {"kind": "optimize", "metric": "value", "goal": "min", "budget": 8, "seed": 1},
        "parallelism": 4,
    }
    doc = run(manager, plan, "branin.ipynb")
    print_run(doc)
    out = capsys.readouterr().out
    best = doc["best"]
    assert f"best: value={format_value(best['metrics']['value'])} at {best['id']}" in out
    assert "optimize: tpe sampler, seed 1: 8 of 8 points run" in out
    importance = doc["optimize"]["importance"]  # 8 points, four searched parameters
    assert set(importance) == {"x", "y", "k", "bias"}
    shown = ", ".join(f"{k} {v:.2f}" for k, v in importance.items())
    assert f"parameter importance (Optuna): {shown}" in out
    values = " ".join(format_value(p["metrics"]["value"]) for p in doc["points"])
    assert f"values in order: {values}" in out


def test_target_stops_the_search_and_skips_the_rest(manager):
    plan = {
        "grid": GRID,
        "strategy": {
            "kind": "optimize",
            "metric": "value",
            "goal": "min",
            "budget": 8,
            "target": 1000,  # any Branin value reaches it: one round runs
            "sampler": "random",
        },
        "parallelism": 2,
    }
    doc = run(manager, plan, "branin.ipynb")
    assert doc["state"] == "success"
    assert doc["counts"]["success"] == 2 and doc["counts"]["skipped"] == 6
    assert "reached the target 1000" in doc["reason"]
    assert [p["parameters"] for p in doc["points"][:2]] == replay(doc, 2)


def test_validation_names_the_axis_and_counts_the_budget(manager):
    strategy = {"kind": "optimize", "metric": "value", "goal": "min", "budget": 30}
    ok = manager.validate("branin.ipynb", {"grid": GRID, "strategy": strategy}, "local")
    assert ok["valid"] and ok["size"] == 30
    bad = manager.validate(
        "branin.ipynb", {"grid": {**GRID, "k": ["three"]}, "strategy": strategy}, "local"
    )
    assert not bad["valid"]
    assert bad["errors"] == [{"field": "grid.k", "message": "k is an int parameter; got 'three'"}]
    with pytest.raises(InvalidPlan, match=r"Unknown parameter 'z'"):
        plan = {"grid": {"z": [1, 2]}, "strategy": strategy}
        manager.submit("branin.ipynb", plan, "local", background=False)
