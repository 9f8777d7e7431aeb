"""The A/B test's DAG: its tasks, and its decide task handing runtime.ab_verdict what ran (only
the points whose task succeeded), branching and promoting as the local runner does."""

from __future__ import annotations

import json
import math
import random
import sys

import pytest

from jupyter_mvdp.core import abtest, contract
from jupyter_mvdp.core.models import Parameter, Plan
from jupyter_mvdp.render.dag import render_dag
from tests.render.test_dag import FakeTI, data_literals, executed, load_dag, task_ids  # noqa: F401

PARAMETERS = [Parameter("effect", "float", "0.0"), Parameter("seed", "int", "0")]
TASKS = contract.TASKS


def ab_plan(**fields) -> Plan:
    strategy = {
        "kind": "ab",
        "metric": "score",
        "a": {"effect": 0.0},
        "b": {"effect": 1.0},
        "replicate": "seed",
        "replicates": 8,
        **fields,
    }
    return Plan.from_json({"grid": {}, "strategy": strategy})


def render(plan: Plan, tmp_path, deploy: str | None = None) -> tuple[str, list]:
    points = abtest.points(plan.strategy, [], PARAMETERS)
    source = render_dag(
        dag_id="d",
        plan=plan,
        points=points,
        notebook="/n.ipynb",
        outputs=str(tmp_path),
        kernel="python3",
        deploy_notebook=deploy,
    )
    return source, points


@pytest.mark.parametrize("deploy", [None, "/deploy.ipynb"])
def test_the_dag_maps_the_pairs_then_decides_and_branches(tmp_path, deploy):
    source, points = render(ab_plan(promote=True, deploy_notebook="deploy.ipynb"), tmp_path, deploy)
    compile(source, "dag.py", "exec")
    assert task_ids(source) == {
        "points",
        "run_point",
        "decide",
        "deploy_new_model",
        "keep_variant_a",
    }
    data = data_literals(source)
    assert data["VERSION"]["decisions"]["ab"] == {
        "replicate": "seed",
        "alpha": 0.05,
        "promote": True,
    }
    assert [p["id"] for p in data["POINTS"]] == [p.id for p in points]
    assert (data["VERSION"]["deploy_notebook"] is not None) == (deploy is not None)
    assert "A/B test of n.ipynb: 16 points" in source


CASES = [  # (effect of B, promote, {(side, i): ok False}, goal)
    (1.0, True, {}, "max"),
    (1.0, True, {("b", 2), ("a", 5)}, "max"),  # two pairs left out
    (0.0, True, {}, "max"),
    (1.0, False, {}, "max"),
    (1.0, True, {}, "min"),  # higher is worse: A better, B not promoted
]


@pytest.mark.parametrize(("effect", "promote", "failed", "goal"), CASES)
def test_decide_gives_the_verdict_of_the_points_that_ran(
    tmp_path,
    load_dag,  # noqa: F811 (the fixture, imported above)
    effect,
    promote,
    failed,
    goal,
):
    plan = ab_plan(promote=promote, goal=goal)
    source, points = render(plan, tmp_path)
    module, context = load_dag(source)
    rng = random.Random(3)
    states, docs = {}, []
    for i, point in enumerate(points):
        side, seed = point.id[0], point.parameters["seed"]
        value = seed + (effect if side == "b" else 0.0) + rng.gauss(0, 0.1)
        ok = (side, seed) not in failed
        executed(tmp_path, "run-1", point, {"score": value})  # a failed one may leave output
        states[f"{TASKS['run_point']}_{i}"] = "success" if ok else "failed"
        docs.append(
            {
                "id": point.id,
                "parameters": point.parameters,
                "state": "success" if ok else "failed",
                "metrics": {"score": value},
            }
        )
    ti = FakeTI("run-1", states)
    ti.task_id = TASKS["decide"]
    context.update(ti=ti, run_id="run-1", dag_run=type("R", (), {"conf": {}})())
    branch = module.decide()
    got = ti.xcom[(TASKS["decide"], contract.KEYS["decision"])]
    want = abtest.verdict(plan.strategy, docs)  # what the local runner decides
    for key in ("verdict", "method", "pairs", "dropped", "difference", "p_value", "ci"):
        assert got[key] == (pytest.approx(want[key]) if key != "verdict" else want[key]), key
    assert got["dropped"] == len(failed)
    promoted = promote and want["verdict"] == "B better"
    assert branch == (TASKS["deploy"] if promoted else TASKS["keep"])
    assert got["outcome"] == (("deploy" if promoted else "alert") if promote else None)
    if promoted:
        assert got["parameters"] == {"effect": 1.0}
        assert ti.xcom[(TASKS["decide"], "parameters")] == {"effect": 1.0}
        variable = sys.modules["airflow.sdk"].Variable  # the DAG keeps its champion in one
        crowned = json.loads(variable.values[module.CHAMPION_VARIABLE])
        assert (
            math.isclose(crowned["value"], want["mean_b"]) and crowned["point_id"] == points[1].id
        )
    assert got["reason"].startswith(want["reason"])
