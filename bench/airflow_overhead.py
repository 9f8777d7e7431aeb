"""The 8-point Titanic grid on a real local Airflow 3 vs the local runner, side by side in one
run; and the time from deploy (DAG file written) to the first task running.

    python bench/airflow_overhead.py [--repeat 2]

Targets: Airflow makespan <= 1.5x the local runner's; deploy -> first task running <= 3 s warm.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jupyter_mvdp.dev_airflow import DevAirflow  # noqa: E402
from jupyter_mvdp.manager import RunManager  # noqa: E402
from jupyter_mvdp.runs import RunStore  # noqa: E402
from jupyter_mvdp.targets import build_targets  # noqa: E402


def makespan(manager: RunManager, plan: dict, target: str) -> tuple[float, float | None]:
    """(submit -> run finished, deploy -> first point running) in seconds."""
    spec_start = time.perf_counter()
    run_id = manager.submit("titanic.ipynb", plan, target, background=True)
    first_running = None
    while True:
        manager.sync(run_id)
        doc = manager.store.document(run_id)
        if first_running is None and any(p["state"] != "queued" for p in doc["points"]):
            first_running = time.perf_counter() - spec_start
        if doc["state"] in ("success", "failed", "cancelled"):
            assert doc["state"] == "success", doc["message"]
            return time.perf_counter() - spec_start, first_running
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, DevAirflow() as airflow:
        ws = Path(tmp)
        shutil.copy(ROOT / "notebooks" / "titanic.ipynb", ws)
        shutil.copytree(ROOT / "notebooks" / "datasets", ws / "datasets")
        plan = json.loads((ROOT / "notebooks" / "titanic.plan.json").read_text())
        plan["grid"]["data_path"] = str(ws / "datasets" / "titanic.csv")
        targets = build_targets({"airflow": airflow.target_settings(), "local": {"kind": "local"}})
        manager = RunManager(RunStore(ws / "runs.sqlite"), targets, root_dir=ws, user="bench")
        makespan(manager, plan, "airflow")  # warm: DAG parsed once, workers' imports cached
        on_airflow, on_local, first = [], [], []
        for _ in range(args.repeat):
            total, start = makespan(manager, plan, "airflow")
            on_airflow.append(total)
            first.append(start)
            on_local.append(makespan(manager, plan, "local")[0])
    a, loc, f = statistics.median(on_airflow), statistics.median(on_local), statistics.median(first)
    print(
        f"8-point Titanic grid, parallelism {plan['parallelism']}, median of {args.repeat} (after a warm-up run)"
    )
    print(f"local runner:              {loc:6.2f} s   runs {[round(x, 2) for x in on_local]}")
    print(f"Airflow 3 (LocalExecutor): {a:6.2f} s   runs {[round(x, 2) for x in on_airflow]}")
    print(f"Airflow / local: {a / loc:.2f}x (target <= 1.5x)")
    print(
        f"submit (render + deploy + parse wait + trigger) -> first point running on Airflow: {f:.2f} s (target <= 3 s warm)"
    )


if __name__ == "__main__":
    main()
