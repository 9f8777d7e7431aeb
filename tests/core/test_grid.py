"""grid.py: specs become typed points with stable ids; every error names its parameter."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from jupyter_mvdp.core.grid import axis_values, check, expand, grid_size, point_id
from jupyter_mvdp.core.models import Parameter
from jupyter_mvdp.exceptions import GridTooLarge, InvalidPlan, ParameterTypeError, UnknownParameter

PARAMS = [
    Parameter("n", "int", "10"),
    Parameter("rate", "float", "0.1"),
    Parameter("name", "str", '"a"'),
    Parameter("flag", "bool", "False"),
    Parameter("layers", "list", "[1]"),
    Parameter("anything", "None", "None"),
]


@pytest.mark.parametrize(
    ("spec", "values"),
    [
        ([1, 2, 3], [1, 2, 3]),
        ({"start": 2, "stop": 8, "step": 2}, [2, 4, 6, 8]),
        ({"start": 2, "stop": 9, "step": 2}, [2, 4, 6, 8]),
        ({"start": 0.1, "stop": 0.3, "step": 0.1}, [0.1, 0.2, 0.3]),
        ({"start": 5, "stop": 1, "step": -2}, [5, 3, 1]),
        ({"start": 0, "stop": 1, "num": 5}, [0.0, 0.25, 0.5, 0.75, 1.0]),
        ({"start": 1, "stop": 100, "num": 3, "log": True}, [1.0, 10.0, 100]),
        ({"start": 3, "stop": 7, "num": 1}, [3]),
        ("gini", ["gini"]),
        (None, [None]),
        ([[1, 2]], [[1, 2]]),
    ],
)
def test_axis_values(spec, values):
    assert axis_values("p", spec) == values


@pytest.mark.parametrize(
    ("grid", "typed"),
    [
        (
            {"n": {"start": 10, "stop": 1000, "num": 3, "log": True}},
            [{"n": 10}, {"n": 100}, {"n": 1000}],
        ),
        (
            {"n": {"start": 1, "stop": 2, "num": 5}},
            [{"n": 1}, {"n": 2}],
        ),  # rounded, duplicates dropped
        ({"rate": [1, 0.5]}, [{"rate": 1.0}, {"rate": 0.5}]),
        ({"flag": [True, False]}, [{"flag": True}, {"flag": False}]),
        ({"layers": [[[1, 2], [3]]]}, [{"layers": [[1, 2], [3]]}]),
        ({"anything": [1, "x", None]}, [{"anything": 1}, {"anything": "x"}, {"anything": None}]),
        ({}, [{}]),  # an empty grid: the notebook run once with its defaults
    ],
)
def test_values_are_checked_and_converted_by_type(grid, typed):
    assert [p.parameters for p in expand(grid, PARAMS)] == typed


@pytest.mark.parametrize(
    ("grid", "error", "needle"),
    [
        ({"n": [1, 2.5]}, ParameterTypeError, "n is an int parameter; got 2.5"),
        ({"n": [True]}, ParameterTypeError, "n is an int parameter; got True"),
        ({"rate": ["x"]}, ParameterTypeError, "rate is a float parameter; got 'x'"),
        ({"name": [3]}, ParameterTypeError, "name is a str parameter; got 3"),
        ({"flag": ["yes"]}, ParameterTypeError, "flag is a bool parameter; got 'yes'"),
        (
            {"nope": [1]},
            UnknownParameter,
            "Unknown parameter 'nope'; the notebook's parameters are: n, rate, name, flag, layers, anything",
        ),
        ({"n": {"start": 1, "stop": 5, "step": -1}}, InvalidPlan, "step -1 never gets from 1 to 5"),
        (
            {"rate": {"start": 0, "stop": 1, "num": 3, "log": True}},
            InvalidPlan,
            "log range needs start and stop above 0",
        ),
    ],
)
def test_errors_name_the_parameter(grid, error, needle):
    with pytest.raises(error) as caught:
        expand(grid, PARAMS)
    assert needle in caught.value.message
    assert caught.value.errors[0]["field"].startswith("grid")


def test_the_size_limit_is_checked_before_anything_is_built():
    huge = {"a": list(range(1000)), "b": {"start": 0, "stop": 999_999, "step": 1}}
    assert grid_size(huge) == 1_000_000_000
    started = time.perf_counter()
    with pytest.raises(GridTooLarge, match="1,000,000,000 points, above the limit of 10,000"):
        expand(huge)
    assert (
        time.perf_counter() - started < 1
    )  # nothing was materialized (not a timing test of speed)
    assert len(expand({"a": list(range(50))}, limit=50)) == 50
    with pytest.raises(GridTooLarge, match="51 points, above the limit of 50"):
        expand({"a": list(range(51))}, limit=50)


def test_point_ids_are_stable_and_depend_only_on_values():
    assert point_id({"a": 1, "b": "x"}) == point_id({"b": "x", "a": 1})
    assert point_id({"a": 1}) != point_id({"a": 2})
    assert point_id({"a": 1}).startswith("p-") and len(point_id({"a": 1})) == 12
    code = "from jupyter_mvdp.core.grid import point_id; print(point_id({'b': 'x', 'a': 1}))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == point_id({"a": 1, "b": "x"})
    assert [p.id for p in expand({"a": [1, 2]})] == [p.id for p in expand({"a": [1, 2]})]


def test_points_are_row_major_and_deduplicated():
    points = expand({"a": [1, 2], "b": ["x", "y"]})
    assert [p.parameters for p in points] == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 2, "b": "x"},
        {"a": 2, "b": "y"},
    ]
    assert len(expand({"a": [1, 1, 2]})) == 2


def test_check_reports_every_problem_at_once():
    size, errors = check({"n": [1, "x"], "nope": [1], "rate": [0.1, 0.2]}, PARAMS)
    assert size == 4
    assert {e["field"] for e in errors} == {"grid.n", "grid.nope"}
    size, errors = check({"n": list(range(200)), "rate": list(range(100))}, PARAMS, limit=10_000)
    assert size == 20_000 and errors == [
        {"field": "grid", "message": "20,000 points (limit 10,000)"}
    ]
