"""A pipeline's champion: the point a canary deployed, whose metric the next canary must
match (within its tolerance) when the plan sets no baseline."""

from __future__ import annotations

from ..core import abtest, runtime, strategies
from ..core.models import RunSpec
from ..exceptions import RunNotFound
from .store import RunStore


def crown(store: RunStore, spec: RunSpec) -> None:
    """The run's best successful point becomes its pipeline's champion (an A/B test's: B,
    with its mean metric over the pairs)."""
    strategy = spec.plan.strategy
    if strategy.kind == "ab":
        crown_b(store, spec)
        return
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


def crown_b(store: RunStore, spec: RunSpec) -> None:
    """Variant B, promoted by an A/B test, becomes the champion: its first replicate's point
    (whose parameters an A/B test with ``a: "champion"`` runs as A) and its mean metric."""
    statuses = store.points(spec.run_id)
    docs = [
        {"id": p.id, "parameters": p.parameters, **statuses[p.id].to_json()}
        for p in spec.points
        if p.id in statuses
    ]
    found = abtest.verdict(spec.plan.strategy, docs)
    first = next((p.id for p in spec.points if runtime.ab_variant(p.id) == "b"), None)
    if found["mean_b"] is not None:
        metric = spec.plan.strategy.metric
        store.set_champion(spec.pipeline, metric, found["mean_b"], spec.run_id, first)


def champion_parameters(
    store: RunStore, pipeline: str, metric: str | None, legacy: tuple[str, str, str] | None = None
) -> dict | None:
    """The parameters of the champion's point (None: no champion measured with ``metric``,
    or its run is gone): what an A/B test with ``a: "champion"`` runs as A."""
    if champion_value(store, pipeline, metric, legacy) is None:
        return None
    stored = store.champion(pipeline) or (store.champion(legacy[0]) if legacy else None)
    try:
        points = store.spec(stored["run_id"]).points
    except RunNotFound:
        return None
    return next((dict(p.parameters) for p in points if p.id == stored["point_id"]), None)
