"""The fixtures both languages run: the server's rules (grid, values, ranking) on the same
cases the frontend's jest tests run (src/__tests__/contract.spec.ts), so the two cannot drift.
Each fixture file says what it pins in its "about"."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from jupyter_mvdp.core.grid import check, coerce, expand, grid_size
from jupyter_mvdp.core.models import Parameter
from jupyter_mvdp.core.params import literal_choices
from jupyter_mvdp.core.runtime import leaderboard
from jupyter_mvdp.exceptions import InvalidPlan, ParameterTypeError

HERE = Path(__file__).parent


def cases(name: str) -> list[dict]:
    return json.loads((HERE / name).read_text("utf-8"))["cases"]


def parameter(name: str, type_name: str) -> Parameter:
    """A parameter as params.py reads it from an annotation (Literal choices included)."""
    return Parameter(name, type_name, "", choices=literal_choices(type_name))


def case_id(case: dict) -> str:
    return case.get("name") or f"{case['type']}: {case['text']!r}"


# --- grids.json ------------------------------------------------------------------------------

GRIDS = cases("grids.json")


@pytest.mark.parametrize("case", [c for c in GRIDS if "error" not in c], ids=case_id)
def test_grid_size_and_points(case):
    grid = case["grid"]
    params = [parameter(n, t) for n, t in case["parameters"].items()]
    assert grid_size(grid) == case["size"]
    assert check(grid, params) == (case["size"], [])
    assert len(expand(grid, params)) == case["points"]
    for name, values in case.get("values", {}).items():
        axis = expand({name: grid[name]}, params)
        assert [p.parameters[name] for p in axis] == values


@pytest.mark.parametrize("case", [c for c in GRIDS if "error" in c], ids=case_id)
def test_grid_error(case):
    params = [parameter(n, t) for n, t in case["parameters"].items()]
    _, errors = check(case["grid"], params)
    assert case["error"] in errors
    with pytest.raises(InvalidPlan):
        expand(case["grid"], params)


# --- values.json -----------------------------------------------------------------------------

VALUES = cases("values.json")


def as_typed(text: str):
    """The text read as a Python literal, else the text: what a refused entry would send."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text.strip()


@pytest.mark.parametrize("case", [c for c in VALUES if "value" in c], ids=case_id)
def test_the_editors_value_fits_the_type(case):
    p = parameter("p", case["type"])
    assert coerce(p, case["value"]) == case["value"]
    assert check({"p": [case["value"]]}, [p]) == (1, [])


@pytest.mark.parametrize("case", [c for c in VALUES if "error" in c], ids=case_id)
def test_what_the_editor_refuses_the_server_refuses(case):
    p = parameter("p", case["type"])
    refused = case["refused"] if "refused" in case else as_typed(case["text"])
    with pytest.raises(ParameterTypeError):
        coerce(p, refused)
    _, errors = check({"p": [refused]}, [p])
    assert [e["field"] for e in errors] == ["grid.p"]


# --- leaderboard.json ------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("leaderboard.json"), ids=case_id)
def test_leaderboard(case):
    rows = leaderboard(case["points"], case["metric"], case["goal"])
    assert [r["id"] for r in rows] == case["order"]
    assert {r["id"]: r["rank"] for r in rows} == case["ranks"]
