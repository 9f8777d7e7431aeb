"""One loop that follows every active run: poll each once per interval, emit what changed.

Each run costs one ``manager.sync`` per interval (one bulk poll of its target, however many
points it has), done in a worker thread so a slow Airflow never blocks the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from .manager import RunManager

log = logging.getLogger("jupyter_mvdp")


class Watcher:
    def __init__(self, manager: RunManager, interval: float = 1.0):
        self.manager = manager
        self.interval = interval
        self._task: asyncio.Task | None = None
        self.polls = 0  # how many target polls were made (for bench/status_latency.py)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            for run_id in self.manager.active_runs():
                try:
                    await loop.run_in_executor(None, self.manager.sync, run_id)
                    self.polls += 1
                except Exception:  # one broken run must not stop the others being watched
                    log.exception("jupyter-mvdp: following run %s failed", run_id)
            await asyncio.sleep(max(0.05, self.interval - (loop.time() - started)))
