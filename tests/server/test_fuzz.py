"""Property-based fuzzing of every POST route of a real jupyter server (hypothesis).

The strategies below generate request bodies (and raw bytes) that are mostly wrong in every
way the REST contract allows: unknown keys, wrong types, odd numbers (huge, negative, NaN and
Infinity as JSON extensions), lone surrogates, deep nesting, ranges that never end, 10^9-point
grids, bad schedules, hostile kernels. Whatever comes, the server answers a 4xx with a JSON
message (naming the field where there is one), or accepts the run (202), never a 500, and keeps
serving. Keep new plan fields in ``plans()`` so they are fuzzed too.
"""

from __future__ import annotations

import json
import os

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mvdp.targets.airflow.dev import free_port
from tests.service.test_restart import Server
from tests.targets.test_local import write_notebook

EXAMPLES = int(os.environ.get("MVDP_FUZZ_EXAMPLES", "1000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis folder in the work tree
    derandomize=True,  # the same 1,000 bodies in CI every time
    suppress_health_check=list(HealthCheck),
)
NAMES = ["x", "s", "f", "flag", "items", "nope", "", "a.b", "x\ud800"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["{{ 7*7 }}", "\ud800", "../x.ipynb", "'; import os #", "1e999"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 10**9, 1e-300, 1e308]),
)
good_axes = st.one_of(
    st.lists(st.integers(-5, 5), min_size=1, max_size=3),
    st.lists(st.floats(-1, 1), min_size=1, max_size=3),
    st.lists(st.text(max_size=5), min_size=1, max_size=3),
    st.fixed_dictionaries(
        {"start": st.integers(0, 3), "stop": st.integers(0, 9), "step": st.integers(1, 3)}
    ),
)
axes = st.one_of(
    good_axes,
    good_axes,
    st.lists(json_values, max_size=5),
    st.fixed_dictionaries({"start": numbers, "stop": numbers, "step": numbers}),
    st.fixed_dictionaries(
        {"start": numbers, "stop": numbers, "num": st.integers(-5, 10**9)},
        optional={"log": st.one_of(st.booleans(), json_values)},
    ),
    st.dictionaries(st.sampled_from(["start", "stop", "step", "num", "log", "x"]), json_values),
    scalars,
)
strategies_ = st.one_of(
    st.sampled_from(
        [
            {"kind": "grid"},
            {"kind": "grid", "metric": "score"},
            {"kind": "early_stop", "metric": "score", "target": 1, "budget": 2},
            {"kind": "canary", "metric": "score", "baseline": 0.5},
        ]
    ),
    st.fixed_dictionaries(
        {"kind": st.sampled_from(["grid", "early_stop", "canary", "nope"])},
        optional={
            "metric": st.one_of(st.text(max_size=8), json_values),
            "goal": st.sampled_from(["max", "min", "up"]),
            "target": numbers,
            "budget": st.integers(-3, 10**12),
            "seed": st.integers(-(2**70), 2**70),
            "baseline": numbers,
            "tolerance": numbers,
            "deploy_notebook": st.sampled_from(
                ["fuzz.ipynb", "../x.ipynb", "/etc/passwd", "", "tagme.ipynb", "a\x00b"]
            ),
        },
    ),
    json_values,
)


def plans():
    return st.one_of(
        st.fixed_dictionaries(
            {
                "grid": st.one_of(
                    st.dictionaries(st.sampled_from(NAMES), axes, max_size=3), json_values
                ),
                "strategy": strategies_,
            },
            optional={
                "parallelism": st.one_of(st.integers(-2, 5000), json_values),
                "timeout": st.one_of(numbers, json_values),
                "kernel": st.one_of(
                    st.sampled_from(["python3", "{{ 7*7 }}", "nope", ""]), json_values
                ),
                "warm_kernels": st.one_of(st.booleans(), json_values),
                "schedule": st.one_of(
                    st.sampled_from(
                        [
                            "@daily",
                            "0 6 * * *",
                            "every tuesday-ish",
                            "PT30M",
                            "P0D",
                            "61 * * * *",
                            "@once",
                        ]
                    ),
                    json_values,
                ),
                "executor": st.one_of(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "queue": json_values,
                            "pool": json_values,
                            "executor_config": json_values,
                        },
                    ),
                    json_values,
                ),
                "extra": json_values,
            },
        ),
        json_values,
    )


def bodies(fields: dict):
    """A JSON body with ``fields`` (all, or each maybe missing, plus unknown keys), or junk,
    or raw bytes."""
    complete = st.fixed_dictionaries(fields).map(json.dumps)
    shaped = st.fixed_dictionaries({}, optional={**fields, "unknown": json_values}).map(json.dumps)
    junk = json_values.map(lambda v: json.dumps(v))
    deep = st.integers(1, 100_000).map(lambda n: "[" * n + "]" * n)
    raw = st.binary(max_size=64)
    return st.one_of(complete, complete, complete, shaped, junk, deep, raw)


notebooks = st.one_of(
    st.just("fuzz.ipynb"), st.just("fuzz.ipynb"), st.text(max_size=20), json_values
)
ROUTES = {
    "validate": ("mvdp/plans/validate", bodies({"notebook": notebooks, "plan": plans()})),
    "runs": (
        "mvdp/runs",
        bodies(
            {
                "notebook": notebooks,
                "plan": plans(),
                "target": st.one_of(st.just("local"), st.just("local"), st.none(), json_values),
            }
        ),
    ),
    "parameters-cell": (
        "mvdp/notebooks/tagme.ipynb/parameters-cell",
        bodies(
            {
                "cell_index": st.one_of(st.integers(-(2**70), 2**70), json_values),
                "tagged": st.one_of(st.booleans(), json_values),
            }
        ),
    ),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    root = tmp / "root"
    root.mkdir()
    params = "x = 1\ns = 'a'\nf = 0.5\nflag = False\nitems = [1, 2]"
    write_notebook(root / "fuzz.ipynb", params, "pass")
    write_notebook(root / "tagme.ipynb", params, "pass")
    config = tmp / "config.json"
    config.write_text(
        json.dumps(
            {
                "MvdpApp": {
                    "targets": {"local": {"kind": "local", "parallelism": 1, "max_parallelism": 1}}
                }
            }
        )
    )
    running = Server(
        root,
        tmp / "runs.sqlite",
        free_port(),
        extra=(f"--config={config}", "--MvdpApp.grid_limit=50"),
    )
    running.start()
    yield running
    running.kill()


def check(response: requests.Response, what: str) -> None:
    assert response.status_code != 500 and response.status_code < 500, (what, response.text)
    if response.status_code >= 400:
        doc = response.json()
        assert isinstance(doc["message"], str) and doc["message"], (what, doc)
        assert all(e.get("field") is not None for e in doc.get("errors", [])), doc


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("route", list(ROUTES))
def test_no_post_body_gets_a_500(server, route):
    path, body = ROUTES[route]
    url = f"{server.url}/{path}"
    counts: dict[int, int] = {}

    @FUZZ
    @given(body)
    def post(raw):
        response = requests.post(url, data=raw, headers=server.auth, timeout=30)
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
        check(response, raw[:300])
        if response.status_code == 202:  # a valid run: stop it at once, that is fuzzed too
            run_id = response.json()["run_id"]
            cancel = requests.post(f"{url}/{run_id}/cancel", headers=server.auth, timeout=30)
            assert cancel.status_code in (200, 409), cancel.text

    post()
    assert sum(counts.values()) >= EXAMPLES, counts
    accepted = {"validate": 200, "runs": 202, "parameters-cell": 200}[route]
    assert counts.get(accepted), f"the fuzz never got past the surface: {counts}"
    assert requests.get(f"{server.url}/mvdp/runs", headers=server.auth, timeout=30).ok


@pytest.mark.timeout(600)
def test_no_cancel_or_run_id_gets_a_500(server):
    @FUZZ
    @given(st.text(max_size=40), st.binary(max_size=32))
    def post(run_id, raw):
        url = f"{server.url}/mvdp/runs/{requests.utils.quote(run_id, safe='')}/cancel"
        response = requests.post(url, data=raw, headers=server.auth, timeout=30)
        # ids outside the route's pattern never reach the extension (jupyter_server's 404)
        assert response.status_code in (404, 409), (run_id, response.text)

    post()
