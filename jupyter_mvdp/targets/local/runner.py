"""The run scheduler: a ``LocalRun`` thread runs one plan in rounds of points, each point a
worker process (worker.py), ``parallelism`` at once within the machine's kernel slots
(slots.py), with the plan's timeout, retries and cancel, then the strategy's decision.
Decisions (rounds, early stop, canary) come from strategies.py, the same functions the DAG
renderer embeds, so local and Airflow runs agree.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from multiprocessing.connection import wait
from pathlib import Path

from ...core import abtest, contract, optimize, strategies
from ...core.models import FINISHED_POINT_STATES, Point, PointStatus, RunSpec, Snapshot
from . import notify
from .slots import KernelSlots
from .worker import (
    PointProcess,
    completed_status,
    disk_full,
    log_path,
    provenance,
    snapshot_path,
)

_POLL_SECONDS = 0.1


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
        slots: KernelSlots | None = None,
    ):
        super().__init__(name=f"mvdp-local-{spec.run_id}", daemon=True)
        self.slots = slots or KernelSlots()
        self.kernel_options = kernel_options or {}
        # warm kernels for Python notebooks on this machine; another kernel manager (a
        # gateway) starts its kernels elsewhere
        self.warm_kernels = warm_kernels and "kernel_manager_class" not in self.kernel_options
        self._zygote = None  # the run's zygote (kernels/zygote) while its kernels are warm
        self._cold: str | None = None  # why its kernels are not warm, when they are not
        self.warnings: list[str] = []  # said once on the run (Snapshot.warnings)
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
                warnings=list(self.warnings),
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
            for r, batch in enumerate(
                strategies.rounds(
                    strategy,
                    self.spec.points,
                    contract.round_size(self.spec.plan, self.parallelism),
                )
            ):
                if strategy.kind == "optimize":
                    batch = self._ask(r, batch)
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
            if strategy.kind == "ab" and not self._cancel.is_set():
                failed = self._decide_ab() or failed
            final = "cancelled" if self._cancel.is_set() else "failed" if failed else "success"
        except Exception as e:  # a bug or an OS error: the run fails visibly, the process lives
            why = disk_full(e, self.out) or f"{type(e).__name__}: {e}"
            self.message = f"the local runner failed: {why}"
            final = "failed"
        if self._zygote is not None:  # the next run gets a zygote of its own
            from ...kernels.zygote import POOL

            POOL.release(self.spec.run_id)
        if self.spec.plan.notify:  # before the run ends: a CLI that waits for it, waits for them
            untold = notify.tell_run_end(self.spec, final, self.outcome, self.reason, self.points)
            if untold:
                self.message = "; ".join(filter(None, [self.message, *untold]))
        with self._lock:
            self.state = final

    def _ask(self, r: int, batch: list[Point]) -> list[Point]:
        """optimize: round ``r``'s points, asked (core/optimize.py, runtime.optimize_ask)
        given every point of the earlier rounds; a slot that has its parameters already (a
        run resumed after a restart) keeps them."""
        with self._lock:
            statuses = dict(self.points)
        first = [p.id for p in self.spec.points].index(batch[0].id)
        earlier = [
            {
                "parameters": statuses[p.id].parameters,
                "state": statuses[p.id].state,
                "metrics": statuses[p.id].metrics,
            }
            for p in self.spec.points[:first]
        ]
        asked = optimize.ask(
            self.spec.plan.strategy,
            self.spec.space or {},
            earlier,
            len(batch),
            r,
            contract.round_size(self.spec.plan, self.parallelism),
        )
        points = []
        for slot, parameters in zip(batch, asked, strict=True):
            parameters = statuses[slot.id].parameters or parameters
            self._set(slot.id, parameters=parameters)
            points.append(Point(slot.id, parameters))
        return points

    def _job(self, point_id: str, parameters: dict, output: Path, deploy: bool = False) -> dict:
        """``deploy``: the canary's deploy notebook, else the run's notebook: each as the run
        read it at submit (its snapshot file, checked against its sha256 by the worker)."""
        sha256 = self.spec.deploy_notebook_sha256 if deploy else self.spec.notebook_sha256
        return {
            "input": str(snapshot_path(self.out, sha256)),
            "input_sha256": sha256,
            "output": str(output),
            "log": str(log_path(self.out, point_id)),
            "parameters": parameters,
            "kernel": self.kernel,
            "kernel_options": self.kernel_options,
            # a connection to the run's zygote that only this point's worker holds
            "zygote": None if deploy or self._zygote is None else self._zygote.channel(),
            "cold_kernel": None if deploy else self._cold,  # the point's log says why
            "cwd": self.cwd,
            "provenance": provenance(self.spec, point_id, parameters, self._kernel_name(), deploy),
        }

    def _kernel_name(self) -> str | None:
        return self.kernel or self.notebook.metadata.get("kernelspec", {}).get("name")

    def _run_batch(self, points) -> None:
        if self.warm_kernels and points:  # (re)started here if it died since the last batch
            from ...kernels.zygote import POOL

            self._zygote, self._cold = POOL.warm(
                self.spec.run_id, self.notebook, self.cwd, self._kernel_name()
            )
            self._say_cold(self._cold)
        queue = deque(points)
        running: dict[str, tuple[PointProcess, float | None]] = {}  # point id -> (worker, deadline)
        timeout = self.spec.plan.timeout
        retrying: dict[str, tuple[float, object]] = {}  # point id -> (next try at, point)
        by_id = {p.id: p for p in points}
        try:
            while queue or running or retrying:
                now = time.monotonic()
                for pid, (at, _) in list(retrying.items()):
                    if at <= now and not self._cancel.is_set():
                        queue.append(retrying.pop(pid)[1])
                # a point starts when the run's parallelism and a kernel slot allow; it stays
                # queued until then
                while (
                    queue
                    and len(running) < self.parallelism
                    and not self._cancel.is_set()
                    and self.slots.take()
                ):
                    point = queue.popleft()
                    output = self.out / f"{point.id}.ipynb"
                    running[point.id] = (
                        self._start_worker(self._job(point.id, point.parameters, output)),
                        time.monotonic() + timeout if timeout else None,
                    )
                    self._set(point.id, state="running", started=time.time(), output=str(output))
                if self._cancel.is_set():
                    for pid in list(running):
                        self._stop_worker(running.pop(pid)[0])
                        self._set(pid, state="failed", error="cancelled", finished=time.time())
                    for point in queue:
                        self._set(point.id, state="skipped")
                    for pid in retrying:
                        self._set(pid, state="failed", error="cancelled", finished=time.time())
                    return
                waitables = [w for worker, _ in running.values() for w in worker.waitables()]
                ready = wait(waitables, timeout=_POLL_SECONDS)
                now = time.monotonic()
                for pid, (worker, deadline) in list(running.items()):
                    worker.read()  # an answer is read as soon as it is sent
                    if worker.ended(ready):
                        error = worker.error()
                        self.slots.give_back()
                        self._say_cold(worker.cold())
                    elif deadline is not None and now > deadline:
                        self._stop_worker(worker)
                        error = f"TimeoutError: the point ran longer than the plan's timeout of {timeout:g} s"
                    else:
                        continue
                    running.pop(pid)
                    self._end_try(by_id[pid], error, retrying)
        finally:  # a bug above: no worker is left running, no slot taken
            for worker, _ in running.values():
                self._stop_worker(worker)

    def _say_cold(self, why: str | None) -> None:
        """The run says once why its kernels were cold (its document's warnings)."""
        warning = why and f"kernels started cold, not forked warm: {why}"
        with self._lock:
            if warning and warning not in self.warnings:
                self.warnings.append(warning)

    def _start_worker(self, job: dict) -> PointProcess:
        """A point's worker, in the kernel slot just taken (given back if it cannot start)."""
        try:
            return PointProcess(job)
        except BaseException:
            self.slots.give_back()
            raise

    def _stop_worker(self, worker: PointProcess) -> None:
        worker.stop()
        self.slots.give_back()

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
        error = self._run_alone(self._job("deploy", top[0].parameters, output, deploy=True))
        if error:
            self.reason += f"; the deploy notebook failed: {error}"
            return True
        self.reason += f"; deployed with {deploy.name}"
        return False

    def _decide_ab(self) -> bool:
        """The A/B test's verdict (runtime.ab_verdict, as the DAG's decide task); with
        ``promote``, a better B is promoted: outcome ``deploy`` (it becomes the champion) and
        the deploy notebook runs with B's parameters. True if that notebook failed."""
        strategy = self.spec.plan.strategy
        docs = [
            {"id": p.id, "parameters": p.parameters, **self.points[p.id].to_json()}
            for p in self.spec.points
        ]
        found = abtest.verdict(strategy, docs)
        self.reason = found["reason"]
        if not strategy.promote:
            return False
        if found["verdict"] != "B better":
            self.outcome, self.reason = "alert", f"{self.reason}; B is not promoted"
            return False
        self.outcome = "deploy"
        if not self.spec.deploy_notebook:
            self.reason += "; B is promoted"
            return False
        parameters = abtest.variant_values(strategy, self.spec.points, "b")
        output = self.out / "deploy.ipynb"
        error = self._run_alone(self._job("deploy", parameters, output, deploy=True))
        if error:
            self.reason += f"; the deploy notebook failed: {error}"
            return True
        self.reason += f"; B is promoted, deployed with {Path(self.spec.deploy_notebook).name}"
        return False

    def _run_alone(self, job: dict) -> str | None:
        """One worker outside the rounds (the canary's deploy notebook), in a kernel slot and
        within the plan's timeout; its error, or None."""
        while not self.slots.take(timeout=_POLL_SECONDS):
            if self._cancel.is_set():
                return "cancelled"
        worker = self._start_worker(job)
        timeout = self.spec.plan.timeout
        deadline = time.monotonic() + timeout if timeout else None
        while True:
            ready = wait(worker.waitables(), timeout=_POLL_SECONDS)
            worker.read()
            if worker.ended(ready):
                self.slots.give_back()
                return worker.error()
            if self._cancel.is_set() or (deadline is not None and time.monotonic() > deadline):
                self._stop_worker(worker)
                return "cancelled" if self._cancel.is_set() else "timed out"
