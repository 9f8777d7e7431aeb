"""The optimize strategy's plan-side rules: the search space from the grid editor's axes, the
run's point slots and its history, and Optuna's parameter importance for the run document.

The decision itself (which points next) is runtime.optimize_ask, the one copy the local
runner and the DAG both call. The space is plain JSON (``{name: {"type": "float" | "int" |
"categorical" | "fixed", ...}}``), built here once at submit and embedded in the run's spec
and the DAG, so the workers never need this package:

- a range ``{start, stop, step}`` of integers is an ``int`` dimension with that step; of
  other numbers, a ``float`` dimension between its ends;
- a range ``{start, stop, num, log}`` is a ``float`` dimension (``log`` as the range), an
  ``int`` one for a parameter typed ``int``;
- a list of values is ``categorical`` (any JSON values), one value stays ``fixed``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..exceptions import InvalidPlan, UnknownParameter
from . import grid, runtime
from .models import Parameter, Point, Strategy

#: most points an optimize run may ask for (Optuna's TPE rebuilds the study every round)
MAX_BUDGET = 1000
#: fewest finished points with the metric before the importance is computed
IMPORTANCE_MIN_POINTS = 8


def search_space(
    axes: Mapping[str, Any], parameters: Iterable[Parameter] | None = None
) -> dict[str, dict]:
    """The search space of a grid spec (see the module docstring); ``parameters`` (params.py)
    check names and types as the grid does. Raises InvalidPlan naming the axis."""
    known = {p.name: p for p in parameters} if parameters is not None else None
    space: dict[str, dict] = {}
    for name, spec in axes.items():
        if known is not None and name not in known:
            names = ", ".join(known) or "none"
            raise UnknownParameter(
                f"Unknown parameter {name!r}; the notebook's parameters are: {names}",
                errors=[
                    {"field": f"grid.{name}", "message": f"unknown parameter (known: {names})"}
                ],
            )
        parameter = known.get(name) if known is not None else None
        if isinstance(spec, list):
            if not spec:
                raise _bad(name, "a list of values needs at least one value")
            values = [_coerced(parameter, v) for v in spec]
            space[name] = {"type": "categorical", "choices": values}
        elif isinstance(spec, dict):
            grid.axis_length(name, spec)  # the grid's own checks of a range
            space[name] = _range(name, spec, parameter)
        else:
            space[name] = {"type": "fixed", "value": _coerced(parameter, spec)}
    if not any(d["type"] != "fixed" for d in space.values()):
        raise InvalidPlan(
            "optimize needs something to search: a range or a list of values in the grid",
            errors=[{"field": "grid", "message": "no range or list of values to search"}],
        )
    return space


def _bad(name: str, message: str) -> InvalidPlan:
    return InvalidPlan(f"{name}: {message}", errors=[{"field": f"grid.{name}", "message": message}])


def _coerced(parameter: Parameter | None, value: Any) -> Any:
    return value if parameter is None else grid.coerce(parameter, value)


def _range(name: str, spec: Mapping[str, Any], parameter: Parameter | None) -> dict:
    start, stop = spec["start"], spec["stop"]
    low, high = min(start, stop), max(start, stop)
    log = bool(spec.get("log"))
    typed_int = parameter is not None and parameter.type == "int"
    if "step" in spec and all(isinstance(v, int) for v in (start, stop, spec["step"])):
        step = abs(spec["step"])
        return {"type": "int", "low": low, "high": low + (high - low) // step * step, "step": step}
    if typed_int:
        low, high = math.ceil(low), math.floor(high)
        if low > high:
            raise _bad(name, f"no integer between {start} and {stop}")
        return {"type": "int", "low": low, "high": high, "step": 1, "log": log}
    if parameter is not None:
        grid.coerce(parameter, float(low), from_range=True)  # a float fits the parameter
    return {"type": "float", "low": float(low), "high": float(high), "log": log}


def slots(strategy: Strategy) -> list[Point]:
    """The run's points before any is decided: ``budget`` slots in order, parameters empty
    (each round's ask fills them: PointStatus.parameters)."""
    return [Point(pid, {}) for pid in runtime.optimize_slots(strategy.budget or 0)]


def ask(
    strategy: Strategy,
    space: Mapping[str, Mapping[str, Any]],
    history: Iterable[Mapping[str, Any]],
    n: int,
    r: int,
    size: int,
) -> list[dict]:
    """Round ``r``'s ``n`` points given ``history``, in rounds of ``size``: runtime.optimize_ask
    with the plan's settings (the same call the DAG makes with the settings it embeds)."""
    return runtime.optimize_ask(space, list(history), n, **settings(strategy), r=r, startup=size)


def settings(strategy: Strategy) -> dict:
    """The decision's settings, as the DAG embeds them."""
    return {
        "metric": strategy.metric,
        "goal": strategy.goal,
        "sampler": strategy.sampler or "tpe",
        "seed": strategy.seed,
    }


# --- what the run document shows -----------------------------------------------------------


def history(points: Sequence[Mapping[str, Any]], metric: str | None, goal: str) -> list[dict]:
    """The points that ran, in order: ``{"id", "index", "state", "value", "best"}`` (value:
    the finite metric or None; best: the best value so far, over succeeded points)."""
    rows, best = [], None
    for i, p in enumerate(points):
        if p.get("state") not in ("success", "failed"):
            continue
        value = (
            runtime.metric_value(p.get("metrics"), metric) if p.get("state") == "success" else None
        )
        if value is not None and runtime.is_better(value, best, goal):
            best = value
        rows.append(
            {"id": p.get("id"), "index": i, "state": p["state"], "value": value, "best": best}
        )
    return rows


def importance(
    space: Mapping[str, Mapping[str, Any]],
    points: Sequence[Mapping[str, Any]],
    strategy: Mapping[str, Any],
) -> dict[str, float] | None:
    """Optuna's parameter importance (fANOVA, seeded) over the finished points, by
    parameter, highest first; None with fewer than IMPORTANCE_MIN_POINTS points with the
    metric, a single free dimension, or without optuna on this side."""
    metric, goal = strategy.get("metric"), strategy.get("goal", "max")
    scored = [
        p
        for p in points
        if p.get("state") == "success"
        and runtime.metric_value(p.get("metrics"), metric) is not None
    ]
    free = [n for n, d in space.items() if d["type"] != "fixed"]
    if len(scored) < IMPORTANCE_MIN_POINTS or len(free) < 2:
        return None
    try:
        import optuna
    except ImportError:
        return None
    study = runtime.optimize_study(space, points, metric=metric, goal=goal, sampler="random")
    # fANOVA (Optuna's default) with 16 trees, not 64: ~1 s for 200 points on a busy
    # machine instead of ~12; PED-ANOVA (no scikit-learn) where scikit-learn is missing
    evaluators = (
        lambda: optuna.importance.FanovaImportanceEvaluator(seed=0, n_trees=16),
        optuna.importance.PedAnovaImportanceEvaluator,
    )
    found = None
    for evaluator in evaluators:
        try:
            found = optuna.importance.get_param_importances(study, evaluator=evaluator())
            break
        except ImportError:
            continue
        except (RuntimeError, ValueError):
            return None
    if found is None:
        return None
    return {name: round(float(v), 6) for name, v in found.items()}


def summary(record: Mapping[str, Any], in_order: Sequence[Mapping[str, Any]]) -> dict | None:
    """The run document's ``optimize`` part (None for other strategies): the space, the
    history and, once the run is over, the parameter importance (computed once: the run's
    views are cached per stored version)."""
    space = record["spec"].get("space")
    if not space:
        return None
    strategy = record["spec"]["plan"]["strategy"]
    over = record.get("state") not in ("queued", "running")
    return {
        "space": space,
        "sampler": strategy.get("sampler") or "tpe",
        "history": history(in_order, strategy.get("metric"), strategy.get("goal", "max")),
        "importance": importance(space, in_order, strategy) if over else None,
    }


def check(axes: Any, parameters: Iterable[Parameter] | None) -> list[dict]:
    """The search space's problems, for inline validation (``[{"field", "message"}]``)."""
    if not isinstance(axes, Mapping):
        return [{"field": "grid", "message": "expected an object {parameter: values}"}]
    try:
        search_space(axes, parameters)
    except InvalidPlan as e:
        return list(e.errors or [{"field": "grid", "message": e.message}])
    return []


def asked_parameters(output: Path) -> dict | None:
    """The parameters an executed point ran with, as its output notebook's provenance says
    (a remote target's round asked them: the lab shows them once the notebook is home)."""
    try:
        nb = json.loads(Path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = ((nb.get("metadata") or {}).get("mvdp") or {}).get("parameters")
    return found if isinstance(found, dict) else None


def optuna_problems(here: bool) -> list[dict]:
    """``[{"field", "message"}]`` when the points are asked in this process (``here``: the
    local runner) and optuna is not installed; a remote target's workers need it instead
    (its ask tasks say so in their own error)."""
    import importlib.util

    if not here or importlib.util.find_spec("optuna") is not None:
        return []
    message = f"the optimize strategy needs optuna on this server: {runtime.OPTUNA_LOCAL}"
    return [{"field": "strategy.kind", "message": message}]
