"""A pipeline's champion: the point a canary deployed, whose metric the next canary must
match (within its tolerance) when the plan sets no baseline."""

from __future__ import annotations

from ..core import strategies
from ..core.models import RunSpec
from ..exceptions import RunNotFound
from .store import RunStore


def crown(store: RunStore, spec: RunSpec) -> None:
    """The run's best successful point becomes its pipeline's champion."""
    strategy = spec.plan.strategy
    top = strategies.best(
        ((pid, s.metrics) for pid, s in store.points(spec.run_id).items() if s.state == "success"),
        strategy.metric,
        strategy.goal,
    )
    if top:
        store.set_champion(spec.pipeline, strategy.metric, top[1], spec.run_id, top[0])


def champion_value(
    store: RunStore, pipeline: str, metric: str | None, legacy: tuple[str, str, str] | None = None
) -> float | None:
    """The champion's metric value, when it was measured with ``metric``. ``legacy``: (the
    pipeline's id before ids became injective, its user, its notebook): a champion stored
    under that id carries over when a run of this very user and notebook crowned it (the old
    ids of two users could be equal: another user's champion never carries over)."""
    stored = store.champion(pipeline)
    if stored is None and legacy is not None:
        old, user, notebook = legacy
        stored = store.champion(old)
        try:
            crowned_by = store.run_record(stored["run_id"]) if stored else None
        except RunNotFound:
            crowned_by = None
        if crowned_by is None or (crowned_by["user"], crowned_by["notebook"]) != (user, notebook):
            stored = None
    if stored and stored["metric"] == metric:
        return stored["value"]
    return None
