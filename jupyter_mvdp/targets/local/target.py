"""The embedded default target: runs a plan with papermill on this machine, no Airflow needed.

``LocalTarget`` holds the settings and the runs of this process; each run is a ``LocalRun``
(runner.py) whose points run in worker processes (worker.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from ...core import filemodes, params, runtime
from ...core.models import Plan, PointStatus, RunSpec, Snapshot
from ...exceptions import RunConflict
from ..base import Capabilities, Progress, Target, _silent
from ..registry import register
from . import notify
from .runner import LocalRun
from .slots import KernelSlots
from .worker import log_path, snapshot_path, warm_up

KERNEL_MANAGERS = {"gateway": "jupyter_mvdp.kernels.gateway.GatewayKernelManager"}


def kernel_options(kernel_manager: str | None, start_timeout: float | None) -> dict:
    """papermill's kernel options from the target's settings: ``kernel_manager`` (a dotted
    class name, or ``gateway``: the kernels of a Jupyter Gateway, see gateway.py) and
    ``start_timeout`` (seconds a kernel may take to start; papermill's 60 s is short on a
    crowded hub node). Resolved once, so a wrong class name fails at start-up."""
    options: dict = {}
    if kernel_manager:
        from traitlets.utils.importstring import import_item

        options["kernel_manager_class"] = import_item(
            KERNEL_MANAGERS.get(kernel_manager, kernel_manager)
        )
    if start_timeout:
        options["start_timeout"] = float(start_timeout)
    return options


@register
class LocalTarget(Target):
    """Runs plans on this machine with papermill: ``parallelism`` points at once by default
    (the cores), a plan may ask for up to ``max_parallelism`` (4 per core): each point is a
    process and a kernel, so no request can start an unbounded number of them. With
    ``kernel_manager="gateway"`` the points' kernels run on a Jupyter Gateway instead;
    ``start_timeout`` bounds a kernel's start. ``warm_kernels=False`` (or the plan's
    ``warm_kernels: false``) starts every point's kernel from scratch instead of forking it
    from a zygote that has the notebook's imports done (kernels/zygote/). ``max_kernels``
    (2 per core) caps the kernels of all its runs at once (slots.py)."""

    kind = "local"
    # the DAG is only shown (what an Airflow target would run); the run lives in this process
    capabilities = Capabilities(
        has_dag=False, warm_kernels=True, writes_workspace=True, runs_in_process=True
    )

    def __init__(
        self,
        name: str | None = None,
        parallelism: int | None = None,
        kernel: str | None = None,
        max_parallelism: int | None = None,
        kernel_manager: str | None = None,
        start_timeout: float | None = None,
        warm_kernels: bool = True,
        max_kernels: int | None = None,
        **settings,
    ):
        cores = os.cpu_count() or 1
        self._slots = KernelSlots(max_kernels)
        super().__init__(
            name,
            parallelism=parallelism or cores,
            max_parallelism=max_parallelism or max(4 * cores, parallelism or 0),
            kernel=kernel,
            kernel_manager=kernel_manager,
            start_timeout=start_timeout,
            warm_kernels=warm_kernels,
            max_kernels=self._slots.limit,
            **settings,
        )
        self._kernel_options = kernel_options(kernel_manager, start_timeout)
        self._runs: dict[str, LocalRun] = {}
        warm_up()

    def _start(self, spec: RunSpec, known=None) -> None:
        # the notebook as the run read it at submit (what its points run, checked by sha256),
        # upgraded to nbformat 4; without the cell an earlier papermill run injected, so a
        # point without parameters runs the notebook's own defaults
        path = self.snapshot(spec, spec.notebook_sha256)
        if spec.deploy_notebook_sha256:
            self.snapshot(spec, spec.deploy_notebook_sha256)
        notebook = params.without_injected(params.read_notebook(path))
        default, cap = self.settings["parallelism"], self.settings["max_parallelism"]
        run = LocalRun(
            spec,
            notebook,
            parallelism=min(spec.plan.parallelism or default, cap),
            kernel=spec.plan.kernel or spec.kernel or self.settings.get("kernel"),
            known=known,
            kernel_options=self._kernel_options,
            warm_kernels=self.settings["warm_kernels"] and spec.plan.warm_kernels is not False,
            slots=self._slots,
        )
        self._runs[spec.run_id] = run
        run.start()

    @staticmethod
    def snapshot(spec: RunSpec, sha256: str) -> Path:
        """A notebook as the run read it at submit, as a file of the run that its points run
        (worker.snapshot_path): written from the run's copy (``spec.snapshots``, kept by the
        run store), or kept when it is already there and whole (a resumed run)."""
        path = snapshot_path(spec.output_dir, sha256)
        with contextlib.suppress(OSError):
            if runtime.sha256_of(path.read_bytes()) == sha256:
                return path
        data = spec.snapshots.get(sha256)
        if data is None or runtime.sha256_of(data) != sha256:
            raise RunConflict(
                f"Run {spec.run_id} has no copy of its notebook as it was submitted (it was "
                "started by an older jupyter-mvdp); run the notebook again"
            )
        aside = filemodes.in_folder(path.with_name(f".{path.name}.{os.getpid()}.tmp"))
        aside.write_bytes(data)
        os.replace(aside, path)
        return path

    def deploy(self, spec: RunSpec, progress: Progress = _silent) -> None:
        Path(spec.output_dir).mkdir(parents=True, exist_ok=True)

    def trigger(self, spec: RunSpec) -> None:
        self._start(spec)

    def resume(self, spec: RunSpec, known: dict[str, PointStatus]) -> None:
        if spec.run_id not in self._runs:
            self._start(spec, known)

    def poll(self, spec: RunSpec) -> Snapshot:
        try:
            return self._runs[spec.run_id].snapshot()
        except KeyError:
            raise RunConflict(f"Run {spec.run_id} is not running in this process") from None

    def wait(self, spec: RunSpec, timeout: float | None = None) -> None:
        self._runs[spec.run_id].join(timeout)

    def fetch_output(self, spec: RunSpec, point_id: str, dest: Path) -> Path | None:
        source = Path(spec.output_dir) / f"{point_id}.ipynb"
        if not source.exists():
            return None
        if source.resolve() != Path(dest).resolve():
            Path(dest).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
        return Path(dest)

    def cancel(self, spec: RunSpec, reason: str | None = None) -> None:
        run = self._runs.get(spec.run_id)
        if run is None:
            raise RunConflict(f"Run {spec.run_id} is not running in this process")
        run.cancel(reason)

    def stop_all(self, reason: str, timeout: float = 10) -> list[str]:
        """Cancel every run of this process (its owner is stopping) and wait for them."""
        live = [run for run in self._runs.values() if run.is_alive()]
        for run in live:
            run.cancel(reason)
        for run in live:
            run.join(timeout)
        return [run.spec.run_id for run in live]

    def notify_problems(self, plan: Plan) -> list[dict]:
        """The plan's channels need their connections here (``AIRFLOW_CONN_<ID>``)."""
        return notify.problems(plan)

    def logs(self, spec: RunSpec, point_id: str) -> str:
        try:
            return log_path(spec.output_dir, point_id).read_text(errors="replace")
        except FileNotFoundError:
            return ""
