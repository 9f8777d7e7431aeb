"""A grid spec becomes parameter sets (points).

Per parameter the spec holds a list of values, a numeric range ``{"start", "stop", "step"}``
(inclusive of ``stop`` when a step lands on it, as sweep tools do), ``{"start", "stop", "num",
"log"}`` (evenly or log spaced, both ends included), or one fixed value. To pass one list as a
value, wrap it: ``[[1, 2]]``. The size is computed before anything is materialized, so a
mistyped grid of a billion points fails at once with its size.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
import math
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from ..exceptions import GridTooLarge, InvalidPlan, ParameterTypeError, UnknownParameter
from .models import Parameter, Point

DEFAULT_LIMIT = 10_000
_FLOAT_DIGITS = 12  # round range values so 0.1 + 0.2 style noise does not leak into ids


def point_id(parameters: Mapping[str, Any]) -> str:
    """Stable id of a point: same values, same id, in any run and any process."""
    canonical = json.dumps(parameters, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "p-" + hashlib.sha256(canonical.encode()).hexdigest()[:10]


def _bad_axis(name: str, message: str) -> InvalidPlan:
    return InvalidPlan(f"{name}: {message}", errors=[{"field": f"grid.{name}", "message": message}])


def axis_length(name: str, spec: Any) -> int:
    """How many values an axis holds, in closed form: nothing is materialized."""
    if isinstance(spec, list):
        return len(spec)
    if not isinstance(spec, dict):
        return 1
    problems = [e.message for e in _axis_validator().iter_errors(spec)]
    if problems or not spec:
        raise _bad_axis(
            name,
            "expected a list of values, a range {start, stop, step}, {start, stop, num, log}, "
            "or one value",
        )
    start, stop = spec["start"], spec["stop"]
    try:
        if "num" in spec:
            if spec.get("log") and (start <= 0 or stop <= 0):
                raise _bad_axis(
                    name, f"a log range needs start and stop above 0 (got {start}, {stop})"
                )
            return spec["num"]
        step = spec["step"]
        if (stop - start) * step < 0:
            raise _bad_axis(name, f"step {step} never gets from {start} to {stop}")
        if all(isinstance(v, int) for v in (start, stop, step)):  # exact, however large
            return (stop - start) // step + 1
        length = math.floor((stop - start) / step + 1e-9) + 1
    except (OverflowError, ValueError, ZeroDivisionError):
        raise _bad_axis(name, "the range is too large to step through") from None
    return length


@cache
def _axis_validator():
    import jsonschema

    from .models import plan_schema

    axis = plan_schema()["$defs"]["axis"]["oneOf"]
    return jsonschema.Draft202012Validator(
        {"oneOf": [s for s in axis if s.get("type") == "object"]}
    )


def axis_values(name: str, spec: Any) -> list[Any]:
    if isinstance(spec, list):
        return list(spec)
    if not isinstance(spec, dict):
        return [spec]
    n = axis_length(name, spec)
    start, stop = spec["start"], spec["stop"]
    if "num" in spec:
        if n == 1:
            values = [start]
        elif spec.get("log"):
            lo, hi = math.log10(start), math.log10(stop)
            values = [10 ** (lo + (hi - lo) * i / (n - 1)) for i in range(n)]
            values[-1] = stop
        else:
            values = [start + (stop - start) * i / (n - 1) for i in range(n)]
    else:
        values = [start + spec["step"] * i for i in range(n)]
    if all(isinstance(v, int) for v in (start, stop, spec.get("step", 1))) and "num" not in spec:
        return values
    return [round(v, _FLOAT_DIGITS) for v in values]


def grid_size(grid: Mapping[str, Any]) -> int:
    return math.prod(axis_length(name, spec) for name, spec in grid.items())


def expand(
    grid: Mapping[str, Any],
    parameters: Iterable[Parameter] | None = None,
    limit: float = DEFAULT_LIMIT,
) -> list[Point]:
    """All points of the grid, in row-major order of the spec, duplicates removed.

    With ``parameters`` (from params.py), names must exist and values must fit their types;
    int parameters take the nearest int of a ``num`` range (log ranges of tree counts are
    common). Raises InvalidPlan subclasses that name the parameter.
    """
    size = grid_size(grid)
    if size > limit:
        raise GridTooLarge(
            f"The grid has {size:,} points, above the limit of {limit:,}; "
            "use fewer values or the early_stop strategy with a budget",
            errors=[{"field": "grid", "message": f"{size:,} points (limit {limit:,})"}],
        )
    known = {p.name: p for p in parameters} if parameters is not None else None
    axes = []
    for name, spec in grid.items():
        values = axis_values(name, spec)
        if known is not None:
            if name not in known:
                names = ", ".join(known) or "none"
                raise UnknownParameter(
                    f"Unknown parameter {name!r}; the notebook's parameters are: {names}",
                    errors=[
                        {"field": f"grid.{name}", "message": f"unknown parameter (known: {names})"}
                    ],
                )
            values = [coerce(known[name], v, from_range=isinstance(spec, dict)) for v in values]
        axes.append((name, values))
    points: dict[str, Point] = {}
    for combo in itertools.product(*(values for _, values in axes)):
        values = dict(zip((name for name, _ in axes), combo, strict=True))
        pid = point_id(values)
        points.setdefault(pid, Point(pid, values))
    return list(points.values())


def coerce(parameter: Parameter, value: Any, from_range: bool = False) -> Any:
    """Check ``value`` against the parameter's type (unions, ``Optional``, ``Literal``,
    element types of ``list[int]`` / ``dict[str, float]``), converting only where lossless:
    an int for a float, the nearest int of a float range for an int."""
    try:
        node = ast.parse(parameter.type, mode="eval").body if parameter.type != "None" else None
    except SyntaxError:
        node = None  # a type we cannot read: papermill injects any JSON value
    ok, converted = _fits(node, value, from_range)
    if ok:
        return converted
    article = "an" if parameter.type[:1] in "aeiouAEIOU" else "a"
    message = f"{parameter.name} is {article} {parameter.type} parameter; got {value!r}"
    if parameter.choices is not None:
        message += f" (choices: {', '.join(map(repr, parameter.choices))})"
    raise ParameterTypeError(
        message, errors=[{"field": f"grid.{parameter.name}", "message": message}]
    )


_LISTS = {"list", "List", "Sequence", "tuple", "Tuple", "set", "Set", "Iterable", "Collection"}
_DICTS = {"dict", "Dict", "Mapping", "MutableMapping"}


def _fits(node, value: Any, from_range: bool) -> tuple[bool, Any]:
    """(does ``value`` fit the type expression ``node``, the value converted); unknown
    types accept anything."""
    if node is None:
        return True, value
    if isinstance(node, ast.Constant) and node.value is None:
        return value is None, value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _fits_one_of([node.left, node.right], value, from_range)
    name = node.value if isinstance(node, ast.Subscript) else node
    name = name.id if isinstance(name, ast.Name) else getattr(name, "attr", None)
    args = []
    if isinstance(node, ast.Subscript):
        args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    if name == "Optional":
        return _fits_one_of([*args, ast.Constant(None)], value, from_range)
    if name == "Union":
        return _fits_one_of(args, value, from_range)
    if name == "Literal":
        try:
            choices = [ast.literal_eval(a) for a in args]
        except ValueError:
            return True, value
        return any(type(c) is type(value) and c == value for c in choices), value
    if name in ("None", "NoneType"):
        return value is None, value
    if name == "int":
        if from_range and isinstance(value, float):
            value = round(value)
        return isinstance(value, int) and not isinstance(value, bool), value
    if name == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if name == "bool":
        return isinstance(value, bool), value
    if name == "str":
        return isinstance(value, str), value
    if name in _LISTS:
        if not isinstance(value, list):
            return False, value
        if len(args) == 1 or (len(args) == 2 and isinstance(args[1], ast.Constant)):
            items = [_fits(args[0], v, False) for v in value]  # list[int], tuple[int, ...]
            return all(ok for ok, _ in items), [v for _, v in items]
        return True, value
    if name in _DICTS:
        if not isinstance(value, dict):
            return False, value
        if len(args) == 2:
            items = {k: _fits(args[1], v, False) for k, v in value.items()}
            return all(ok for ok, _ in items.values()), {k: v for k, (_, v) in items.items()}
        return True, value
    return True, value  # Any, a class of the notebook's own...: papermill injects JSON


def _fits_one_of(members: list, value: Any, from_range: bool) -> tuple[bool, Any]:
    """A union: a member the value fits as it is wins over one that converts it."""
    results = [_fits(m, value, from_range) for m in members]
    for ok, converted in results:
        if ok and converted == value and type(converted) is type(value):
            return True, converted
    return next(((True, c) for ok, c in results if ok), (False, value))


def check(
    grid: Any, parameters: Iterable[Parameter] | None, limit: int = DEFAULT_LIMIT
) -> tuple[int | None, list[dict]]:
    """Every problem of the grid at once (for inline validation): ``(size, errors)``;
    ``parameters`` None accepts any name (a notebook whose parameters cannot be read).

    Axis lengths come first, in closed form; an axis is expanded (to check its values'
    types) only when it alone fits the limit, so no request can make the server build a huge
    list."""
    if not isinstance(grid, Mapping):
        return None, [{"field": "grid", "message": "expected an object {parameter: values}"}]
    parameters = list(parameters) if parameters is not None else None
    errors: list[dict] = []
    sizes = []
    for name, spec in grid.items():
        try:
            length = axis_length(name, spec)
            sizes.append(length)
            if length > limit:
                errors.append(
                    {"field": f"grid.{name}", "message": f"{length:,} values (limit {limit:,})"}
                )
                continue
            expand({name: spec}, parameters, limit=math.inf)
        except InvalidPlan as e:
            errors.extend(e.errors or [{"field": f"grid.{name}", "message": e.message}])
    size = math.prod(sizes) if len(sizes) == len(grid) else None
    if size is not None and size > limit:
        errors.append({"field": "grid", "message": f"{size:,} points (limit {limit:,})"})
    return size, errors
