"""Many users productionizing at once through the hub: each user sends ``per_user`` concurrent
`POST /mvdp/runs` (a one-point run of a tiny notebook, all of the same notebook) and follows
them on their event websocket until every run has finished. Used by the load test (which
asserts correctness only) and by bench/hub_load.py (which prints the timings)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from tests.deploy.hubclient import SCHEMA_ID, UserClient, tiny_notebook

NOTEBOOK = "load.ipynb"


@dataclass
class UserLoad:
    user: str
    posted: dict[str, int] = field(default_factory=dict)  # run id -> the x it was sent with
    post_seconds: list[float] = field(default_factory=list)  # request -> 202
    event_seconds: list[float] = field(default_factory=list)  # point state change -> event
    events: dict[str, list[dict]] = field(default_factory=dict)  # run id -> its events
    statuses: list[int] = field(default_factory=list)


async def _one_user(client: UserClient, per_user: int, timeout: float) -> UserLoad:
    result = UserLoad(client.user)
    await client.put_notebook(NOTEBOOK, tiny_notebook())
    ws = await client.events()
    arrived: list[tuple[float, dict]] = []
    done: set[str] = set()

    async def listen() -> None:
        while True:
            message = await ws.read_message()
            if message is None:
                return
            now = time.time()
            event = json.loads(message)
            if event.get("schema_id") != SCHEMA_ID:
                continue
            arrived.append((now, event))
            if event["kind"] == "run" and event.get("state") in ("success", "failed", "cancelled"):
                done.add(event["run_id"])

    listener = asyncio.ensure_future(listen())

    async def post(x: int) -> None:
        plan = {"grid": {"x": [x]}, "strategy": {"kind": "grid", "metric": "score"}}
        started = time.perf_counter()
        status, doc = await client.call(
            "POST", "mvdp/runs", {"notebook": NOTEBOOK, "plan": plan, "target": "local"}
        )
        result.post_seconds.append(time.perf_counter() - started)
        result.statuses.append(status)
        if status == 202:
            result.posted[doc["run_id"]] = x

    await asyncio.gather(*(post(x) for x in range(per_user)))
    deadline = time.monotonic() + timeout
    while not set(result.posted) <= done and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    listener.cancel()
    ws.close()
    for _, event in arrived:
        result.events.setdefault(event["run_id"], []).append(event)
    # Event latency: a point's recorded state change -> its event at this client.
    for run_id in result.posted:
        _, doc = await client.call("GET", f"mvdp/runs/{run_id}")
        for point in doc["points"]:
            for when, event in arrived:
                if event["run_id"] != run_id or event["kind"] != "points":
                    continue
                for said in event["points"]:
                    if said["id"] != point["id"]:
                        continue
                    changed = {"running": point.get("started"), "success": point.get("finished")}
                    if changed.get(said["state"]):
                        result.event_seconds.append(when - changed[said["state"]])
    return result


async def run_load(hub, users: tuple[str, ...], per_user: int, timeout: float = 600) -> dict:
    """Start the users' servers, then load them all at once; returns the per-user results
    and the wall time of the concurrent part."""
    clients = [UserClient(hub.url, user, hub.server(user)) for user in users]
    started = time.perf_counter()
    results = await asyncio.gather(*(_one_user(c, per_user, timeout) for c in clients))
    return {"wall": time.perf_counter() - started, "users": results, "clients": clients}
