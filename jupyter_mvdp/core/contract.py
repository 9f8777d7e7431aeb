"""The DAG contract: the task ids and XCom keys that a rendered DAG and the targets that
follow it agree on, in one place.

The renderer hands these names to the template as data (``SETTINGS["tasks"]`` and
``SETTINGS["keys"]`` in the DAG file), and the Airflow target reads task instances and XComs
by the same names, so the two cannot drift. Round slicing is ``runtime.round_slice`` (the
DAG calls it through the shipped runtime module).

Every run starts with ``points``: it picks the run's version (the one its conf names, else
the DAG file's own: ``render.dag.version_document``), pushes its digest as the XCom
``version`` and returns the point ids the first mapped task maps (every later task reads the
run's points, parameters and rules from that version). Then, by strategy:

- grid: ``run_point`` (mapped) -> ``collect`` (return value: ``best`` point id, ``value``,
  ``parameters``).
- early_stop: per round r: ``run_round_<r>`` (mapped) -> ``check_round_<r>`` (short-circuit:
  its result is the next round's points, or empty, which skips every later round). Each
  check pushes the XCom ``decision``: ``{"stop", "reason", "ran", "best", "value"}``; the
  last one that ran holds why the search ended.
- canary: ``run_point`` (mapped) -> ``decide`` (branch) -> ``deploy_new_model`` |
  ``alert_of_failed_model``. ``decide`` pushes the XCom ``decision``: ``{"outcome",
  "reason", "value", "baseline"}`` plus ``point_id`` and ``parameters`` of the winner, and
  ``parameters`` / ``deploy_output`` for the deploy notebook. (A branch task's return value
  is the id of the branch it follows, hence named keys rather than ``return_value``.)
"""

from __future__ import annotations

from . import runtime
from .models import Plan

#: task ids; ``{}`` is the round number
TASKS = {
    "points": "points",
    "run_point": "run_point",
    "run_round": "run_round_{}",
    "check_round": "check_round_{}",
    "collect": "collect",
    "decide": "decide",
    "deploy": "deploy_new_model",
    "alert": "alert_of_failed_model",
}
#: XCom keys
KEYS = {
    "version": "version",
    "decision": "decision",
    "parameters": "parameters",
    "deploy_output": "deploy_output",
}
#: the events a plan's ``notify`` names (plan.schema.json ``notify_events``): the canary's
#: two outcomes and the run's end
EVENTS = {
    "alert": "canary_alert",
    "deployed": "canary_deployed",
    "failed": "run_failed",
    "succeeded": "run_succeeded",
}
#: Airflow's parallelism for a plan that sets none
DEFAULT_AIRFLOW_PARALLELISM = 16


def parallelism_of(plan: Plan) -> int:
    return plan.parallelism or DEFAULT_AIRFLOW_PARALLELISM


def n_rounds(plan: Plan, n_points: int) -> int:
    """How many mapped papermill tasks the DAG has (early stop: one a round)."""
    if plan.strategy.kind != "early_stop":
        return 1 if n_points else 0
    return runtime.n_rounds(n_points, parallelism_of(plan), plan.strategy.budget)


def papermill_tasks(plan: Plan, n_points: int) -> list[tuple[str, int]]:
    """Each mapped papermill task id, with the index (in the ordered points, as the DAG
    embeds them) of its map index 0: map index i of that task runs point first + i."""
    if plan.strategy.kind != "early_stop":
        return [(TASKS["run_point"], 0)]
    size, limit = parallelism_of(plan), plan.strategy.budget
    return [
        (TASKS["run_round"].format(r), runtime.round_slice(r, n_points, size, limit)[0])
        for r in range(n_rounds(plan, n_points))
    ]


def decision_task(plan: Plan) -> str | None:
    """The task whose XCom ``decision`` says how the run ended, or None (grid). For early
    stop this is the prefix of the round checks: the last one that succeeded decided."""
    if plan.strategy.kind == "canary":
        return TASKS["decide"]
    if plan.strategy.kind == "early_stop":
        return TASKS["check_round"].format("")
    return None
