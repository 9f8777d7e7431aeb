"""What the store keeps of pipelines: every champion over time (an older store's champion
carried over), the last deploy of each, a target's run adopted once."""

from __future__ import annotations

import sqlite3

from jupyter_mvdp.service.store import RunStore


def test_every_champion_is_kept_newest_first(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    store.set_champion("p", "acc", 0.7, "r1", "a")
    store.set_champion("p", "acc", 0.8, "r2", "b")
    store.set_champion("q", "acc", 0.1, "r3", None)
    assert [(c["value"], c["run_id"]) for c in store.champion_history("p")] == [
        (0.8, "r2"),
        (0.7, "r1"),
    ]
    assert store.champion("p")["value"] == 0.8  # the latest, as before
    store.close()


def test_an_older_store_keeps_its_champion_as_the_first_of_its_history(tmp_path):
    path = tmp_path / "runs.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, user TEXT NOT NULL, pipeline TEXT NOT NULL,"
        " notebook TEXT NOT NULL, target TEXT NOT NULL, state TEXT NOT NULL, progress TEXT,"
        " outcome TEXT, reason TEXT, message TEXT, spec TEXT NOT NULL, created REAL NOT NULL,"
        " updated REAL NOT NULL, finished REAL, seq INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE champions (pipeline TEXT PRIMARY KEY, metric TEXT NOT NULL,"
        " value REAL NOT NULL, run_id TEXT NOT NULL, point_id TEXT, at REAL NOT NULL);"
        "INSERT INTO champions VALUES ('p', 'acc', 0.75, 'old', 'x', 1.0);"
    )
    old.commit()
    old.close()
    for _ in range(2):  # opened again: carried over once
        store = RunStore(path)
        assert store.champion_history("p") == [
            {"metric": "acc", "value": 0.75, "run_id": "old", "point_id": "x", "at": 1.0}
        ]
        store.close()


def test_the_best_point_of_each_run_is_found_by_the_metric_rules(tmp_path):
    """Succeeded points only, a JSON number only (not a bool, not text), ties to the
    earliest point, the goal's direction."""
    from jupyter_mvdp.core.models import Plan, Point, PointStatus, RunSpec

    store = RunStore(tmp_path / "runs.sqlite")
    values = {"a": 0.5, "b": True, "c": "0.9", "d": 0.7, "e": 0.7, "f": 0.95, "g": 0.1}
    points = [Point(pid, {"p": pid}) for pid in values]
    plan = Plan.from_json({"grid": {}, "strategy": {"kind": "grid", "metric": "m"}})
    for run_id in ("r1", "r2"):
        spec = RunSpec(run_id, "pipe", "/nb.ipynb", "0" * 64, plan, points, "/out")
        store.create(spec, notebook="nb.ipynb", user="ann")
        store.update_points(
            run_id,
            {
                pid: PointStatus(state="failed" if pid == "f" else "success", metrics={"m": v})
                for pid, v in values.items()
            },
        )
    best = store.best_points(["r1", "r2"], "m", "max")
    assert sorted((b["run_id"], b["point_id"], b["value"]) for b in best) == [
        ("r1", "d", 0.7),
        ("r2", "d", 0.7),
    ]
    assert best[0]["parameters"] == {"p": "d"}
    assert [b["point_id"] for b in store.best_points(["r1"], "m", "min")] == ["g"]
    assert (
        store.best_points(["r1"], "other", "max") == [] and store.best_points([], "m", "max") == []
    )
    store.close()
