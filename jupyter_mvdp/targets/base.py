"""Where a plan runs. A target deploys, triggers, reports status and hands back outputs.

The base class owns the sequence of a productionize (deploy, then trigger); subclasses fill
the steps, as papermill's engines do. Targets are built from traitlets config by the server
extension and from CLI options by the CLI; the registry (registry.py) maps kind names to
classes. A target declares what it can do (``Capabilities``): the CLI, the handlers and the
lab read those, never a target's name.
"""

from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..core.models import ListedRun, Plan, PointStatus, RunSpec, Snapshot
from ..core.policy import Policy

Progress = Callable[[str], None]


def _silent(_: str) -> None:
    pass


@dataclass(frozen=True)
class Capabilities:
    """What a target can do, as jupyter-scheduler's ``supported_features``: read by the CLI,
    the handlers and the lab (``GET /mvdp/targets``) instead of testing target names."""

    #: runs an Airflow DAG (else the DAG is only shown: what an Airflow target would run)
    has_dag: bool = True
    #: a run can be stopped from here
    can_cancel: bool = True
    #: a point's log can be read back (``logs``)
    reads_logs: bool = True
    #: forks each point's kernel from a warm process (the notebook's imports done)
    warm_kernels: bool = False
    #: output notebooks are written straight into the workspace
    writes_workspace: bool = False
    #: a run lives in the process that started it: another process cannot follow it
    runs_in_process: bool = False
    #: the runs of a deployed pipeline can be listed (``list_runs``), also those started
    #: elsewhere (the plan's schedule, the target's own UI or API), and followed like ours
    lists_runs: bool = False
    #: the points run in a folder holding the notebook and the plan's ``files`` only (a
    #: deploy ships them); else they run next to the notebook itself
    ships_files: bool = False

    def to_json(self) -> dict:
        return asdict(self)


class Target(ABC):
    """A place that runs plans: the embedded local runner, an Airflow deployment, Astro."""

    kind: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: Setting names whose values must never leave the server (browser, logs, DAGs).
    secret_settings: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str | None = None, **settings: Any):
        self.name = name or self.kind
        self.settings = settings

    def describe(self) -> dict:
        """Public description for `GET /mvdp/targets`: never a credential."""
        public = {
            k: v
            for k, v in self.settings.items()
            if k not in self.secret_settings and v is not None
        }
        return {
            "name": self.name,
            "kind": self.kind,
            "settings": public,
            "capabilities": self.capabilities.to_json(),
        }

    def served_policy(self) -> Policy | None:
        """The policy the target's far side enforces (the hub service's), which the server
        shows and checks instead of its own; None (the default): the server's own."""
        return None

    def locations(self, spec: RunSpec) -> tuple[str, str]:
        """Where the target's workers see (the input notebook, the outputs base folder) of a
        pipeline: the rendered DAG uses these paths. Output notebooks are written to
        ``<outputs>/<run_id>/<point_id>.ipynb``."""
        return spec.notebook, str(Path(spec.output_dir).parent)

    def deploy_location(self, spec: RunSpec) -> str | None:
        """Where the target's workers see the canary's deploy notebook (None: no deploy
        notebook). Remote targets copy it under a name they choose, never the user's."""
        return spec.deploy_notebook

    def store_location(self, spec: RunSpec) -> str | None:
        """Where a deploy keeps the run's notebooks, files and versions by content (an fsspec
        URL the workers read), or None: the DAG runs the notebook where it is."""
        return None

    def inputs(self, spec: RunSpec) -> dict:
        """The run's notebooks and files as its DAG names them (``render.dag.version_document``):
        by sha256, at their paths relative to the notebook's folder; without a store, also
        where they are on this machine."""
        rel = spec.notebook_path or Path(spec.notebook).name
        notebook = {"path": Path(spec.notebook).name, "sha256": spec.notebook_sha256, "input": rel}
        deploy = None
        if spec.deploy_notebook and spec.plan.strategy.deploy_notebook:
            path = posixpath.normpath(spec.plan.strategy.deploy_notebook)
            folder = posixpath.dirname(rel)
            deploy = {
                "path": path,
                "sha256": spec.deploy_notebook_sha256,
                "input": posixpath.join(folder, path) if folder else path,
            }
        if self.store_location(spec) is None:  # the DAG runs them where they are
            notebook["location"] = self.locations(spec)[0]
            if deploy is not None:
                deploy["location"] = self.deploy_location(spec)
        return {"input": rel, "notebook": notebook, "deploy_notebook": deploy, "files": spec.files}

    def _dag_arguments(self, spec: RunSpec) -> dict:
        notebook, outputs = self.locations(spec)
        return {
            "dag_id": spec.pipeline,
            "plan": spec.plan,
            "points": spec.points,
            "notebook": notebook,
            "outputs": outputs,
            "kernel": spec.plan.kernel or spec.kernel,
            "champion": spec.champion,
            "deploy_notebook": self.deploy_location(spec),
            "description": f"jupyter-mvdp pipeline of {Path(spec.notebook).name}",
            "inputs": self.inputs(spec),
            "store": self.store_location(spec),
            "target": spec.target,
            "space": spec.space,  # optimize's search space
        }

    def render(self, spec: RunSpec) -> str:
        """The Airflow DAG of this run, as this target's workers would run it."""
        from ..render.dag import render_dag

        return render_dag(**self._dag_arguments(spec))

    def version(self, spec: RunSpec) -> dict:
        """The version of the pipeline this run runs (``render.dag.version_document``): what
        its DAG embeds, and what a deploy keeps in the store by digest while runs use it."""
        from ..render.dag import version_document

        args = self._dag_arguments(spec)
        keys = ("dag_id", "plan", "points", "kernel", "champion", "target", "inputs", "space")
        return version_document(**{k: args[k] for k in keys})

    def check(self) -> None:
        """Raise TargetUnreachable / TargetAuthError when the target cannot take a run."""

    def productionize(self, spec: RunSpec, progress: Progress = _silent) -> None:
        """Deploy the run's pipeline and trigger it. Raises a TargetError on failure."""
        progress("deploying")
        self.deploy(spec, progress)
        progress("triggering")
        self.trigger(spec)
        progress("triggered")

    @abstractmethod
    def deploy(self, spec: RunSpec, progress: Progress = _silent) -> None:
        """Put the pipeline (DAG, notebook) where the target reads it, and wait until it's ready."""

    @abstractmethod
    def trigger(self, spec: RunSpec) -> None:
        """Start the run. May record target ids in ``spec.extra``."""

    @abstractmethod
    def poll(self, spec: RunSpec) -> Snapshot:
        """The run's state and every point's status, in as few target calls as possible."""

    @abstractmethod
    def fetch_output(self, spec: RunSpec, point_id: str, dest: Path) -> Path | None:
        """Copy the point's executed notebook to ``dest``; None when it does not exist (yet)."""

    @abstractmethod
    def cancel(self, spec: RunSpec, reason: str | None = None) -> None:
        """Stop the run; unfinished points end as failed or skipped. ``reason`` (e.g. the
        signal that stopped the owner) is kept as the run's message where the target can."""

    def resume(self, spec: RunSpec, known: dict[str, PointStatus]) -> None:
        """Pick a run up again after a restart of the process hosting it (default: nothing,
        the run goes on in the target by itself)."""

    def logs(self, spec: RunSpec, point_id: str) -> str:
        """The log of one point, for a failed point on request."""
        return ""

    def list_runs(self, pipelines: list[str]) -> Iterator[list[ListedRun]]:
        """The runs the target has of ``pipelines``, newest first, one page per call to the
        target whatever the number of pipelines: the caller stops reading once a page holds
        runs it knows (targets whose ``capabilities.lists_runs``)."""
        return iter(())

    def notify_problems(self, plan: Plan) -> list[dict]:
        """Why this target could not deliver the plan's ``notify`` (``{"field", "message"}``
        each), said before a run (default: none; Airflow resolves its connections itself)."""
        return []

    def remove(self, pipeline: str) -> None:
        """Delete a deployed pipeline."""
