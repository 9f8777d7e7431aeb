"""Airflow's process tree without Airflow, for the worker-zygote tests: a parent that opted in
(``warm_kernels``, as airflow_local_settings.py does in the scheduler or a Celery worker's
main process: it owns the zygotes), a worker process forked from it, and tasks the worker
forks one after another from its main thread, as the task-sdk supervisor does. The owner
ends once its worker process did and its stdin ended. Each task runs the notebook with papermill and the kernel
options the DAG passes (``worker.kernel_options``), then prints one JSON line.

    python airflow_worker_sim.py NOTEBOOK OUTPUT_DIR TASKS [--no-opt-in] [--daemon]
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys

import papermill  # imported before the fork, as the recommended local settings do

from jupyter_mvdp.kernels.lifeline import die_with_parent
from jupyter_mvdp.kernels.zygote import worker


def task(notebook: str, output: str) -> None:
    warned, told = [], []
    options = worker.kernel_options(
        notebook, os.path.dirname(notebook), None, warned.append, told.append
    )
    line = {"task": os.getpid(), "warm": bool(options), "warned": warned, "told": told}
    print(json.dumps(line), flush=True)
    try:
        papermill.execute_notebook(
            notebook, output, cwd=os.path.dirname(notebook), progress_bar=False, **options
        )
    finally:
        os._exit(0)


def work(notebook: str, outputs: str, tasks: int) -> None:
    """A worker process: it dies with its owner, as Celery's pool processes do, and forks
    its tasks one after another."""
    die_with_parent(signal.SIGKILL)
    for i in range(tasks):
        child = os.fork()
        if child == 0:
            task(notebook, os.path.join(outputs, f"{i}.ipynb"))
        os.waitpid(child, 0)
    os._exit(0)


def main() -> None:
    notebook, outputs, tasks = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if "--no-opt-in" not in sys.argv:
        worker.warm_kernels(force=True)
    if "--daemon" in sys.argv:  # as python-daemon does for `airflow scheduler -D`
        if os.fork():
            os._exit(0)
        os.setsid()
        if os.fork():
            os._exit(0)
    # the LocalExecutor starts its workers as multiprocessing Processes (fork)
    process = multiprocessing.get_context("fork").Process(
        target=work, args=(notebook, outputs, tasks)
    )
    process.start()
    print(json.dumps({"worker": process.pid}), flush=True)
    process.join()
    print(json.dumps({"zygotes": worker._broker.pids() if worker._broker else []}), flush=True)
    sys.stdin.readline()  # the owner goes on until its stdin ends


if __name__ == "__main__":
    main()
