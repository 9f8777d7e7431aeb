"""What the hub service does for a hub user: render and deploy a DAG it renders itself
from the user's notebook and plan, into the user's namespace, under the admin's policy; then
follow, read and cancel that user's runs only. No HTTP here (handlers.py).

The namespace is the user's: a pipeline id is ``core.naming.pipeline_id(user, notebook)``,
computed here from the user the hub authenticated, never taken from the request (a request
may name the pipeline it expects: another one is refused). So the DAG id, the notebook and
outputs folders on the shared Airflow are the user's, and a run is answered for its owner
only (``NotYours``, 403, for anyone else's). The service keeps its own run store (which run
is whose, the spec it deployed) and a private work folder where a request's notebooks are
written before ``RunManager.prepare`` reads them as it reads a server's.

Only targets that run elsewhere are served (Airflow, Astro): never the local runner, which
would run a user's notebook inside this process, next to the credentials.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import shutil
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..core import grid
from ..core.models import Plan, Snapshot
from ..core.naming import is_run_id, new_run_id, pipeline_id
from ..core.policy import Policies
from ..core.strategies import DEPLOYS
from ..exceptions import (
    InvalidPlan,
    MvdpError,
    NotYours,
    RunConflict,
    RunNotFound,
    TargetError,
)
from ..service.manager import RunManager
from ..service.store import RunStore
from ..targets import Target, target_class
from ..targets.hub.client import without_outputs

log = logging.getLogger("jupyter_mvdp.hub")


def service_targets(config: dict[str, dict]) -> dict[str, Target]:
    """The targets the service deploys to, by name; ValueError naming one it must not serve
    (one that runs notebooks in this process, or another hub)."""
    targets: dict[str, Target] = {}
    for name, settings in config.items():
        settings = dict(settings)
        kind = settings.pop("kind", name)
        cls = target_class(kind)
        caps = cls.capabilities
        if caps.runs_in_process or caps.writes_workspace or kind == "hub":
            raise ValueError(
                f"target {name!r} ({kind}) runs notebooks here; the hub service deploys to "
                "targets that run elsewhere only (airflow, astro)"
            )
        targets[name] = cls(name, **settings)
    if not targets:
        raise ValueError("the hub service has no target: give it one under 'targets'")
    return targets


class HubService:
    """One service for the hub's users. ``config``: ``{"targets": {name: settings},
    "policy": {...}, "grid_limit": n}``; ``state_dir``: its run store and work folder."""

    def __init__(self, config: dict, state_dir: str | Path):
        self.targets = service_targets(config.get("targets") or {})
        policy = Policies(config.get("policy"))  # a policy that does not read stops it here
        self.state = Path(state_dir)
        self.state.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.work = self.state / "work"
        self.work.mkdir(exist_ok=True, mode=0o700)
        self.store = RunStore(self.state / "runs.sqlite")
        self.manager = RunManager(
            self.store,
            self.targets,
            root_dir=self.work,
            user="mvdp-hub-service",  # every run is stored under its hub user instead
            grid_limit=int(config.get("grid_limit", grid.DEFAULT_LIMIT)),
            default_target=next(iter(self.targets)),
            policy=policy,
        )
        self._lock = threading.Lock()

    def close(self) -> None:
        self.manager.close()

    # --- what a user may ask of the targets ---------------------------------------------

    def target_doc(self, name: str) -> dict:
        """A target as a user's server sees it: reachable, what its policy allows."""
        target = self.manager.target(name)
        try:
            target.check()
            reachable, message = True, None
        except TargetError as e:
            reachable, message = False, e.message
        return {
            "name": name,
            "kind": target.kind,
            "reachable": reachable,
            "message": message,
            "capabilities": target.capabilities.to_json(),
            "policy": self.manager.policy(target).to_json(),
        }

    # --- productionize ------------------------------------------------------------------

    def render(self, owner: str, body: dict) -> dict:
        """The DAG this service would deploy for ``owner``'s notebook and plan, checked as
        a deploy is (policy, namespace), deploying nothing."""
        folder = Path(tempfile.mkdtemp(prefix="render-", dir=self.work))
        try:
            spec = self._prepare(owner, body, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return {"pipeline": spec.pipeline, "dag_source": spec.dag_source}

    def submit(self, owner: str, body: dict) -> dict:
        """Render, store and deploy ``owner``'s run (in a thread); returns its state."""
        run_id = body.get("run_id")
        if not is_run_id(run_id):
            raise MvdpError(f"run_id: {str(run_id)[:40]!r} is not a run id (as new_run_id makes)")
        with self._lock:
            try:
                self.store.run_state(run_id)
            except RunNotFound:
                pass
            else:
                raise RunConflict(f"Run {run_id} exists already; propose another id")
            spec = self._prepare(owner, body, self.work / run_id)
            spec.run_id = run_id
            spec.output_dir = str(Path(spec.output_dir).parent / run_id)
            self._refresh(owner, spec.target)  # runs that ended meanwhile no longer count
            self.manager.start(spec, background=True, user=owner)
        return self.run_doc(owner, run_id)

    def _prepare(self, owner: str, body: dict, folder: Path):
        """Write the request's notebooks into ``folder`` (under the work folder, through the
        path gate) and prepare the run as a server would, in ``owner``'s namespace."""
        target = self.manager.target(body["target"])
        paths = self.manager.paths
        rel = paths.relative_path(body["notebook"], "notebook")
        if not rel.endswith(".ipynb"):
            raise MvdpError(f"notebook: {rel!r} is not a notebook (.ipynb)")
        expected = pipeline_id(owner, rel)
        asked = body.get("pipeline")
        if asked not in (None, expected):
            raise NotYours(
                f"pipeline {asked!r} is not in {owner}'s namespace: the service names the "
                f"pipeline of {rel} for {owner} {expected!r}"
            )
        plan = Plan.from_json(body["plan"])
        if getattr(plan, "files", None):
            raise InvalidPlan(
                "files: the hub target ships the notebook only; bring the files in another way "
                "(a data path parameter)",
                errors=[{"field": "files", "message": "not shipped through the hub service"}],
            )
        inside = f"{folder.relative_to(self.work).as_posix()}/{rel}"
        self._write(inside, body["content"])
        name = plan.strategy.deploy_notebook if plan.strategy.kind in DEPLOYS else None
        if name:
            if not isinstance(body.get("deploy_content"), dict):
                raise MvdpError("deploy_content: the canary's deploy notebook is missing")
            beside = paths.relative_path(name, "strategy.deploy_notebook")
            self._write(posixpath.join(posixpath.dirname(inside), beside), body["deploy_content"])
        spec = self.manager.prepare(inside, plan, target.name, owner, expected)
        spec.notebook_path = rel  # what the user's server names it (provenance)
        if plan.strategy.kind == "canary":  # the user's store crowned it: the service has none
            champion = body.get("champion")
            spec.champion = float(champion) if champion is not None else None
        spec.dag_source = target.render(spec)
        return spec

    def _write(self, inside: str, notebook: Any) -> None:
        path = self.work / inside
        if not path.resolve().is_relative_to(self.work.resolve()):
            raise NotYours(f"{inside} is outside the service's work folder")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(json.dumps(without_outputs(notebook)), encoding="utf-8")

    def _refresh(self, owner: str, target_name: str) -> None:
        """Poll ``owner``'s unfinished runs on the target once, so a run whose user stopped
        following it does not count against the policy's ``max_active_runs`` forever."""
        for run_id in self.store.run_ids(owner):
            if self.store.run_state(run_id)["state"] in ("running", "unknown"):
                spec = self.store.spec(run_id)
                if spec.target == target_name:
                    try:
                        self._poll(run_id, spec)
                    except MvdpError:
                        continue

    # --- a run, for its owner only --------------------------------------------------------

    def _owned(self, owner: str, run_id: str) -> dict:
        state = self.store.run_state(run_id)  # RunNotFound: 404
        if state["user"] != owner:
            raise NotYours(f"Run {run_id} is not {owner}'s")
        return state

    def run_doc(self, owner: str, run_id: str) -> dict:
        state = self._owned(owner, run_id)
        spec = self.store.spec(run_id)
        return {
            "run_id": run_id,
            "pipeline": spec.pipeline,
            "state": state["state"],
            "progress": state["progress"],
            "message": state["message"],
            "dag_source": spec.dag_source,
            "dag_run_id": spec.extra.get("dag_run_id"),
        }

    def snapshot(self, owner: str, run_id: str) -> dict:
        """One poll of the run's target, as ``Target.poll`` returns it."""
        state = self._owned(owner, run_id)
        spec = self.store.spec(run_id)
        if not spec.extra.get("dag_run_id"):  # not triggered: deploying, or it failed to
            return asdict(Snapshot(state=state["state"], points={}, message=state["message"]))
        return asdict(self._poll(run_id, spec))

    def _poll(self, run_id: str, spec) -> Snapshot:
        snap = self.manager.targets[spec.target].poll(spec)
        if snap.state != self.store.run_state(run_id)["state"]:
            self.store.update_run(run_id, state=snap.state)
        return snap

    def output(self, owner: str, run_id: str, point_id: str) -> bytes | None:
        """A point's output notebook, read from the target's storage with the service's
        credentials; None while there is none."""
        self._owned(owner, run_id)
        spec = self.store.spec(run_id)
        self._point(spec, point_id, run_id)
        with tempfile.TemporaryDirectory(dir=self.state) as tmp:
            got = self.manager.targets[spec.target].fetch_output(
                spec, point_id, Path(tmp) / f"{point_id}.ipynb"
            )
            return got.read_bytes() if got else None

    def log(self, owner: str, run_id: str, point_id: str) -> str:
        self._owned(owner, run_id)
        spec = self.store.spec(run_id)
        self._point(spec, point_id, run_id)
        return self.manager.targets[spec.target].logs(spec, point_id)

    @staticmethod
    def _point(spec, point_id: str, run_id: str) -> None:
        known = {p.id for p in spec.points} | ({"deploy"} if spec.deploy_notebook else set())
        if point_id not in known:
            raise RunNotFound(f"Run {run_id} has no point {point_id!r}")

    def cancel(self, owner: str, run_id: str, reason: str | None) -> dict:
        self._owned(owner, run_id)
        self.manager.cancel(run_id, owner, reason)
        return self.run_doc(owner, run_id)


def load_config(path: str | os.PathLike) -> dict:
    """The service's JSON config; ValueError with one line naming the problem."""
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read the config file {path}: {e}") from None
    if not isinstance(config, dict):
        raise ValueError(f"the config file {path} must hold an object")
    unknown = set(config) - {"targets", "policy", "grid_limit", "state_dir"}
    if unknown:
        raise ValueError(f"the config file {path} has unknown keys: {', '.join(sorted(unknown))}")
    return config


__all__ = ["HubService", "load_config", "new_run_id", "service_targets"]
