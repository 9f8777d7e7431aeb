"""Status latency: from a point's state change (its start or end time, as the local runner
records it) to its event on the /api/events/subscribe websocket of a real jupyter server;
and the target polls per second per active run, for a small and a large grid.

    python bench/status_latency.py [--points 8] [--large 60]

Targets: p95 <= 1.5 s; <= 2 polls/s per active run, whatever the grid size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
from tornado.websocket import websocket_connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jupyter_mvdp.targets.airflow.dev import free_port  # noqa: E402
from tests.service.test_restart import SCHEMA_ID, TOKEN, Server  # noqa: E402
from tests.targets.test_local import write_notebook  # noqa: E402


async def measure(server: Server, n_points: int, sleep: float, parallelism: int) -> dict:
    ws = await websocket_connect(f"ws://127.0.0.1:{server.port}/api/events/subscribe?token={TOKEN}")
    arrivals: dict[tuple[str, str], float] = {}
    plan = {
        "grid": {"x": list(range(n_points)), "sleep": [sleep]},
        "strategy": {"kind": "grid"},
        "parallelism": parallelism,
    }
    polls_before = requests.get(
        f"{server.url}/mvdp/status", headers=server.auth, timeout=10
    ).json()["polls"]
    started = time.time()
    run = requests.post(
        f"{server.url}/mvdp/runs",
        json={"notebook": "tiny.ipynb", "plan": plan},
        headers=server.auth,
        timeout=60,
    ).json()
    while True:
        event = json.loads(await ws.read_message())
        if event.get("schema_id") != SCHEMA_ID or event["run_id"] != run["run_id"]:
            continue
        if event["kind"] == "points":  # one event a sync tick: the points that changed
            for point in event["points"]:
                arrivals.setdefault((point["id"], point["state"]), time.time())
        if event["kind"] == "run" and event["state"] in ("success", "failed"):
            break
    elapsed = time.time() - started
    ws.close()
    polls = (
        requests.get(f"{server.url}/mvdp/status", headers=server.auth, timeout=10).json()["polls"]
        - polls_before
    )
    doc = requests.get(
        f"{server.url}/mvdp/runs/{run['run_id']}", headers=server.auth, timeout=10
    ).json()
    latencies = []
    for p in doc["points"]:
        if (p["id"], "running") in arrivals and p["started"]:
            latencies.append(arrivals[(p["id"], "running")] - p["started"])
        if (p["id"], "success") in arrivals and p["finished"]:
            latencies.append(arrivals[(p["id"], "success")] - p["finished"])
    latencies.sort()
    return {
        "points": n_points,
        "median": statistics.median(latencies),
        "p95": latencies[max(0, int(len(latencies) * 0.95) - 1)],
        "events": len(latencies),
        "polls_per_s": polls / elapsed,
        "elapsed": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=8)
    parser.add_argument("--large", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp, "root")
        root.mkdir()
        write_notebook(root / "tiny.ipynb")
        server = Server(root, Path(tmp, "runs.sqlite"), free_port(), poll_interval=1.0)
        server.start()
        try:
            small = asyncio.run(measure(server, args.points, 0.5, 2))
            large = asyncio.run(measure(server, args.large, 0.0, 2))
        finally:
            server.kill()
    print("local target, poll interval 1 s (default), events on /api/events/subscribe")
    for r in (small, large):
        print(
            f"{r['points']:>5} points: state change -> websocket median {r['median']:.2f} s, p95 {r['p95']:.2f} s "
            f"({r['events']} changes); {r['polls_per_s']:.2f} target polls/s for the run over {r['elapsed']:.0f} s"
        )
    print("targets: p95 <= 1.5 s, <= 2 polls/s per run whatever the grid size")


if __name__ == "__main__":
    main()
