"""A plan becomes an idiomatic Airflow 3 DAG file (templates/dag.py.j2).

The DAG uses ``airflow.sdk``, the stock PapermillOperator (parameters kept out of Jinja
rendering) and dynamic task mapping, so a 10,000-point grid is one small file that parses
in milliseconds. Everything that comes from the user (parameter names and values, paths,
metric names) enters the file as one JSON document inside a Python string literal made by
``repr(json.dumps(...))``: data, never pasted code.

Task layout, by strategy (``task_layout`` returns it for the Airflow target):

- grid: ``prepare`` -> ``run_point`` (mapped) -> ``collect``
- early_stop: per round r ``prepare_round_r`` -> ``run_round_r`` (mapped) -> ``check_round_r``
  (short-circuit: when it returns False the later rounds are skipped; its XCom key
  ``decision`` says why)
- canary: ``prepare`` -> ``run_point`` (mapped) -> ``decide`` (branch; XCom key ``decision``:
  outcome, reason, value, baseline, point_id, parameters) -> ``deploy_new_model`` |
  ``alert_of_failed_model``
"""

from __future__ import annotations

import json
import math
import posixpath
import textwrap
from functools import cache
from pathlib import Path

import jinja2

from . import __version__, strategies
from .models import Plan, Point

DEPLOY_TASK = "deploy_new_model"
ALERT_TASK = "alert_of_failed_model"
DECISION_TASK = "decide"  # canary: XCom key "decision"
DECISION_KEY = "decision"
DEFAULT_AIRFLOW_PARALLELISM = 16

_TITLES = {
    "grid": "Grid search",
    "early_stop": "Early-stopping (stochastic) grid search",
    "canary": "Canary test",
}


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("jupyter_mvdp", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Python source, not HTML; user data only enters as JSON literals
    )
    return env.get_template("dag.py.j2")


def _literal(data) -> str:
    """A Python string literal holding ``data`` as JSON: safe whatever the data contains."""
    return repr(json.dumps(data, ensure_ascii=False, sort_keys=True))


def parallelism_of(plan: Plan) -> int:
    return plan.parallelism or DEFAULT_AIRFLOW_PARALLELISM


def task_layout(plan: Plan, n_points: int) -> list[tuple[str, int]]:
    """Each mapped papermill task id, with the index (in the ordered points) of its map
    index 0, so a target can map (task id, map index) back to a point."""
    if plan.strategy.kind != "early_stop":
        return [("run_point", 0)]
    size = parallelism_of(plan)
    return [
        (f"run_round_{r}", r * size)
        for r in range(strategies.n_rounds(plan.strategy, n_points, size))
    ]


def render_dag(
    *,
    dag_id: str,
    plan: Plan,
    points: list[Point],
    notebook: str,
    outputs: str,
    kernel: str | None = None,
    champion: float | None = None,
    deploy_notebook: str | None = None,
    description: str = "",
) -> str:
    """The DAG source for ``plan`` over ``points`` (already in the strategy's order).

    ``notebook`` / ``outputs`` / ``deploy_notebook`` are paths or fsspec URLs as the Airflow
    workers see them; ``champion`` is the canary's baseline when the plan has none.
    """
    strategy = plan.strategy
    size = parallelism_of(plan)
    if deploy_notebook and not ("://" in deploy_notebook or deploy_notebook.startswith("/")):
        deploy_notebook = posixpath.join(posixpath.dirname(notebook), deploy_notebook)
    settings = {
        "dag_id": dag_id,
        "description": description or f"jupyter-mvdp {strategy.kind} of {Path(notebook).name}",
        "notebook": notebook,
        "outputs": outputs.rstrip("/"),
        "kernel": kernel,
        "strategy": strategy.kind,
        "metric": strategy.metric,
        "goal": strategy.goal,
        "target": strategy.target,
        "budget": strategy.budget,
        "tolerance": strategy.tolerance,
        "baseline": strategy.baseline if strategy.baseline is not None else champion,
        "fixed_baseline": strategy.baseline is not None,
        "deploy_notebook": deploy_notebook,
        "parallelism": size,
        "timeout": plan.timeout,
        "schedule": plan.schedule,
        "executor": plan.executor.to_json(),
        "rounds": strategies.n_rounds(strategy, len(points), size),
        "run_at_most": strategies.budget(strategy, len(points)),
    }
    return _template().render(
        kind=strategy.kind,
        title=f"{_TITLES[strategy.kind]} of {Path(notebook).name}: {len(points)} points",
        summary=textwrap.fill(_summary(plan, len(points)), width=92),
        version=__version__,
        notebook_name=Path(notebook).name,
        executor=plan.executor,
        settings_literal=_literal(settings),
        points_literal=_literal([p.to_json() for p in points]),
    )


def _summary(plan: Plan, n: int) -> str:
    s = plan.strategy
    goal = "highest" if s.goal == "max" else "lowest"
    if s.kind == "grid":
        rank = f", ranked by the {goal} {s.metric}" if s.metric else ""
        return f"Runs every point{rank}, at most {parallelism_of(plan)} at a time."
    if s.kind == "early_stop":
        size = parallelism_of(plan)
        rounds = math.ceil(strategies.budget(s, n) / size)
        return (
            f"Runs the points in a seeded random order (seed {s.seed}), {size} per round, up to "
            f"{rounds} rounds; stops once {s.metric} reaches {s.target:g} ({goal} is better) or "
            f"{strategies.budget(s, n)} points have run. The points never run are skipped."
        )
    baseline = f"the baseline {s.baseline:g}" if s.baseline is not None else "the last champion"
    return (
        f"Runs the candidate, takes the point with the {goal} {s.metric} and compares it with "
        f"{baseline} (tolerance {s.tolerance:g}): deploy_new_model when it is good enough, "
        "alert_of_failed_model otherwise."
    )
