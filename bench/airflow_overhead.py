"""The 8-point Titanic grid on a real local Airflow 3 vs the local runner, side by side in one
run, on the LocalExecutor and then on the CeleryExecutor (Redis, two workers); the time from
submit to the first point running, when Airflow already has the DAG (a re-run) and when the
DAG changed (a new plan: written, parsed, then triggered); and where the Airflow time goes.

The local runner is measured twice: as it runs by default (warm kernels forked from a
zygote) and with ``warm_kernels: false`` (a fresh kernel per point). Airflow runs as the
README recommends, its workers keeping warm kernels (kernels/zygote/worker.py: each point
forks its kernel from a zygote of its worker); ``--cold-airflow`` runs it without them (a
fresh kernel per point), the ratio against the local runner's fresh kernels then being
Airflow's own overhead on the same work.

    python bench/airflow_overhead.py [--repeat 2] [--executor local celery] [--cold-airflow]

The Airflow set-ups use DevAirflow, i.e. exactly the README's "Recommended Airflow settings".
Targets: Airflow makespan <= 1.5x the local runner's, each as it runs by default (both warm);
deploy -> first task running <= 3 s warm. The machine's load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jupyter_mvdp.service.manager import RunManager  # noqa: E402
from jupyter_mvdp.service.store import RunStore  # noqa: E402
from jupyter_mvdp.targets import build_targets  # noqa: E402
from tests.harness.airflow import HarnessAirflow  # noqa: E402


def makespan(
    airflow: HarnessAirflow, manager: RunManager, plan: dict, target: str
) -> tuple[float, float | None, str]:
    """(submit -> run finished, submit -> first point running, run id) in seconds.

    The local runner is read every 0.1 s (its store, no API). An Airflow run is polled as
    the server polls it (every ``manager.poll_interval``: two API calls), and its times are
    Airflow's own timestamps (same host clock), so the polling rate does not blur them."""
    submitted = time.time()
    run_id = manager.submit("titanic.ipynb", plan, target, background=True)
    first_running = None
    interval = manager.poll_interval if target == "airflow" else 0.1
    while True:
        manager.sync(run_id)
        doc = manager.document(run_id)
        if first_running is None and any(p["state"] != "queued" for p in doc["points"]):
            first_running = time.time() - submitted
        if doc["state"] in ("success", "failed", "cancelled"):
            failed = [(p["id"], p["state"], p["error"]) for p in doc["points"] if p["error"]]
            assert doc["state"] == "success", (doc["state"], doc["message"], failed)
            if target != "airflow":
                return time.time() - submitted, first_running, run_id
            run, tis = airflow_run(airflow, manager, run_id)
            first = min(_t(ti["start_date"]) for ti in tis if ti["task_id"] == "run_point")
            return _t(run["end_date"]) - submitted, first - submitted, run_id
        time.sleep(interval)


def airflow_run(
    airflow: HarnessAirflow, manager: RunManager, run_id: str
) -> tuple[dict, list[dict]]:
    """The DAG run and its task instances, as Airflow's API has them."""
    doc = manager.document(run_id)
    headers = {"Authorization": f"Bearer {airflow.token()}"}
    base = f"{airflow.url}/api/v2/dags/{doc['pipeline']}/dagRuns/{run_id}"
    run = requests.get(base, headers=headers, timeout=30).json()
    tis = requests.get(
        f"{base}/taskInstances", headers=headers, params={"limit": 100}, timeout=30
    ).json()["task_instances"]
    return run, tis


def _t(value: str | None) -> float:
    return datetime.fromisoformat(value).timestamp()


def breakdown(airflow: HarnessAirflow, manager: RunManager, run_id: str, ws: Path) -> dict:
    """Where an Airflow run's time went, from Airflow's own timestamps (seconds)."""
    doc = manager.document(run_id)
    run, tis = airflow_run(airflow, manager, run_id)
    by_task: dict[str, list[dict]] = {}
    for ti in tis:
        by_task.setdefault(ti["task_id"], []).append(ti)
    collect, points = by_task["collect"][0], by_task["run_point"]
    chooser = by_task["points"][0]  # the run's first task: it picks the run's version
    first = min(_t(p["start_date"]) for p in points)
    last = max(_t(p["end_date"]) for p in points)
    notebook = []  # papermill's own duration of each point (kernel start + cells)
    for p in doc["points"]:
        meta = json.loads((ws / p["output"]).read_text())["metadata"]
        notebook.append(meta["papermill"]["duration"])
    task = [_t(p["end_date"]) - _t(p["start_date"]) for p in points]
    queued = [_t(p["start_date"]) - _t(p["queued_when"]) for p in points if p.get("queued_when")]
    return {
        "run queued -> points (its version) starts": _t(chooser["start_date"])
        - _t(run["queued_at"]),
        "points (task)": _t(chooser["end_date"]) - _t(chooser["start_date"]),
        "points ends -> first point starts": first - _t(chooser["end_date"]),
        "run queued -> first point starts": first - _t(run["queued_at"]),
        "first point starts -> last point ends": last - first,
        "  per point: task duration (mean)": statistics.mean(task),
        "  per point: papermill inside it (mean)": statistics.mean(notebook),
        "  per point: queued -> started (mean)": statistics.mean(queued)
        if queued
        else float("nan"),
        "last point ends -> collect starts": _t(collect["start_date"]) - last,
        "collect (task)": _t(collect["end_date"]) - _t(collect["start_date"]),
        "collect ends -> run ends": _t(run["end_date"]) - _t(collect["end_date"]),
    }


def measure(executor: str, repeat: int, warm: bool = True) -> dict:
    with (
        tempfile.TemporaryDirectory() as tmp,
        HarnessAirflow(executor=executor, warm_kernels=warm) as airflow,
    ):
        ws = Path(tmp)
        shutil.copy(ROOT / "notebooks" / "titanic.ipynb", ws)
        shutil.copytree(ROOT / "notebooks" / "datasets", ws / "datasets")
        plan = json.loads((ROOT / "notebooks" / "titanic.plan.json").read_text())  # ships the data
        targets = build_targets({"airflow": airflow.target_settings(), "local": {"kind": "local"}})
        manager = RunManager(RunStore(ws / "runs.sqlite"), targets, root_dir=ws, user="bench")
        cold = {**plan, "warm_kernels": False}
        makespan(
            airflow, manager, plan, "airflow"
        )  # warm: DAG parsed once, workers' imports cached
        makespan(airflow, manager, plan, "local")
        makespan(airflow, manager, cold, "local")
        result = {k: [] for k in ("airflow", "local", "cold", "first", "changed", "parts")}
        for i in range(repeat):
            total, start, run_id = makespan(airflow, manager, plan, "airflow")
            result["airflow"].append(total)
            result["first"].append(start)
            result["parts"].append(breakdown(airflow, manager, run_id, ws))
            result["local"].append(makespan(airflow, manager, plan, "local")[0])
            result["cold"].append(makespan(airflow, manager, cold, "local")[0])
            # a changed plan (another timeout): a new DAG file Airflow must parse first
            changed = {**plan, "timeout": plan["timeout"] + i + 1}
            result["changed"].append(makespan(airflow, manager, changed, "airflow")[1])
        result["parallelism"] = plan["parallelism"]
        result["warm"] = warm
        return result


def report(executor: str, r: dict) -> None:
    a, loc, cold = (statistics.median(r[k]) for k in ("airflow", "local", "cold"))
    name = {"local": "LocalExecutor", "celery": "CeleryExecutor, 2 workers"}[executor]
    print(f"\n== 8-point Titanic grid, parallelism {r['parallelism']}, Airflow 3 {name}")
    print(f"local runner, warm kernels:  {loc:6.2f} s   runs {[round(x, 2) for x in r['local']]}")
    print(f"local runner, fresh kernels: {cold:6.2f} s   runs {[round(x, 2) for x in r['cold']]}")
    kind = "warm kernels, worker zygotes" if r["warm"] else "fresh kernels"
    print(f"Airflow ({kind}): {a:6.2f} s   runs {[round(x, 2) for x in r['airflow']]}")
    if r["warm"]:
        print(
            f"Airflow / local, as each runs by default (both warm): {a / loc:.2f}x (target <= 1.5x)"
        )
    else:
        print(f"Airflow / local, same kernels (fresh): {a / cold:.2f}x")
        print(f"Airflow / local, as each runs by default: {a / loc:.2f}x")
    print(
        "submit -> first point running, Airflow already has the DAG: "
        f"{statistics.median(r['first']):.2f} s (target <= 3 s warm)"
    )
    print(
        "submit -> first point running, changed DAG (write, parse, trigger): "
        f"{statistics.median(r['changed']):.2f} s"
    )
    print("where the Airflow time goes (median of the runs, from Airflow's timestamps):")
    for key in r["parts"][0]:
        print(f"  {key:42s} {statistics.median(p[key] for p in r['parts']):6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--executor", nargs="+", choices=("local", "celery"), default=["local", "celery"]
    )
    parser.add_argument(
        "--cold-airflow", action="store_true", help="Airflow's workers without warm kernels"
    )
    args = parser.parse_args()
    for executor in args.executor:
        report(executor, measure(executor, args.repeat, warm=not args.cold_airflow))
        print(f"load average (1, 5, 15 min) after it: {os.getloadavg()}")


if __name__ == "__main__":
    main()
