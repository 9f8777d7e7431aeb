"""Every DAG we render imports in Airflow's own DagBag (inside the Airflow venv), whatever the
strategy, options and parameter names or values, and takes its rules from the runtime module
shipped next to it (the DAGs folder is on Airflow's sys.path)."""

from __future__ import annotations

import json
import subprocess
import textwrap

from jupyter_mvdp.core import strategies
from jupyter_mvdp.core.grid import expand
from jupyter_mvdp.core.models import Plan, plan_schema
from jupyter_mvdp.render.dag import render_dag, runtime_files, runtime_module

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
    runtime = sys.modules.get(sys.argv[2])
    print(json.dumps({
        "errors": bag.import_errors,
        "dags": {d: sorted(dag.task_ids) for d, dag in bag.dags.items()},
        "runtime": getattr(runtime, "__file__", None),
    }))
    """
)


def dagbag_check(airflow, folder) -> dict:
    """Run CHECK over ``folder`` as the DAGs folder, in the Airflow venv: its JSON result."""
    env = {**airflow.env, "AIRFLOW__CORE__DAGS_FOLDER": str(folder)}
    out = subprocess.run(
        [str(airflow.venv / "bin" / "python"), "-c", CHECK, str(folder), runtime_module()[0]],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_rendered_dag_imports_in_dagbag(airflow, tmp_path):
    folder = tmp_path / "dags"
    folder.mkdir()
    for name, content in runtime_files().items():  # what the Airflow deploy ships
        (folder / name).write_bytes(content)
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
    result = dagbag_check(airflow, folder)
    assert result["errors"] == {}
    assert set(result["dags"]) == expected
    assert result["runtime"] == str(folder / f"{runtime_module()[0]}.py")  # the shipped copy
    assert "decide" in result["dags"]["mvdp_canary_k8s_odd"]
    assert "check_round_0" in result["dags"]["mvdp_early_stop_plain_small"]


TEMPLATED = textwrap.dedent(
    """
    import json, sys
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
    out = {"errors": bag.import_errors, "tasks": {}, "schedules": {}}
    for dag in bag.dags.values():
        out["schedules"][dag.dag_id] = repr(dag.timetable)
        for task in dag.tasks:
            kwargs = getattr(task, "partial_kwargs", None) or {}
            values = {f: repr(kwargs.get(f, getattr(task, f, None))) for f in task.template_fields}
            out["tasks"][f"{dag.dag_id}.{task.task_id}"] = {
                "templated": values,
                "kernel_name": kwargs.get("kernel_name", getattr(task, "kernel_name", None)),
            }
    print(json.dumps(out))
    """
)


def test_no_plan_value_is_a_template_field_in_airflow(airflow, tmp_path):
    """kernel, parameter names and values, metric and paths reach Airflow as data: no task
    has any of them in a template field, so "{{ 7*7 }}" stays "{{ 7*7 }}"."""
    folder = tmp_path / "dags"
    folder.mkdir()
    for name, content in runtime_files().items():  # the rules module the DAGs import
        (folder / name).write_bytes(content)
    jinja = "{{ 7*7 }}"
    for kind, strategy in STRATEGIES.items():
        plan = Plan.from_json(
            {
                "grid": {jinja: [jinja, 1]},
                "strategy": {**strategy, "metric": jinja},
                "kernel": jinja,
                "schedule": "PT30M",
                "executor": {"queue": jinja, "pool": jinja},
            }
        )
        source = render_dag(
            dag_id=f"jinja_{kind}",
            plan=plan,
            points=strategies.ordered(plan.strategy, expand(plan.grid)),
            notebook=f"/nb/{jinja}.ipynb",
            outputs=f"/out/{jinja}",
            kernel=plan.kernel,
            deploy_notebook=f"/nb/{jinja}.deploy.ipynb" if kind == "canary" else None,
        )
        (folder / f"jinja_{kind}.py").write_text(source)
    out = subprocess.run(
        [str(airflow.venv / "bin" / "python"), "-c", TEMPLATED, str(folder)],
        env={**airflow.env, "AIRFLOW__CORE__DAGS_FOLDER": str(folder)},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    papermill_tasks = 0
    for name, task in result["tasks"].items():
        for field, value in task["templated"].items():
            assert "7*7" not in value, (name, field, value)
        if task["kernel_name"] is not None:
            assert task["kernel_name"] == jinja, name  # given as it is, never rendered
            papermill_tasks += 1
    assert papermill_tasks >= 4  # run_point (grid, canary), run_round_0, deploy_new_model
    assert all("timedelta(seconds=1800)" in s for s in result["schedules"].values())


def test_a_dag_in_a_sub_folder_imports_the_module_shipped_next_to_it(airflow, tmp_path):
    """As Astro mounts a bundle (<dags>/mvdp/<pipeline>/): the folder is not on sys.path,
    the DAG adds its own folder and imports the copy shipped with it."""
    folder = tmp_path / "dags"
    bundle = folder / "mvdp" / "pipe"
    bundle.mkdir(parents=True)
    for name, content in runtime_files().items():
        (bundle / name).write_bytes(content)
    plan = Plan.from_json({"grid": {"a": [1, 2]}, "strategy": STRATEGIES["canary"]})
    (bundle / "pipe.py").write_text(
        render_dag(
            dag_id="pipe",
            plan=plan,
            points=expand(plan.grid),
            notebook="/nb/x.ipynb",
            outputs="/out",
            kernel="python3",
        )
    )
    result = dagbag_check(airflow, folder)
    assert result["errors"] == {} and "decide" in result["dags"]["pipe"]
    assert result["runtime"] == str(bundle / f"{runtime_module()[0]}.py")


def test_a_plan_at_every_maximum_the_schema_allows_imports_in_airflow(airflow, tmp_path):
    """The plan schema bounds every number Airflow needs bounded (``retry_delay: 1e308``
    passed once, then the DAG failed to import: OverflowError in a timedelta)."""
    schema = plan_schema()
    top = {
        key: schema["properties"][key]["maximum"]
        for key in ("parallelism", "timeout", "retries", "retry_delay")
    }
    early = schema["$defs"]["early_stop_strategy"]["properties"]
    largest = {"budget": early["budget"]["maximum"], "seed": early["seed"]["maximum"]}
    folder = tmp_path / "dags"
    folder.mkdir()
    for name, content in runtime_files().items():
        (folder / name).write_bytes(content)
    for kind, strategy in STRATEGIES.items():
        strategy = {**strategy, **(largest if kind == "early_stop" else {})}
        plan = Plan.from_json({"grid": {"a": [1, 2, 3]}, "strategy": strategy, **top})
        source = render_dag(
            dag_id=f"largest_{kind}",
            plan=plan,
            points=strategies.ordered(plan.strategy, expand(plan.grid)),
            notebook="/nb/x.ipynb",
            outputs="/out",
            kernel="python3",
        )
        (folder / f"largest_{kind}.py").write_text(source)
    result = dagbag_check(airflow, folder)
    assert result["errors"] == {}
    assert set(result["dags"]) == {f"largest_{kind}" for kind in STRATEGIES}
