"""Who hosts a run: one live process at a time, so no point runs twice.

The CLI and every Jupyter server on one store could all pick up the same unfinished run. Each
run therefore has an owner in the store (host, pid, the process's start time, a token of the
manager) and a lease the owner renews while it lives (``LeaseKeeper``). Another process takes
a run over only when its owner is dead, and only through one compare-and-set statement
(``RunStore.claim``), so of two processes that judged so, one wins:

- on this host (same hostname), the owner is dead when its pid is gone or now belongs to a
  process started at another time (pid reuse); a live owner keeps its runs even if its lease
  lapsed (a suspended laptop);
- on another host (a store on a shared file system), pids mean nothing here: the owner is
  dead when its lease expired (``LEASE_SECONDS`` without a renewal).

An owner that finds its lease taken (it stalled past the lease on another host) stops hosting
the run rather than run its points a second time.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psutil

log = logging.getLogger("jupyter_mvdp")

#: seconds a lease lasts without a renewal; it is renewed every ``RENEW_SECONDS``
LEASE_SECONDS = 60.0
RENEW_SECONDS = 5.0


def process_started(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds), or None when there is none."""
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, ValueError):
        return None
    except psutil.AccessDenied:  # another user's live process
        return -1.0


@dataclass(frozen=True)
class Owner:
    """This process as a run's owner; ``token`` tells two managers of one process apart."""

    host: str
    pid: int
    started: float
    token: str

    @classmethod
    def here(cls) -> Owner:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_started(pid) or 0.0, uuid.uuid4().hex)

    def columns(self, now: float | None = None) -> dict:
        """The store's owner columns (``store.OWNER_FIELDS``) with a fresh lease."""
        return {
            "owner_host": self.host,
            "owner_pid": self.pid,
            "owner_started": self.started,
            "owner_token": self.token,
            "lease_expires": (now or time.time()) + LEASE_SECONDS,
        }


def why_dead(run: dict, me: Owner, now: float | None = None) -> str | None:
    """Why the owner of ``run`` (its stored owner columns) is dead, or None while it lives
    (or is ``me``). A run without an owner (stored by an older version) has none alive."""
    if run["owner_token"] == me.token:
        return None
    if run["owner_token"] is None:
        return "no process owns it (it was started by an older jupyter-mvdp)"
    pid, host = run["owner_pid"], run["owner_host"]
    if host == me.host:
        started = process_started(pid)
        if started is None:
            return f"the process that ran it (pid {pid}) is gone"
        if started >= 0 and abs(started - (run["owner_started"] or 0)) > 1:
            return f"the process that ran it (pid {pid}) is gone (its pid is another's now)"
        return None
    now = time.time() if now is None else now
    if (run["lease_expires"] or 0) < now:
        at = time.strftime("%H:%M:%S", time.localtime(run["lease_expires"] or 0))
        return f"the process that ran it (pid {pid} on {host}) stopped renewing its lease at {at}"
    return None


class LeaseKeeper:
    """Renews the leases of one owner's runs every ``RENEW_SECONDS``, in a thread of its own
    (a slow target or a long deploy never delays it), and calls ``lost(run_ids)`` for runs
    it hosted that another process took over meanwhile."""

    def __init__(
        self,
        renew: Callable[[str, float], set[str]],
        owner: Owner,
        lost: Callable[[set[str]], None],
    ):
        self._renew, self.owner, self._lost = renew, owner, lost
        self.hosting: set[str] = set()  # runs this process runs (local runs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="mvdp-leases", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def renew(self) -> None:
        """Renew now; runs this process hosts that are no longer its own are lost."""
        mine = self._renew(self.owner.token, time.time() + LEASE_SECONDS)
        taken = set()
        with self._lock:
            for run_id in list(self.hosting):
                if run_id not in mine:
                    self.hosting.discard(run_id)
                    taken.add(run_id)
        if taken:
            self._lost(taken)

    def _loop(self) -> None:
        while not self._stop.wait(RENEW_SECONDS):
            try:
                self.renew()
            except sqlite3.ProgrammingError:  # the store was closed: its owner is done
                return
            except Exception:  # a store briefly locked or unavailable: the next turn retries
                log.warning("jupyter-mvdp: renewing run leases failed", exc_info=True)
