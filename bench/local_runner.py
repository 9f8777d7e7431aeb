"""The local runner vs a sequential loop of papermill.execute_notebook (what a seed-style
pipeline does per task), on the 8-point Titanic grid, measured side by side in one run.

    python bench/local_runner.py [--repeat 3] [--parallelism N]

Prints each makespan and the speed-up ratio (target: >= 1.7x on 2 cores; the limit is the
number of cores). Runs alternate (baseline, ours, baseline, ours, ...) so drift hits both.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import papermill

from jupyter_mvdp.grid import expand
from jupyter_mvdp.manager import RunManager
from jupyter_mvdp.models import Plan
from jupyter_mvdp.params import parameters_of
from jupyter_mvdp.runs import RunStore
from jupyter_mvdp.targets import build_targets

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def sequential(workspace: Path, plan: Plan) -> float:
    _, parameters = parameters_of(workspace / "titanic.ipynb")
    out = workspace / "sequential"
    out.mkdir(exist_ok=True)
    start = time.perf_counter()
    for point in expand(plan.grid, parameters):
        papermill.execute_notebook(
            str(workspace / "titanic.ipynb"),
            str(out / f"{point.id}.ipynb"),
            parameters=point.parameters,
            cwd=str(workspace),
            progress_bar=False,
        )
    return time.perf_counter() - start


def local_runner(workspace: Path, plan_doc: dict, parallelism: int) -> float:
    store = RunStore(workspace / "runs.sqlite")
    manager = RunManager(
        store,
        build_targets({"local": {"kind": "local", "parallelism": parallelism}}),
        root_dir=workspace,
    )
    start = time.perf_counter()
    run_id = manager.submit("titanic.ipynb", plan_doc, "local", background=False)
    doc = manager.wait(run_id, interval=0.25)
    elapsed = time.perf_counter() - start
    store.close()
    assert doc["state"] == "success", doc
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--parallelism", type=int, default=os.cpu_count())
    args = parser.parse_args()
    plan_doc = json.loads((NOTEBOOKS / "titanic.plan.json").read_text())
    plan_doc.pop("parallelism", None)
    plan = Plan.from_json(plan_doc)
    n = len(expand(plan.grid))
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        shutil.copy(NOTEBOOKS / "titanic.ipynb", workspace)
        shutil.copytree(NOTEBOOKS / "datasets", workspace / "datasets")
        papermill.execute_notebook(  # warm-up: disk caches, kernel spec lookup, imports
            str(workspace / "titanic.ipynb"),
            str(workspace / "warm.ipynb"),
            cwd=str(workspace),
            progress_bar=False,
        )
        base, ours = [], []
        for _ in range(args.repeat):
            base.append(sequential(workspace, plan))
            ours.append(local_runner(workspace, plan_doc, args.parallelism))
    b, o = statistics.median(base), statistics.median(ours)
    print(
        f"grid: {n} points of notebooks/titanic.ipynb, {os.cpu_count()} cores, parallelism {args.parallelism}"
    )
    print(
        f"sequential papermill.execute_notebook: {b:6.2f} s  ({b / n:.2f} s/point)  runs: {[round(x, 2) for x in base]}"
    )
    print(
        f"jupyter-mvdp local runner:            {o:6.2f} s  ({o / n:.2f} s/point)  runs: {[round(x, 2) for x in ours]}"
    )
    print(f"speed-up: {b / o:.2f}x (target >= 1.7x on 2 cores)")


if __name__ == "__main__":
    main()
