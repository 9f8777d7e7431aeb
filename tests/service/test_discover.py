"""Adopting the runs a target started by itself, against a stand-in target that lists runs as
Airflow's batch listing does (newest first, a page at a time). The real Airflow (a schedule,
a trigger through its REST API) is in integration/test_schedule.py."""

from __future__ import annotations

import time

import pytest

from jupyter_mvdp.core.models import ListedRun, PointStatus, Snapshot
from jupyter_mvdp.service.manager import RunManager
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets import register
from jupyter_mvdp.targets.base import Capabilities, Target
from tests.targets.test_local import write_notebook

CANARY = {"grid": {"x": [1, 2]}, "strategy": {"kind": "canary", "metric": "acc"}}


@register  # the server tests configure one by its kind (tests/server/test_handlers.py)
class ScheduledTarget(Target):
    """Runs "exist" when listed; each ends at the first poll, ``acc`` = the point's x / 10
    (``low``: / 100, so the canary alerts), judged as the DAG judges it: against the last
    champion its own runs crowned, else the one it was given."""

    kind = "scheduled-standin"
    capabilities = Capabilities(lists_runs=True)

    def __init__(self, name="sched", page=2):
        super().__init__(name)
        self.page = page
        self.runs: list[ListedRun] = []  # newest first
        self.listings = 0
        self.low: set[str] = set()
        self.crowned: float | None = None

    def start(self, pipeline, run_id, kind="schedule", user=None, conf=None, at=None):
        by = {"kind": kind, "user": user}
        self.runs.insert(0, ListedRun(pipeline, run_id, by, at or time.time(), conf or {}))

    def deploy(self, spec, progress=None):
        pass

    def trigger(self, spec):
        spec.extra["dag_run_id"] = spec.run_id
        self.start(spec.pipeline, spec.run_id, kind="api")  # listed too: must not be adopted

    def poll(self, spec):
        scale = 100 if spec.target_run_id in self.low else 10
        points = {
            p.id: PointStatus(state="success", metrics={"acc": p.parameters["x"] / scale})
            for p in spec.points
        }
        best = max(p.parameters["x"] for p in spec.points) / scale
        baseline = self.crowned if self.crowned is not None else spec.champion
        good = baseline is None or best >= baseline
        if good:
            self.crowned = best
        return Snapshot(
            state="success",
            points=points,
            outcome="deploy" if good else "alert",
            reason=f"acc {best:g} vs {baseline}",
        )

    def fetch_output(self, spec, point_id, dest):
        return None

    def cancel(self, spec, reason=None):
        pass

    def list_runs(self, pipelines):
        self.listings += 1
        mine = [r for r in self.runs if r.pipeline in pipelines]
        for i in range(0, len(mine) + 1, self.page):
            yield mine[i : i + self.page]


@pytest.fixture
def setup(tmp_path):
    write_notebook(tmp_path / "tiny.ipynb")
    write_notebook(tmp_path / "other.ipynb")
    target = ScheduledTarget()
    store = RunStore(tmp_path / "runs.sqlite")
    events: list[dict] = []
    manager = RunManager(
        store, {"sched": target}, root_dir=tmp_path, user="ann", emit=events.append
    )
    yield manager, target, events
    manager.close()


def settle(manager):
    for run_id in manager.followed_runs():
        manager.sync(run_id)


def test_a_scheduled_run_comes_home_with_its_points_outcome_and_who_started_it(setup):
    manager, target, events = setup
    lab = manager.submit("tiny.ipynb", CANARY, "sched", background=False)
    settle(manager)
    pipeline = manager.document(lab)["pipeline"]
    assert manager.discover() == []  # the lab's own run is known

    target.start(pipeline, "scheduled__2026-12-06T10:00:00+00:00")
    target.start(pipeline, "manual__2026-12-06T10:01:00+00:00", kind="api", user="bob")
    adopted = manager.discover()
    assert len(adopted) == 2
    settle(manager)

    docs = [manager.document(r) for r in adopted]
    assert [d["started_by"] for d in docs] == [
        {"kind": "schedule", "user": None},
        {"kind": "api", "user": "bob"},
    ]
    for doc in docs:  # the deployed plan's points, followed like any run
        assert doc["pipeline"] == pipeline and doc["state"] == "success"
        assert [p["parameters"] for p in doc["points"]] == [{"x": 1}, {"x": 2}]
        assert doc["best"]["metrics"] == {"acc": 0.2} and doc["outcome"] == "deploy"
    assert manager.document(lab)["started_by"] == {"kind": "mvdp", "user": "ann"}
    listed = [d["run_id"] for d in manager.documents("ann")]
    assert set(adopted) < set(listed)
    said = [(e["run_id"], e["kind"], e.get("state")) for e in events if e["run_id"] in adopted]
    assert (adopted[0], "run", "running") in said and (adopted[0], "outcome", None) in said

    assert manager.discover() == []  # adopted once


def test_a_scheduled_canary_alert_and_deploy_update_the_champion_history(setup):
    manager, target, _ = setup
    lab = manager.submit("tiny.ipynb", CANARY, "sched", background=False)
    settle(manager)
    pipeline = manager.document(lab)["pipeline"]
    target.low.add("scheduled__1")
    target.start(pipeline, "scheduled__1")  # acc 0.02: below the champion's 0.2
    manager.discover()
    settle(manager)
    target.start(pipeline, "scheduled__2")
    manager.discover()
    settle(manager)

    history = manager.history(pipeline, "ann")
    runs = history["runs"]
    assert [r["started_by"]["kind"] for r in runs] == ["schedule", "schedule", "mvdp"]
    assert [r["outcome"] for r in runs] == ["deploy", "alert", "deploy"]
    assert [r["crowned"] for r in runs] == [True, False, True]
    assert runs[1]["best"]["value"] == 0.02 and runs[1]["best"]["parameters"] == {"x": 2}
    assert [c["run_id"] for c in history["champions"]] == [runs[0]["run_id"], lab]
    assert history["champion"] == history["champions"][0]
    assert history["deployed"][0]["target"] == "sched"


def test_one_listing_per_target_whatever_the_number_of_pipelines(setup):
    manager, target, _ = setup
    for notebook in ("tiny.ipynb", "other.ipynb"):
        manager.submit(notebook, CANARY, "sched", background=False)
    settle(manager)
    target.listings = 0
    for _ in range(3):
        manager.discover()
    assert target.listings == 3  # one call each time, both pipelines in it


def test_reading_stops_at_a_page_holding_known_runs_and_misses_none_on_it(setup):
    manager, target, _ = setup
    lab = manager.submit("tiny.ipynb", CANARY, "sched", background=False)
    pipeline = manager.document(lab)["pipeline"]
    for i in range(5):  # five new runs, newest first over three pages of two
        target.start(pipeline, f"scheduled__{i}")
    assert len(manager.discover()) == 5
    target.start(pipeline, "scheduled__5")
    pages = []
    original = target.list_runs

    def counted(pipelines):
        for page in original(pipelines):
            pages.append(page)
            yield page

    target.list_runs = counted
    assert len(manager.discover()) == 1
    assert len(pages) == 1  # the first page held a known run: no more read


def test_runs_from_before_the_first_deploy_here_are_not_adopted(setup):
    manager, target, _ = setup
    lab = manager.submit("tiny.ipynb", CANARY, "sched", background=False)
    pipeline = manager.document(lab)["pipeline"]
    target.start(pipeline, "scheduled__last_year", at=time.time() - 365 * 86400)
    target.start("mvdp_someone_else", "scheduled__x")
    assert manager.discover() == []


def test_two_processes_on_one_store_adopt_a_run_once(setup, tmp_path):
    manager, target, _ = setup
    lab = manager.submit("tiny.ipynb", CANARY, "sched", background=False)
    pipeline = manager.document(lab)["pipeline"]
    other = RunManager(
        RunStore(tmp_path / "runs.sqlite"), {"sched": target}, root_dir=tmp_path, user="ann"
    )
    target.start(pipeline, "scheduled__1")
    known = manager.store.known_target_runs("sched", [pipeline])
    # the other process listed the run before this one stored it: both try to adopt it
    first = other.discovery._new_runs(target, {pipeline: manager.store.pipelines()[0]})
    assert len(manager.discover()) == 1
    assert other.discovery._adopt(manager.store.pipelines()[0], first[0]) is None
    assert len(manager.store.known_target_runs("sched", [pipeline])) == len(known) + 1
    other.close()


def test_the_history_is_the_users_own(setup):
    manager, _, _ = setup
    lab = manager.submit("tiny.ipynb", CANARY, "sched", background=False)
    pipeline = manager.document(lab)["pipeline"]
    from jupyter_mvdp.exceptions import PipelineNotFound

    with pytest.raises(PipelineNotFound):
        manager.history(pipeline, "mallory")
    with pytest.raises(PipelineNotFound):
        manager.history("mvdp_nobody", "ann")
