"""Metrics are data, never a weapon: whatever a notebook records (a huge int, text that looks
like a number, Infinity, NaN, a dict...), every route answers strict JSON, only finite
numbers are ranked or best, the run says which points recorded what, and it can still be
deleted. A real server runs a real notebook that records each kind."""

from __future__ import annotations

import json

import pytest

from jupyter_mvdp.core import runtime
from tests.server.test_handlers import call, wait_for_run
from tests.targets.test_local import write_notebook

POISON = {
    "huge": "10**400",
    "inf_text": "'Infinity'",
    "nan_text": "'NaN'",
    "num_text": "'0.99'",
    "inf": "float('inf')",
    "minus_inf": "float('-inf')",
    "nan": "float('nan')",
    "dict": "{'a': 1}",
    "list": "[1, 2]",
    "bool": "True",
    "none": "None",
    "good": "0.5",
    "also_good": "0.25",
}
BODY = (
    "from jupyter_mvdp import record\n"
    f"VALUES = {{{', '.join(f'{k!r}: {v}' for k, v in POISON.items())}}}\n"
    "record('acc', VALUES[kind])"
)


def strict(text: str):
    """JSON as a browser parses it: a bare NaN or Infinity is an error."""

    def refuse(name):
        raise AssertionError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


async def fetch_strict(jp_fetch, *parts, **kwargs):
    response = await jp_fetch(*parts, raise_error=False, **kwargs)
    return response.code, strict(response.body.decode())


@pytest.mark.timeout(300)
async def test_every_poisoned_metric_is_shown_never_ranked_and_the_run_stays_usable(
    jp_fetch, jp_root_dir
):
    write_notebook(jp_root_dir / "poison.ipynb", params="kind = 'good'", body=BODY)
    plan = {
        "grid": {"kind": list(POISON)},
        "strategy": {"kind": "grid", "metric": "acc", "goal": "max"},
        "parallelism": 4,
    }
    status, doc = await call(
        jp_fetch, "mvdp", "runs", method="POST", body={"notebook": "poison.ipynb", "plan": plan}
    )
    assert status == 202, doc
    done = await wait_for_run(jp_fetch, doc["run_id"], timeout=240)
    code, run = await fetch_strict(jp_fetch, "mvdp", "runs", doc["run_id"])
    assert code == 200 and run["state"] == "success", run
    by_kind = {p["parameters"]["kind"]: p for p in run["points"]}
    ranked = {k: p["rank"] for k, p in by_kind.items() if p["rank"] is not None}
    assert ranked == {"good": 1, "also_good": 2}
    assert run["best"]["parameters"] == {"kind": "good"}
    assert by_kind["huge"]["metrics"]["acc"] == str(10**400)  # kept as recorded, as text
    assert by_kind["num_text"]["metrics"]["acc"] == "0.99"  # text stays text
    assert by_kind["inf_text"]["metrics"]["acc"] == "Infinity"
    assert by_kind["dict"]["metrics"]["acc"] == {"a": 1}
    (warning,) = [w for w in run["warnings"] if "not a finite number" in w]
    for kind in ("huge", "inf_text", "num_text", "dict", "bool"):
        assert by_kind[kind]["id"] in warning or "more" in warning
    code, runs = await fetch_strict(jp_fetch, "mvdp", "runs")
    assert code == 200 and [r["run_id"] for r in runs["runs"]] == [done["run_id"]]
    code, metrics = await fetch_strict(
        jp_fetch, "mvdp", "metrics", params={"notebook": "poison.ipynb"}
    )
    assert code == 200 and metrics == {"metrics": ["acc"]}
    status, _ = await call(jp_fetch, "mvdp", "runs", done["run_id"], method="DELETE")
    assert status == 204


@pytest.mark.parametrize(
    "value",
    [
        float("inf"),
        float("-inf"),
        float("nan"),
        10**400,
        2**60,
        "0.99",
        "Infinity",
        True,
        None,
        [1],
        {"a": 1},
    ],
    ids=repr,
)
def test_only_finite_numbers_are_ranked_best_or_decide(value):
    results = [("odd", {"m": value}), ("fine", {"m": 0.1})]
    assert runtime.metric_value({"m": value}, "m") is None
    assert runtime.best(results, "m", "max") == ("fine", 0.1)
    assert runtime.best(results, "m", "min") == ("fine", 0.1)
    board = runtime.leaderboard(
        [{"id": i, "state": "success", "metrics": m} for i, m in results], "m"
    )
    assert [(r["id"], r["rank"]) for r in board] == [("fine", 1), ("odd", None)]
    decision = runtime.canary_decision(
        "m", "max", 0.0, 0.5, True, runtime.metric_value({"m": value}, "m")
    )
    assert decision["outcome"] == "alert"
    json.dumps(runtime.json_safe({"m": value}), allow_nan=False)  # strict JSON


def test_a_json_scrap_of_infinity_text_stays_text():
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "outputs": [
                    {"data": {runtime.SCRAP_MIMETYPE: {"name": n, "data": v, "encoder": "json"}}}
                    for n, v in (("a", "Infinity"), ("b", "NaN"), ("c", "[1, 2]"))
                ],
            }
        ]
    }
    assert runtime.read_metrics(nb) == {"a": "Infinity", "b": "NaN", "c": [1, 2]}
