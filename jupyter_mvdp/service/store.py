"""Runs and their points in SQLite, so a restarted server (or a later CLI call) knows them.

One file under the Jupyter data dir by default (``$MVDP_DB`` or the ``db_path`` setting
override it). WAL mode lets the server and a CLI in another process share it. The store also
keeps each pipeline's champion (the last metric a canary accepted), each run's owner and
lease (ownership.py says when one may be taken over) and notices about the store itself.
The file's own life (modes, a damaged or deleted file, a full disk) is storefile.py's.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..core.models import ACTIVE_RUN_STATES, FINISHED_RUN_STATES, Plan, Point, PointStatus, RunSpec
from ..core.runtime import metric_value
from ..exceptions import RunNotFound
from . import storefile
from .pipelines import PipelineRecords

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    notebook TEXT NOT NULL,
    target TEXT NOT NULL,
    state TEXT NOT NULL,
    progress TEXT,
    outcome TEXT,
    reason TEXT,
    message TEXT,
    spec TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    finished REAL,
    seq INTEGER NOT NULL DEFAULT 0,
    unreachable_since REAL,
    owner_host TEXT,
    owner_pid INTEGER,
    owner_started REAL,
    owner_token TEXT,
    lease_expires REAL
);
CREATE INDEX IF NOT EXISTS runs_user ON runs (user, created);
CREATE TABLE IF NOT EXISTS points (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    point_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    parameters TEXT NOT NULL,
    state TEXT NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}',
    output TEXT,
    error TEXT,
    started REAL,
    finished REAL,
    tries TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (run_id, point_id)
);
CREATE TABLE IF NOT EXISTS champions (
    pipeline TEXT PRIMARY KEY,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    run_id TEXT NOT NULL,
    point_id TEXT,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS notices (
    at REAL NOT NULL,
    message TEXT NOT NULL
);
"""

_RUN_FIELDS = (
    "state",
    "progress",
    "outcome",
    "reason",
    "message",
    "finished",
    "unreachable_since",
    "warnings",
)
_POINT_FIELDS = ("state", "metrics", "output", "error", "started", "finished", "tries")
# columns added after the first release: (table, column, declaration) added to older files
_ADDED_COLUMNS = (
    ("runs", "unreachable_since", "REAL"),
    ("points", "tries", "TEXT NOT NULL DEFAULT '[]'"),
    ("runs", "owner_host", "TEXT"),
    ("runs", "owner_pid", "INTEGER"),
    ("runs", "owner_started", "REAL"),
    ("runs", "owner_token", "TEXT"),
    ("runs", "lease_expires", "REAL"),
    ("runs", "warnings", "TEXT"),  # JSON: Snapshot.warnings
)
#: a run's owner: the columns ownership.Owner.columns() fills
OWNER_FIELDS = ("owner_host", "owner_pid", "owner_started", "owner_token", "lease_expires")
_ACTIVE = ", ".join(f"'{s}'" for s in ACTIVE_RUN_STATES)
#: how long a notice about the store itself is shown with the run list
NOTICE_SECONDS = 7 * 24 * 3600


def default_db_path() -> Path:
    if os.environ.get("MVDP_DB"):
        return Path(os.environ["MVDP_DB"])
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "mvdp" / "runs.sqlite"


def spec_to_json(spec: RunSpec) -> dict:
    doc = asdict(spec)
    doc["plan"] = spec.plan.to_json()
    doc["points"] = [p.to_json() for p in spec.points]
    doc.pop("dag_source")  # stored, but served separately (it can be large)
    doc.pop("snapshots")  # stored by content (RunStore.snapshots)
    return doc


def spec_from_json(doc: dict, dag_source: str | None = None) -> RunSpec:
    doc = dict(doc)
    doc["plan"] = Plan.from_json(doc["plan"])
    doc["points"] = [Point(p["id"], p["parameters"]) for p in doc["points"]]
    return RunSpec(**doc, dag_source=dag_source)


class RunStore(PipelineRecords):
    """Thread-safe access to the run database (one connection, one lock); what it keeps of
    pipelines (their last deploy, champions over time) is pipelines.py's."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_db_path()
        self._lock = threading.RLock()
        #: what this process found wrong with the store when it opened it (also logged)
        self.problems = storefile.prepare(self.path)
        self._connect()
        with storefile.opening(self.path), self._tx() as db:
            db.executescript(_SCHEMA)
            db.execute(
                "CREATE TABLE IF NOT EXISTS dags (run_id TEXT PRIMARY KEY REFERENCES runs (run_id)"
                " ON DELETE CASCADE, source TEXT NOT NULL)"
            )
            db.execute(  # the notebooks a run read at submit (RunSpec.snapshots)
                "CREATE TABLE IF NOT EXISTS snapshots (run_id TEXT NOT NULL REFERENCES runs"
                " (run_id) ON DELETE CASCADE, sha256 TEXT NOT NULL, content BLOB NOT NULL,"
                " PRIMARY KEY (run_id, sha256))"
            )
            for table, column, declaration in _ADDED_COLUMNS:
                have = {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            self._create_pipeline_tables(db)
            for notice in self.problems:
                db.execute("INSERT INTO notices VALUES (?, ?)", (time.time(), notice))

    def _connect(self) -> None:
        with storefile.opening(self.path):
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.row_factory = sqlite3.Row
            self._identity = storefile.identity(self.path)
            with self._tx() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA foreign_keys=ON")

    @contextmanager
    def _tx(self):
        with self._lock:
            try:
                with self._db:
                    yield self._db
            except sqlite3.Error as e:
                error = storefile.user_error(self.path, e)
                if error is e:
                    raise
                raise error from None

    def check_file(self) -> str | None:
        """Notice the store's file deleted or replaced under this process: another valid
        store there (one written back by another process) is used from now on; otherwise
        the open database is written back (a damaged replacement set aside first). Returns
        the notice, when there is one to say."""
        with self._lock:
            now = storefile.identity(self.path)
            if now == self._identity:
                return None
            if now is not None and storefile.check(self.path) is None:
                self._db.close()
                self._connect()
                return None
            if now is not None:
                aside = storefile.set_aside(self.path, "corrupt")
                notice = f"was replaced by a damaged file (set aside as {aside.name})"
            else:
                notice = "was deleted"
            wrote = storefile.write_back(self._db, self.path)
            self._db.close()
            self._connect()
        if not wrote:
            return None
        notice = f"The run store {self.path} {notice} while in use: it was written back"
        self.notice(notice)
        return notice

    def notice(self, message: str) -> None:
        """Keep a notice about the store itself (shown with the run list for a while)."""
        with self._tx() as db:
            db.execute("INSERT INTO notices VALUES (?, ?)", (time.time(), message))

    def notices(self) -> list[str]:
        """Recent notices about the store itself, oldest first."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT message FROM notices WHERE at > ? ORDER BY at",
                (time.time() - NOTICE_SECONDS,),
            ).fetchall()
        return [r["message"] for r in rows]

    def close(self) -> None:
        with self._lock:  # never under another thread's query: sqlite3 can crash (SIGSEGV)
            self._db.close()

    # --- writing ----------------------------------------------------------------------

    def create(self, spec: RunSpec, *, notebook: str, user: str, owner: dict | None = None) -> None:
        """Record a new run: every point queued, in the strategy's order, and its ``owner``
        (``OWNER_FIELDS``) in the same transaction: no moment when another process could
        take it for an orphan."""
        now = time.time()
        owner = owner or {}
        with self._tx() as db:
            db.execute(
                "INSERT INTO runs (run_id, user, pipeline, notebook, target, state, spec, created,"
                f" updated, {', '.join(OWNER_FIELDS)}) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?,"
                f" {', '.join('?' * len(OWNER_FIELDS))})",
                (
                    spec.run_id,
                    user,
                    spec.pipeline,
                    notebook,
                    spec.target,
                    json.dumps(spec_to_json(spec)),
                    now,
                    now,
                    *(owner.get(k) for k in OWNER_FIELDS),
                ),
            )
            db.executemany(
                "INSERT INTO points (run_id, point_id, idx, parameters, state) VALUES (?, ?, ?, ?, 'queued')",
                [
                    (spec.run_id, p.id, i, json.dumps(p.parameters))
                    for i, p in enumerate(spec.points)
                ],
            )
            if spec.dag_source:
                db.execute("INSERT INTO dags VALUES (?, ?)", (spec.run_id, spec.dag_source))
            db.executemany(
                "INSERT INTO snapshots VALUES (?, ?, ?)",
                [(spec.run_id, sha, data) for sha, data in spec.snapshots.items()],
            )

    def update_spec(self, spec: RunSpec) -> None:
        """Persist target ids recorded in ``spec.extra`` during deploy / trigger."""
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET spec = ? WHERE run_id = ?",
                (json.dumps(spec_to_json(spec)), spec.run_id),
            )

    def update_run(self, run_id: str, **fields: Any) -> None:
        unknown = set(fields) - set(_RUN_FIELDS)
        if unknown:
            raise ValueError(f"unknown run fields {unknown}")
        if fields.get("state") in FINISHED_RUN_STATES and "finished" not in fields:
            fields["finished"] = time.time()
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._tx() as db:
            db.execute(
                f"UPDATE runs SET {sets}, updated = ? WHERE run_id = ?",
                (*fields.values(), time.time(), run_id),
            )

    def update_points(self, run_id: str, changes: dict[str, PointStatus]) -> None:
        rows = [
            (
                s.state,
                json.dumps(s.metrics or {}),
                s.output,
                s.error,
                s.started,
                s.finished,
                json.dumps(s.tries or []),
                None if s.parameters is None else json.dumps(s.parameters),
                run_id,
                pid,
            )
            for pid, s in changes.items()
        ]
        with self._tx() as db:
            db.executemany(  # parameters: an optimize round decided them (else as submitted)
                "UPDATE points SET state = ?, metrics = ?, output = ?, error = ?, started = ?,"
                " finished = ?, tries = ?, parameters = COALESCE(?, parameters)"
                " WHERE run_id = ? AND point_id = ?",
                rows,
            )
            db.execute("UPDATE runs SET updated = ? WHERE run_id = ?", (time.time(), run_id))

    def next_seq(self, run_id: str, count: int = 1) -> int:
        """Reserve ``count`` event sequence numbers; returns the first."""
        with self._tx() as db:
            row = db.execute("SELECT seq FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            db.execute("UPDATE runs SET seq = seq + ? WHERE run_id = ?", (count, run_id))
        return row["seq"] + 1

    def claim(self, run_id: str, owner: dict, seen: dict) -> bool:
        """Take the run's lease for ``owner`` in one statement, only if its owner is still
        the one ``seen`` (judged dead by ownership.py): of two processes that judged so,
        one wins."""
        sets = ", ".join(f"{k} = ?" for k in OWNER_FIELDS)
        with self._tx() as db:
            taken = db.execute(
                f"UPDATE runs SET {sets} WHERE run_id = ? AND owner_token IS ?"
                " AND lease_expires IS ?",
                (
                    *(owner[k] for k in OWNER_FIELDS),
                    run_id,
                    seen["owner_token"],
                    seen["lease_expires"],
                ),
            )
            return taken.rowcount == 1

    def renew(self, token: str, expires: float) -> set[str]:
        """Extend the leases of ``token``'s unfinished runs; returns their ids."""
        with self._tx() as db:
            db.execute(
                f"UPDATE runs SET lease_expires = ? WHERE owner_token = ? AND state IN ({_ACTIVE})",
                (expires, token),
            )
            rows = db.execute(
                f"SELECT run_id FROM runs WHERE owner_token = ? AND state IN ({_ACTIVE})", (token,)
            ).fetchall()
        return {r["run_id"] for r in rows}

    def delete(self, run_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))

    def set_champion(
        self, pipeline: str, metric: str, value: float, run_id: str, point_id: str | None
    ) -> None:
        row = (pipeline, metric, value, run_id, point_id, time.time())
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO champions VALUES (?, ?, ?, ?, ?, ?)", row)
            self.record_champion(db, row)

    # --- reading ----------------------------------------------------------------------

    def _row(self, run_id: str, user: str | None = None) -> sqlite3.Row:
        with self._tx() as db:
            row = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None or (user is not None and row["user"] != user):
            raise RunNotFound(f"No run {run_id!r}")
        return row

    def spec(self, run_id: str) -> RunSpec:
        row = self._row(run_id)
        return spec_from_json(json.loads(row["spec"]), self.dag_source(run_id))

    def dag_source(self, run_id: str) -> str | None:
        with self._tx() as db:
            row = db.execute("SELECT source FROM dags WHERE run_id = ?", (run_id,)).fetchone()
        return row["source"] if row else None

    def snapshots(self, run_id: str) -> dict[str, bytes]:
        """The notebooks the run read at submit, by sha256 (what it runs, after a restart)."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT sha256, content FROM snapshots WHERE run_id = ?", (run_id,)
            ).fetchall()
        return {r["sha256"]: bytes(r["content"]) for r in rows}

    def run_state(self, run_id: str) -> dict:
        row = self._row(run_id)
        return {k: row[k] for k in (*_RUN_FIELDS, "user", "target", *OWNER_FIELDS)}

    def points(self, run_id: str) -> dict[str, PointStatus]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT * FROM points WHERE run_id = ? ORDER BY idx", (run_id,)
            ).fetchall()
        return {
            r["point_id"]: PointStatus(
                state=r["state"],
                metrics=json.loads(r["metrics"]),
                output=r["output"],
                error=r["error"],
                started=r["started"],
                finished=r["finished"],
                tries=json.loads(r["tries"] or "[]"),
                parameters=json.loads(r["parameters"]) or None,
            )
            for r in rows
        }

    def active_run_ids(self) -> list[str]:
        with self._tx() as db:
            rows = db.execute(
                f"SELECT run_id FROM runs WHERE state IN ({_ACTIVE}) ORDER BY created"
            ).fetchall()
        return [r["run_id"] for r in rows]

    def active_count(self, user: str, target: str) -> int:
        """How many of ``user``'s runs on ``target`` have not ended (the policy's
        ``max_active_runs``)."""
        with self._tx() as db:
            row = db.execute(
                f"SELECT COUNT(*) AS n FROM runs WHERE state IN ({_ACTIVE})"
                " AND user = ? AND target = ?",
                (user, target),
            ).fetchone()
        return row["n"]

    def run_ids(self, user: str | None = None) -> list[str]:
        """Newest first; only ``user``'s when given."""
        query = "SELECT run_id FROM runs"
        args: tuple = ()
        if user is not None:
            query, args = query + " WHERE user = ?", (user,)
        with self._tx() as db:
            rows = db.execute(query + " ORDER BY created DESC, run_id DESC", args).fetchall()
        return [r["run_id"] for r in rows]

    def run_version(self, run_id: str, user: str | None = None) -> float:
        """When the run last changed (its ``updated`` stamp): what a cached view of it keys on;
        RunNotFound when it is not ``user``'s."""
        with self._tx() as db:
            row = db.execute(
                "SELECT user, updated FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        if row is None or (user is not None and row["user"] != user):
            raise RunNotFound(f"No run {run_id!r}")
        return row["updated"]

    def run_versions(self, user: str | None = None) -> list[tuple[str, float]]:
        """``(run_id, updated)`` of ``user``'s runs (every run without one), newest first."""
        query = "SELECT run_id, updated FROM runs"
        args: tuple = ()
        if user is not None:
            query, args = query + " WHERE user = ?", (user,)
        with self._tx() as db:
            rows = db.execute(query + " ORDER BY created DESC, run_id DESC", args).fetchall()
        return [(r["run_id"], r["updated"]) for r in rows]

    def champion(self, pipeline: str) -> dict | None:
        with self._tx() as db:
            row = db.execute("SELECT * FROM champions WHERE pipeline = ?", (pipeline,)).fetchone()
        return dict(row) if row else None

    def known_metrics(self, notebook: str, user: str | None = None) -> list[str]:
        """Metric names recorded by earlier runs of ``notebook`` (for the panel's choices)."""
        query = (
            "SELECT DISTINCT p.metrics FROM points p JOIN runs r USING (run_id)"
            " WHERE r.notebook = ? AND p.metrics != '{}'"
        )
        args: tuple = (notebook,)
        if user is not None:
            query, args = query + " AND r.user = ?", (notebook, user)
        with self._tx() as db:
            rows = db.execute(query, args).fetchall()
        names: dict[str, None] = {}
        for r in rows:
            metrics = json.loads(r["metrics"])
            for key in metrics if isinstance(metrics, dict) else ():
                if metric_value(metrics, key) is not None:
                    names.setdefault(key, None)
        return list(names)

    def run_record(self, run_id: str, user: str | None = None) -> dict:
        """The stored run: its fields, ``spec`` as JSON (plan and points) and ``points``,
        every point's status in the strategy's order (``core.document`` shows it)."""
        row = dict(self._row(run_id, user))
        row["spec"] = json.loads(row["spec"])
        row["points"] = self.points(run_id)
        return row
