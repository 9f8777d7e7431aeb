"""Productionize and follow runs: the one orchestration behind the CLI and the REST API.

``submit`` validates the plan against the notebook, expands and orders the grid, renders the
DAG, records the run, and hands it to the target (inline for the CLI, in a thread for the
server so the request returns at once). ``sync`` polls the target once, diffs against the
store, persists what changed, brings finished output notebooks into the workspace and returns
(and emits) one event per change, so nothing already reported is reported twice, even across
a restart.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..core import grid, params, strategies
from ..core.metrics import read_metrics_file
from ..core.models import FINISHED_POINT_STATES, FINISHED_RUN_STATES, Plan, Point, RunSpec
from ..core.notebook_errors import notebook_error
from ..exceptions import (
    MvdpError,
    NoKernel,
    RunConflict,
    TargetAuthError,
    TargetUnreachable,
    UnknownTarget,
)
from ..targets.base import Target
from .paths import PathResolver
from .store import RunStore

log = logging.getLogger("jupyter_mvdp")
Emit = Callable[[dict], None]
#: seconds a run's target may stay unreachable before the run is reported "unknown"
DEFAULT_UNREACHABLE_LIMIT = 300.0
_TARGET_TITLES = {"airflow": "Airflow", "astro": "Astro"}


def current_user() -> str:
    """JupyterHub's user where set (per-user servers), else the OS user."""
    return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()


def pipeline_id(user: str, notebook: str) -> str:
    """A DAG id that carries the user and the notebook, unique per notebook path."""
    stem = re.sub(r"[^A-Za-z0-9_]+", "_", Path(notebook).stem).strip("_") or "notebook"
    who = re.sub(r"[^A-Za-z0-9_]+", "_", user).strip("_") or "user"
    digest = hashlib.sha1(notebook.encode()).hexdigest()[:6]
    return f"mvdp_{who}_{stem}_{digest}"


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _failure_of(path: Path) -> str | None:
    """Why a remote point's output notebook failed (``cell N: Name: message``)."""
    try:
        return notebook_error(params.read_notebook(path))
    except MvdpError:
        return None


def new_run_id() -> str:
    """Sortable by time, unique by 64 random bits (a clash needs ~4 billion runs a second)."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(8)


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
        save_output=None,
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
        #: outputs.contents_saver in the server: remote outputs go through the contents manager
        self.save_output = save_output
        self.poll_interval = poll_interval  # said in the "unreachable" message
        self.unreachable_limit = unreachable_limit
        self._sync_lock = threading.Lock()
        self._specs: dict[str, RunSpec] = {}  # of runs being synced: parsed once, not per poll

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
        pipeline = pipeline or pipeline_id(user or self.user, rel)
        run_id = new_run_id()
        champion = None
        if plan.strategy.kind == "canary":
            stored = self.store.champion(pipeline)
            if stored and stored["metric"] == plan.strategy.metric:
                champion = stored["value"]
        spec = RunSpec(
            run_id=run_id,
            pipeline=pipeline,
            notebook=str(path),
            notebook_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            plan=plan,
            points=points,
            output_dir=str(self.root / self.outputs_dir / pipeline / run_id),
            target=target.name,
            champion=champion,
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
        if self.targets[spec.target].writes_workspace:
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
            self._emit(
                spec.run_id, [{"kind": "run", "state": "queued", "progress": step, "message": None}]
            )

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
        self._emit(
            spec.run_id,
            [{"kind": "run", "state": "running", "progress": "triggered", "message": None}],
        )

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
            if queued and not target.writes_workspace and not spec.extra.get("dag_run_id"):
                self._fail(run_id, "the server stopped before the run was triggered; run it again")
                continue
            try:
                if target.writes_workspace:  # a local run: this process hosts it from now on
                    spec.extra["owner_pid"] = os.getpid()
                    self.store.update_spec(spec)
                    self._specs.pop(run_id, None)
                target.resume(spec, self.store.points(run_id))
            except MvdpError as e:
                self._fail(run_id, e.message)
                continue
            if queued:  # started (local) or triggered (remote) before the restart: follow it
                self.store.update_run(run_id, state="running")

    def sync(self, run_id: str) -> list[dict]:
        """Poll the target once and record + emit what changed."""
        with self._sync_lock:
            return self._sync(run_id)

    def _sync(self, run_id: str) -> list[dict]:
        stored = self.store.run_state(run_id)
        if stored["state"] not in ("running", "unknown"):  # not triggered yet, or over
            self._specs.pop(run_id, None)
            return []
        spec = self._specs.get(run_id) or self._specs.setdefault(run_id, self.store.spec(run_id))
        target = self.targets[spec.target]
        try:
            snap = target.poll(spec)
        except (TargetUnreachable, TargetAuthError) as e:
            return self._unreachable(run_id, target, stored, e)
        before = self.store.points(run_id)
        changed = {}
        events: list[dict] = []
        for pid, now in snap.points.items():
            old = before.get(pid)
            if old is None:
                continue
            if now.state in FINISHED_POINT_STATES and now.state != old.state:
                now.output, now.metrics, problem = self._bring_output(target, spec, pid, now)
                if problem and now.state == "success":  # the point keeps its target's state
                    now.error = problem
                elif now.state == "failed" and now.output and not target.writes_workspace:
                    # the notebook's own exception where it has one, else the log's line
                    now.error = _failure_of(self.root / now.output) or now.error
            elif now.state in FINISHED_POINT_STATES:
                now.output, now.metrics = old.output, now.metrics or old.metrics
                now.error = now.error or old.error
            else:
                now.output, now.metrics = old.output, now.metrics or old.metrics
            if (now.state, now.error, now.output, now.tries) != (
                old.state,
                old.error,
                old.output,
                old.tries,
            ) or now.metrics != old.metrics:
                changed[pid] = now
                if now.state != old.state or len(now.tries) != len(old.tries):
                    events.append(
                        {
                            "kind": "point",
                            "point_id": pid,
                            "state": now.state,
                            "error": now.error,
                            "output": now.output,
                            "tries": now.tries,
                        }
                    )
                if now.metrics and now.metrics != old.metrics:
                    events.append({"kind": "metrics", "point_id": pid, "metrics": now.metrics})
        if snap.state in FINISHED_RUN_STATES:  # points the target lost track of end with it
            for pid, old in before.items():
                if pid not in snap.points and old.state not in FINISHED_POINT_STATES:
                    changed[pid] = replace(old, state="failed", error=snap.message, finished=None)
                    events.append(
                        {
                            "kind": "point",
                            "point_id": pid,
                            "state": "failed",
                            "error": snap.message,
                            "output": old.output,
                            "tries": old.tries,
                        }
                    )
        if changed:
            self.store.update_points(run_id, changed)
        run_fields: dict[str, Any] = {}
        if snap.outcome and snap.outcome != stored["outcome"]:
            run_fields.update(outcome=snap.outcome, reason=snap.reason)
            events.append({"kind": "outcome", "outcome": snap.outcome, "reason": snap.reason})
            if snap.outcome == "deploy":
                self._crown(spec)
        elif snap.reason and snap.reason != stored["reason"]:
            run_fields["reason"] = snap.reason
        back = stored["unreachable_since"] is not None  # the target answers again
        if back or snap.state != stored["state"] or snap.message != stored["message"]:
            run_fields.update(state=snap.state, message=snap.message, unreachable_since=None)
            events.append(
                {
                    "kind": "run",
                    "state": snap.state,
                    "progress": stored["progress"],
                    "message": snap.message,
                    "unreachable_since": None,
                }
            )
        if run_fields:
            self.store.update_run(run_id, **run_fields)
        self._emit(run_id, events)
        return events

    def _unreachable(self, run_id: str, target: Target, stored: dict, error: MvdpError) -> list:
        """A poll failed: say so on the run (since when, how often it is retried) and, past
        ``unreachable_limit``, report the run "unknown" rather than "running"."""
        now = time.time()
        since = stored["unreachable_since"] or now
        when = time.strftime("%H:%M:%S", time.localtime(since))
        title = _TARGET_TITLES.get(target.kind, target.name)
        if isinstance(error, TargetUnreachable):
            message = f"{title} unreachable since {when}; retrying every {self.poll_interval:g} s"
        else:
            message = f"{error.message} (since {when}); retrying every {self.poll_interval:g} s"
        state = "unknown" if now - since > self.unreachable_limit else stored["state"]
        if (state, message, since) == (
            stored["state"],
            stored["message"],
            stored["unreachable_since"],
        ):
            return []
        self.store.update_run(run_id, state=state, message=message, unreachable_since=since)
        events = [
            {
                "kind": "run",
                "state": state,
                "progress": stored["progress"],
                "message": message,
                "unreachable_since": since,
            }
        ]
        self._emit(run_id, events)
        return events

    def _bring_output(
        self, target: Target, spec: RunSpec, pid: str, status
    ) -> tuple[str | None, dict, str | None]:
        """Copy a finished point's notebook into the workspace; read its metrics if needed.
        Returns (output, metrics, why the output could not be read back or None)."""
        dest = Path(spec.output_dir) / f"{pid}.ipynb"
        through_contents = self.save_output is not None and not target.writes_workspace
        if through_contents:
            staging = Path(tempfile.mkdtemp(prefix="mvdp-output-"))
            fetch_to = staging / dest.name
        else:
            fetch_to = dest
        problem = "its output notebook is missing"
        try:
            got = target.fetch_output(spec, pid, fetch_to)
        except (MvdpError, OSError) as e:
            problem = getattr(e, "message", None) or f"{type(e).__name__}: {e}"
            log.warning("output of %s/%s not fetched: %s", spec.run_id, pid, problem)
            got = None
        if got is None:
            if through_contents:
                shutil.rmtree(staging, ignore_errors=True)
            return None, status.metrics, problem
        metrics, problem = status.metrics, None
        if not metrics:
            try:
                metrics = read_metrics_file(got)
            except Exception as e:  # a half-written or damaged notebook has no metrics
                metrics, problem = {}, f"its output notebook cannot be read: {_first_line(e)}"
        if through_contents:
            try:
                self.save_output(self.relative(dest), got)
            finally:
                shutil.rmtree(got.parent, ignore_errors=True)
            return self.relative(dest), metrics, problem
        return self.relative(got), metrics, problem

    def _crown(self, spec: RunSpec) -> None:
        strategy = spec.plan.strategy
        top = strategies.best(
            (
                (pid, s.metrics)
                for pid, s in self.store.points(spec.run_id).items()
                if s.state == "success"
            ),
            strategy.metric,
            strategy.goal,
        )
        if top:
            self.store.set_champion(spec.pipeline, strategy.metric, top[1], spec.run_id, top[0])

    def _emit(self, run_id: str, events: list[dict]) -> None:
        if not events:
            return
        seq = self.store.next_seq(run_id, len(events))
        user = self.store.run_state(run_id)["user"]
        for i, event in enumerate(events):
            event.update(run_id=run_id, user=user, seq=seq + i)
            try:
                self.emit(event)
            except Exception:
                log.exception("emitting %s failed", event)

    def cancel(self, run_id: str, user: str | None = None, reason: str | None = None) -> dict:
        """Stop a run; ``reason`` (e.g. the signal that stopped the CLI) becomes its message."""
        doc = self.store.document(run_id, user)
        if doc["state"] in FINISHED_RUN_STATES:
            raise RunConflict(f"Run {run_id} already ended ({doc['state']}); nothing to cancel")
        spec = self.store.spec(run_id)
        if doc["state"] == "queued":  # not handed to its target yet: nothing runs
            self._end(run_id, "cancelled", reason or "cancelled before it started")
            return self.store.document(run_id, user)
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
        self._emit(run_id, [{"kind": "run", "state": state, "progress": None, "message": message}])

    def delete(self, run_id: str, user: str | None = None, outputs: bool = False) -> None:
        doc = self.store.document(run_id, user)
        if doc["state"] not in FINISHED_RUN_STATES:
            raise RunConflict(f"Run {run_id} is still {doc['state']}; cancel it first")
        if outputs:
            import shutil

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
                return self.store.document(run_id)
            time.sleep(interval)
