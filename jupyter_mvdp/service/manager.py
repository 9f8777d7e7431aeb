"""Productionize and follow runs: the one orchestration behind the CLI and the REST API.

``submit`` validates the plan against the notebook, expands and orders the grid, renders the
DAG, records the run, and hands it to the target (inline for the CLI, in a thread for the
server so the request returns at once). ``sync`` follows a run once (sync.py). Every run
has one owner at a time (ownership.py): the process that hosts a local run, which no other
process runs while it lives. Handlers and the CLI speak to the manager only, never to its
store: what they read of a run is the run document (``core.document``).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core import (
    abtest,
    contract,
    events,
    filemodes,
    grid,
    optimize,
    params,
    runtime,
    shipping,
    strategies,
)
from ..core.document import page_query, run_document
from ..core.history import history_document
from ..core.logs import clean_log
from ..core.models import FINISHED_RUN_STATES, Plan, Point, RunSpec
from ..core.naming import current_user, legacy_pipeline_id, new_run_id, pipeline_id
from ..core.policy import Policies, Policy, too_many_runs
from ..core.policy import check as check_policy
from ..exceptions import (
    InvalidPlan,
    MvdpError,
    NoKernel,
    PipelineNotFound,
    PolicyViolation,
    RunConflict,
    RunNotFound,
    TooManyRuns,
    UnknownTarget,
)
from ..targets.base import Target
from . import champion
from .discover import Discovery
from .output_import import OutputImporter, SaveOutput
from .ownership import LeaseKeeper, Owner, why_dead
from .paths import DEFAULT_FILE_LIMIT, DEFAULT_FILES_LIMIT, PathResolver, ShippedFile
from .paths import ship as ship_files
from .snapshots import FileDigests
from .store import RunStore, spec_to_json
from .sync import RunSync
from .unreachable import DEFAULT_UNREACHABLE_LIMIT, UnreachablePolicy
from .views import RunViews

log = logging.getLogger("jupyter_mvdp")
Emit = Callable[[dict], None]

__all__ = ["DEFAULT_UNREACHABLE_LIMIT", "RunManager", "new_run_id", "pipeline_id"]


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
        shared_outputs: bool = False,
        file_limit: int = DEFAULT_FILE_LIMIT,
        files_limit: int = DEFAULT_FILES_LIMIT,
        policy: Policies | dict | None = None,
    ):
        """``shared_outputs``: output notebooks and logs readable by others (the umask
        decides) instead of their owner only (filemodes.py). ``policy``: the admin's
        (core/policy.py), checked at validate and again before a run is stored."""
        self.store = store
        self.targets = targets
        self.paths = PathResolver(Path(root_dir), allow_hidden)
        self.root = self.paths.root
        self.user = user or current_user()
        self.outputs_dir = outputs_dir
        self.grid_limit = grid_limit
        self.policies = policy if isinstance(policy, Policies) else Policies(policy)
        self._starting = threading.Lock()  # counting a user's active runs, then storing one
        self.default_target = default_target
        self.emit = emit or (lambda event: None)
        self.unreachable = UnreachablePolicy(unreachable_limit, poll_interval)
        #: server.outputs.contents_saver in the server: outputs go through the contents manager
        self.shared_outputs = shared_outputs
        #: bytes a shipped file (``file_limit``) and all of a plan's files may weigh
        self.file_limit, self.files_limit = file_limit, files_limit
        self.digests = FileDigests()
        self.outputs = OutputImporter(self.root, save_output, shared_outputs)
        self.views = RunViews(store)  # what REST reads: summaries, pages (views.py)
        self._sync = RunSync(
            store, targets, self.outputs, self.unreachable, self._emit, self.views.patch
        )
        self.owner = Owner.here()
        self.leases = LeaseKeeper(store.renew, self.owner, self._lost)
        self.discovery = Discovery(store, targets, self._emit, self._record)

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
        name = plan.strategy.deploy_notebook if plan.strategy.kind in strategies.DEPLOYS else None
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

    def plan_points(
        self, notebook: str, plan: Plan | dict, nb=None
    ) -> tuple[Path, Plan, list[Point]]:
        """``nb``: the notebook as already read (else it is read here)."""
        path = self.resolve(notebook)
        plan = plan if isinstance(plan, Plan) else Plan.from_json(plan)
        found = params.inspect(nb if nb is not None else params.read_notebook(path), plan.kernel)
        checked = found.parameters if found.checked else None  # else any name, unchecked
        if plan.strategy.kind == "optimize":  # the space is checked; rounds ask the points
            optimize.search_space(plan.grid, checked)
            return path, plan, optimize.slots(plan.strategy)
        points = grid.expand(plan.grid, checked, limit=self.grid_limit)
        return path, plan, strategies.ordered(plan.strategy, points)

    def ab_points(self, nb, plan: Plan, base: list[Point], pipeline: str, legacy) -> list[Point]:
        """An A/B test's points (core/abtest.py): A is the pipeline's champion's parameters
        when the plan says ``a: "champion"``."""
        found = params.inspect(nb, plan.kernel)
        crowned = None
        if plan.strategy.a == abtest.CHAMPION:
            metric = plan.strategy.metric
            crowned = champion.champion_parameters(self.store, pipeline, metric, legacy)
        checked = found.parameters if found.checked else None
        return abtest.points(plan.strategy, base, checked, crowned)

    def kernel_for(self, path: Path, plan: Plan, target: Target, nb=None) -> str:
        """The kernel the points run on: the plan's, the target's, else the notebook's own.
        A notebook without a kernelspec (as VS Code may save it) is refused here, before
        anything runs, rather than failing every point."""
        s = target.settings
        kernel = plan.kernel or s.get("kernel") or s.get("kernel_name")
        kernel = kernel or params.kernel_of(nb if nb is not None else params.read_notebook(path))[0]
        if not kernel:
            raise NoKernel(
                f'{path.name} names no kernel (its metadata has no kernelspec): set "kernel" '
                'in the plan (e.g. "python3"), or pick a kernel for it in JupyterLab and save it',
                errors=[{"field": "kernel", "message": "the notebook names no kernel; set one"}],
            )
        return kernel

    # --- the admin's policy ----------------------------------------------------------

    def policy(self, target: Target) -> Policy:
        """The policy a plan for ``target`` must keep: the one the target's far side
        enforces when it says (the hub service's), else the admin's for that target."""
        served = target.served_policy()
        return served if served is not None else self.policies.for_target(target.name)

    def policy_errors(
        self, plan: Plan, target: Target, user: str | None, size: int | None
    ) -> list[dict]:
        """What ``plan`` asks that the policy of ``target`` does not allow (field errors)."""
        if target.capabilities.has_dag:
            default = contract.DEFAULT_AIRFLOW_PARALLELISM
        else:
            default = target.settings.get("parallelism")
        return check_policy(plan, self.policy(target), user, size=size, default_parallelism=default)

    def validate(self, notebook: str, plan_doc: Any, target_name: str | None = None) -> dict:
        """Every problem at once, for inline validation (the notebook must exist), against
        the policy of the target the plan would run on."""
        target = self.target(target_name)
        path = self.resolve(notebook)
        nb = params.read_notebook(path)
        kernel = plan_doc.get("kernel") if isinstance(plan_doc, dict) else None
        found = params.inspect(nb, kernel if isinstance(kernel, str) else None)
        parameters = found.parameters if found.checked else None
        errors: list[dict] = []
        warnings: list[dict] = []
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
            if plan.strategy.kind == "optimize":  # a search space, not a grid to expand
                size, errors = plan.strategy.budget, optimize.check(plan.grid, parameters)
                errors += optimize.optuna_problems(target.capabilities.runs_in_process)
            if plan.strategy.kind == "ab":  # the variants' replicates (abtest.py)
                errors.extend(abtest.problems(plan.strategy, plan.grid, parameters))
                size = 2 * (plan.strategy.replicates or 0)
            try:
                self.deploy_notebook(notebook, plan)
            except MvdpError as e:
                errors.append({"field": "strategy.deploy_notebook", "message": e.message})
            try:
                self.kernel_for(path, plan, target, nb)
            except NoKernel as e:
                errors.extend(e.errors)
            try:
                shipped = self.ship(path, plan)
            except MvdpError as e:
                errors.extend(e.errors or [{"field": "files", "message": e.message}])
            else:
                if target.capabilities.ships_files:
                    warnings = self.unshipped(path, nb, plan, shipped)
            errors.extend(self.policy_errors(plan, target, self.user, size))
            errors.extend(target.notify_problems(plan))
        most = self.policy(target).max_grid  # the admin's, when lower than the server's
        return {
            "valid": not errors,
            "size": size,
            "limit": self.grid_limit if most is None else min(most, self.grid_limit),
            "errors": errors,
            "warnings": warnings,
        }

    # --- what a run takes from the workspace -------------------------------------------

    def ship(self, path: Path, plan: Plan) -> list[ShippedFile]:
        """The plan's ``files`` next to the notebook at ``path``: through the path gate and
        the size limits (InvalidPlan naming each bad entry)."""
        return ship_files(
            self.paths,
            self.relative(path),
            plan.files,
            file_limit=self.file_limit,
            total_limit=self.files_limit,
        )

    def unshipped(self, path: Path, nb, plan: Plan, shipped: list[ShippedFile]) -> list[dict]:
        """Warnings for a remote target: files and folders the notebook's code (or the
        grid) names that exist next to it but that the plan does not ship (shipping.py)."""
        folder = self.relative(path.parent) if path.parent != self.root else ""

        def kind_of(relative: str) -> str | None:
            return self.paths.kind_of(f"{folder}/{relative}" if folder else relative)

        code = [c.source for c in nb.cells if c.cell_type == "code"]
        values = [
            v for axis in plan.grid.values() for v in (axis if isinstance(axis, list) else [axis])
        ]
        candidates = shipping.path_literals(code, values)
        missing = shipping.unshipped(candidates, kind_of, (f.path for f in shipped))
        return [shipping.warning(p, kind) for p, kind in missing]

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
        # read once: the bytes hashed are the bytes parsed, run and shipped (also after a
        # restart: the run store keeps them), whatever happens to the file meanwhile
        data, nb = params.read_notebook_bytes(self.resolve(notebook))
        path, plan, points = self.plan_points(notebook, plan, nb)
        deploy_notebook = self.deploy_notebook(notebook, plan)
        deploy_data = params.read_notebook_bytes(deploy_notebook)[0] if deploy_notebook else None
        kernel = self.kernel_for(path, plan, target, nb)
        files = self.digests.manifest(self.ship(path, plan))
        owner = user or self.user
        refused = self.policy_errors(plan, target, owner, max(len(points), 1))
        if refused:
            raise PolicyViolation.of(refused)
        undeliverable = target.notify_problems(plan)
        if undeliverable:
            first = undeliverable[0]
            raise InvalidPlan(f"{first['field']}: {first['message']}", errors=undeliverable)
        if not points:  # an empty grid runs the notebook's defaults once (no injected cell)
            points = [Point(grid.point_id({}), {})]
        rel = self.relative(path)
        legacy = None if pipeline else (legacy_pipeline_id(owner, rel), owner, rel)
        pipeline = pipeline or pipeline_id(owner, rel)
        if plan.strategy.kind == "ab":  # the variants' replicates; A perhaps the champion
            points = self.ab_points(nb, plan, points, pipeline, legacy)
            refused = self.policy_errors(plan, target, owner, len(points))
            if refused:
                raise PolicyViolation.of(refused)
        run_id = new_run_id()
        best = None
        if plan.strategy.kind == "canary":
            metric = plan.strategy.metric
            best = champion.champion_value(self.store, pipeline, metric, legacy)
        spec = RunSpec(
            run_id=run_id,
            pipeline=pipeline,
            notebook=str(path),
            notebook_sha256=runtime.sha256_of(data),
            plan=plan,
            points=points,
            output_dir=str(self.root / self.outputs_dir / pipeline / run_id),
            target=target.name,
            champion=best,
            deploy_notebook=str(deploy_notebook) if deploy_notebook else None,
            kernel=kernel,
            notebook_path=rel,
            deploy_notebook_sha256=runtime.sha256_of(deploy_data) if deploy_data else None,
            files=files,
            snapshots={
                runtime.sha256_of(data): data,
                **({runtime.sha256_of(deploy_data): deploy_data} if deploy_data else {}),
            },
        )
        if plan.strategy.kind == "optimize":
            for problem in optimize.optuna_problems(target.capabilities.runs_in_process):
                raise InvalidPlan(problem["message"], errors=[problem])
            found = params.inspect(nb, plan.kernel)
            spec.space = optimize.search_space(
                plan.grid, found.parameters if found.checked else None
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
        """Record a prepared run, owned by this process, and productionize it (in a thread
        when ``background``); TooManyRuns when the user has as many unfinished runs on the
        target as the policy allows."""
        owner = user or self.user
        rules = self.policy(self.targets[spec.target])
        with self._starting:
            refused = too_many_runs(rules, owner, self.store.active_count(owner, spec.target))
            if refused:
                raise TooManyRuns(refused["message"], errors=[refused])
            self.store.create(
                spec,
                notebook=self.relative(spec.notebook),
                user=owner,
                owner=self.owner.columns(),
            )
        self._host(spec.run_id, spec.target)
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
            if target.capabilities.writes_workspace:  # private unless configured shared
                filemodes.make_dirs(spec.output_dir, shared=self.shared_outputs)
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
        if target.capabilities.lists_runs:  # its schedule's runs and others' come home too
            user = self.store.run_state(spec.run_id)["user"]
            notebook = self.relative(spec.notebook)
            self.store.deployed(spec, spec_to_json(spec), user=user, notebook=notebook)
        self.store.update_run(spec.run_id, state="running")
        self._emit(spec.run_id, [events.run_changed("running", "triggered", None)])

    def _fail(self, run_id: str, message: str) -> None:
        self._end(run_id, "failed", message)

    def _record(self, spec: RunSpec, notebook: str, user: str) -> None:
        """Store a run a target started by itself (discover.py), owned by this process."""
        self.store.create(spec, notebook=notebook, user=user, owner=self.owner.columns())
        self._host(spec.run_id, spec.target)

    def discover(self, user: str | None = None) -> list[str]:
        """Adopt the runs of deployed pipelines (``user``'s when given) that their targets
        started by themselves: a schedule, Airflow's UI or API (discover.py). One call per
        target, whatever the number of pipelines; returns the new run ids."""
        return self.discovery.discover(user)

    def refresh(self, user: str | None = None) -> None:
        """A one-off look, for a process without a watcher (``jupyter mvdp status``): adopt
        the runs started in the targets, then poll each unfinished run of ``user`` that this
        process can follow once."""
        self.discover(user)
        for run_id in self.followed_runs():
            if user is None or self.store.run_state(run_id)["user"] == user:
                with contextlib.suppress(MvdpError):
                    self.sync(run_id)

    def _host(self, run_id: str, target: str) -> None:
        """This process owns the run from now on: keep its lease, and know the local runs
        it hosts (ownership.py)."""
        if self.targets[target].capabilities.runs_in_process:
            self.leases.hosting.add(run_id)
        self.leases.start()

    def _lost(self, run_ids: set[str]) -> None:
        """Runs this process hosted that another process took over (this one stalled past
        its lease): stop running them here, so no point runs twice."""
        for run_id in run_ids:
            run = self.store.run_state(run_id)
            if run["state"] in FINISHED_RUN_STATES or run["owner_token"] == self.owner.token:
                continue
            log.warning(
                "jupyter-mvdp: run %s was taken over by pid %s on %s; it stops here",
                run_id,
                run["owner_pid"],
                run["owner_host"],
            )
            spec = self.store.spec(run_id)
            with contextlib.suppress(MvdpError):
                self.targets[spec.target].cancel(spec, "taken over by another process")

    def resume_all(self) -> None:
        """Take over every unfinished run whose owner is dead (ownership.py): at a server's
        start and at every turn of its watcher. A local run restarts its rest here (a point
        its owner completed is adopted, not run again); a remote one is followed from here.
        Runs whose owners live are theirs, whoever shares the store."""
        self._take_over(resume=True)

    def mark_orphans(self) -> None:
        """For a process that hosts only its own runs (the CLI): every unfinished local run
        whose owner is dead is shown ``orphaned``, with why, until a server resumes it."""
        self._take_over(resume=False)

    def _take_over(self, resume: bool) -> None:
        for run_id in self.store.active_run_ids():
            run = self.store.run_state(run_id)
            why = why_dead(run, self.owner)
            if why is None:
                continue
            target = self.targets.get(run["target"])
            in_process = target is None or target.capabilities.runs_in_process
            if not resume:
                if in_process and run["state"] != "orphaned":
                    self._end(
                        run_id,
                        "orphaned",
                        f"{why}; a Jupyter server on this run store resumes it, or cancel it",
                    )
                continue
            if not self.store.claim(run_id, self.owner.columns(), run):
                continue  # another process took it first
            log.warning("jupyter-mvdp: taking over run %s: %s", run_id, why)
            self._resume(run_id, target, run["state"], why)

    def _resume(self, run_id: str, target: Target | None, state: str, why: str) -> None:
        spec = self.store.spec(run_id)
        spec.snapshots = self.store.snapshots(run_id)  # what it read at submit, not the file now
        if target is None:
            self._fail(run_id, f"target {spec.target!r} is no longer configured")
            return
        in_process = target.capabilities.runs_in_process
        if state == "queued" and not in_process and not spec.extra.get("dag_run_id"):
            self._fail(run_id, f"{why} before the run was triggered; run it again")
            return
        try:
            if in_process:  # a local run: this process hosts it from now on
                self._host(run_id, spec.target)
                self._sync.forget(run_id)
            target.resume(spec, self.store.points(run_id))
        except MvdpError as e:
            self._fail(run_id, e.message)
            return
        self.leases.start()
        if state in ("queued", "orphaned"):  # started (local) or triggered (remote): follow it
            self._end(run_id, "running", f"resumed here: {why}")

    def check_store(self) -> None:
        """The run store's file still there (a deleted one is written back: storefile.py)."""
        notice = self.store.check_file()
        if notice:
            log.warning("jupyter-mvdp: %s", notice)

    def store_problems(self) -> list[str]:
        """What this process found wrong with the run store when it opened it."""
        return list(self.store.problems)

    def store_notices(self) -> list[str]:
        """What went wrong with the run store itself lately (a damaged store set aside, a
        missing one), said with the run list."""
        return self.store.notices()

    def followed_runs(self) -> list[str]:
        """The unfinished runs this process follows: the local runs it hosts, and remote
        runs (any process can poll a target)."""
        found = []
        for run_id in self.store.active_run_ids():
            target = self.targets.get(self.store.run_state(run_id)["target"])
            if run_id in self.leases.hosting or (
                target is not None and not target.capabilities.runs_in_process
            ):
                found.append(run_id)
        return found

    def sync(self, run_id: str) -> list[dict]:
        """Poll the run's target once and record + emit what changed (sync.py); a local run
        hosted by another process is that process's to follow."""
        target = self.targets.get(self.store.run_state(run_id)["target"])
        if target and target.capabilities.runs_in_process and run_id not in self.leases.hosting:
            return []
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
        except RunConflict:  # a local run this process does not host
            run = self.store.run_state(run_id)
            why = why_dead(run, self.owner)
            if why is None:
                raise RunConflict(
                    f"Run {run_id} runs in process {run['owner_pid']} on {run['owner_host']};"
                    " cancel it there, or stop that process"
                ) from None
            if not self.store.claim(run_id, self.owner.columns(), run):  # nobody resumes it now
                raise RunConflict(f"Run {run_id} was just taken over; try again") from None
            self._end(run_id, "cancelled", reason or f"cancelled; {why}")
        return doc

    def shutdown(self, reason: str) -> None:
        """The owning process is stopping: cancel what runs in it, recording ``reason``."""
        for target in self.targets.values():
            for run_id in getattr(target, "stop_all", lambda _: [])(reason):
                try:
                    self.sync(run_id)
                except Exception:  # shutting down: record what can be recorded
                    log.exception("recording the end of %s failed", run_id)
        self.leases.stop()

    def close(self) -> None:
        """Stop renewing leases and close the store (the owning process is done)."""
        self.leases.stop()
        self.store.close()

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
        """``user``'s runs (every run without one), newest first, each without its points
        (``core.document.run_summary``): the run list, whatever the runs' sizes."""
        return self.views.summaries(user)

    def view(self, run_id: str, user: str | None = None, **query) -> dict:
        """The run as REST shows it: its summary and one page of its points (views.py)."""
        return self.views.document(run_id, user, **query)

    def points(self, run_id: str, user: str | None = None, **query) -> dict:
        """A page of the run's points, sorted and filtered (``core.document.page_query``)."""
        return self.views.page(run_id, user, page_query(**query))

    def point_parameters(self, run_id: str) -> dict[str, dict]:
        """Each point's parameters, by id (the CLI's progress lines)."""
        return {p.id: p.parameters for p in self.store.spec(run_id).points}

    def dag_source(self, run_id: str, user: str | None = None) -> str:
        self.store.run_record(run_id, user)  # RunNotFound for someone else's run
        return self.store.dag_source(run_id) or ""

    def output_dir(self, run_id: str) -> Path:
        """Where the run's output notebooks are: ``<folder>/<point id>.ipynb``."""
        return Path(self.store.spec(run_id).output_dir)

    def known_metrics(self, notebook: str, user: str | None = None) -> list[str]:
        """Metric names recorded by earlier runs of ``notebook`` (the panel's choices)."""
        return self.store.known_metrics(notebook, user)

    def history(self, pipeline: str, user: str | None = None, limit: int = 100) -> dict:
        """``user``'s pipeline over time (core/history.py): its last ``limit`` runs, newest
        first, with who started each and how it ended, and its champions; PipelineNotFound
        when ``user`` has no run or deploy of it."""
        user = user or self.user
        runs = self.store.pipeline_runs(pipeline, user, limit)
        deployed = [p for p in self.store.pipelines(user) if p["pipeline"] == pipeline]
        if not runs and not deployed:
            raise PipelineNotFound(f"No pipeline {pipeline!r} of {user}")
        by_metric: dict[tuple[str, str], list[str]] = {}
        for run in runs:
            strategy = run["plan"]["strategy"]
            if strategy.get("metric"):
                key = (strategy["metric"], strategy.get("goal", "max"))
                by_metric.setdefault(key, []).append(run["run_id"])
        values = [v for key, ids in by_metric.items() for v in self.store.best_points(ids, *key)]
        champions = self.store.champion_history(pipeline)
        return history_document(pipeline, runs, values, champions, deployed)

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
        return clean_log(self.target(spec.target).logs(spec, point_id))

    def follows_from_here(self, run_id: str) -> bool:
        """Can this process follow the run (poll its target)? A run hosted by another
        process (the local runner's) is followed by that process only."""
        target = self.targets.get(self.store.spec(run_id).target)
        return target is not None and not target.capabilities.runs_in_process
