"""Metrics: recorded inside notebooks, read back and ranked by runtime.py (the one copy).

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

from . import runtime
from .runtime import SCRAP_MIMETYPE as SCRAP_MIMETYPE  # the shared rules, re-exported
from .runtime import leaderboard as leaderboard
from .runtime import read_metrics as read_metrics


def record(name: str, value: Any) -> None:
    """Record a JSON-serializable metric in the running notebook (scrapbook compatible)."""
    from IPython.display import display

    # text as scrapbook records it (the "text" encoder): "0.99" stays text, never a number
    encoder = "text" if isinstance(value, str) else "json"
    mimetype = SCRAP_MIMETYPE if encoder == "json" else runtime.SCRAP_PREFIX + "text+json"
    payload = {"name": name, "data": value, "encoder": encoder, "version": 1}
    metadata = {"scrapbook": {"name": name, "data": True, "display": False}}
    display({mimetype: payload}, metadata=metadata, raw=True)


def read_metrics_file(path) -> dict[str, Any]:
    """The metrics of an executed notebook file (any nbformat version)."""
    return runtime.read_metrics_file(path)


def numeric_metric_names(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Names of metrics that hold numbers in any row, in first-seen order."""
    names: dict[str, None] = {}
    for metrics in rows:
        for key in metrics or {}:
            if runtime.metric_value(metrics, key) is not None:
                names.setdefault(key, None)
    return list(names)


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else repr(value)
    return str(value)
