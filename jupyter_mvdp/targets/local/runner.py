"""The run scheduler: a ``LocalRun`` thread runs one plan in rounds of points, each point a
worker process (worker.py), ``parallelism`` at once, with the plan's timeout, retries and
cancel, then the strategy's decision. Decisions (rounds, early stop, canary) come from
strategies.py, the same functions the DAG renderer embeds, so local and Airflow runs agree.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from multiprocessing.connection import wait
from pathlib import Path

from ...core import params, strategies
from ...core.models import FINISHED_POINT_STATES, PointStatus, RunSpec, Snapshot
from .worker import completed_status, execute_point, log_path, provenance, worker_context

_POLL_SECONDS = 0.1
_KILL_GRACE_SECONDS = 3.0


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
            "provenance": provenance(self.spec, point_id, parameters, self._kernel_name()),
        }

    def _kernel_name(self) -> str | None:
        return self.kernel or self.notebook.metadata.get("kernelspec", {}).get("name")

    def _run_batch(self, points) -> None:
        ctx = worker_context()
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
        ctx = worker_context()
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
