"""A 10,000-point run through a real jupyter_server: the run list carries summaries, a run's
document a summary and one page, and pages are sorted and filtered on the server by the one
ranking rule (core/runtime.py ``leaderboard``)."""

from __future__ import annotations

import itertools
import json

import pytest

from jupyter_mvdp.core.models import PointStatus
from jupyter_mvdp.core.runtime import leaderboard
from tests.bigrun import write_big_run
from tests.targets.test_local import write_notebook


@pytest.fixture
def big(jp_serverapp, jp_root_dir):
    write_notebook(jp_root_dir / "tiny.ipynb")
    manager = jp_serverapp.web_app.settings["mvdp_manager"]
    run_id = write_big_run(manager)
    # the whole run, as `jupyter mvdp status --json` prints it: the reference
    return run_id, manager.document(run_id)


async def get(jp_fetch, *parts, **params):
    response = await jp_fetch("mvdp", "runs", *parts, params=params, raise_error=False)
    return response.code, len(response.body), json.loads(response.body)


async def test_the_run_list_carries_summaries_not_points(jp_fetch, big):
    run_id, full = big
    status, size, doc = await get(jp_fetch)
    assert status == 200
    (entry,) = [r for r in doc["runs"] if r["run_id"] == run_id]
    assert "points" not in entry
    assert size < 20_000, size  # the whole run is ~4 MB
    assert entry["counts"] == full["counts"] and sum(entry["counts"].values()) == 10_000
    assert entry["best"] == full["best"] and entry["best"]["metrics"]["score"] == 99
    assert entry["parameters"] == ["x", "sleep"] and entry["swept"] == ["x", "sleep"]
    assert entry["metric_names"] == ["half", "score"]


async def test_a_runs_document_is_a_summary_and_its_first_page(jp_fetch, big):
    run_id, full = big
    status, size, doc = await get(jp_fetch, run_id)
    assert status == 200 and size <= 200_000, size
    ranked = leaderboard(full["points"], "score", "max")  # the one rule, applied here
    assert [p["id"] for p in doc["points"]] == [p["id"] for p in ranked[:200]]
    assert [p["rank"] for p in doc["points"]] == list(range(1, 201))
    assert doc["page"] == {
        "total": 10_000,
        "offset": 0,
        "limit": 200,
        "sort": "rank",
        "order": "asc",
        "state": [],
    }
    assert doc["counts"] == full["counts"] and doc["best"]["id"] == ranked[0]["id"]


async def test_pages_walk_the_leaderboard_in_order_each_point_once(jp_fetch, big):
    run_id, full = big
    ranked = leaderboard(full["points"], "score", "max")
    seen = []
    for offset in range(0, 10_000, 1000):
        status, _size, page = await get(jp_fetch, run_id, "points", offset=offset, limit=1000)
        assert status == 200 and page["total"] == 10_000
        seen += page["points"]
    assert [(p["id"], p["rank"]) for p in seen] == [(p["id"], p["rank"]) for p in ranked]
    _, _, past = await get(jp_fetch, run_id, "points", offset=10_000)
    assert past["points"] == [] and past["total"] == 10_000
    # failed points recorded a score but are never ranked; skipped ones neither
    assert all(p["rank"] is None for p in seen if p["state"] != "success")


@pytest.mark.parametrize(
    ("sort", "order", "value"),
    [
        ("param:x", "desc", lambda p: p["parameters"]["x"]),
        ("param:sleep", "asc", lambda p: p["parameters"]["sleep"]),
        ("metric:half", "asc", lambda p: p["metrics"].get("half")),
        ("id", "asc", lambda p: p["id"]),
        ("index", "desc", lambda p: p["index"]),
    ],
)
async def test_a_sort_on_the_server_is_total_and_ties_keep_the_leaderboards_order(
    jp_fetch, big, sort, order, value
):
    run_id, full = big
    ranked = leaderboard(full["points"], "score", "max")
    position = {p["id"]: i for i, p in enumerate(ranked)}
    got = []
    for offset in range(0, 10_000, 1000):
        _, _, page = await get(
            jp_fetch, run_id, "points", sort=sort, order=order, offset=offset, limit=1000
        )
        got += page["points"]
    assert sorted(p["id"] for p in got) == sorted(position)
    keyed = [p for p in got if value(p) is not None]
    assert keyed == got[: len(keyed)]  # points without the value come last
    values = [value(p) for p in keyed]
    assert values == sorted(values, reverse=order == "desc")
    for a, b in itertools.pairwise(keyed):
        if value(a) == value(b):
            assert position[a["id"]] < position[b["id"]]


async def test_a_filter_by_state_pages_only_those_points(jp_fetch, big):
    run_id, full = big
    _, _, skipped = await get(jp_fetch, run_id, "points", state="skipped", limit=1000)
    assert skipped["total"] == full["counts"]["skipped"] == len(skipped["points"])
    assert {p["state"] for p in skipped["points"]} == {"skipped"}
    _, _, shown = await get(
        jp_fetch, run_id, "points", state="failed,success", sort="metric:score", order="desc"
    )
    assert shown["total"] == full["counts"]["failed"] + full["counts"]["success"]
    assert shown["points"][0]["metrics"]["score"] == 99
    _, _size, doc = await get(jp_fetch, run_id, state="skipped", limit=50)  # the document too
    assert len(doc["points"]) == 50 and doc["page"]["state"] == ["skipped"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"sort": "bogus"}, "sort"),
        ({"order": "up"}, "order"),
        ({"state": "done"}, "state"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "x"}, "offset"),
    ],
)
async def test_a_bad_page_request_is_a_400_naming_the_field(jp_fetch, big, params, named):
    run_id, _ = big
    for parts in ((run_id, "points"), (run_id,)):
        status, _, doc = await get(jp_fetch, *parts, **params)
        assert status == 400 and doc["message"].startswith(f"{named}:"), doc


async def test_someone_elses_or_no_run_has_no_points(jp_fetch, jp_serverapp, big):
    status, _, doc = await get(jp_fetch, "no-such-run", "points")
    assert status == 404 and "no-such-run" in doc["message"]
    manager = jp_serverapp.web_app.settings["mvdp_manager"]
    theirs = manager.submit(
        "tiny.ipynb",
        {"grid": {"x": [1]}, "strategy": {"kind": "grid"}},
        background=False,
        user="bob",
    )
    status, _, _ = await get(jp_fetch, theirs, "points")
    assert status == 404


async def test_a_change_is_seen_by_the_next_request(jp_fetch, jp_serverapp, big):
    """The cached views follow the store: a point that changes moves in the next page."""
    run_id, full = big
    manager = jp_serverapp.web_app.settings["mvdp_manager"]
    _, _, before = await get(jp_fetch, run_id, limit=5)
    last = next(p for p in reversed(full["points"]) if p["state"] == "skipped")
    manager.store.update_points(
        run_id, {last["id"]: PointStatus(state="success", metrics={"score": 1000})}
    )
    _, _, after = await get(jp_fetch, run_id, limit=5)
    assert after["points"][0]["id"] == last["id"] and after["points"][0]["rank"] == 1
    assert after["points"][1]["id"] == before["points"][0]["id"]
    assert after["counts"]["skipped"] == full["counts"]["skipped"] - 1
    assert after["best"]["id"] == last["id"]
