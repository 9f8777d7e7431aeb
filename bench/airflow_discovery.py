"""What following every run of many pipelines costs: N pipelines deployed on a real Airflow 3
through a real jupyter server, their runs ended; how many Airflow API calls per second the
server makes while nothing runs (counted by bench/airflow_big_grid.py's loopback proxy), and
how long a run a colleague triggers through Airflow's REST API takes to appear in
``GET /mvdp/runs``.

    python bench/airflow_discovery.py [--pipelines 10] [--idle 30]

Targets: idle calls/s about 1 / discover_interval whatever N (not N per poll); a run
triggered in Airflow appears within a few discover intervals.
"""

from __future__ import annotations

import argparse
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

TOKEN = "discovery-bench"
DISCOVER_INTERVAL = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=10)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle counting")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, DevAirflow() as airflow:
        proxy = CountingProxy(airflow.url)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        root = Path(tmp, "root")
        root.mkdir()
        for i in range(args.pipelines):
            write_notebook(root / f"nb{i}.ipynb")
        settings = {**airflow.target_settings(), "api_url": proxy.url}
        options = (f"--MvdpApp.discover_interval={DISCOVER_INTERVAL}",)
        with jupyter_server(tmp, root, {"airflow": settings}, *options, token=TOKEN) as (
            url,
            auth,
        ):
            plan = {"grid": {"x": [1]}, "strategy": {"kind": "grid", "metric": "score"}}
            pipelines = []
            for i in range(args.pipelines):
                doc = requests.post(
                    f"{url}/mvdp/runs",
                    json={"notebook": f"nb{i}.ipynb", "plan": plan, "target": "airflow"},
                    headers=auth,
                    timeout=60,
                ).json()
                pipelines.append(doc["pipeline"])
            while True:  # every run ends: only the looks for new runs go on
                runs = requests.get(f"{url}/mvdp/runs", headers=auth, timeout=30).json()["runs"]
                if all(r["state"] in ("success", "failed") for r in runs):
                    break
                time.sleep(1)
            time.sleep(2)
            start = time.time()
            time.sleep(args.idle)
            idle = [c for c in proxy.calls if start <= c[0] <= time.time()]
            listing = [c for c in idle if c[2].endswith("/dagRuns/list")]
            print(
                f"{args.pipelines} pipelines, nothing running, {args.idle:g} s: "
                f"{len(idle)} Airflow API calls ({len(idle) / args.idle:.2f}/s), "
                f"{len(listing)} of them listings (one per {DISCOVER_INTERVAL:g} s look)"
            )
            print(
                f"per-DAG polling every second would make {args.pipelines:.0f} calls/s: "
                f"{args.pipelines / max(len(idle) / args.idle, 1e-9):.0f}x more"
            )
            token = airflow_token(airflow)
            triggered = time.time()
            requests.post(
                f"{airflow.url}/api/v2/dags/{pipelines[0]}/dagRuns",
                json={"logical_date": None, "conf": {}},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            ).raise_for_status()
            known = {r["run_id"] for r in runs}
            while True:
                runs = requests.get(f"{url}/mvdp/runs", headers=auth, timeout=30).json()["runs"]
                if any(r["run_id"] not in known for r in runs):
                    break
                time.sleep(0.2)
            print(
                f"a run triggered through Airflow's API appeared in GET /mvdp/runs after "
                f"{time.time() - triggered:.1f} s (discover_interval {DISCOVER_INTERVAL:g} s)"
            )


def airflow_token(airflow) -> str:
    response = requests.post(
        f"{airflow.url}/auth/token",
        json={"username": airflow.username, "password": airflow.password},
        timeout=10,
    )
    return response.json()["access_token"]


if __name__ == "__main__":
    main()
