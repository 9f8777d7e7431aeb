"""Metrics recorded by notebooks, read back from executed notebooks, ranked in a leaderboard.

A notebook records a metric as a display output in scrapbook's JSON scrap format, so
notebooks that already call ``scrapbook.glue("accuracy", 0.8)`` work unchanged, and
``jupyter_mvdp.record("accuracy", 0.8)`` writes the same thing without needing scrapbook.
This module is imported inside worker kernels (Airflow workers included): it imports nothing
heavy at module level.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

SCRAP_MIMETYPE = "application/scrapbook.scrap.json+json"
_PAPERMILL_RECORD = "application/papermill.record/json"  # papermill.record(), before scrapbook


def record(name: str, value: Any) -> None:
    """Record a JSON-serializable metric in the running notebook (scrapbook compatible)."""
    from IPython.display import display

    payload = {"name": name, "data": value, "encoder": "json", "version": 1}
    metadata = {"scrapbook": {"name": name, "data": True, "display": False}}
    display({SCRAP_MIMETYPE: payload}, metadata=metadata, raw=True)


def read_metrics(nb: Mapping) -> dict[str, Any]:
    """Every JSON scrap of an executed notebook (an nbformat node or plain dict); the last
    value recorded under a name wins, as in scrapbook."""
    metrics: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = output.get("data") or {}
            scrap = data.get(SCRAP_MIMETYPE)
            if isinstance(scrap, Mapping) and "name" in scrap:
                metrics[scrap["name"]] = scrap.get("data")
            legacy = data.get(_PAPERMILL_RECORD)
            if isinstance(legacy, Mapping):
                metrics.update(legacy)
    return metrics


def read_metrics_file(path) -> dict[str, Any]:
    import nbformat

    return read_metrics(nbformat.read(str(path), as_version=4))


def numeric_metric_names(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Names of metrics that hold numbers in any row, in first-seen order."""
    names: dict[str, None] = {}
    for metrics in rows:
        for key, value in (metrics or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                names.setdefault(key, None)
    return list(names)


def leaderboard(
    points: Iterable[Mapping[str, Any]], metric: str | None, goal: str = "max"
) -> list[dict]:
    """Rows (point documents with a ``rank``) best first by ``metric``; points without the
    metric come last in their original order, unranked."""
    from .strategies import metric_value

    rows = [dict(p) for p in points]
    scored = [r for r in rows if metric_value(r.get("metrics"), metric) is not None]
    unscored = [r for r in rows if metric_value(r.get("metrics"), metric) is None]
    sign = -1 if goal == "max" else 1
    scored.sort(key=lambda r: sign * metric_value(r["metrics"], metric))
    for rank, row in enumerate(scored, 1):
        row["rank"] = rank
    for row in unscored:
        row["rank"] = None
    return scored + unscored


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)
