"""The embedded default target: runs a plan with papermill on this machine, no Airflow needed.

Each point runs in its own worker process forked from a forkserver that has papermill already
imported, so starting a point costs milliseconds while a timed-out or cancelled point can be
killed without breaking a pool. Decisions (rounds, early stop, canary) come from
strategies.py, the same functions the DAG renderer embeds, so local and Airflow runs agree.
"""

from __future__ import annotations

import copy
import multiprocessing
import os
import shutil
import sys
import threading
import time
import traceback
from collections import deque
from multiprocessing.connection import wait
from pathlib import Path

from ...core import params, runtime, strategies
from ...core.models import FINISHED_POINT_STATES, PointStatus, RunSpec, Snapshot
from ...core.notebook_errors import notebook_error, one_line
from ...exceptions import RunConflict
from ...kernels.lifeline import LifelineKernelManager, watch_lifeline
from ..base import Progress, Target, _silent, register

_POLL_SECONDS = 0.1
_KILL_GRACE_SECONDS = 3.0


def _context():
    """A forkserver context that preloads papermill: cheap, thread-safe process starts."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["jupyter_mvdp.targets.local.target", "papermill"])
    return ctx


def _warm_up() -> None:
    """Start the forkserver (a Python process importing papermill, ~1 s) ahead of the first
    point, in the background, so a run does not pay for it."""
    from multiprocessing import forkserver

    _context()
    threading.Thread(target=forkserver.ensure_running, name="mvdp-forkserver", daemon=True).start()


def execute_point(job: dict, conn) -> None:
    """Worker process: run one point with papermill, send back ``{"error": str | None}``.

    The worker dies with its owner (the pipe's reader) and its kernel dies with the worker,
    so a killed owner never leaves a point running to be run again (lifeline.py)."""
    import papermill  # preloaded by the forkserver; the server process never needs it

    watch_lifeline(conn.fileno())
    nb = job["notebook"]
    nb.metadata["mvdp"] = job["provenance"]
    _redirect_stderr(job["log"])  # the kernel inherits it: its chatter lands in the point's log
    try:
        runtime.starting_kernels_again(
            lambda: papermill.execute_notebook(
                nb,
                job["output"],
                parameters=job["parameters"],
                kernel_name=job["kernel"],
                cwd=job["cwd"],
                progress_bar=False,
                log_output=False,
                # a kernel that dies with this worker, unless the target names another
                **{"kernel_manager_class": _kernel_manager(job), **job.get("kernel_options", {})},
            ),
            say=lambda line: print(line, file=sys.stderr),
        )
        conn.send({"error": None})
    except papermill.PapermillExecutionError as e:
        _report(conn, cell_error(e, job["output"]), "".join(e.traceback))
    except BaseException as e:  # report anything; the parent decides the point failed
        _report(conn, one_line(type(e).__name__, str(e)), traceback.format_exc())
    finally:
        conn.close()


def _kernel_manager(job: dict):
    """A kernel forked from the run's zygote when it has one (zygote.py), else a fresh one."""
    if job.get("zygote"):
        from ...kernels.zygote import kernel_manager

        return kernel_manager(job["zygote"])
    return LifelineKernelManager


def cell_error(e, output: str) -> str:
    """papermill's failure as ``cell N: Name: message``, read from the notebook it wrote
    (notebook_errors: the same words for every target); papermill's own numbers without it."""
    try:
        described = notebook_error(params.read_notebook(output))
    except Exception:  # no output notebook
        described = None
    return described or f"cell {e.cell_index}: " + one_line(e.ename, e.evalue)


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


def _report(conn, error: str, details: str) -> None:
    print(details, file=sys.stderr, flush=True)  # the point's log keeps the whole traceback
    conn.send({"error": error})


def _redirect_stderr(path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 2)
    os.close(fd)


def completed_status(output: Path, run_id: str) -> PointStatus | None:
    """The status of a point whose notebook papermill ran to the end for this run, or None:
    after a crash, such a point is adopted rather than run a second time."""
    from ...core.metrics import read_metrics

    try:
        nb = params.read_notebook(output)
    except Exception:  # missing or half-written: not completed
        return None
    if nb.metadata.get("mvdp", {}).get("run_id") != run_id:
        return None
    run = nb.metadata.get("papermill", {})
    cells = [
        c.metadata.get("papermill", {}).get("status") for c in nb.cells if c.cell_type == "code"
    ]
    # papermill saves after every cell: all cells completed means the work is done even when
    # the crash came before its final save (end_time)
    if not run.get("end_time") and not (cells and all(s == "completed" for s in cells)):
        return None
    failed = bool(run.get("exception")) or "failed" in cells
    return PointStatus(
        state="failed" if failed else "success",
        metrics=read_metrics(nb),
        output=str(output),
        error="failed (recorded in its output notebook before a restart)" if failed else None,
        finished=output.stat().st_mtime,
    )


def log_path(output_dir: str | Path, point_id: str) -> Path:
    """Where a point's worker log goes (a hidden folder next to the output notebooks)."""
    return Path(output_dir) / ".logs" / f"{point_id}.log"


class LocalRun(threading.Thread):
    """One run of a plan: rounds of points in worker processes, then the strategy's decision."""

    def __init__(
        self,
        spec: RunSpec,
        notebook,
        parallelism: int,
        kernel: str | None,
        known=None,
        kernel_options: dict | None = None,
        warm_kernels: bool = True,
    ):
        super().__init__(name=f"mvdp-local-{spec.run_id}", daemon=True)
        self.kernel_options = kernel_options or {}
        # warm kernels for Python notebooks on this machine; another kernel manager (a
        # gateway) starts its kernels elsewhere
        self.warm_kernels = warm_kernels and "kernel_manager_class" not in self.kernel_options
        self._zygote: str | None = None
        self.spec = spec
        self.notebook = notebook
        self.parallelism = max(1, parallelism)
        self.kernel = kernel
        self.cwd = str(Path(spec.notebook).parent)
        self.out = Path(spec.output_dir)
        self.points = {p.id: PointStatus() for p in spec.points}
        for pid, status in (known or {}).items():
            if pid not in self.points:
                continue
            if status.state in FINISHED_POINT_STATES:
                self.points[pid] = copy.copy(status)
            else:  # in flight at a crash: adopt it if it completed, else it runs (once)
                adopted = completed_status(self.out / f"{pid}.ipynb", spec.run_id)
                if adopted is not None:
                    self.points[pid] = adopted
        self.state = "running"
        self.outcome: str | None = None
        self.reason: str | None = None
        self.message: str | None = None
        self._lock = threading.Lock()
        self._cancel = threading.Event()

    # --- what poll() sees ---------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                state=self.state,
                points={pid: copy.copy(s) for pid, s in self.points.items()},
                outcome=self.outcome,
                reason=self.reason,
                message=self.message,
            )

    def _set(self, pid: str, **fields) -> None:
        with self._lock:
            status = copy.copy(self.points[pid])
            for key, value in fields.items():
                setattr(status, key, value)
            self.points[pid] = status

    def cancel(self, reason: str | None = None) -> None:
        with self._lock:
            self.message = reason or self.message
        self._cancel.set()

    # --- the run ------------------------------------------------------------------------

    def run(self) -> None:
        strategy = self.spec.plan.strategy
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            ran = sum(s.state in ("success", "failed") for s in self.points.values())
            for batch in strategies.rounds(strategy, self.spec.points, self.parallelism):
                todo = [p for p in batch if self.points[p.id].state not in FINISHED_POINT_STATES]
                self._run_batch(todo)
                ran += len(todo)
                if self._cancel.is_set():
                    break
                stop, reason = strategies.should_stop(
                    strategy,
                    (s.metrics for s in self.points.values() if s.state == "success"),
                    ran,
                    len(self.spec.points),
                )
                if stop:
                    self.reason = reason
                    break
            with self._lock:
                for pid, s in self.points.items():
                    if s.state in ("queued", "running"):
                        self.points[pid] = PointStatus(state="skipped")
            failed = any(s.state == "failed" for s in self.points.values())
            if strategy.kind == "canary" and not self._cancel.is_set():
                failed = self._decide_canary() or failed
            final = "cancelled" if self._cancel.is_set() else "failed" if failed else "success"
        except Exception as e:  # a bug or an OS error: the run fails visibly, the process lives
            self.message = f"the local runner failed: {type(e).__name__}: {e}"
            final = "failed"
        with self._lock:
            self.state = final

    def _job(self, point_id: str, parameters: dict, output: Path, notebook=None) -> dict:
        return {
            "notebook": notebook if notebook is not None else self.notebook,
            "output": str(output),
            "log": str(log_path(self.out, point_id)),
            "parameters": parameters,
            "kernel": self.kernel,
            "kernel_options": self.kernel_options,
            "zygote": self._zygote if notebook is None else None,
            "cwd": self.cwd,
            "provenance": {
                "run_id": self.spec.run_id,
                "pipeline": self.spec.pipeline,
                "point_id": point_id,
                "parameters": parameters,
                "input": self.spec.notebook,
                "input_sha256": self.spec.notebook_sha256,
                "kernel": self._kernel_name(),
                "target": self.spec.target,
            },
        }

    def _kernel_name(self) -> str | None:
        return self.kernel or self.notebook.metadata.get("kernelspec", {}).get("name")

    def _run_batch(self, points) -> None:
        ctx = _context()
        if self.warm_kernels and points:  # (re)started here if it died since the last batch
            from ...kernels.zygote import POOL

            self._zygote = POOL.socket_for(self.notebook, self.cwd, self._kernel_name())
        queue = deque(points)
        running: dict[int, tuple] = {}  # sentinel -> (point id, process, connection, deadline)
        timeout = self.spec.plan.timeout
        retrying: dict[str, tuple[float, object]] = {}  # point id -> (next try at, point)
        by_id = {p.id: p for p in points}
        while queue or running or retrying:
            now = time.monotonic()
            for pid, (at, _) in list(retrying.items()):
                if at <= now and not self._cancel.is_set():
                    queue.append(retrying.pop(pid)[1])
            while queue and len(running) < self.parallelism and not self._cancel.is_set():
                point = queue.popleft()
                output = self.out / f"{point.id}.ipynb"
                receive, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(
                    target=execute_point, args=(self._job(point.id, point.parameters, output), send)
                )
                proc.start()
                send.close()
                deadline = time.monotonic() + timeout if timeout else None
                running[proc.sentinel] = (point.id, proc, receive, deadline)
                self._set(point.id, state="running", started=time.time(), output=str(output))
            if self._cancel.is_set():
                for pid, proc, _, _ in running.values():
                    _kill(proc)
                    self._set(pid, state="failed", error="cancelled", finished=time.time())
                for point in queue:
                    self._set(point.id, state="skipped")
                for pid in retrying:
                    self._set(pid, state="failed", error="cancelled", finished=time.time())
                return
            for sentinel in wait(list(running), timeout=_POLL_SECONDS):
                pid, proc, receive, _ = running.pop(sentinel)
                proc.join()
                self._end_try(by_id[pid], _receive(receive, proc), retrying)
            now = time.monotonic()
            for sentinel, (pid, proc, _, deadline) in list(running.items()):
                if deadline is not None and now > deadline:
                    _kill(proc)
                    running.pop(sentinel)
                    self._end_try(
                        by_id[pid],
                        f"TimeoutError: the point ran longer than the plan's timeout of {timeout:g} s",
                        retrying,
                    )

    def _end_try(self, point, error: str | None, retrying: dict) -> None:
        """Record the try that just ended; a failed one is tried again (after the plan's
        ``retry_delay``) while the plan's ``retries`` allow, as Airflow's task retries do."""
        status = self.points[point.id]
        tries = [
            *status.tries,
            {
                "try": len(status.tries) + 1,
                "state": "failed" if error else "success",
                "error": error,
                "started": status.started,
                "finished": time.time(),
            },
        ]
        self._set(point.id, tries=tries)
        if error and len(tries) <= (self.spec.plan.retries or 0) and not self._cancel.is_set():
            self._set(point.id, error=error)  # the point goes on running: its next try waits
            retrying[point.id] = (time.monotonic() + (self.spec.plan.retry_delay or 0), point)
            return
        self._finish(point.id, error)

    def _finish(self, pid: str, error: str | None) -> None:
        output = self.out / f"{pid}.ipynb"
        metrics = {}
        if output.exists():
            try:
                from ...core.metrics import read_metrics_file

                metrics = read_metrics_file(output)
            except Exception:  # a half-written notebook of a killed point: no metrics
                metrics = {}
        self._set(
            pid,
            state="failed" if error else "success",
            error=error,
            metrics=metrics,
            finished=time.time(),
            output=str(output) if output.exists() else None,
        )

    def _decide_canary(self) -> bool:
        """Pick the best point, compare, maybe run the deploy notebook. True if that failed."""
        strategy = self.spec.plan.strategy
        ok = [
            (p, s.metrics)
            for p, s in zip(self.spec.points, self.points.values(), strict=True)
            if s.state == "success"
        ]
        top = strategies.best(ok, strategy.metric, strategy.goal)
        decision = strategies.canary_decision(strategy, top[1] if top else None, self.spec.champion)
        self.outcome, self.reason = decision.outcome, decision.reason
        if decision.outcome != "deploy" or not self.spec.deploy_notebook:
            return False
        deploy = Path(self.spec.deploy_notebook)
        output = self.out / "deploy.ipynb"
        ctx = _context()
        receive, send = ctx.Pipe(duplex=False)
        notebook = params.without_injected(params.read_notebook(deploy))
        proc = ctx.Process(
            target=execute_point,
            args=(self._job("deploy", top[0].parameters, output, notebook), send),
        )
        proc.start()
        send.close()
        proc.join(self.spec.plan.timeout)
        if proc.is_alive():
            _kill(proc)
            error = "timed out"
        else:
            error = _receive(receive, proc)
        if error:
            self.reason += f"; the deploy notebook failed: {error}"
            return True
        self.reason += f"; deployed with {deploy.name}"
        return False


def _receive(conn, proc) -> str | None:
    try:
        if conn.poll():
            return conn.recv()["error"]
    except (EOFError, OSError):
        pass
    finally:
        conn.close()
    return f"the worker process died (exit code {proc.exitcode})"


def _kill(proc) -> None:
    """Stop a worker; its kernel notices its parent is gone and exits by itself."""
    proc.terminate()
    proc.join(_KILL_GRACE_SECONDS)
    if proc.is_alive():
        proc.kill()
        proc.join()


@register
class LocalTarget(Target):
    """Runs plans on this machine with papermill: ``parallelism`` points at once by default
    (the cores), a plan may ask for up to ``max_parallelism`` (4 per core): each point is a
    process and a kernel, so no request can start an unbounded number of them. With
    ``kernel_manager="gateway"`` the points' kernels run on a Jupyter Gateway instead;
    ``start_timeout`` bounds a kernel's start. ``warm_kernels=False`` (or the plan's
    ``warm_kernels: false``) starts every point's kernel from scratch instead of forking it
    from a zygote that has the notebook's imports done (zygote.py)."""

    kind = "local"
    writes_workspace = True

    def __init__(
        self,
        name: str | None = None,
        parallelism: int | None = None,
        kernel: str | None = None,
        max_parallelism: int | None = None,
        kernel_manager: str | None = None,
        start_timeout: float | None = None,
        warm_kernels: bool = True,
        **settings,
    ):
        cores = os.cpu_count() or 1
        super().__init__(
            name,
            parallelism=parallelism or cores,
            max_parallelism=max_parallelism or max(4 * cores, parallelism or 0),
            kernel=kernel,
            kernel_manager=kernel_manager,
            start_timeout=start_timeout,
            warm_kernels=warm_kernels,
            **settings,
        )
        self._kernel_options = kernel_options(kernel_manager, start_timeout)
        self._runs: dict[str, LocalRun] = {}
        _warm_up()

    def _start(self, spec: RunSpec, known=None) -> None:
        # upgraded to nbformat 4; without the cell an earlier papermill run injected, so a
        # point without parameters runs the notebook's own defaults
        notebook = params.without_injected(params.read_notebook(spec.notebook))
        default, cap = self.settings["parallelism"], self.settings["max_parallelism"]
        run = LocalRun(
            spec,
            notebook,
            parallelism=min(spec.plan.parallelism or default, cap),
            kernel=spec.plan.kernel or spec.kernel or self.settings.get("kernel"),
            known=known,
            kernel_options=self._kernel_options,
            warm_kernels=self.settings["warm_kernels"] and spec.plan.warm_kernels is not False,
        )
        self._runs[spec.run_id] = run
        run.start()

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

    def logs(self, spec: RunSpec, point_id: str) -> str:
        try:
            return log_path(spec.output_dir, point_id).read_text(errors="replace")
        except FileNotFoundError:
            return ""
