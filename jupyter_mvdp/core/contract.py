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
- optimize: per round r: ``ask_round_<r>`` (short-circuit: rebuilds the study from the
  earlier rounds' outputs and asks round r's points: runtime.optimize_ask; pushes them as the
  XCom ``asked``, ``{slot id: parameters}``, and returns the slot ids, or nothing once the
  target is reached, which skips every later round) -> ``run_round_<r>`` (mapped over the
  slot ids; each reads its parameters from ``asked``); a last ``ask_round_<n>`` only decides.
  Each ask pushes ``decision`` as early_stop's checks do.
- canary: ``run_point`` (mapped) -> ``decide`` (branch) -> ``deploy_new_model`` |
  ``alert_of_failed_model``. ``decide`` pushes the XCom ``decision``: ``{"outcome",
  "reason", "value", "baseline"}`` plus ``point_id`` and ``parameters`` of the winner, and
  ``parameters`` / ``deploy_output`` for the deploy notebook. (A branch task's return value
  is the id of the branch it follows, hence named keys rather than ``return_value``.)
- ab: ``run_point`` (mapped over A0, B0, A1, B1, ...) -> ``decide`` (branch: the verdict,
  runtime.ab_verdict) -> ``deploy_new_model`` (promote: B is better and the plan asks) |
  ``keep_variant_a``. ``decide`` pushes the XCom ``decision``: the verdict's fields plus
  ``outcome`` (None without promote) and, when B is promoted, ``point_id``, ``value`` (B's
  mean) and ``parameters`` (B's) as the canary's.
"""

from __future__ import annotations

from . import runtime
from .models import Plan
from .strategies import ROUNDS

#: task ids; ``{}`` is the round number
TASKS = {
    "points": "points",
    "run_point": "run_point",
    "run_round": "run_round_{}",
    "check_round": "check_round_{}",
    "ask_round": "ask_round_{}",
    "collect": "collect",
    "decide": "decide",
    "deploy": "deploy_new_model",
    "alert": "alert_of_failed_model",
    "keep": "keep_variant_a",
}
#: XCom keys
KEYS = {
    "version": "version",
    "decision": "decision",
    "parameters": "parameters",
    "deploy_output": "deploy_output",
    "asked": "asked",
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


#: an optimize plan's round when it sets no parallelism: the same on every target, so one
#: seed decides the same points wherever the plan runs
DEFAULT_OPTIMIZE_ROUND = 4


def parallelism_of(plan: Plan) -> int:
    if plan.parallelism:
        return plan.parallelism
    return (
        DEFAULT_OPTIMIZE_ROUND if plan.strategy.kind == "optimize" else DEFAULT_AIRFLOW_PARALLELISM
    )


def round_size(plan: Plan, here: int) -> int:
    """The points of one round on a target that runs ``here`` at once: an optimize plan's
    rounds are the plan's own (what Optuna is asked depends on them), early stop's what runs
    at once."""
    return parallelism_of(plan) if plan.strategy.kind == "optimize" else here


def n_rounds(plan: Plan, n_points: int) -> int:
    """How many mapped papermill tasks the DAG has (early stop, optimize: one a round)."""
    if plan.strategy.kind not in ROUNDS:
        return 1 if n_points else 0
    return runtime.n_rounds(n_points, parallelism_of(plan), plan.strategy.budget)


def papermill_tasks(plan: Plan, n_points: int) -> list[tuple[str, int]]:
    """Each mapped papermill task id, with the index (in the ordered points, as the DAG
    embeds them) of its map index 0: map index i of that task runs point first + i."""
    if plan.strategy.kind not in ROUNDS:
        return [(TASKS["run_point"], 0)]
    size, limit = parallelism_of(plan), plan.strategy.budget
    return [
        (TASKS["run_round"].format(r), runtime.round_slice(r, n_points, size, limit)[0])
        for r in range(n_rounds(plan, n_points))
    ]


def decision_task(plan: Plan) -> str | None:
    """The task whose XCom ``decision`` says how the run ended, or None (grid). For early
    stop this is the prefix of the round checks: the last one that succeeded decided."""
    if plan.strategy.kind in ("canary", "ab"):
        return TASKS["decide"]
    if plan.strategy.kind == "early_stop":
        return TASKS["check_round"].format("")
    if plan.strategy.kind == "optimize":
        return TASKS["ask_round"].format("")
    return None
