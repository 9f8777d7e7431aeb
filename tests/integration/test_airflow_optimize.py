"""The optimize strategy on a real Airflow 3: each round's ask task rebuilds the study from
the earlier rounds' outputs and decides the same points, for the same seed, as the local
runner (runtime.optimize_ask, the one decision), on the noisy Branin notebook."""

from __future__ import annotations

import shutil
from pathlib import Path

from .test_airflow import task_states

BRANIN = Path(__file__).resolve().parents[1] / "notebooks" / "optimize" / "branin.ipynb"


def run(manager, plan: dict, target: str) -> dict:
    run_id = manager.submit("branin.ipynb", plan, target, background=False)
    return manager.wait(run_id, interval=0.5)


def test_optimize_on_airflow_decides_the_points_the_local_runner_does(manager, airflow, workspace):
    shutil.copy(BRANIN, workspace / "branin.ipynb")
    plan = {
        "grid": {
            "x": {"start": -5, "stop": 10, "num": 2},
            "y": {"start": 0, "stop": 15, "num": 2},
            "k": {"start": 1, "stop": 6, "step": 1},
            "bias": ["none", "high"],
            "noise": 0.1,
            "fail_above": 8.5,  # points with x above it fail: told to the study as failed
        },
        "strategy": {"kind": "optimize", "metric": "value", "goal": "min", "budget": 6, "seed": 11},
        "parallelism": 2,
        "timeout": 300,
    }
    on_airflow = run(manager, plan, "airflow")
    states = task_states(airflow, on_airflow)
    assert [states[(f"ask_round_{r}", -1)] for r in range(4)] == ["success"] * 4
    assert all(
        states[(f"run_round_{r}", i)] in ("success", "failed") for r in range(3) for i in (0, 1)
    )
    local = run(manager, plan, "local")

    def shown(doc):
        return [
            (p["id"], p["state"], p["parameters"], p["metrics"].get("value")) for p in doc["points"]
        ]

    assert shown(on_airflow) == shown(local)
    assert all(p["parameters"]["noise"] == 0.1 for p in on_airflow["points"])
    assert on_airflow["reason"] == local["reason"] == "the budget of 6 points is spent"
    assert on_airflow["best"] == {**local["best"], "output": on_airflow["best"]["output"]}
    assert on_airflow["optimize"]["history"] == local["optimize"]["history"]
