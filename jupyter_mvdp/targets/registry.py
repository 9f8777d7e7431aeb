"""Target kinds by name: the built-in ones, and any a third party installs.

A package adds a kind with an entry point in the ``jupyter_mvdp.targets`` group, as
papermill's engines do::

    [project.entry-points."jupyter_mvdp.targets"]
    mykind = "my_package.target:MyTarget"   # a Target subclass with kind = "mykind"

Built-in kinds are imported lazily (the Airflow client only when an Airflow target is used).
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from ..exceptions import UnknownTarget
from .base import Target

ENTRY_POINT_GROUP = "jupyter_mvdp.targets"
_BUILTIN = {
    "local": "jupyter_mvdp.targets.local:LocalTarget",
    "airflow": "jupyter_mvdp.targets.airflow:AirflowTarget",
    "astro": "jupyter_mvdp.targets.astro:AstroTarget",
    "hub": "jupyter_mvdp.targets.hub:HubTarget",
}
_REGISTRY: dict[str, type[Target]] = {}


def register(cls: type[Target]) -> type[Target]:
    """Class decorator: make a target kind available by name."""
    _REGISTRY[cls.kind] = cls
    return cls


def _load(reference: str) -> type[Target]:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


def known_kinds() -> list[str]:
    installed = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted({*_BUILTIN, *installed, *_REGISTRY})


def target_class(kind: str) -> type[Target]:
    """The class of target ``kind``: registered, built in, or from an entry point."""
    if kind not in _REGISTRY:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == kind]
        if kind in _BUILTIN:
            _load(_BUILTIN[kind])  # its module registers it
        elif found:
            cls = found[0].load()
            if not (isinstance(cls, type) and issubclass(cls, Target)):
                raise UnknownTarget(f"Target kind {kind!r} ({found[0].value}) is not a Target")
            _REGISTRY.setdefault(kind, cls)
    try:
        return _REGISTRY[kind]
    except KeyError:
        known = ", ".join(known_kinds())
        raise UnknownTarget(f"Unknown target kind {kind!r}; known kinds: {known}") from None


def build_targets(config: dict[str, dict]) -> dict[str, Target]:
    """Targets by name from ``{"name": {"kind": "airflow", **settings}}``; ``local`` (the
    embedded runner) is always there unless the config redefines it."""
    targets: dict[str, Target] = {}
    for name, settings in {"local": {"kind": "local"}, **config}.items():
        settings = dict(settings)
        kind = settings.pop("kind", name)
        targets[name] = target_class(kind)(name, **settings)
    return targets
