"""A pipeline's history: each run's outcome over time (whoever started it), its champions
and when they changed, as ``GET /mvdp/pipelines/<id>/history`` and ``jupyter mvdp status
--pipeline`` show it (docs/api.md). Built from what the store holds; presentation only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .document import started_by
from .runtime import best as best_of


def history_document(
    pipeline: str,
    runs: Iterable[Mapping[str, Any]],
    values: Iterable[Mapping[str, Any]],
    champions: list[dict],
    deployed: Iterable[Mapping[str, Any]],
) -> dict:
    """``runs``: the stored runs of the pipeline, newest first (``RunStore.pipeline_runs``);
    ``values``: the best succeeded point of each (``RunStore.best_points``); ``champions``: newest first; ``deployed``: its last deploy per
    target (``RunStore.pipelines``)."""
    by_run: dict[str, list[Mapping[str, Any]]] = {}
    for v in values:
        by_run.setdefault(v["run_id"], []).append(v)
    crowned = {c["run_id"] for c in champions}
    shown = []
    for run in runs:
        strategy = run["plan"]["strategy"]
        metric, goal = strategy.get("metric"), strategy.get("goal", "max")
        top = best_of(((v, {"m": v["value"]}) for v in by_run.get(run["run_id"], ())), "m", goal)
        shown.append(
            {
                "run_id": run["run_id"],
                "target": run["target"],
                "state": run["state"],
                "outcome": run["outcome"],
                "reason": run["reason"],
                "message": run["message"],
                "created": run["created"],
                "finished": run["finished"],
                "started_by": started_by(run),
                "strategy": strategy["kind"],
                "metric": metric,
                "best": (
                    {"id": top[0]["point_id"], "parameters": top[0]["parameters"], "value": top[1]}
                    if top and metric
                    else None
                ),
                "crowned": run["run_id"] in crowned,
            }
        )
    return {
        "pipeline": pipeline,
        "deployed": [
            {
                "target": d["target"],
                "first_deployed": d["first_deployed"],
                "deployed": d["deployed"],
                "schedule": d["spec"]["plan"].get("schedule"),
                "notebook": d["notebook"],
            }
            for d in deployed
        ],
        "champion": champions[0] if champions else None,
        "champions": champions,
        "runs": shown,
    }
