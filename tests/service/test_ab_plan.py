"""An A/B plan through the manager: validation names each bad field before anything runs,
the points are the variants' replicates, and a champion A needs a champion."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jupyter_mvdp.exceptions import InvalidPlan
from tests.targets.test_local import local_manager

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "ab" / "effect.ipynb"


def plan(**fields) -> dict:
    strategy = {
        "kind": "ab",
        "metric": "score",
        "b": {"effect": 1.0},
        "replicate": "seed",
        "replicates": 4,
        **fields,
    }
    return {"grid": {"noise": 0.1}, "strategy": strategy}


@pytest.fixture
def manager(tmp_path):
    shutil.copy(NOTEBOOK, tmp_path / "effect.ipynb")
    with local_manager(tmp_path) as manager:
        yield manager


def test_validation_names_each_problem(manager):
    doc = plan(a={"effect": "big", "lr": 1}, b={"seed": 2})
    doc["grid"] = {"noise": [0.1, 0.2]}
    found = manager.validate("effect.ipynb", doc)
    fields = {e["field"]: e["message"] for e in found["errors"]}
    assert not found["valid"]
    assert "float parameter" in fields["strategy.a.effect"]
    assert fields["strategy.a.lr"].startswith("unknown parameter (known: effect, seed")
    assert "may not set it" in fields["strategy.b.seed"]
    assert "may only fix one value" in fields["grid.noise"]
    bad = manager.validate("effect.ipynb", plan(replicates=5000, alpha=0.7))
    assert {e["field"] for e in bad["errors"]} >= {"strategy"}
    assert "replicates: 5000 is greater than the maximum of 1000" in bad["errors"][0]["message"]
    good = manager.validate("effect.ipynb", plan())
    assert good["valid"] and good["size"] == 8  # A and B, 4 replicates each


def test_the_points_are_the_variants_replicates_and_a_champion_needs_one(manager):
    spec = manager.prepare("effect.ipynb", plan(a={"label": "x"}), "local")
    assert [(p.id[0], p.parameters["seed"]) for p in spec.points] == [
        (side, seed) for seed in range(4) for side in "ab"
    ]
    assert spec.points[0].parameters == {"noise": 0.1, "label": "x", "seed": 0}
    assert spec.points[1].parameters == {"noise": 0.1, "effect": 1.0, "seed": 0}
    with pytest.raises(InvalidPlan) as e:
        manager.prepare("effect.ipynb", plan(a="champion"), "local")
    assert e.value.errors[0]["field"] == "strategy.a"
