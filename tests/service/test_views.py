"""service/views.py and the events of a sync tick: what REST reads of a run is built once per
stored version, a tick's changes re-rank the cached run without reading it again (and equal
a fresh read), and a tick says its changed points in one bounded event."""

from __future__ import annotations

import jsonschema
import yaml

from jupyter_mvdp.core import events
from jupyter_mvdp.core.document import MAX_PAGE, page_query
from jupyter_mvdp.core.models import PointStatus
from jupyter_mvdp.service.manager import RunManager
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.service.views import RunViews
from jupyter_mvdp.targets import build_targets
from tests.bigrun import write_big_run
from tests.targets.test_local import write_notebook

SCHEMA = yaml.safe_load(events.SCHEMA_PATH.read_text())


class CountingStore(RunStore):
    """The real store, counting whole-run reads."""

    reads = 0

    def run_record(self, run_id, user=None):
        self.reads += 1
        return super().run_record(run_id, user)


def every_point(views: RunViews, run_id: str, **query) -> list[dict]:
    found, offset = [], 0
    while True:
        page = views.page(run_id, None, page_query(offset=offset, limit=MAX_PAGE, **query))
        found += page["points"]
        offset += MAX_PAGE
        if offset >= page["total"]:
            return found


def test_a_ticks_changes_rank_the_cached_run_as_a_fresh_read_does(tmp_path):
    write_notebook(tmp_path / "tiny.ipynb")
    store = CountingStore(tmp_path / "runs.sqlite")
    manager = RunManager(store, build_targets({}), root_dir=tmp_path, user="u")
    run_id = write_big_run(manager)
    views = manager.views
    first = views.document(run_id)
    views.document(run_id)
    views.summaries()
    assert store.reads == 1  # built once for this stored version
    ids = [p["id"] for p in every_point(views, run_id, sort="index")]
    changes = {
        ids[5]: PointStatus(state="success", metrics={"score": 500}),  # was skipped
        ids[0]: PointStatus(state="failed", error="late"),  # was the best of x=0
        ids[9999]: PointStatus(state="success", metrics={"score": 99}),  # a new tie
    }
    store.update_points(run_id, changes)
    views.patch(run_id, changes)  # what sync.py does after storing a tick
    patched = views.document(run_id)
    assert store.reads == 1  # no whole-run read for a tick's changes
    assert patched["best"]["id"] == ids[5] and patched["points"][0]["rank"] == 1
    assert patched["counts"]["skipped"] == first["counts"]["skipped"] - 1
    fresh = RunViews(RunStore(tmp_path / "runs.sqlite"))
    for query in ({}, {"sort": "param:x", "order": "desc"}, {"state": "failed"}):
        assert every_point(views, run_id, **query) == every_point(fresh, run_id, **query)
    assert views.document(run_id) == fresh.document(run_id)
    store.close()


def test_a_tick_says_its_changed_points_in_one_event(tmp_path):
    """A real local run of 6 points, 3 at a time: each sync tick sends at most one
    ``points`` event, with only the points that changed, valid for the schema."""
    write_notebook(tmp_path / "tiny.ipynb")
    store = RunStore(tmp_path / "runs.sqlite")
    manager = RunManager(store, build_targets({}), root_dir=tmp_path, user="u")
    plan = {
        "grid": {"x": [1, 2, 3, 4, 5, 6], "sleep": [0.3]},
        "strategy": {"kind": "grid", "metric": "score"},
        "parallelism": 3,
    }
    run_id = manager.submit("tiny.ipynb", plan, background=True)
    ticks: list[list[dict]] = []
    done = manager.wait(run_id, interval=0.2, on_events=ticks.append)
    assert done["state"] == "success"
    said: dict[str, list[str]] = {}
    for tick in ticks:
        batches = [e for e in tick if e["kind"] == "points"]
        assert len(batches) <= 1  # one event a tick (6 points: one batch)
        for e in tick:
            jsonschema.validate(e, SCHEMA)
        for e in batches:
            for p in e["points"]:
                assert "parameters" not in p
                assert said.get(p["id"], [None])[-1] != p["state"] or p["state"] == "running"
                said.setdefault(p["id"], []).append(p["state"])
            assert sum(e["counts"].values()) == 6
    assert sorted(said) == sorted(p["id"] for p in done["points"])
    assert all(states[-1] == "success" and states.count("success") == 1 for states in said.values())
    last = [e for tick in ticks for e in tick if e["kind"] == "points"][-1]
    assert last["counts"] == done["counts"]
    # the batches together said each point's metrics once they were recorded
    recorded = {
        p["id"]: p["metrics"]
        for tick in ticks
        for e in tick
        if e["kind"] == "points"
        for p in e["points"]
        if p["state"] == "success"
    }
    assert recorded == {p["id"]: {"score": p["parameters"]["x"]} for p in done["points"]}
    store.close()
