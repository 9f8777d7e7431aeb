"""What the REST API reads of runs, built once per stored version of a run.

A run's ranked points (core/document.py) are rebuilt only when the store says the run changed
(its ``updated`` stamp), and each sorted order once per version, so following a big run
costs a lookup and a slice per request, not a read and a ranking of every point. Bounded:
the ranked points of the last few runs read, the summaries of every run (small).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from ..core.document import (
    PAGE_SIZE,
    page_query,
    points_page,
    rank_points,
    ranked_points,
    run_summary,
    sorted_points,
    with_changes,
)
from ..core.models import PointStatus
from ..exceptions import MvdpError
from .store import RunStore

#: runs whose ranked points stay in memory (a 10,000-point run is ~15 MB)
KEEP_RUNS = 4


class _Version:
    """One stored version of a run: its summary, ranked points and the orders asked so far;
    ``head``: the stored run without its points (what a summary is built from)."""

    def __init__(self, updated: float, head: dict, ranked: list[dict]):
        self.updated, self.head, self.ranked = updated, head, ranked
        self.summary = run_summary(head, ranked)
        self.orders: dict[tuple, list[dict]] = {}


def _head(record: Mapping[str, Any]) -> dict:
    return {
        **{k: v for k, v in record.items() if k not in ("points", "spec")},
        # the plan, and an optimize run's search space (its summary's ``optimize``)
        "spec": {"plan": record["spec"]["plan"], "space": record["spec"].get("space")},
    }


class RunViews:
    def __init__(self, store: RunStore, keep: int = KEEP_RUNS):
        self.store, self.keep = store, keep
        self._lock = threading.Lock()
        self._full: OrderedDict[str, _Version] = OrderedDict()  # with ranked points, LRU
        self._summaries: dict[str, tuple[float, dict]] = {}

    def _version(self, run_id: str, updated: float, user: str | None) -> _Version:
        with self._lock:
            known = self._full.get(run_id)
            if known and known.updated == updated:
                self._full.move_to_end(run_id)
                return known
        record = self.store.run_record(run_id, user)
        return self._keep(run_id, _Version(record["updated"], _head(record), ranked_points(record)))

    def _keep(self, run_id: str, version: _Version) -> _Version:
        with self._lock:
            self._full[run_id] = version
            self._full.move_to_end(run_id)
            while len(self._full) > self.keep:
                self._full.popitem(last=False)
            self._summaries[run_id] = (version.updated, version.summary)
        return version

    def patch(self, run_id: str, changes: Mapping[str, PointStatus]) -> None:
        """A sync tick just stored ``changes`` (service/sync.py): rank the cached run again
        from them instead of reading its 10,000 points at the next request. The store's
        stamp is read after the write; the process that hosts a run is the one writing its
        points, so no other change hides between the two."""
        with self._lock:
            known = self._full.get(run_id)
        if known is None or not changes:
            return
        try:
            updated = self.store.run_version(run_id)
        except MvdpError:
            return
        shown = with_changes(known.ranked, changes)
        if shown is None:
            with self._lock:
                self._full.pop(run_id, None)
            return
        strategy = known.head["spec"]["plan"]["strategy"]
        head = {**known.head, "updated": updated}
        self._keep(run_id, _Version(updated, head, rank_points(shown, strategy)))

    def summary(self, run_id: str, updated: float, user: str | None = None) -> dict:
        """The run without points (the run list's entry)."""
        with self._lock:
            known = self._summaries.get(run_id)
        if known and known[0] == updated:
            return known[1]
        return self._version(run_id, updated, user).summary

    def summaries(self, user: str | None = None) -> list[dict]:
        """``user``'s runs (every run without one), newest first, without points."""
        found = self.store.run_versions(user)
        with self._lock:  # runs deleted since: forget them
            for gone in set(self._summaries) - {r for r, _ in found}:
                self._summaries.pop(gone, None)
                self._full.pop(gone, None)
        return [self.summary(run_id, updated, user) for run_id, updated in found]

    def _page(self, run_id: str, user: str | None, query: Mapping[str, Any]):
        version = self._version(run_id, self.store.run_version(run_id, user), user)
        whole = (query["sort"], query["order"], ())
        key = (*whole[:2], tuple(query["state"]))
        ordered = version.orders.get(key)
        if ordered is None:  # one sort per order; a filter of it per set of states
            every = version.orders.get(whole)
            if every is None:
                every = version.orders[whole] = sorted_points(version.ranked, *whole[:2], [])
            ordered = version.orders[key] = sorted_points(every, "rank", "asc", list(key[2]))
        return version, points_page(ordered, query)

    def page(self, run_id: str, user: str | None, query: Mapping[str, Any]) -> dict:
        """One page of the run's points, sorted and filtered (``core.document.page_query``)."""
        return self._page(run_id, user, query)[1]

    def document(self, run_id: str, user: str | None = None, **query: Any) -> dict:
        """The run's summary and one page of its points (``page``: how it was cut); the
        first page (``PAGE_SIZE``) holds a normal run whole."""
        version, page = self._page(run_id, user, page_query(**{"limit": PAGE_SIZE, **query}))
        points = page.pop("points")
        return {**version.summary, "points": points, "page": page}
