"""The point worker: one point run with papermill in a process of its own.

Each point runs in its own worker process forked from a forkserver that has papermill already
imported, so starting a point costs milliseconds while a timed-out or cancelled point can be
killed without breaking a pool. The worker writes the output notebook's provenance
(``metadata.mvdp``, see ``provenance``), its stderr and its kernel's go to the point's log,
and it answers ``{"error": str | None}`` on its pipe.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import traceback
from pathlib import Path

from ...core import params, runtime
from ...core.models import PointStatus, RunSpec
from ...core.notebook_errors import notebook_error, one_line
from ...kernels.lifeline import LifelineKernelManager, watch_lifeline


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
    import papermill  # preloaded by the forkserver; the server process never needs it

    watch_lifeline(conn.fileno())
    nb = job["notebook"]
    nb.metadata["mvdp"] = job["provenance"]  # provenance(), below
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
    """A kernel forked from the run's zygote when it has one (kernels/zygote), else a fresh one."""
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


def provenance(spec: RunSpec, point_id: str, parameters: dict, kernel: str | None) -> dict:
    """What an output notebook says about itself in ``metadata.mvdp``, written by the worker
    before papermill runs it: the run, pipeline, point and parameters, the input notebook
    (path and sha256), the kernel and the target. ``completed_status`` reads it back."""
    return {
        "run_id": spec.run_id,
        "pipeline": spec.pipeline,
        "point_id": point_id,
        "parameters": parameters,
        "input": spec.notebook,
        "input_sha256": spec.notebook_sha256,
        "kernel": kernel,
        "target": spec.target,
    }


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
