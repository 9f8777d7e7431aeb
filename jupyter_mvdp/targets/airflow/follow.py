"""Following a run: what its task instances say of each point, in as few calls as possible.

``poll`` reads the task instances that changed since the last poll (one page whatever the
grid size) and the DAG run only when no task is busy or every few polls; a point's task
instance becomes its status, its tries (and why each failed, from its log) its history, and
the decision task's XCom says how the run ended. What polling keeps of a run in between
(``Following``) lives here until the run ends. Task ids and XCom keys come from the DAG
contract (``core.contract``), never spelled here.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ...core import contract
from ...core.models import PointStatus, RunSpec, Snapshot
from ...exceptions import TargetError
from .client import AirflowClient, ApiError
from .deliver import missing_connections, missing_pool
from .logs import log_lines, why_failed

_POINT_STATES = {
    "success": "success",
    "failed": "failed",
    "upstream_failed": "failed",
    "skipped": "skipped",
    "removed": "skipped",
    "running": "running",
    "restarting": "running",
    "up_for_retry": "running",
    "up_for_reschedule": "running",
    "deferred": "running",
}
CANCEL_NOTE = "cancelled from jupyter-mvdp"  # the note of a DAG run we cancelled
_BUSY = (  # a task in these states: its DAG run has not ended
    "running",
    "queued",
    "scheduled",
    "restarting",
    "deferred",
    "up_for_reschedule",
    "up_for_retry",
)


@dataclass(frozen=True)
class Pace:
    """How polling reads a run (the target's class attributes of the same names)."""

    page_size: int  # task instances per API call
    changed_margin: float  # seconds: see Follower._task_instances
    full_every: int  # polls: a full read now and then, whatever the clocks say
    run_every: int  # polls: the DAG run is read at least this often while tasks run


@dataclass
class Following:
    """What polling keeps of one run until it ends: the task instances seen and when they
    were last read (each poll reads only what changed since), and what each finished try
    said, by (task, map index, try): its log and the tries' history are read once."""

    seen: dict | None = None  # (task id, map index) -> task instance
    asked: float = 0.0
    polls: int = 0
    said: dict[tuple, str] = field(default_factory=dict)
    history: dict[tuple, list] = field(default_factory=dict)
    log_reads: dict[tuple, int] = field(default_factory=dict)
    paused: str | None = None  # the last "the DAG is paused" message ("" when it is not)
    pool: str | None = None  # the last "the pool does not exist" message ("" when it does)
    connections: str | None = None  # the notify connections Airflow lacks ("" when none)


class Follower:
    """Follows the runs of one deployment: its client, and a ``Following`` a run."""

    def __init__(self, client: AirflowClient):
        self.client = client
        self._following: dict[str, Following] = {}  # run id -> what polling keeps of it

    def _follow(self, spec: RunSpec) -> Following:
        return self._following.setdefault(spec.run_id, Following())

    def forget(self, run_id: str) -> None:
        """Drop what polling kept of a run (once it ended, it is all in the run store)."""
        self._following.pop(run_id, None)

    def _task_instances(self, spec: RunSpec, dag_id: str, pace: Pace, full: bool = False) -> list:
        """The run's task instances. After a first full read, only those Airflow updated
        since the last poll (minus ``changed_margin`` seconds for clock skew and commits
        landing late), merged into what was seen: one page per poll whatever the grid size.
        ``full`` (and every ``full_every`` polls) reads them all again."""
        follow = self._follow(spec)
        follow.polls += 1
        asked_at = time.time()
        since = None
        if follow.seen is not None and not full and follow.polls % pace.full_every:
            since = datetime.fromtimestamp(follow.asked - pace.changed_margin, UTC)
        found, offset = {}, 0
        while True:
            page = self.client.call(
                "TaskInstanceApi",
                "get_task_instances",
                dag_id,
                spec.target_run_id,
                limit=pace.page_size,
                offset=offset,
                **({"updated_at_gte": since} if since else {}),
            )
            found.update({(ti.task_id, ti.map_index): ti for ti in page.task_instances})
            offset += len(page.task_instances)
            if not page.task_instances or offset >= (page.total_entries or 0):
                break
        follow.seen = {**(follow.seen or {}), **found} if since else found
        follow.asked = asked_at
        return list(follow.seen.values())

    def poll(self, spec: RunSpec, dag_id: str, pace: Pace) -> Snapshot:
        """One call while tasks are busy (the task instances that changed); the DAG run
        itself is read when none is (it may have ended) and every ``run_every`` polls (a
        cancel or a deletion made in Airflow)."""
        follow = self._follow(spec)
        try:
            tis = self._task_instances(spec, dag_id, pace)
            busy = any(_value(ti.state) in _BUSY for ti in tis)
            run_state = "running"
            if not busy or follow.polls % pace.run_every == 1:
                run = self.client.call("DagRunApi", "get_dag_run", dag_id, spec.target_run_id)
                run_state = _value(run.state)
        except ApiError as e:
            if e.status != 404:
                raise
            self.forget(spec.run_id)
            return self._gone(spec, dag_id)
        finished = run_state in ("success", "failed")
        if finished:  # the last snapshot: every task read again
            tis = self._task_instances(spec, dag_id, pace, full=True)
        first_index = dict(contract.papermill_tasks(spec.plan, len(spec.points)))
        points = {p.id: PointStatus(state="queued") for p in spec.points}
        for ti in tis:
            if ti.task_id not in first_index or ti.map_index is None or ti.map_index < 0:
                continue
            index = first_index[ti.task_id] + ti.map_index
            if index >= len(spec.points):
                continue
            state = _POINT_STATES.get(_value(ti.state), "queued")
            tries = self._tries(spec, dag_id, ti)
            points[spec.points[index].id] = PointStatus(
                state=state,
                # a failure says why (its log); a retry under way or a success after one, too
                error=(tries[-1]["error"] if tries else None)
                if state == "failed"
                else _tries_note(ti),
                started=ti.start_date.timestamp() if ti.start_date else None,
                finished=ti.end_date.timestamp() if ti.end_date else None,
                tries=tries,
            )
        if finished:  # points that never got a task instance (early stop) were skipped
            for pid, status in points.items():
                if status.state in ("queued", "running"):
                    points[pid] = PointStatus(state="skipped")
        snapshot = Snapshot(state="running", points=points)
        if finished:
            self.forget(spec.run_id)
            snapshot.outcome, snapshot.reason = self._decision(spec, dag_id, tis)
            note = getattr(run, "note", None) or ""
            if note.startswith(CANCEL_NOTE):
                snapshot.state = "cancelled"
                snapshot.message = note.removeprefix(CANCEL_NOTE).lstrip(": ") or None
            elif run_state == "failed":
                snapshot.state, snapshot.message = "failed", self._run_failed(spec, dag_id, tis)
            else:
                snapshot.state = (
                    "failed" if any(p.state == "failed" for p in points.values()) else "success"
                )
        elif run_state == "queued" and not busy:  # nothing runs: paused? (asked now and then)
            if follow.polls % pace.run_every == 1 or follow.paused is None:
                follow.paused = self._paused_message(dag_id) or ""
            snapshot.message = follow.paused or None
        pool = spec.plan.executor.pool
        if pool and not finished and not any(_value(ti.state) == "running" for ti in tis):
            if follow.polls % pace.run_every == 1 or follow.pool is None:  # nothing runs: why?
                follow.pool = _pool_message(pool) if missing_pool(self.client, pool) else ""
            snapshot.message = snapshot.message or follow.pool or None
        if not finished:
            snapshot.message = (
                snapshot.message
                or self._queue_message(spec, tis)
                or self._connections_message(spec, follow, pace)
            )
        return snapshot

    def _queue_message(self, spec: RunSpec, tis: list) -> str | None:
        """Points queued for ``QUEUE_SILENCE`` seconds in the plan's queue while none of the
        run's runs: Airflow cannot say whether a worker listens to a queue (a Celery task in
        a queue no worker reads waits forever, and nothing says so), so say what it looks like."""
        queue = spec.plan.executor.queue
        if not queue or any(_value(ti.state) == "running" for ti in tis):
            return None
        now = time.time()
        waiting = [
            ti
            for ti in tis
            if _value(ti.state) == "queued"
            and getattr(ti, "queued_when", None) is not None
            and now - ti.queued_when.timestamp() >= QUEUE_SILENCE
        ]
        if not waiting:
            return None
        return (
            f"{len(waiting)} task(s) have waited over {QUEUE_SILENCE:g} s in the queue {queue!r} "
            "(the plan's executor.queue) and none of this run's runs: is a worker listening to "
            f"that queue (airflow celery worker --queues {queue})?"
        )

    def _connections_message(self, spec: RunSpec, follow: Following, pace: Pace) -> str | None:
        """The plan's notify connections that Airflow lacks (asked now and then)."""
        if not spec.plan.notify:
            return None
        if follow.connections is None or follow.polls % pace.run_every == 1:
            follow.connections = missing_connections(self.client, spec.plan)
        return follow.connections or None

    def _run_failed(self, spec: RunSpec, dag_id: str, tis: list) -> str:
        """Why a DAG run failed: its first task's error when that task failed (it picks the
        run's version: no point could run, e.g. the store was unreadable), else that it did."""
        first = next(
            (
                ti
                for ti in tis
                if ti.task_id == contract.TASKS["points"] and _value(ti.state) == "failed"
            ),
            None,
        )
        if first is not None:
            return f"no point could start: {self._error(spec, dag_id, first)}"
        return f"the Airflow DAG run {spec.target_run_id} failed"

    def _gone(self, spec: RunSpec, dag_id: str) -> Snapshot:
        """The DAG run is not in Airflow any more: the DAG (or the run) was deleted there."""
        try:
            self.client.call("DAGApi", "get_dag", dag_id)
        except ApiError as e:
            if e.status != 404:
                raise
            what = f"the DAG {dag_id} was deleted from Airflow"
        else:
            what = f"the DAG run {spec.target_run_id} was deleted from Airflow"
        return Snapshot(
            state="failed",
            points={},
            message=f"{what} while the run was going on; productionize the pipeline again",
        )

    def _paused_message(self, dag_id: str) -> str | None:
        """Nothing runs: say so when the DAG is paused (an admin did it; we do not undo it)."""
        try:
            dag = self.client.call("DAGApi", "get_dag", dag_id)
        except ApiError:  # gone: the next poll says so (the DAG run is gone too)
            return None
        if not dag.is_paused:
            return None
        return (
            f"the DAG {dag_id} is paused in Airflow: this run waits until someone unpauses it there"
        )

    def _tries(self, spec: RunSpec, dag_id: str, ti) -> list[dict]:
        """Each try of one mapped task instance: state, error (from its log), times. One
        call for the tries' history, only for a task that was tried more than once."""
        state = _value(ti.state)
        if state in (None, "scheduled", "queued", "none") and ti.try_number <= 1:
            return []
        history, known = [], self._follow(spec).history
        if ti.try_number > 1:
            at = (ti.task_id, ti.map_index, ti.try_number)
            if at not in known:
                found = self.client.call(
                    "TaskInstanceApi",
                    "get_mapped_task_instance_tries",
                    dag_id,
                    spec.target_run_id,
                    ti.task_id,
                    ti.map_index,
                ).task_instances
                known[at] = [h for h in found if h.try_number < ti.try_number]
            history = known[at]
        tries = []
        for entry in [*history, ti]:
            entry_state = _value(entry.state)
            failed = entry_state in ("failed", "up_for_retry", "upstream_failed")
            tries.append(
                {
                    "try": max(entry.try_number, 1),
                    "state": "failed" if failed else _POINT_STATES.get(entry_state, "queued"),
                    "error": self._error(spec, dag_id, entry) if failed else None,
                    "started": entry.start_date.timestamp() if entry.start_date else None,
                    "finished": entry.end_date.timestamp() if entry.end_date else None,
                }
            )
        return tries

    def _error(self, spec: RunSpec, dag_id: str, ti) -> str:
        """Why one try failed: the first meaningful line of its log (the notebook's
        exception, a timeout, a lost heartbeat...), read once."""
        follow = self._follow(spec)
        key = (ti.task_id, ti.map_index, max(ti.try_number, 1))
        if key in follow.said:
            return follow.said[key]
        fallback = f"Airflow task {ti.task_id}[{ti.map_index}] {_value(ti.state)}"
        try:
            lines = log_lines(
                self.client, dag_id, spec.target_run_id, ti.task_id, ti.map_index, key[-1]
            )
        except TargetError:
            return fallback  # not kept: asked again at the next poll
        why = why_failed(lines)
        follow.log_reads[key] = follow.log_reads.get(key, 0) + 1
        if why is None and follow.log_reads[key] < 5:  # the log may still be being written
            return f"{fallback}; its log says no more"
        follow.said[key] = why or f"{fallback}; its log says no more"
        return follow.said[key]

    def _decision(self, spec: RunSpec, dag_id: str, tis: list) -> tuple[str | None, str | None]:
        """The canary's outcome (an A/B test's: its verdict), or why an early stop stopped
        (the tasks' XCom)."""
        decider = contract.decision_task(spec.plan)
        if decider is None:
            return None, None
        if spec.plan.strategy.kind in ("canary", "ab"):
            tasks = [decider]
        else:  # early stop: the last round check that ran says why the search ended
            done = (
                ti.task_id
                for ti in tis
                if ti.task_id.startswith(decider) and _value(ti.state) == "success"
            )
            tasks = sorted(done, key=lambda task_id: int(task_id[len(decider) :]), reverse=True)
        for task_id in tasks:
            try:
                entry = self.client.call(
                    "XComApi",
                    "get_xcom_entry",
                    dag_id,
                    task_id,
                    spec.target_run_id,
                    contract.KEYS["decision"],
                )
            except ApiError:
                continue
            value = _xcom_value(entry)
            if isinstance(value, dict) and value.get("reason"):
                return value.get("outcome"), value["reason"]
        return None, None


#: seconds a point may wait in the plan's queue, with none of the run's running, before the
#: run says no worker may be listening to it
QUEUE_SILENCE = 20.0


def _pool_message(pool: str) -> str:
    return (
        f"the pool {pool!r} (the plan's executor.pool) does not exist in Airflow: its tasks wait "
        "until someone creates it there (Admin > Pools)"
    )


def _tries_note(ti) -> str | None:
    """What the lab shows of a point's unfinished task beyond its state: a retry under way
    (a worker died, the notebook failed); the tries themselves are in the point's history."""
    label, state, tries = (
        f"Airflow task {ti.task_id}[{ti.map_index}]",
        _value(ti.state),
        ti.try_number or 1,
    )
    if state == "up_for_retry":
        return f"{label}: try {tries} failed (see its log); Airflow retries it"
    if state in ("running", "queued") and tries > 1:
        return f"{label}: try {tries} (an earlier try failed; see its log)"
    return None


def _value(state) -> str | None:
    return getattr(state, "value", state)


def _xcom_value(entry) -> Any:
    entry = getattr(entry, "actual_instance", entry)  # the client's oneOf wrapper
    value = getattr(entry, "value", None)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
