"""One loop that follows every active run: poll each once per interval, emit what changed.

Each turn also takes over the runs whose owner died (another server, a CLI: see
ownership.py) and notices a run store deleted under the server (storefile.py). Every
``discover_interval`` seconds it looks at each target once for runs started there (the
plan's schedule, Airflow's UI or API: discover.py), however many pipelines are deployed.

Each run costs one ``manager.sync`` per interval (one bulk poll of its target, however many
points it has), done in a worker thread so a slow Airflow never blocks the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from .manager import RunManager

log = logging.getLogger("jupyter_mvdp")


class Watcher:
    def __init__(self, manager: RunManager, interval: float = 1.0, discover_interval: float = 5.0):
        self.manager = manager
        self.interval = interval
        self.discover_interval = discover_interval
        self._task: asyncio.Task | None = None
        self.polls = 0  # how many target polls were made (for bench/status_latency.py)
        self._discovered_at = -float("inf")  # time.monotonic() of the last look

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _turn(self) -> list[str]:
        """Before each turn: the store's file still there, runs of dead owners taken over;
        then the runs this process follows."""
        self.manager.check_store()
        self.manager.resume_all()
        if time.monotonic() - self._discovered_at >= self.discover_interval:
            self._discovered_at = time.monotonic()
            try:
                self.manager.discover()
            except Exception:  # the runs already known are still followed
                log.exception("jupyter-mvdp: looking for runs started in the targets failed")
        return self.manager.followed_runs()

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                runs = await loop.run_in_executor(None, self._turn)
            except Exception:  # the store unavailable, say: try again next turn
                log.exception("jupyter-mvdp: reading the run store failed")
                runs = []
            for run_id in runs:
                try:
                    await loop.run_in_executor(None, self.manager.sync, run_id)
                    self.polls += 1
                except Exception:  # one broken run must not stop the others being watched
                    log.exception("jupyter-mvdp: following run %s failed", run_id)
            await asyncio.sleep(max(0.05, self.interval - (loop.time() - started)))
