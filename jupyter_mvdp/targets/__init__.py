"""Targets: where plans run. ``local`` is the embedded default; ``airflow`` and ``astro``
drive real deployments over their APIs; others come from entry points (registry.py)."""

from __future__ import annotations

from .base import Capabilities, Target
from .registry import build_targets, register, target_class

__all__ = ["Capabilities", "Target", "build_targets", "register", "target_class"]
