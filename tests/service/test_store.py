"""runs.py and models.py: the plan document, and runs that survive the process."""

from __future__ import annotations

import pytest

from jupyter_mvdp.core.document import run_document
from jupyter_mvdp.core.grid import expand
from jupyter_mvdp.core.models import Plan, PointStatus, RunSpec
from jupyter_mvdp.exceptions import InvalidPlan, RunNotFound
from jupyter_mvdp.service.store import RunStore

PLANS = [
    {
        "grid": {"n_estimators": [10, 50, 100], "max_depth": {"start": 2, "stop": 8, "step": 2}},
        "strategy": {"kind": "grid"},
        "parallelism": 2,
    },
    {
        "grid": {},
        "strategy": {
            "kind": "early_stop",
            "metric": "accuracy",
            "goal": "max",
            "target": 0.8,
            "budget": 20,
            "seed": 0,
        },
    },
    {
        "grid": {},
        "strategy": {
            "kind": "canary",
            "metric": "accuracy",
            "goal": "max",
            "baseline": 0.78,
            "tolerance": 0.01,
        },
    },
    {
        "grid": {"a": 1},
        "strategy": {"kind": "grid", "metric": "m", "goal": "min"},
        "timeout": 60,
        "schedule": "@daily",
        "kernel": "python3",
        "executor": {"queue": "q", "pool": "p", "executor_config": {"pod_override": {}}},
    },
]


@pytest.mark.parametrize("doc", PLANS)
def test_plans_round_trip(doc):
    assert Plan.from_json(doc).to_json() == doc


@pytest.mark.parametrize(
    ("doc", "field", "needle"),
    [
        ({"grid": {}, "strategy": {"kind": "grid"}, "extra": 1}, "", "unknown key 'extra'"),
        (
            {"grid": {}, "strategy": {"kind": "grid", "target": 1}},
            "strategy",
            "unknown key 'target'",
        ),
        (
            {"grid": {}, "strategy": {"kind": "early_stop", "metric": "m"}},
            "strategy",
            "'target' is a required property",
        ),
        (
            {"grid": {}, "strategy": {"kind": "magic"}},
            "strategy",
            "strategy kind must be one of grid, early_stop, canary",
        ),
        (
            {"grid": {"a": {"start": 1}}, "strategy": {"kind": "grid"}},
            "grid.a",
            "expected a list of values, a range",
        ),
        (
            {"grid": {}, "strategy": {"kind": "grid"}, "executor": {"cpu": 1}},
            "executor",
            "unknown key 'cpu'",
        ),
        (
            {"grid": {}, "strategy": {"kind": "grid"}, "parallelism": 0},
            "parallelism",
            "less than the minimum",
        ),
        ({"strategy": {"kind": "grid"}}, "", "'grid' is a required property"),
        (  # Airflow's timedelta overflows: bounded where Airflow needs it
            {"grid": {}, "strategy": {"kind": "grid"}, "retry_delay": 1e308},
            "retry_delay",
            "is greater than the maximum of 86400",
        ),
        (  # more than the lab can hold exactly
            {
                "grid": {},
                "strategy": {"kind": "early_stop", "metric": "m", "target": 1, "seed": 2**63},
            },
            "strategy",
            "seed: 9223372036854775808 is greater than the maximum",
        ),
    ],
)
def test_bad_plans_name_the_field(doc, field, needle):
    with pytest.raises(InvalidPlan) as caught:
        Plan.from_json(doc)
    assert caught.value.errors[0]["field"] == field
    assert needle in caught.value.errors[0]["message"]


def make_spec(run_id="r1", pipeline="mvdp_u_nb") -> RunSpec:
    plan = Plan.from_json({"grid": {"x": [1, 2]}, "strategy": {"kind": "grid", "metric": "acc"}})
    return RunSpec(
        run_id=run_id,
        pipeline=pipeline,
        notebook="/nb.ipynb",
        notebook_sha256="0" * 64,
        plan=plan,
        points=expand(plan.grid),
        output_dir="/out",
        dag_source="# dag",
    )


def test_a_run_survives_reopening_the_store(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    spec = make_spec()
    store.create(spec, notebook="nb.ipynb", user="alice")
    first, _second = spec.points
    store.update_run("r1", state="running")
    store.update_points(
        "r1", {first.id: PointStatus(state="success", metrics={"acc": 0.9}, output="o.ipynb")}
    )
    store.close()

    again = RunStore(tmp_path / "runs.sqlite")
    doc = run_document(again.run_record("r1", "alice"))
    assert {
        "run_id",
        "pipeline",
        "target",
        "state",
        "strategy",
        "outcome",
        "points",
        "best",
        "counts",
    } <= set(doc)
    assert (
        doc["state"] == "running" and doc["counts"]["success"] == 1 and doc["counts"]["queued"] == 1
    )
    assert doc["points"][0] == {
        "id": first.id,
        "index": 0,
        "parameters": {"x": 1},
        "state": "success",
        "metrics": {"acc": 0.9},
        "output": "o.ipynb",
        "error": None,
        "started": None,
        "finished": None,
        "rank": 1,
        "tie": False,
        "tries": [],
    }
    assert doc["points"][1]["rank"] is None  # still queued: not ranked
    assert doc["best"]["id"] == first.id
    assert again.active_run_ids() == ["r1"]
    assert again.spec("r1").points == spec.points and again.dag_source("r1") == "# dag"
    assert again.known_metrics("nb.ipynb", "alice") == ["acc"]
    again.update_run("r1", state="success")
    assert again.active_run_ids() == [] and again.run_record("r1")["finished"] is not None


def test_users_see_only_their_runs_and_champions_and_seq(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    store.create(make_spec("r1"), notebook="nb.ipynb", user="alice")
    store.create(make_spec("r2", "mvdp_bob_nb"), notebook="nb.ipynb", user="bob")
    assert store.run_ids("alice") == ["r1"] and set(store.run_ids()) == {"r1", "r2"}
    with pytest.raises(RunNotFound):
        store.run_record("r1", "bob")
    assert store.champion("mvdp_u_nb") is None
    store.set_champion("mvdp_u_nb", "acc", 0.8, "r1", "p-1")
    assert store.champion("mvdp_u_nb")["value"] == 0.8
    assert store.next_seq("r1", 3) == 1 and store.next_seq("r1") == 4
    store.delete("r1")
    with pytest.raises(RunNotFound):
        store.run_record("r1")
