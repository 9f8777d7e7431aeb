"""The cap on kernels running at once on this machine, across every run of the local target
(the server's or the CLI's): each point and deploy notebook takes a slot before its worker
starts and gives it back once the worker ended, so 30 runs at once start at most
``max_kernels`` kernels and the other points stay queued until a slot frees."""

from __future__ import annotations

import os
import threading


def default_max_kernels() -> int:
    """Two kernels per core: a point is mostly one busy kernel, with I/O and start-up gaps."""
    return 2 * (os.cpu_count() or 1)


class KernelSlots:
    def __init__(self, limit: int | None = None):
        self.limit = max(1, int(limit or default_max_kernels()))
        self._used = 0
        self._free = threading.Condition()

    def take(self, timeout: float = 0) -> bool:
        """Take a slot if one is free (waiting up to ``timeout`` s for one); True if taken."""
        with self._free:
            if timeout and self._used >= self.limit:
                self._free.wait_for(lambda: self._used < self.limit, timeout)
            if self._used >= self.limit:
                return False
            self._used += 1
            return True

    def give_back(self) -> None:
        with self._free:
            self._used = max(0, self._used - 1)
            self._free.notify()

    @property
    def in_use(self) -> int:
        with self._free:
            return self._used
