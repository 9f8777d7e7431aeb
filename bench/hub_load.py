"""Load through a real JupyterHub on loopback (the deploy tests' hub: configurable-http-proxy,
dummy auth, local spawner): USERS users each send PER_USER concurrent productionize requests
(a one-point run of a tiny notebook) and follow them on their event websocket.

    python bench/hub_load.py [--users 5] [--per-user 10]

Prints the requests, the wall time until every run finished, the p50/p95 latency of
`POST /mvdp/runs` (request -> 202) and of the status event (a point's recorded state change ->
its event at the client), and the correctness counts (lost, duplicated, failed, collisions).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.deploy.conftest import USERS, Hub  # noqa: E402
from tests.deploy.hubload import NOTEBOOK, run_load  # noqa: E402


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


async def main(users: int, per_user: int) -> None:
    names = tuple(USERS[:users]) if users <= len(USERS) else tuple(f"u{i}" for i in range(users))
    with tempfile.TemporaryDirectory() as tmp:
        hub = Hub(Path(tmp), users=names)
        hub.start()
        try:
            load = await run_load(hub, names, per_user)
            posts = [s for r in load["users"] for s in r.post_seconds]
            events = [s for r in load["users"] for s in r.event_seconds]
            lost = duplicated = failed = 0
            pipelines: dict[str, set[str]] = {}
            for client, result in zip(load["clients"], load["users"], strict=True):
                _, listed = await client.call("GET", "mvdp/runs")
                ids = [r["run_id"] for r in listed["runs"] if r["notebook"] == NOTEBOOK]
                lost += len(set(result.posted) - set(ids)) + (per_user - len(result.posted))
                duplicated += len(ids) - len(set(ids))
                for run in listed["runs"]:
                    failed += run["state"] != "success"
                    pipelines.setdefault(run["pipeline"], set()).add(client.user)
            collisions = sum(len(owners) > 1 for owners in pipelines.values())
        finally:
            hub.stop()
    print(f"requests: {len(posts)} ({users} users x {per_user} concurrent POST /mvdp/runs)")
    print(f"wall time until every run finished: {load['wall']:.1f} s")
    print(
        f"POST /mvdp/runs: p50 {statistics.median(posts):.2f} s, p95 {p95(posts):.2f} s, "
        f"max {max(posts):.2f} s"
    )
    print(
        f"status event (state change -> client): p50 {statistics.median(events):.2f} s, "
        f"p95 {p95(events):.2f} s over {len(events)} events"
    )
    print(
        f"lost {lost}, duplicated {duplicated}, failed {failed}, pipeline collisions {collisions}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--per-user", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.users, args.per_user))
