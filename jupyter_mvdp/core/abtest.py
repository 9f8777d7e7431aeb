"""The A/B test strategy (``{"kind": "ab"}``) at plan level: its points and its checks.

Variant A and variant B are two parameter sets of the same notebook, over the grid's fixed
values; each runs ``replicates`` times with the ``replicate`` parameter taking the values
0 .. replicates - 1 on both sides, so replicate i of A and replicate i of B pair up (the same
seed, the same fold). The points run as one batch in the order A0, B0, A1, B1, ... (a run cut
short still has whole pairs), and a point's id starts with its variant (``a-…``, ``b-…``), so
the two sides stay apart even when A = B. The verdict itself is ``runtime.ab_verdict``, the
one copy the local runner, the run document and the DAG all call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..exceptions import InvalidPlan, MvdpError
from . import grid, runtime
from .models import Parameter, Point, Strategy

CHAMPION = "champion"


def _error(field: str, message: str) -> InvalidPlan:
    return InvalidPlan(f"{field}: {message}", errors=[{"field": field, "message": message}])


def problems(
    strategy: Strategy, grid_spec: Mapping[str, Any], parameters: Iterable[Parameter] | None
) -> list[dict]:
    """Every problem of an A/B plan beyond the schema's (field errors): the grid may only fix
    values shared by both variants, the replicate must be a parameter that neither variant
    sets, and each variant's values must be the notebook's parameters and fit their types.
    ``parameters`` None: any name (a notebook whose parameters cannot be read)."""
    if strategy.kind != "ab":
        return []
    errors: list[dict] = []
    for name, spec in grid_spec.items():
        try:
            many = grid.axis_length(name, spec) != 1
        except MvdpError:
            continue  # the grid's own check names it
        if many:
            errors.append(
                {
                    "field": f"grid.{name}",
                    "message": "an A/B test compares two variants: the grid may only fix one "
                    "value shared by both (put the values to compare in strategy.a and "
                    "strategy.b)",
                }
            )
    known = {p.name: p for p in parameters} if parameters is not None else None
    rep = strategy.replicate
    if known is not None and rep not in known:
        names = ", ".join(known) or "none"
        errors.append(
            {
                "field": "strategy.replicate",
                "message": f"{rep!r} is not a parameter of the notebook (known: {names})",
            }
        )
    elif known is not None:
        try:
            grid.coerce(known[rep], 0)
        except MvdpError:
            errors.append(
                {
                    "field": "strategy.replicate",
                    "message": f"{rep!r} is a {known[rep].type} parameter: the replicate "
                    "gives it the numbers 0 .. replicates - 1 (a seed, a fold index)",
                }
            )
    if rep in grid_spec:
        errors.append(
            {
                "field": "strategy.replicate",
                "message": f"{rep!r} is also fixed in the grid: the replicate sets it",
            }
        )
    for side in ("a", "b"):
        values = getattr(strategy, side)
        if not isinstance(values, Mapping):
            continue
        if rep in values:
            errors.append(
                {
                    "field": f"strategy.{side}.{rep}",
                    "message": f"the replicate parameter {rep!r} takes the values "
                    f"0 .. replicates - 1 on both sides: variant {side.upper()} may not set it",
                }
            )
        for name, value in values.items():
            if known is None:
                continue
            if name not in known:
                names = ", ".join(known) or "none"
                errors.append(
                    {
                        "field": f"strategy.{side}.{name}",
                        "message": f"unknown parameter (known: {names})",
                    }
                )
                continue
            try:
                grid.coerce(known[name], value)
            except MvdpError as e:
                errors.append({"field": f"strategy.{side}.{name}", "message": e.message})
    return errors


def variant_parameters(
    values: Mapping[str, Any], parameters: Iterable[Parameter] | None
) -> dict[str, Any]:
    """A variant's values as the notebook's parameters take them (grid.coerce)."""
    known = {p.name: p for p in parameters} if parameters is not None else {}
    return {k: grid.coerce(known[k], v) if k in known else v for k, v in values.items()}


def points(
    strategy: Strategy,
    base: Sequence[Point],
    parameters: Iterable[Parameter] | None,
    champion: Mapping[str, Any] | None = None,
) -> list[Point]:
    """The A/B test's points, A0, B0, A1, B1, ...: ``base`` is the grid's one point (its
    fixed values, shared by both), ``champion`` the parameters of the pipeline's champion
    (for ``a: "champion"``). Raises InvalidPlan naming the field of the first problem."""
    parameters = list(parameters) if parameters is not None else None
    grid_spec = {k: [v] for k, v in (base[0].parameters if base else {}).items()}
    found = problems(strategy, grid_spec, parameters)
    if len(base) > 1:
        found.insert(0, {"field": "grid", "message": "an A/B test's grid may only fix values"})
    if found:
        first = found[0]
        raise InvalidPlan(f"{first['field']}: {first['message']}", errors=found)
    a = strategy.a
    if a == CHAMPION:
        if champion is None:
            raise _error(
                "strategy.a",
                "the pipeline has no champion yet to compare with: give A's parameters, or "
                "promote a variant first (a canary, or an A/B test with promote)",
            )
        a = {k: v for k, v in champion.items() if k != strategy.replicate}
    shared = dict(base[0].parameters) if base else {}
    sides = {
        "a": {**shared, **variant_parameters(a or {}, parameters)},
        "b": {**shared, **variant_parameters(strategy.b or {}, parameters)},
    }
    out = []
    for i in range(strategy.replicates or 0):
        for side in runtime.AB_VARIANTS:
            values = {**sides[side], strategy.replicate: i}
            out.append(Point(f"{side}-{grid.point_id(values)[2:]}", values))
    return out


def variant_values(strategy: Strategy, spec_points: Sequence[Point], side: str) -> dict:
    """A variant's parameters as run (its first replicate's, without the replicate)."""
    for p in spec_points:
        if runtime.ab_variant(p.id) == side:
            return {k: v for k, v in p.parameters.items() if k != strategy.replicate}
    return {}


def verdict(strategy: Strategy, point_docs: Iterable[Mapping[str, Any]]) -> dict:
    """runtime.ab_verdict over point documents (``{"id", "state", "parameters",
    "metrics"}``) with the plan's settings."""
    return runtime.ab_verdict(
        point_docs, strategy.metric, strategy.goal, strategy.replicate or "", strategy.alpha
    )


def summary(strategy: Mapping[str, Any], points: Iterable[Mapping[str, Any]]) -> dict | None:
    """What a run document shows of an A/B test (None for other strategies): each variant's
    parameters and values (``{"id", "replicate", "state", "value"}``, value None unless the
    point succeeded with a finite metric), and the verdict once no point is still to run."""
    if strategy.get("kind") != "ab":
        return None
    metric, rep = strategy.get("metric"), strategy.get("replicate") or ""
    points = list(points)
    sides: dict[str, dict] = {side: {"parameters": None, "values": []} for side in ("a", "b")}
    for p in points:
        side = runtime.ab_variant(p.get("id"))
        if side is None:
            continue
        values = dict(p.get("parameters") or {})
        if sides[side]["parameters"] is None:
            sides[side]["parameters"] = {k: v for k, v in values.items() if k != rep}
        ok = p.get("state") == "success"
        sides[side]["values"].append(
            {
                "id": p.get("id"),
                "replicate": values.get(rep),
                "state": p.get("state"),
                "value": runtime.metric_value(p.get("metrics"), metric) if ok else None,
            }
        )
    done = all(p.get("state") in ("success", "failed", "skipped") for p in points)
    found = None
    if done:
        found = runtime.ab_verdict(
            points,
            metric,
            strategy.get("goal", "max"),
            rep,
            strategy.get("alpha", 0.05),
        )
    return {"variants": sides, "verdict": found}
