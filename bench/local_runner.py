"""The local runner vs a sequential loop of papermill.execute_notebook (what a seed-style
pipeline does per task), on the 8-point Titanic grid, measured side by side in one run:

- ``sequential``: papermill.execute_notebook, one point after the other;
- ``runner, cold kernels``: the local runner with ``warm_kernels: false``;
- ``runner, zygote started``: warm kernels, the zygote started within the run (every run
  gets its own: a fresh hash seed, see kernels/zygote);
- ``runner, zygote shared``: warm kernels, the zygote already started by another run of the
  same imports still in flight (runs at the same time share it).

Each with two kernelspecs, side by side: ``generic``, the one ipykernel's wheel installs
(``python -m ipykernel_launcher -f {connection_file}``), and ``installed``, the one
``python -m ipykernel install --prefix <tmp> --name mvdp-bench`` writes, as a venv or conda
environment is registered (``-Xfrozen_modules=off`` on Python >= 3.11). Each row says which;
a runner row whose kernels fell back to cold ones says why.

    python bench/local_runner.py [--repeat 2] [--parallelism N] [--kernelspec generic|installed]

Prints each makespan, the speed-ups over the sequential loop (target: >= 5x with a shared
zygote on 2 cores) and a per-point breakdown read from papermill's own timestamps in the
output notebooks: kernel start (papermill's start to the first cell), the first cell (the
imports) and the other cells. Modes alternate within each repeat so drift hits all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat
import papermill

from jupyter_mvdp.core.grid import expand
from jupyter_mvdp.core.models import Plan
from jupyter_mvdp.core.params import parameters_of
from jupyter_mvdp.kernels import zygote
from jupyter_mvdp.service.manager import RunManager
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets import build_targets

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
MODES = ["sequential", "runner, cold kernels", "runner, zygote started", "runner, zygote shared"]
SPECS = {"generic": None, "installed": "mvdp-bench"}  # kernelspec -> kernel name
COLD: set[str] = set()  # why a runner row's kernels were cold, when they were


def install_kernelspec(prefix: Path) -> list[str]:
    """Register this Python as a user does; its kernels are found through JUPYTER_PATH (set
    before the point workers' forkserver starts). The argv it wrote."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ipykernel",
            "install",
            "--prefix",
            str(prefix),
            "--name",
            "mvdp-bench",
        ],
        check=True,
        capture_output=True,
    )
    root = prefix / "share" / "jupyter"
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [str(root), os.environ.get("JUPYTER_PATH")])
    )
    return json.loads((root / "kernels" / "mvdp-bench" / "kernel.json").read_text())["argv"]


def sequential(workspace: Path, plan: Plan) -> tuple[float, list[Path]]:
    _, parameters = parameters_of(workspace / "titanic.ipynb")
    out = workspace / "sequential"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    start = time.perf_counter()
    for point in expand(plan.grid, parameters):
        papermill.execute_notebook(
            str(workspace / "titanic.ipynb"),
            str(out / f"{point.id}.ipynb"),
            parameters=point.parameters,
            cwd=str(workspace),
            progress_bar=False,
            kernel_name=plan.kernel,
        )
    return time.perf_counter() - start, sorted(out.glob("*.ipynb"))


def local_runner(workspace: Path, plan_doc: dict, parallelism: int) -> tuple[float, list[Path]]:
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
    COLD.update(w for w in doc["warnings"] if "cold" in w)
    return elapsed, [workspace / p["output"] for p in doc["points"]]


def breakdown(outputs: list[Path]) -> tuple[float, float, float]:
    """Median (kernel start, first cell, other cells) in seconds over the output notebooks."""

    def at(stamp: str) -> float:
        return datetime.fromisoformat(stamp.rstrip("Z")).timestamp()

    rows = []
    for path in outputs:
        nb = nbformat.read(path, as_version=4)
        cells = [c.metadata["papermill"] for c in nb.cells if c.cell_type == "code"]
        kernel = at(cells[0]["start_time"]) - at(nb.metadata["papermill"]["start_time"])
        rows.append((kernel, cells[0]["duration"], sum(c["duration"] for c in cells[1:])))
    return tuple(statistics.median(column) for column in zip(*rows, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--parallelism", type=int, default=os.cpu_count())
    parser.add_argument("--kernelspec", choices=sorted(SPECS), action="append")
    args = parser.parse_args()
    specs = args.kernelspec or list(SPECS)
    plan_doc = json.loads((NOTEBOOKS / "titanic.plan.json").read_text())
    plan_doc.pop("parallelism", None)
    plan_doc.pop("kernel", None)
    n = len(expand(Plan.from_json(plan_doc).grid))
    rows = [(spec, mode) for spec in specs for mode in MODES]
    times: dict[tuple, list[float]] = {row: [] for row in rows}
    parts: dict[tuple, list[tuple]] = {row: [] for row in rows}
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        argv = {
            "generic": "the wheel's python3",
            "installed": " ".join(install_kernelspec(workspace / "prefix")),
        }
        shutil.copy(NOTEBOOKS / "titanic.ipynb", workspace)
        shutil.copytree(NOTEBOOKS / "datasets", workspace / "datasets")
        papermill.execute_notebook(  # warm-up: disk caches, kernel spec lookup, imports
            str(workspace / "titanic.ipynb"),
            str(workspace / "warm.ipynb"),
            cwd=str(workspace),
            progress_bar=False,
        )
        for _ in range(args.repeat):
            for spec, mode in rows:
                kernel = SPECS[spec]
                if mode == "sequential":
                    elapsed, outputs = sequential(
                        workspace,
                        Plan.from_json({**plan_doc, **({"kernel": kernel} if kernel else {})}),
                    )
                else:
                    if mode == "runner, zygote shared":  # as another run in flight holds it
                        nb = nbformat.read(workspace / "titanic.ipynb", as_version=4)
                        zygote.POOL.acquire("another run", nb, workspace, kernel)
                    doc = {**plan_doc, "warm_kernels": mode != "runner, cold kernels"}
                    if kernel:
                        doc["kernel"] = kernel
                    elapsed, outputs = local_runner(workspace, doc, args.parallelism)
                    zygote.POOL.release("another run")
                times[spec, mode].append(elapsed)
                parts[spec, mode].append(breakdown(outputs))
        zygote.POOL.stop_all()
    load = [round(x, 1) for x in (*load, *os.getloadavg())]
    print(
        f"grid: {n} points of notebooks/titanic.ipynb, {os.cpu_count()} cores, "
        f"parallelism {args.parallelism}, load average before/after: {load[:3]} / {load[3:]}"
    )
    for spec in specs:
        print(f"kernelspec {spec}: {argv[spec]}")
    print(
        f"{'kernelspec':10} {'':24} {'makespan':>9} {'speed-up':>9}"
        "   per point: kernel start, first cell, rest"
    )
    for spec, mode in rows:
        base = statistics.median(times[spec, "sequential"])
        t = statistics.median(times[spec, mode])
        k, first, rest = (statistics.median(p[i] for p in parts[spec, mode]) for i in range(3))
        print(
            f"{spec:10} {mode:24} {t:8.2f}s {base / t:8.2f}x"
            f"   {k:5.2f} s, {first:5.2f} s, {rest:5.2f} s"
            f"   runs: {[round(x, 2) for x in times[spec, mode]]}"
        )
    for why in sorted(COLD):
        print(f"warning: {why}")
    print("target: >= 5x the sequential loop with warm kernels on 2 cores, with either kernelspec")


if __name__ == "__main__":
    main()
