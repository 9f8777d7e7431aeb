"""Targets: where plans run. ``local`` is the embedded default; ``airflow`` and ``astro`` drive
real deployments over their APIs."""

from __future__ import annotations

import importlib

from .base import Target, register, target_class

__all__ = ["Target", "load_builtin", "register", "target_class"]

_BUILTIN = ("local", "airflow", "astro")


def load_builtin() -> None:
    """Import the built-in target modules so they register themselves (lazily: the Airflow
    client is only imported when an Airflow target is used)."""
    for name in _BUILTIN:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
