"""Targets: where plans run. ``local`` is the embedded default; ``airflow`` and ``astro`` drive
real deployments over their APIs."""

from __future__ import annotations

import importlib

from .base import Target, register, target_class

__all__ = ["Target", "build_targets", "load_builtin", "register", "target_class"]

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


def build_targets(config: dict[str, dict]) -> dict[str, Target]:
    """Targets by name from ``{"name": {"kind": "airflow", **settings}}``; ``local`` (the
    embedded runner) is always there unless the config redefines it."""
    targets: dict[str, Target] = {}
    for name, settings in {"local": {"kind": "local"}, **config}.items():
        settings = dict(settings)
        kind = settings.pop("kind", name)
        targets[name] = target_class(kind)(name, **settings)
    return targets
