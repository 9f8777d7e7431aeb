"""Following a run: poll its target once, diff the snapshot against the store, persist what
changed and say it as events, so nothing already reported is reported twice, even across a
restart.

A point that finished brings its output notebook home (output_import.py); a canary that
deployed crowns its pipeline's champion (champion.py); a target that does not answer is
said on the run (unreachable.py).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..core import events, optimize
from ..core.models import (
    FINISHED_POINT_STATES,
    FINISHED_RUN_STATES,
    POINT_STATES,
    PointStatus,
    RunSpec,
    Snapshot,
)
from ..exceptions import MvdpError, TargetAuthError, TargetUnreachable
from ..targets.base import Target
from . import champion
from .output_import import OutputImporter, failure_of
from .store import RunStore
from .unreachable import UnreachablePolicy

#: emit(run_id, events): stamp and send a run's events
Emit = Callable[[str, list[dict]], None]


class RunSync:
    def __init__(
        self,
        store: RunStore,
        targets: dict[str, Target],
        outputs: OutputImporter,
        unreachable: UnreachablePolicy,
        emit: Emit,
        stored: Callable[[str, dict[str, PointStatus]], None] | None = None,
    ):
        """``stored(run_id, changes)``: told of the points a tick stored (the REST views)."""
        self.store = store
        self.stored = stored or (lambda run_id, changes: None)
        self.targets = targets
        self.outputs = outputs
        self.unreachable = unreachable
        self.emit = emit
        self._lock = threading.Lock()
        self._specs: dict[str, RunSpec] = {}  # of runs being synced: parsed once, not per poll
        # run -> point -> its output notebook's error (None: it names none), read once
        self._notebook_errors: dict[str, dict[str, str | None]] = {}

    def forget(self, run_id: str) -> None:
        """Read the run's spec from the store again at the next sync."""
        self._specs.pop(run_id, None)
        self._notebook_errors.pop(run_id, None)

    def sync(self, run_id: str) -> list[dict]:
        """Poll the target once and record + emit what changed."""
        with self._lock:
            return self._sync(run_id)

    def _sync(self, run_id: str) -> list[dict]:
        stored = self.store.run_state(run_id)
        if stored["state"] not in ("running", "unknown"):  # not triggered yet, or over
            self.forget(run_id)
            return []
        spec = self._specs.get(run_id) or self._specs.setdefault(run_id, self.store.spec(run_id))
        target = self.targets[spec.target]
        try:
            snap = target.poll(spec)
        except (TargetUnreachable, TargetAuthError) as e:
            return self._unreachable(run_id, target, stored, e)
        changed, said = self._points(target, spec, snap)
        if changed:
            self.store.update_points(run_id, changed)
            self.stored(run_id, changed)
        said += self._run(spec, stored, snap)
        self.emit(run_id, said)
        return said

    def _points(
        self, target: Target, spec: RunSpec, snap: Snapshot
    ) -> tuple[dict[str, PointStatus], list[dict]]:
        """The points whose status changed, and the events that say so."""
        before = self.store.points(spec.run_id)
        changed: dict[str, PointStatus] = {}
        said: list[dict] = []
        for pid, now in snap.points.items():
            old = before.get(pid)
            if old is None:
                continue
            if now.state in FINISHED_POINT_STATES and now.state != old.state:
                self._finish(target, spec, pid, now)
            else:
                now.output, now.metrics = old.output, now.metrics or old.metrics
                if now.state in FINISHED_POINT_STATES:
                    mine = self._notebook_error(target, spec, pid, now)
                    now.error = mine or now.error or old.error
            if (now.state, now.error, now.output, now.tries) != (
                old.state,
                old.error,
                old.output,
                old.tries,
            ) or now.metrics != old.metrics:
                changed[pid] = now
            elif now.parameters is not None and now.parameters != old.parameters:
                changed[pid] = now  # optimize: its round asked the point's parameters
        if snap.state in FINISHED_RUN_STATES:  # points the target lost track of end with it
            for pid, old in before.items():
                if pid not in snap.points and old.state not in FINISHED_POINT_STATES:
                    changed[pid] = replace(old, state="failed", error=snap.message, finished=None)
        if changed:  # one event a tick (a few for thousands of points), only what changed
            counts = Counter(s.state for s in {**before, **changed}.values())
            said += events.points_changed(changed, {k: counts[k] for k in POINT_STATES})
        return changed, said

    def _finish(self, target: Target, spec: RunSpec, pid: str, now: PointStatus) -> None:
        """A point just finished: its output notebook home, its metrics, why it failed."""
        self._notebook_errors.get(spec.run_id, {}).pop(pid, None)  # a retry's own notebook
        now.output, now.metrics, problem = self.outputs.bring(target, spec, pid, now)
        if problem and now.state == "success":  # the point keeps its target's state
            now.error = problem
        else:  # the notebook's own exception where it has one, else the target's word
            now.error = self._notebook_error(target, spec, pid, now) or now.error
        if spec.space and now.parameters is None and now.output:  # optimize, on a remote target
            now.parameters = optimize.asked_parameters(self.outputs.root / now.output)

    def _notebook_error(
        self, target: Target, spec: RunSpec, pid: str, now: PointStatus
    ) -> str | None:
        """Why a remote point failed, as its output notebook (home) says it: it wins over
        the target's word at every later poll too (Airflow's comes from the task's log,
        which may still be written when the point is first seen failed). Read once."""
        if now.state != "failed" or not now.output or target.capabilities.writes_workspace:
            return None
        known = self._notebook_errors.setdefault(spec.run_id, {})
        if pid not in known:
            known[pid] = failure_of(self.outputs.root / now.output)
        return known[pid]

    def _run(self, spec: RunSpec, stored: dict, snap: Snapshot) -> list[dict]:
        """The run's own fields (state, message, outcome) that changed, stored, as events."""
        said: list[dict] = []
        fields: dict[str, Any] = {}
        if snap.outcome and snap.outcome != stored["outcome"]:
            fields.update(outcome=snap.outcome, reason=snap.reason)
            said.append(events.outcome_decided(snap.outcome, snap.reason))
            if snap.outcome == "deploy":
                champion.crown(self.store, spec)
        elif snap.reason and snap.reason != stored["reason"]:
            fields["reason"] = snap.reason
        if snap.warnings and json.dumps(snap.warnings) != stored.get("warnings"):
            fields["warnings"] = json.dumps(snap.warnings)  # the run's document shows them
        back = stored["unreachable_since"] is not None  # the target answers again
        if back or snap.state != stored["state"] or snap.message != stored["message"]:
            fields.update(state=snap.state, message=snap.message, unreachable_since=None)
            said.append(
                events.run_changed(
                    snap.state, stored["progress"], snap.message, unreachable_since=None
                )
            )
        if fields:
            self.store.update_run(spec.run_id, **fields)
        return said

    def _unreachable(self, run_id: str, target: Target, stored: dict, error: MvdpError) -> list:
        """A poll failed: say so on the run (since when, how often it is retried) and, past
        the policy's limit, report the run "unknown" rather than "running"."""
        update = self.unreachable.update(stored, target.kind, target.name, error)
        if update is None:
            return []
        state, message, since = update
        self.store.update_run(run_id, state=state, message=message, unreachable_since=since)
        said = [events.run_changed(state, stored["progress"], message, unreachable_since=since)]
        self.emit(run_id, said)
        return said
