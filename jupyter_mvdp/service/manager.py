"""Productionize and follow runs: the one orchestration behind the CLI and the REST API.

``submit`` validates the plan against the notebook, expands and orders the grid, renders the
DAG, records the run, and hands it to the target (inline for the CLI, in a thread for the
server so the request returns at once). ``sync`` follows a run once (sync.py). Handlers and
the CLI speak to the manager only, never to its store: what they read of a run is the run
document (``core.document``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core import events, grid, params, strategies
from ..core.document import run_document
from ..core.models import FINISHED_RUN_STATES, Plan, Point, RunSpec
from ..core.naming import current_user, legacy_pipeline_id, new_run_id, pipeline_id
from ..exceptions import MvdpError, NoKernel, RunConflict, RunNotFound, UnknownTarget
from ..targets.base import Target
from . import champion
from .output_import import OutputImporter, SaveOutput
from .paths import PathResolver
from .store import RunStore
from .sync import RunSync
from .unreachable import DEFAULT_UNREACHABLE_LIMIT, UnreachablePolicy

log = logging.getLogger("jupyter_mvdp")
Emit = Callable[[dict], None]

__all__ = ["DEFAULT_UNREACHABLE_LIMIT", "RunManager", "new_run_id", "pipeline_id"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunManager:
    def __init__(
        self,
        store: RunStore,
        targets: dict[str, Target],
        *,
        root_dir: str | Path,
        user: str | None = None,
        outputs_dir: str = "mvdp-runs",
        grid_limit: int = grid.DEFAULT_LIMIT,
        default_target: str = "local",
        emit: Emit | None = None,
        save_output: SaveOutput | None = None,
        allow_hidden: bool = False,
        poll_interval: float = 1.0,
        unreachable_limit: float = DEFAULT_UNREACHABLE_LIMIT,
    ):
        self.store = store
        self.targets = targets
        self.paths = PathResolver(Path(root_dir), allow_hidden)
        self.root = self.paths.root
        self.user = user or current_user()
        self.outputs_dir = outputs_dir
        self.grid_limit = grid_limit
        self.default_target = default_target
        self.emit = emit or (lambda event: None)
        self.unreachable = UnreachablePolicy(unreachable_limit, poll_interval)
        #: server.outputs.contents_saver in the server: outputs go through the contents manager
        self.outputs = OutputImporter(self.root, save_output)
        self._sync = RunSync(store, targets, self.outputs, self.unreachable, self._emit)

    @classmethod
    def open(cls, db_path: str | Path | None, targets: dict[str, Target], **kwargs) -> RunManager:
        """A manager over the run store at ``db_path`` (default: ``$MVDP_DB`` or the Jupyter
        data dir), as the CLI uses it."""
        return cls(RunStore(db_path), targets, **kwargs)

    @property
    def poll_interval(self) -> float:
        """How often runs are polled (said in the "unreachable" message)."""
        return self.unreachable.poll_interval

    @poll_interval.setter
    def poll_interval(self, value: float) -> None:
        self.unreachable.poll_interval = value

    @property
    def unreachable_limit(self) -> float:
        return self.unreachable.limit

    @unreachable_limit.setter
    def unreachable_limit(self, value: float) -> None:
        self.unreachable.limit = value

    # --- paths ------------------------------------------------------------------------

    def resolve(self, notebook: str) -> Path:
        """The notebook's absolute path, through the one path gate (paths.py)."""
        return self.paths.notebook(notebook)[0]

    def deploy_notebook(self, notebook: str, plan: Plan) -> Path | None:
        """The canary's deploy notebook (next to the notebook), through the same gate."""
        name = plan.strategy.deploy_notebook if plan.strategy.kind == "canary" else None
        if name is None:
            return None
        rel = self.relative(self.resolve(notebook))
        return self.paths.beside(rel, name, "strategy.deploy_notebook")[0]

    def relative(self, path: str | Path) -> str:
        return Path(path).resolve().relative_to(self.root).as_posix()

    def target(self, name: str | None) -> Target:
        name = name or self.default_target
        try:
            return self.targets[name]
        except KeyError:
            known = ", ".join(self.targets)
            raise UnknownTarget(f"Unknown target {name!r}; configured targets: {known}") from None

    # --- planning ---------------------------------------------------------------------

    def plan_points(self, notebook: str, plan: Plan | dict) -> tuple[Path, Plan, list[Point]]:
        path = self.resolve(notebook)
        plan = plan if isinstance(plan, Plan) else Plan.from_json(plan)
        found = params.inspect(params.read_notebook(path), plan.kernel)
        checked = found.parameters if found.checked else None  # else any name, unchecked
        points = grid.expand(plan.grid, checked, limit=self.grid_limit)
        return path, plan, strategies.ordered(plan.strategy, points)

    def kernel_for(self, path: Path, plan: Plan, target: Target) -> str:
        """The kernel the points run on: the plan's, the target's, else the notebook's own.
        A notebook without a kernelspec (as VS Code may save it) is refused here, before
        anything runs, rather than failing every point."""
        s = target.settings
        kernel = plan.kernel or s.get("kernel") or s.get("kernel_name")
        kernel = kernel or params.kernel_of(params.read_notebook(path))[0]
        if not kernel:
            raise NoKernel(
                f'{path.name} names no kernel (its metadata has no kernelspec): set "kernel" '
                'in the plan (e.g. "python3"), or pick a kernel for it in JupyterLab and save it',
                errors=[{"field": "kernel", "message": "the notebook names no kernel; set one"}],
            )
        return kernel

    def validate(self, notebook: str, plan_doc: Any) -> dict:
        """Every problem at once, for inline validation (the notebook must exist)."""
        path = self.resolve(notebook)
        nb = params.read_notebook(path)
        kernel = plan_doc.get("kernel") if isinstance(plan_doc, dict) else None
        found = params.inspect(nb, kernel if isinstance(kernel, str) else None)
        parameters = found.parameters if found.checked else None
        errors: list[dict] = []
        size = None
        try:
            plan = Plan.from_json(plan_doc)
        except MvdpError as e:
            errors.extend(e.errors)
            raw = plan_doc.get("grid") if isinstance(plan_doc, dict) else None
            plan = None
            if isinstance(raw, dict):
                try:
                    size, grid_errors = grid.check(raw, parameters, self.grid_limit)
                except MvdpError:
                    grid_errors = []
                errors.extend(g for g in grid_errors if g not in errors)
        if plan is not None:
            size, errors = grid.check(plan.grid, parameters, self.grid_limit)
            try:
                self.deploy_notebook(notebook, plan)
            except MvdpError as e:
                errors.append({"field": "strategy.deploy_notebook", "message": e.message})
            try:
                self.kernel_for(path, plan, self.target(None))
            except NoKernel as e:
                errors.extend(e.errors)
        return {"valid": not errors, "size": size, "limit": self.grid_limit, "errors": errors}

    def prepare(
        self,
        notebook: str,
        plan: Plan | dict,
        target_name: str | None = None,
        user: str | None = None,
        pipeline: str | None = None,
    ) -> RunSpec:
        """``pipeline``: a name chosen by the user (the CLI's --pipeline), else derived
        from the user and the notebook's path relative to the root."""
        target = self.target(target_name)
        path, plan, points = self.plan_points(notebook, plan)
        deploy_notebook = self.deploy_notebook(notebook, plan)
        kernel = self.kernel_for(path, plan, target)
        if not points:  # an empty grid runs the notebook's defaults once (no injected cell)
            points = [Point(grid.point_id({}), {})]
        rel = self.relative(path)
        owner = user or self.user
        legacy = None if pipeline else (legacy_pipeline_id(owner, rel), owner, rel)
        pipeline = pipeline or pipeline_id(owner, rel)
        run_id = new_run_id()
        best = None
        if plan.strategy.kind == "canary":
            metric = plan.strategy.metric
            best = champion.champion_value(self.store, pipeline, metric, legacy)
        spec = RunSpec(
            run_id=run_id,
            pipeline=pipeline,
            notebook=str(path),
            notebook_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            plan=plan,
            points=points,
            output_dir=str(self.root / self.outputs_dir / pipeline / run_id),
            target=target.name,
            champion=best,
            deploy_notebook=str(deploy_notebook) if deploy_notebook else None,
            kernel=kernel,
        )
        spec.dag_source = target.render(spec)
        return spec

    # --- running ----------------------------------------------------------------------

    def submit(
        self,
        notebook: str,
        plan: Plan | dict,
        target_name: str | None = None,
        *,
        background: bool,
        user: str | None = None,
        pipeline: str | None = None,
    ) -> str:
        """Record the run and productionize it; bad input raises before anything is stored.
        ``user`` (the requester, on a shared server) owns the run and names its pipeline."""
        spec = self.prepare(notebook, plan, target_name, user, pipeline)
        return self.start(spec, background, user)

    def start(self, spec: RunSpec, background: bool, user: str | None = None) -> str:
        """Record a prepared run and productionize it (in a thread when ``background``)."""
        if self.targets[spec.target].capabilities.runs_in_process:
            spec.extra["owner_pid"] = os.getpid()  # a local run lives in this process
        self.store.create(spec, notebook=self.relative(spec.notebook), user=user or self.user)
        if background:
            threading.Thread(
                target=self._productionize,
                args=(spec,),
                name=f"mvdp-submit-{spec.run_id}",
                daemon=True,
            ).start()
        else:
            self._productionize(spec)
        return spec.run_id

    def _productionize(self, spec: RunSpec) -> None:
        target = self.targets[spec.target]

        def progress(step: str) -> None:
            self.store.update_run(spec.run_id, progress=step)
            self._emit(spec.run_id, [events.run_changed("queued", step, None)])

        try:
            target.productionize(spec, progress)
        except MvdpError as e:
            self._fail(spec.run_id, e.message)
            return
        except Exception as e:  # keep the server alive and the user informed
            log.exception("productionize of %s failed", spec.run_id)
            self._fail(spec.run_id, f"{type(e).__name__}: {e}")
            return
        if self.store.run_state(spec.run_id)["state"] == "cancelled":  # while it was deploying
            try:
                target.cancel(spec, "cancelled before it started")
            except MvdpError:
                log.warning("run %s was cancelled while deploying; cancel failed", spec.run_id)
            return
        self.store.update_spec(spec)
        self.store.update_run(spec.run_id, state="running")
        self._emit(spec.run_id, [events.run_changed("running", "triggered", None)])

    def _fail(self, run_id: str, message: str) -> None:
        self._end(run_id, "failed", message)

    def resume_all(self) -> None:
        """After a restart: pick up every unfinished run (local runs restart their rest)."""
        for run_id in self.store.active_run_ids():
            spec = self.store.spec(run_id)
            target = self.targets.get(spec.target)
            if target is None:
                self._fail(run_id, f"target {spec.target!r} is no longer configured")
                continue
            queued = self.store.run_state(run_id)["state"] == "queued"
            in_process = target.capabilities.runs_in_process
            if queued and not in_process and not spec.extra.get("dag_run_id"):
                self._fail(run_id, "the server stopped before the run was triggered; run it again")
                continue
            try:
                if in_process:  # a local run: this process hosts it from now on
                    spec.extra["owner_pid"] = os.getpid()
                    self.store.update_spec(spec)
                    self._sync.forget(run_id)
                target.resume(spec, self.store.points(run_id))
            except MvdpError as e:
                self._fail(run_id, e.message)
                continue
            if queued:  # started (local) or triggered (remote) before the restart: follow it
                self.store.update_run(run_id, state="running")

    def sync(self, run_id: str) -> list[dict]:
        """Poll the run's target once and record + emit what changed (sync.py)."""
        return self._sync.sync(run_id)

    def _emit(self, run_id: str, said: list[dict]) -> None:
        if not said:
            return
        seq = self.store.next_seq(run_id, len(said))
        user = self.store.run_state(run_id)["user"]
        for i, event in enumerate(said):
            said[i] = event = events.stamped(event, run_id=run_id, user=user, seq=seq + i)
            try:
                self.emit(event)
            except Exception:
                log.exception("emitting %s failed", event)

    def cancel(self, run_id: str, user: str | None = None, reason: str | None = None) -> dict:
        """Stop a run; ``reason`` (e.g. the signal that stopped the CLI) becomes its message."""
        doc = self.document(run_id, user)
        if doc["state"] in FINISHED_RUN_STATES:
            raise RunConflict(f"Run {run_id} already ended ({doc['state']}); nothing to cancel")
        spec = self.store.spec(run_id)
        if doc["state"] == "queued":  # not handed to its target yet: nothing runs
            self._end(run_id, "cancelled", reason or "cancelled before it started")
            return self.document(run_id, user)
        try:
            self.targets[spec.target].cancel(spec, reason)
        except RunConflict:  # a local run whose process is gone: nothing runs it any more
            owner = spec.extra.get("owner_pid")
            if owner and owner != os.getpid() and _alive(owner):
                raise RunConflict(
                    f"Run {run_id} runs in process {owner}; stop that process to cancel it"
                ) from None
            self._end(run_id, "cancelled", reason or "cancelled; the process running it is gone")
        return doc

    def shutdown(self, reason: str) -> None:
        """The owning process is stopping: cancel what runs in it, recording ``reason``."""
        for target in self.targets.values():
            for run_id in getattr(target, "stop_all", lambda _: [])(reason):
                try:
                    self.sync(run_id)
                except Exception:  # shutting down: record what can be recorded
                    log.exception("recording the end of %s failed", run_id)

    def _end(self, run_id: str, state: str, message: str) -> None:
        self.store.update_run(run_id, state=state, message=message)
        self._emit(run_id, [events.run_changed(state, None, message)])

    def delete(self, run_id: str, user: str | None = None, outputs: bool = False) -> None:
        state = self.store.run_record(run_id, user)["state"]
        if state not in FINISHED_RUN_STATES:
            raise RunConflict(f"Run {run_id} is still {state}; cancel it first")
        if outputs:
            shutil.rmtree(self.store.spec(run_id).output_dir, ignore_errors=True)
        self.store.delete(run_id)

    def wait(
        self,
        run_id: str,
        interval: float = 0.5,
        on_events: Callable[[list[dict]], None] | None = None,
    ) -> dict:
        """Sync until the run ends (the CLI's loop); returns the final document."""
        self.poll_interval = interval
        while True:
            events = self.sync(run_id)
            if events and on_events:
                on_events(events)
            if self.store.run_state(run_id)["state"] in FINISHED_RUN_STATES:
                return self.document(run_id)
            time.sleep(interval)

    # --- reading: what handlers and the CLI see of runs ------------------------------------

    def document(self, run_id: str, user: str | None = None) -> dict:
        """The run as the REST API and `jupyter mvdp status --json` show it (docs/api.md);
        RunNotFound when it is not ``user``'s."""
        return run_document(self.store.run_record(run_id, user))

    def documents(self, user: str | None = None) -> list[dict]:
        """``user``'s runs (every run without one), newest first."""
        return [self.document(r) for r in self.store.run_ids(user)]

    def dag_source(self, run_id: str, user: str | None = None) -> str:
        self.store.run_record(run_id, user)  # RunNotFound for someone else's run
        return self.store.dag_source(run_id) or ""

    def output_dir(self, run_id: str) -> Path:
        """Where the run's output notebooks are: ``<folder>/<point id>.ipynb``."""
        return Path(self.store.spec(run_id).output_dir)

    def known_metrics(self, notebook: str, user: str | None = None) -> list[str]:
        """Metric names recorded by earlier runs of ``notebook`` (the panel's choices)."""
        return self.store.known_metrics(notebook, user)

    def active_runs(self) -> list[str]:
        return self.store.active_run_ids()

    def point_log(self, run_id: str, point_id: str, user: str | None = None) -> str:
        """A point's log, read from its target."""
        self.store.run_record(run_id, user)  # RunNotFound for someone else's run
        spec = self.store.spec(run_id)
        if point_id not in {p.id for p in spec.points} and not (
            point_id == "deploy" and spec.deploy_notebook
        ):
            raise RunNotFound(f"Run {run_id} has no point {point_id!r}")
        return self.target(spec.target).logs(spec, point_id)

    def follows_from_here(self, run_id: str) -> bool:
        """Can this process follow the run (poll its target)? A run hosted by another
        process (the local runner's) is followed by that process only."""
        target = self.targets.get(self.store.spec(run_id).target)
        return target is not None and not target.capabilities.runs_in_process
