"""What an idle Airflow scheduler costs for each ``scheduler_idle_sleep_time``: its CPU (and
its LocalExecutor workers') over 30 s with no DAG running, side by side in one run. The
other side of the trade, the time a run takes, is ``bench/airflow_overhead.py``'s.

    python bench/scheduler_idle.py [--seconds 30] [--sleep 1 0.5 0.2 0.1]

Each set-up is DevAirflow (the README's "Recommended Airflow settings") with only the idle
sleep changed, left 20 s to settle before it is measured.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness.airflow import HarnessAirflow


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its live descendants."""
    total = 0.0
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def idle_cpu(sleep: str, seconds: float) -> float:
    """Percent of one core the idle scheduler used with this idle sleep."""
    settings = {"AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": sleep}
    with HarnessAirflow(settings=settings) as airflow:
        time.sleep(20)
        pid = airflow.process("scheduler").pid
        before, started = cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
        return 100 * (cpu_seconds(pid) - before) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--sleep", nargs="+", default=["1", "0.5", "0.2", "0.1"])
    args = parser.parse_args()
    results = {s: idle_cpu(s, args.seconds) for s in args.sleep}
    base = results[args.sleep[0]]
    print("scheduler_idle_sleep_time   idle scheduler CPU (% of a core)   vs first")
    for sleep, cpu in results.items():
        print(f"{sleep:>25s}   {cpu:33.1f}   {cpu / base:7.2f}x")


if __name__ == "__main__":
    main()
