"""What a hostile validate costs the server, side by side with an ordinary one, in one run.

    python bench/hostile_requests.py [--repeat 5]

`POST plans/validate` of a 10^8-point grid (`{"start": 0, "stop": 1, "num": 100000000}`)
against a 6-point grid, through the same code the handler runs (RunManager.validate): the
time of each, their ratio, and how much the process's peak memory grew. Before the grid was
sized in closed form, the hostile one took ~7.6 GB and over 60 s.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mvdp.service.manager import RunManager
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets import build_targets


def timed(manager: RunManager, grid: dict, repeat: int) -> tuple[float, dict]:
    times, result = [], {}
    for _ in range(repeat):
        start = time.perf_counter()
        result = manager.validate("nb.ipynb", {"grid": grid, "strategy": {"kind": "grid"}})
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mvdp-bench-"))
    spec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = new_notebook(metadata={"kernelspec": spec})
    nb.cells = [new_code_cell("C = 1.0\ngamma = 0.1", metadata={"tags": ["parameters"]})]
    nbformat.write(nb, root / "nb.ipynb")
    manager = RunManager(RunStore(root / "runs.sqlite"), build_targets({}), root_dir=root)
    ordinary = {"C": [0.1, 1, 10], "gamma": [0.01, 0.1]}
    hostile = {"C": {"start": 0, "stop": 1, "num": 100_000_000}}
    timed(manager, ordinary, 1)  # warm-up: schema, imports
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t_ordinary, _ = timed(manager, ordinary, args.repeat)
    t_hostile, result = timed(manager, hostile, args.repeat)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    print(f"ordinary 6-point validate : {t_ordinary * 1000:7.2f} ms")
    print(f"hostile 10^8-point validate: {t_hostile * 1000:7.2f} ms  valid={result['valid']}")
    print(f"  errors: {result['errors']}")
    print(f"ratio hostile / ordinary   : {t_hostile / t_ordinary:.2f}x")
    print(f"peak memory growth         : {grown / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
