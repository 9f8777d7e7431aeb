"""Adopting the runs a target started by itself: the plan's schedule, a colleague in
Airflow's UI, a script through its REST API.

The store knows each pipeline deployed from here (its last deploy: pipelines.py). Looking
once at a target lists the runs of all its pipelines in one call (``Target.list_runs``,
newest first, read on only while a page is all new); a run the store does not have becomes
a stored run of that deploy (its points, its DAG, its owner), started by whoever Airflow says
started it. From then on sync.py follows it like any other: points, metrics, outputs, the
canary's outcome and the champion.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..core import events
from ..core.models import ListedRun, RunSpec
from ..core.naming import new_run_id
from ..exceptions import MvdpError
from ..targets.base import Target
from .store import RunStore, spec_from_json

log = logging.getLogger("jupyter_mvdp")

#: emit(run_id, events): stamp and send a run's events
Emit = Callable[[str, list[dict]], None]
#: record(spec, notebook, user): store a new run, owned by this process
Record = Callable[[RunSpec, str, str], None]
#: seconds: a run created this long before the pipeline's first deploy here (clock skew
#: between this machine and the target) is still the pipeline's
CLOCK_MARGIN = 60.0


class Discovery:
    def __init__(self, store: RunStore, targets: dict[str, Target], emit: Emit, record: Record):
        self.store = store
        self.targets = targets
        self.emit = emit
        self.record = record
        self.looks = 0  # calls to targets' list_runs (for GET status and bench/)

    def discover(self, user: str | None = None) -> list[str]:
        """Look once at each target for runs of its deployed pipelines (``user``'s when
        given) that are not stored yet, and adopt them; returns their run ids, oldest
        first. A target that does not answer is looked at again next time."""
        by_target: dict[str, dict[str, dict]] = {}
        for row in self.store.pipelines(user):
            by_target.setdefault(row["target"], {})[row["pipeline"]] = row
        adopted = []
        for name, rows in by_target.items():
            target = self.targets.get(name)
            if target is None or not target.capabilities.lists_runs:
                continue
            try:
                found = self._new_runs(target, rows)
            except MvdpError as e:
                log.info("jupyter-mvdp: listing the runs of %s failed: %s", name, e.message)
                continue
            for listed in found:
                run_id = self._adopt(rows[listed.pipeline], listed)
                if run_id:
                    adopted.append(run_id)
        return adopted

    def _new_runs(self, target: Target, rows: dict[str, dict]) -> list[ListedRun]:
        """The target's runs of these pipelines that the store does not have, oldest first."""
        since = {p: row["first_deployed"] - CLOCK_MARGIN for p, row in rows.items()}
        known = self.store.known_target_runs(target.name, list(rows))
        new: list[ListedRun] = []
        self.looks += 1
        for page in target.list_runs(list(rows)):
            fresh = [
                r
                for r in page
                if (r.pipeline, r.target_run_id) not in known
                and r.queued_at is not None
                and r.queued_at >= since[r.pipeline]
            ]
            new.extend(fresh)
            if not page or len(fresh) < len(page):  # reached runs it knows: no more pages
                break
            self.looks += 1
        return new[::-1]

    def _adopt(self, row: dict, listed: ListedRun) -> str | None:
        """A stored run for ``listed``, a run of the pipeline's last deploy; None when another
        process adopted it first."""
        deployed = spec_from_json(row["spec"], row["dag_source"])
        run_id = new_run_id()
        baseline = listed.conf.get("baseline", deployed.champion)
        spec = replace(
            deployed,
            run_id=run_id,
            output_dir=str(Path(deployed.output_dir).parent / run_id),
            champion=baseline if _number(baseline) else deployed.champion,
            extra={"dag_run_id": listed.target_run_id},
        )
        self.record(spec, row["notebook"], row["user"])
        if not self.store.adopted(run_id, listed.target_run_id, listed.started_by):
            return None
        self.store.update_run(run_id, state="running", progress="triggered")
        self.emit(run_id, [events.run_changed("running", "triggered", None)])
        log.info(
            "jupyter-mvdp: run %s of %s (started by %s) is followed as %s",
            listed.target_run_id,
            listed.pipeline,
            listed.started_by["kind"],
            run_id,
        )
        return run_id


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
