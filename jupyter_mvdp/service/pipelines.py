"""The pipelines a store knows: what was last deployed of each (so a run a schedule or a
colleague started there can be shown and followed), who started each run, and each
pipeline's champions over time.

A part of ``RunStore`` (store.py), kept apart because it is about pipelines rather than
runs: same database, same connection and lock.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from ..core.models import RunSpec

SCHEMA = """
CREATE TABLE IF NOT EXISTS pipelines (
    pipeline TEXT NOT NULL,
    target TEXT NOT NULL,
    user TEXT NOT NULL,
    notebook TEXT NOT NULL,
    spec TEXT NOT NULL,
    dag_source TEXT,
    first_deployed REAL NOT NULL,
    deployed REAL NOT NULL,
    PRIMARY KEY (pipeline, target)
);
CREATE TABLE IF NOT EXISTS champion_history (
    pipeline TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    run_id TEXT NOT NULL,
    point_id TEXT,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS champion_history_pipeline ON champion_history (pipeline, at);
CREATE INDEX IF NOT EXISTS runs_pipeline ON runs (pipeline, created);
"""
#: runs' columns of this part: (column, declaration), added to older files
COLUMNS = (
    # who or what started the run, {"kind", "user"} (NULL: productionized from here)
    ("started_by", "TEXT"),
    # the run's id on its target when the target started it (NULL: the run's own id)
    ("target_run_id", "TEXT"),
)
# after COLUMNS exist: a run of a target is adopted once, whichever process saw it first
_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS runs_target_run ON runs (target, pipeline, target_run_id);
INSERT INTO champion_history SELECT * FROM champions
    WHERE pipeline NOT IN (SELECT pipeline FROM champion_history);
"""


class PipelineRecords:
    """Methods of ``RunStore`` about pipelines (it provides ``_tx``)."""

    def _create_pipeline_tables(self, db: sqlite3.Connection) -> None:
        """Called by RunStore once its own tables exist."""
        db.executescript(SCHEMA)
        have = {r["name"] for r in db.execute("PRAGMA table_info(runs)")}
        for column, declaration in COLUMNS:
            if column not in have:
                db.execute(f"ALTER TABLE runs ADD COLUMN {column} {declaration}")
        db.executescript(_INDEXES)

    # --- deployed pipelines -----------------------------------------------------------

    def deployed(self, spec: RunSpec, spec_json: dict, *, user: str, notebook: str) -> None:
        """``spec`` was deployed: the next runs its target starts by itself run this."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO pipelines VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pipeline,"
                " target) DO UPDATE SET user = excluded.user, notebook = excluded.notebook,"
                " spec = excluded.spec, dag_source = excluded.dag_source,"
                " deployed = excluded.deployed",
                (
                    spec.pipeline,
                    spec.target,
                    user,
                    notebook,
                    json.dumps(spec_json),
                    spec.dag_source,
                    now,
                    now,
                ),
            )

    def pipelines(self, user: str | None = None) -> list[dict]:
        """Deployed pipelines (``user``'s when given): their last deploy, ``spec`` as JSON."""
        query, args = "SELECT * FROM pipelines", ()
        if user is not None:
            query, args = query + " WHERE user = ?", (user,)
        with self._tx() as db:
            rows = db.execute(query + " ORDER BY deployed DESC", args).fetchall()
        return [{**dict(r), "spec": json.loads(r["spec"])} for r in rows]

    def known_target_runs(self, target: str, pipelines: list[str]) -> set[tuple[str, str]]:
        """(pipeline, run id on the target) of every stored run of these pipelines there."""
        marks = ", ".join("?" * len(pipelines))
        with self._tx() as db:
            rows = db.execute(
                "SELECT pipeline, COALESCE(target_run_id, run_id) AS id FROM runs"
                f" WHERE target = ? AND pipeline IN ({marks})",
                (target, *pipelines),
            ).fetchall()
        return {(r["pipeline"], r["id"]) for r in rows}

    def adopted(self, run_id: str, target_run_id: str, started_by: dict) -> bool:
        """Mark a just-created run as the target's run ``target_run_id``. False when another
        process adopted that run first: this one is deleted."""
        try:
            with self._tx() as db:
                db.execute(
                    "UPDATE runs SET target_run_id = ?, started_by = ? WHERE run_id = ?",
                    (target_run_id, json.dumps(started_by), run_id),
                )
        except sqlite3.IntegrityError:
            with self._tx() as db:
                db.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            return False
        return True

    # --- history ----------------------------------------------------------------------

    def record_champion(self, db: sqlite3.Connection, row: tuple) -> None:
        """Keep a champion in the pipeline's history (inside set_champion's transaction)."""
        db.execute("INSERT INTO champion_history VALUES (?, ?, ?, ?, ?, ?)", row)

    def champion_history(self, pipeline: str) -> list[dict]:
        """Every champion the pipeline had, newest first."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT metric, value, run_id, point_id, at FROM champion_history"
                " WHERE pipeline = ? ORDER BY at DESC, rowid DESC",
                (pipeline,),
            ).fetchall()
        return [dict(r) for r in rows]

    def pipeline_runs(self, pipeline: str, user: str, limit: int) -> list[dict]:
        """``user``'s runs of the pipeline, newest first: their fields and plan, no points."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT run_id, target, state, outcome, reason, message, created, finished,"
                " started_by, user, json_extract(spec, '$.plan') AS plan FROM runs"
                " WHERE pipeline = ? AND user = ? ORDER BY created DESC, run_id DESC LIMIT ?",
                (pipeline, user, limit),
            ).fetchall()
        return [{**dict(r), "plan": json.loads(r["plan"])} for r in rows]

    def best_points(self, run_ids: list[str], metric: str, goal: str) -> list[dict[str, Any]]:
        """(run, point, parameters, value) of the best succeeded point of each of these runs
        by ``metric`` (recorded as a JSON number: runtime.metric_value's rule, the stored
        metrics being strict JSON), ties to the earliest point; found by SQLite, so a run of
        10,000 points costs one row."""
        if not run_ids:
            return []
        path = "$." + json.dumps(metric)  # a quoted key: any metric name
        marks = ", ".join("?" * len(run_ids))
        order = "DESC" if goal == "max" else "ASC"
        with self._tx() as db:
            rows = db.execute(
                "SELECT run_id, point_id, parameters, value FROM (SELECT run_id, point_id,"
                " parameters, json_extract(metrics, ?) AS value, ROW_NUMBER() OVER (PARTITION BY"
                f" run_id ORDER BY json_extract(metrics, ?) {order}, idx) AS n FROM points"
                f" WHERE run_id IN ({marks}) AND state = 'success'"
                " AND json_type(metrics, ?) IN ('integer', 'real')) WHERE n = 1",
                (path, path, *run_ids, path),
            ).fetchall()
        return [{**dict(r), "parameters": json.loads(r["parameters"])} for r in rows]
