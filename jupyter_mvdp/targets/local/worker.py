"""The point worker: one point run with papermill in a process of its own.

Each point runs in its own worker process forked from a forkserver that has papermill already
imported, so starting a point costs milliseconds while a timed-out or cancelled point can be
killed without breaking a pool. The worker writes the output notebook's provenance
(``metadata.mvdp``, see ``provenance``), its stderr and its kernel's go to the point's log,
and it answers ``{"error": str | None}`` on its pipe (at most ``ERROR_MAX`` characters of
error; the log has the rest). ``PointProcess`` is the owner's side: it starts the worker,
reads its answer as soon as it is sent and stops it with every process of its point.
"""

from __future__ import annotations

import contextlib
import errno
import multiprocessing
import os
import posixpath
import signal
import sys
import threading
import traceback
from pathlib import Path

import zmq

from ...core import filemodes, params, runtime
from ...core.models import PointStatus, RunSpec
from ...core.notebook_errors import cell_name, notebook_error, one_line
from ...kernels.lifeline import (
    LifelineKernelManager,
    become_subreaper,
    kill_tree,
    on_death,
    set_private,
    watch_lifeline,
)

ERROR_MAX = 2000  # characters of a point's error sent to its owner; its log has them all
# how long a cell's outputs may take to be read once the cell ended: papermill fails a point
# past nbclient's 4 s, and 100,000 scraps take minutes; the plan's timeout bounds the whole
IOPUB_SECONDS = 600


def worker_context():
    """A forkserver context that preloads papermill: cheap, thread-safe process starts."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["jupyter_mvdp.targets.local.worker", "papermill"])
    return ctx


def warm_up() -> None:
    """Start the forkserver (a Python process importing papermill, ~1 s) ahead of the first
    point, in the background, so a run does not pay for it."""
    from multiprocessing import forkserver

    worker_context()
    threading.Thread(target=forkserver.ensure_running, name="mvdp-forkserver", daemon=True).start()


def execute_point(job: dict, conn) -> None:
    """Worker process: run one point with papermill, send back ``{"error": str | None}``.

    The worker dies with its owner (the pipe's reader) and its kernel dies with the worker,
    so a killed owner never leaves a point running to be run again (lifeline.py)."""
    import nbformat
    import papermill  # preloaded by the forkserver; the server process never needs it

    watch_lifeline(conn.fileno())
    # what the notebook starts dies with the point: orphans come back to this process, whose
    # every descendant is killed when the try ends, is stopped or loses its owner (lifeline.py)
    become_subreaper()
    on_death(kill_tree)
    set_private()  # a notebook cannot take what its worker holds (the zygote's connection)
    try:
        _redirect_stderr(job["log"])  # the kernel inherits it: its chatter lands in the point's log
        if job.get("cold_kernel"):
            from ...kernels.zygote.provisioner import say_cold

            say_cold(job["cold_kernel"])
        filemodes.in_folder(job["output"])  # papermill keeps its mode: the run folder's privacy
        runtime.starting_kernels_again(
            lambda: runtime.execute_notebook(  # the snapshot, checked; provenance() below
                papermill,
                nbformat,
                job["input"],
                job["output"],
                input_sha256=job["input_sha256"],
                provenance=job["provenance"],
                parameters=job["parameters"],
                kernel_name=job["kernel"],
                cwd=job["cwd"],
                progress_bar=False,
                log_output=False,
                # every output read, however many (nbclient waits 4 s for the rest by default)
                iopub_timeout=IOPUB_SECONDS,
                # a kernel that dies with this worker, unless the target names another
                **{"kernel_manager_class": _kernel_manager(job), **job.get("kernel_options", {})},
            ),
            say=lambda line: print(line, file=sys.stderr),
        )
        _report(conn, None)
    except papermill.PapermillExecutionError as e:
        _report(conn, cell_error(e, job["output"]), "".join(e.traceback))
    except BaseException as e:  # report anything; the parent decides the point failed
        _report(conn, point_error(e, job), traceback.format_exc())
    finally:
        kill_tree()
        conn.close()


def _kernel_manager(job: dict):
    """A kernel forked from the run's zygote when it has one (kernels/zygote), else a fresh one;
    either way its client reads every output the kernel sends."""
    base = LifelineKernelManager
    if job.get("zygote"):
        from ...kernels.zygote import kernel_manager

        base = kernel_manager(job["zygote"])

    class PointKernelManager(base):
        def client(self, **kwargs):
            client = super().client(**kwargs)
            # ZeroMQ's default high-water mark (1,000 messages) silently drops the outputs a
            # client has not read yet: a cell recording 100,000 scraps lost a third of them
            client.context.setsockopt(zmq.RCVHWM, 0)
            return client

    return PointKernelManager


def cell_error(e, output: str) -> str:
    """papermill's failure as ``In [n]: Name: message``, read from the notebook it wrote
    (notebook_errors: the same words for every target); papermill's own numbers without it."""
    try:
        described = notebook_error(params.read_notebook(output))
    except Exception:  # no output notebook
        described = None
    name = cell_name(getattr(e, "exec_count", None), e.cell_index + 1)
    return described or f"{name}: " + one_line(e.ename, e.evalue)


def provenance(
    spec: RunSpec, point_id: str, parameters: dict, kernel: str | None, deploy: bool = False
) -> dict:
    """What an output notebook says about itself in ``metadata.mvdp`` (runtime.provenance:
    the same on every target), written by the worker before papermill runs it; ``deploy``:
    the canary's deploy notebook ran. ``completed_status`` reads it back."""
    notebook = spec.notebook_path or Path(spec.notebook).name
    if deploy:
        folder = posixpath.dirname(notebook)
        name = posixpath.normpath(spec.plan.strategy.deploy_notebook or "")
        notebook = posixpath.join(folder, name) if folder else name
    return runtime.provenance(
        run_id=spec.run_id,
        pipeline=spec.pipeline,
        point_id=point_id,
        parameters=parameters,
        input=notebook,
        input_sha256=spec.deploy_notebook_sha256 if deploy else spec.notebook_sha256,
        kernel=kernel,
        target=spec.target,
    )


def snapshot_path(output_dir: str | Path, sha256: str | None) -> Path:
    """Where a run keeps a notebook as it read it at submit (its points run this file)."""
    return Path(output_dir) / ".inputs" / f"{sha256}.ipynb"


def point_error(e: BaseException, job: dict) -> str:
    """A failure outside the notebook's cells, in the words a user acts on."""
    from jupyter_client.kernelspec import NoSuchKernel

    if isinstance(e, NoSuchKernel):
        return no_such_kernel(e.name)
    # a write (papermill's) names no file: the output it was writing
    return disk_full(e, job["output"]) or one_line(type(e).__name__, str(e))


def disk_full(e: BaseException, path: str | Path) -> str | None:
    """A full disk (or quota) named with its mount and the file, or None for other errors."""
    if not isinstance(e, OSError) or e.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    from ...core.filemodes import disk_of

    path = e.filename or path
    full = "no space left" if e.errno == errno.ENOSPC else "disk quota exceeded"
    return f"{type(e).__name__}: {full} on {disk_of(Path(path))} writing {path}"


def no_such_kernel(name: str) -> str:
    """The kernel named by the plan (or the notebook) is not installed here: the fix."""
    from jupyter_client.kernelspec import KernelSpecManager

    try:
        installed = ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
    except Exception:
        installed = "unknown"
    return (
        f"NoSuchKernel: no kernel named {name!r} on this machine (installed: {installed}); "
        'set the plan\'s "kernel" to one of them'
    )


def _report(conn, error: str | None, details: str = "") -> None:
    """Answer the owner: the error in at most ``ERROR_MAX`` characters, so it fits in the
    pipe whoever reads it when; the point's log keeps the whole of it and the traceback."""
    with contextlib.suppress(OSError):  # a full disk under the log
        if details:
            print(details, file=sys.stderr, flush=True)
        if error and len(error) > ERROR_MAX:
            print(error, file=sys.stderr, flush=True)
    if error and len(error) > ERROR_MAX:
        more = len(error) - ERROR_MAX
        error = f"{error[:ERROR_MAX]}… ({more:,} more characters in the point's log)"
    from ...kernels.zygote.provisioner import COLD  # a zygote that refused: the run says it

    with contextlib.suppress(OSError):  # the owner is gone: the lifeline ends this process
        conn.send({"error": error, "cold": COLD[-1] if COLD else None})


def _redirect_stderr(path: str) -> None:
    fd = os.open(filemodes.in_folder(path), os.O_WRONLY | os.O_TRUNC)
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


_STOP_GRACE_SECONDS = 3.0


class PointProcess:
    """The owner's side of one point's worker: started from the forkserver, its answer read
    as soon as it is sent (the worker never waits on a full pipe), stopped with its tree."""

    def __init__(self, job: dict):
        ctx = worker_context()
        self._answer: dict | None = None
        self._conn, send = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=execute_point, args=(job, send))
        try:
            self.proc.start()
        finally:
            send.close()
            if job.get("zygote") is not None:
                job["zygote"].close()  # the worker has its own copy: nobody else holds one

    def waitables(self) -> list:
        """What ``multiprocessing.connection.wait`` watches: the process, and its pipe
        until it answered."""
        return [self.proc.sentinel] + ([] if self._conn.closed else [self._conn])

    def read(self) -> None:
        """Take the worker's answer if it has sent it; never blocks."""
        if self._conn.closed:
            return
        try:
            if not self._conn.poll():
                return
            self._answer = self._conn.recv()
        except (EOFError, OSError):  # it ended without answering
            pass
        self._conn.close()

    def ended(self, ready: list) -> bool:
        return self.proc.sentinel in ready or not self.proc.is_alive()

    def error(self) -> str | None:
        """Once the worker ended: the point's error (None for success), or why it died."""
        self.proc.join()
        self.read()
        if not isinstance(self._answer, dict):
            return f"the worker process died (exit code {self.proc.exitcode})"
        return self._answer.get("error")

    def cold(self) -> str | None:
        """Once the worker answered: why its kernel was not forked warm, when it was asked
        to be and was not."""
        return self._answer.get("cold") if isinstance(self._answer, dict) else None

    def stop(self) -> None:
        """Stop the worker: its last words kill its point's processes (lifeline.py). One
        that does not stop in time is frozen, its tree killed, then it."""
        self.proc.terminate()
        self.proc.join(_STOP_GRACE_SECONDS)
        if self.proc.is_alive():
            with contextlib.suppress(OSError):
                os.kill(self.proc.pid, signal.SIGSTOP)
            kill_tree(self.proc.pid)
            self.proc.kill()
            self.proc.join()
        self.read()
        self._conn.close()
