"""A 200-point grid of a tiny notebook on the CeleryExecutor set-up (Redis, two workers),
driven through a real jupyter server as the lab drives it: how long it takes, how many
Airflow API calls per second the server's status polling makes for the run (counted by a
loopback proxy between the server and Airflow), and how fast ``GET /mvdp/runs/<id>`` answers
while it runs.

    python bench/airflow_big_grid.py [--points 200]

Targets: the run completes; <= 2 Airflow API calls/s per active run; GET runs/<id> <= 200 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serving import CountingProxy, jupyter_server  # noqa: E402
from jupyter_mvdp.targets.airflow.dev import DevAirflow  # noqa: E402
from tests.targets.test_local import write_notebook  # noqa: E402

TOKEN = "big-grid-bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, DevAirflow(executor="celery") as airflow:
        proxy = CountingProxy(airflow.url)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        root = Path(tmp, "root")
        root.mkdir()
        write_notebook(root / "tiny.ipynb")
        settings = {**airflow.target_settings(), "api_url": proxy.url}
        with jupyter_server(tmp, root, {"airflow": settings}, token=TOKEN) as (url, auth):
            plan = {
                "grid": {"x": list(range(args.points))},
                "strategy": {"kind": "grid", "metric": "score"},
                "parallelism": 16,
            }
            submitted = time.time()
            response = requests.post(
                f"{url}/mvdp/runs",
                json={"notebook": "tiny.ipynb", "plan": plan, "target": "airflow"},
                headers=auth,
                timeout=120,
            )
            assert response.status_code < 300, response.text
            run_id = response.json()["run_id"]
            latencies, started_polling, seen_done = [], None, 0
            while True:
                t0 = time.perf_counter()
                doc = requests.get(f"{url}/mvdp/runs/{run_id}", headers=auth, timeout=30).json()
                latencies.append(time.perf_counter() - t0)
                if started_polling is None and doc["state"] == "running":
                    started_polling = time.time()
                if doc["state"] == "running":  # the lab sees points end while the run goes on
                    seen_done = max(seen_done, doc["counts"]["success"])
                if doc["state"] in ("success", "failed", "cancelled"):
                    break
                time.sleep(1)
            ended = time.time()
        proxy.shutdown()
    # the calls while the run was being followed (after deploy: the parse wait polls too)
    followed = [c for c in proxy.calls if started_polling <= c[0] <= ended]
    rate = len(followed) / (ended - started_polling)
    latencies.sort()
    print(f"{args.points}-point grid of a tiny notebook, CeleryExecutor (2 workers x 1 slot)")
    print(f"run {doc['state']}: {doc['counts']} in {ended - submitted:.0f} s")
    print(f"points the lab showed done while the run was still running: up to {seen_done}")
    print(
        f"Airflow API calls while following the run: {len(followed)} in {ended - started_polling:.0f} s"
        f" = {rate:.2f}/s (target <= 2/s)"
    )
    by_path: dict[str, int] = {}
    for _, method, path in followed:
        key = f"{method} {path.rsplit('/', 1)[-1]}"
        by_path[key] = by_path.get(key, 0) + 1
    print(f"  by endpoint: {by_path}")
    print(
        f"GET /mvdp/runs/<id> while running: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95) - 1] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
        f" over {len(latencies)} calls (target <= 200 ms)"
    )


if __name__ == "__main__":
    main()
