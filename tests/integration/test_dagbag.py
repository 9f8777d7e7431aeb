"""Every DAG we render imports in Airflow's own DagBag (inside the Airflow venv), whatever the
strategy, options and parameter names or values."""

from __future__ import annotations

import json
import subprocess
import textwrap

from jupyter_mvdp import strategies
from jupyter_mvdp.dag_render import render_dag
from jupyter_mvdp.grid import expand
from jupyter_mvdp.models import Plan

STRATEGIES = {
    "grid": {"kind": "grid", "metric": "accuracy"},
    "early_stop": {
        "kind": "early_stop",
        "metric": "accuracy",
        "goal": "min",
        "target": 0.1,
        "budget": 7,
        "seed": 3,
    },
    "canary": {
        "kind": "canary",
        "metric": "accuracy",
        "tolerance": 0.02,
        "deploy_notebook": "deploy.ipynb",
    },
}
OPTIONS = {
    "plain": {},
    "queue": {"executor": {"queue": "ml"}},
    "pool": {"executor": {"pool": "default_pool"}},
    "k8s": {
        "executor": {
            "executor_config": {"pod_override": {"spec": {"containers": [{"name": "base"}]}}}
        }
    },
    "schedule": {"schedule": "@daily", "timeout": 60, "parallelism": 3},
    "retries": {"retries": 2, "retry_delay": 1.5},
}
ODD_GRID = {
    'quote\'s "name"': ["it's", '"x"', "'''", "a\nb", "héllo 世界", "{{ var.value.secret }}"],
    "none": [None],
    "nested": [[[1, [2, 3]], {"k": None}]],
}
CHECK = textwrap.dedent(
    """
    import json, sys
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization
    bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
    for dag in bag.dags.values():
        DagSerialization.to_dict(dag)
    print(json.dumps({"errors": bag.import_errors, "dags": {d: sorted(dag.task_ids) for d, dag in bag.dags.items()}}))
    """
)


def test_every_rendered_dag_imports_in_dagbag(airflow, tmp_path):
    folder = tmp_path / "dags"
    folder.mkdir()
    expected = set()
    for kind, strategy in STRATEGIES.items():
        for option, extra in OPTIONS.items():
            for grid_name, grid in (("small", {"a": [1, 2, 3]}), ("odd", ODD_GRID)):
                plan = Plan.from_json({"grid": grid, "strategy": strategy, **extra})
                points = strategies.ordered(plan.strategy, expand(plan.grid))
                dag_id = f"mvdp_{kind}_{option}_{grid_name}"
                source = render_dag(
                    dag_id=dag_id,
                    plan=plan,
                    points=points,
                    notebook="/nb/x.ipynb",
                    outputs="/out",
                    kernel="python3",
                    champion=0.5,
                )
                (folder / f"{dag_id}.py").write_text(source)
                expected.add(dag_id)
    env = {**airflow.env, "AIRFLOW__CORE__DAGS_FOLDER": str(folder)}
    out = subprocess.run(
        [str(airflow.venv / "bin" / "python"), "-c", CHECK, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert set(result["dags"]) == expected
    assert "decide" in result["dags"]["mvdp_canary_k8s_odd"]
    assert "check_round_0" in result["dags"]["mvdp_early_stop_plain_small"]
