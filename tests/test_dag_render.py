"""The DAG renderer: every strategy and option renders, compiles, carries user data only as
JSON inside string literals, and has the tasks the Airflow target expects."""

from __future__ import annotations

import ast
import json

import pytest

from jupyter_mvdp import strategies
from jupyter_mvdp.dag_render import render_dag, task_layout
from jupyter_mvdp.grid import expand
from jupyter_mvdp.models import Plan

NASTY = [
    'it\'s "quoted"',
    "'''triple''' \"\"\"quotes\"\"\"",
    "back\\slash\\",
    "new\nline",
    "unicode: héllo 世界 🚀",
    "{{ var.value.secret }}",
    "x'); import os; os.system('rm -rf /') #",
    None,
    [[1, 2], {"nested": [None, True]}],
]


def plan(kind: str = "grid", grid=None, **extra) -> Plan:
    strategy = {
        "grid": {"kind": "grid", "metric": "accuracy"},
        "early_stop": {
            "kind": "early_stop",
            "metric": "accuracy",
            "target": 0.8,
            "budget": 5,
            "seed": 1,
        },
        "canary": {"kind": "canary", "metric": "accuracy", "tolerance": 0.01},
    }[kind]
    return Plan.from_json(
        {
            "grid": grid if grid is not None else {"a": [1, 2, 3], "b": ["x", "y"]},
            "strategy": strategy,
            **extra,
        }
    )


def render(p: Plan, **kwargs) -> tuple[str, list]:
    points = strategies.ordered(p.strategy, expand(p.grid))
    args = {
        "dag_id": "mvdp_u_nb_123456",
        "plan": p,
        "points": points,
        "notebook": "/data/nb.ipynb",
        "outputs": "/data/out",
    }
    return render_dag(**{**args, **kwargs}), points


def task_ids(source: str) -> set[str]:
    """Task ids named in the source: decorated functions and task_id strings."""
    tree = ast.parse(source)
    ids = {
        n.name
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef)
        and any("task" in ast.unparse(d) for d in n.decorator_list)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "notebook_runs":
            first = node.args[0]  # the mapped papermill task (an f-string per round)
            ids.add(first.value if isinstance(first, ast.Constant) else ast.unparse(first))
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "task_id" and isinstance(kw.value, ast.Constant):
                    ids.add(kw.value.value)
    return ids


def data_literals(source: str) -> dict:
    """SETTINGS and POINTS as the DAG will load them (the only json.loads calls)."""
    tree = ast.parse(source)
    found = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and ast.unparse(node.value.func) == "json.loads"
        ):
            (arg,) = node.value.args
            assert isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            found[node.targets[0].id] = json.loads(arg.value)
    return found


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("grid", {"prepare", "run_point", "collect"}),
        (
            "early_stop",
            {"prepare_round_0", "run_round_0", "check_round_0", "run_round_2", "check_round_2"},
        ),
        ("canary", {"prepare", "run_point", "decide", "deploy_new_model", "alert_of_failed_model"}),
    ],
)
def test_each_strategy_renders_compiles_and_has_its_tasks(kind, expected):
    source, points = render(plan(kind, parallelism=2))
    compile(source, "dag.py", "exec")
    assert "from airflow.sdk import" in source
    assert "PapermillOperator" in source and ".expand_kwargs(" in source
    data = data_literals(source)
    assert data["POINTS"] == [p.to_json() for p in points]
    assert data["SETTINGS"]["strategy"] == kind
    if kind == "early_stop":
        assert data["SETTINGS"]["rounds"] == 3  # budget 5 in rounds of 2
        assert data["SETTINGS"]["run_at_most"] == 5
        assert {"prepare"} <= task_ids(source)  # per round: prepare.override(task_id=...)
    else:
        assert expected <= task_ids(source)


def test_early_stop_rounds_match_the_layout():
    p = plan("early_stop", parallelism=2)
    source, points = render(p)
    assert task_layout(p, len(points)) == [
        ("run_round_0", 0),
        ("run_round_1", 2),
        ("run_round_2", 4),
    ]
    assert task_layout(plan("grid"), 6) == [("run_point", 0)]
    assert 'f"run_round_{r}"' in source and 'f"check_round_{r}"' in source
    assert "task.short_circuit" in source


@pytest.mark.parametrize("value", NASTY, ids=range(len(NASTY)))
def test_unusual_values_stay_data(value):
    grid = {"weird": [value], "n": [1]}
    source, _ = render(plan("grid", grid=grid))
    compile(source, "dag.py", "exec")
    assert data_literals(source)["POINTS"][0]["parameters"]["weird"] == value
    # nothing but the JSON literals carries the value: remove them and it is gone
    tree = ast.parse(source)
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and ast.unparse(node.value.func if isinstance(node.value, ast.Call) else node.value)
            == "json.loads"
        ):
            node.value.args = [ast.Constant("")]
    rest = ast.unparse(tree)
    if isinstance(value, str) and len(value) > 3:
        assert value not in rest


def test_unusual_parameter_names_and_paths_stay_data():
    name = "x'); import os #"
    source, _ = render(
        plan("grid", grid={name: [1]}),
        notebook='/data/it\'s a "notebook".ipynb',
        dag_id="mvdp_a_b_c",
    )
    compile(source, "dag.py", "exec")
    data = data_literals(source)
    assert data["POINTS"][0]["parameters"] == {name: 1}
    assert data["SETTINGS"]["notebook"] == '/data/it\'s a "notebook".ipynb'


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        ({"executor": {"queue": "ml"}}, ['queue=SETTINGS["executor"]["queue"]']),
        ({"executor": {"pool": "gpu"}}, ['pool=SETTINGS["executor"]["pool"]']),
        (
            {
                "executor": {
                    "executor_config": {
                        "pod_override": {"spec": {"containers": [{"name": "base"}]}}
                    }
                }
            },
            ["executor_config=executor_config(", "PodGenerator.deserialize_model_dict"],
        ),
        ({"schedule": "@daily"}, ['schedule=SETTINGS["schedule"]']),
        ({"timeout": 120}, ['execution_timeout=timedelta(seconds=SETTINGS["timeout"])']),
    ],
)
def test_options_reach_the_tasks(extra, needles):
    source, _ = render(plan("grid", **extra))
    compile(source, "dag.py", "exec")
    for needle in needles:
        assert needle in source
    settings = data_literals(source)["SETTINGS"]
    for key, value in extra.items():
        assert settings[key] == value


def test_options_absent_leave_no_trace():
    source, _ = render(plan("grid"))
    assert "queue=" not in source and "pool=" not in source and "executor_config=" not in source


def test_canary_baseline_defaults_to_the_champion_and_deploy_notebook_is_resolved():
    source, _ = render(
        plan("canary"), champion=0.77, deploy_notebook="deploy.ipynb", kernel="python3"
    )
    settings = data_literals(source)["SETTINGS"]
    assert settings["baseline"] == 0.77 and settings["fixed_baseline"] is False
    assert settings["deploy_notebook"] == "/data/deploy.ipynb"
    assert settings["kernel"] == "python3"
    fixed, _ = render(
        plan("canary", grid={})
        if False
        else Plan.from_json(
            {"grid": {}, "strategy": {"kind": "canary", "metric": "m", "baseline": 0.5}}
        ),
        champion=0.9,
    )
    assert data_literals(fixed)["SETTINGS"]["baseline"] == 0.5


def test_a_large_grid_is_one_small_file():
    p = Plan.from_json(
        {"grid": {"a": list(range(100)), "b": list(range(100))}, "strategy": {"kind": "grid"}}
    )
    source, points = render(p)
    assert len(points) == 10_000
    assert source.count("NotebookRun.partial(") == 1
    assert len(source) < 1_000_000
