"""targets/registry.py and base.Capabilities: kinds by name, third-party kinds through entry
points, and capabilities (not names) for what a target can do."""

from __future__ import annotations

import sys
import textwrap
from importlib.metadata import EntryPoint

import pytest

from jupyter_mvdp.exceptions import UnknownTarget
from jupyter_mvdp.targets import Capabilities, build_targets, registry, target_class


def test_the_built_in_kinds_and_what_they_can_do():
    local, airflow, astro = (target_class(k) for k in ("local", "airflow", "astro"))
    assert local.capabilities.runs_in_process and local.capabilities.writes_workspace
    assert not local.capabilities.has_dag and local.capabilities.warm_kernels
    for remote in (airflow, astro):
        assert remote.capabilities.has_dag and not remote.capabilities.runs_in_process
    described = build_targets({})["local"].describe()
    assert described["capabilities"] == local.capabilities.to_json()


def test_an_unknown_kind_names_the_known_ones():
    with pytest.raises(
        UnknownTarget, match=r"Unknown target kind 'nope'; known kinds: .*airflow.*local"
    ):
        target_class("nope")


def test_a_third_party_kind_comes_from_an_entry_point(tmp_path, monkeypatch):
    (tmp_path / "my_targets.py").write_text(
        textwrap.dedent(
            """
            from jupyter_mvdp.targets import Capabilities, Target

            class MyTarget(Target):
                kind = "mine"
                capabilities = Capabilities(can_cancel=False)
                deploy = trigger = poll = fetch_output = cancel = lambda *a, **k: None

            class NotATarget:
                pass
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    found = [
        EntryPoint("mine", "my_targets:MyTarget", registry.ENTRY_POINT_GROUP),
        EntryPoint("bogus", "my_targets:NotATarget", registry.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(
        registry, "entry_points", lambda group: found if group == registry.ENTRY_POINT_GROUP else []
    )
    monkeypatch.delitem(registry._REGISTRY, "mine", raising=False)
    try:
        targets = build_targets({"team": {"kind": "mine"}})
        assert type(targets["team"]).__name__ == "MyTarget"
        assert targets["team"].capabilities == Capabilities(can_cancel=False)
        assert "mine" in registry.known_kinds()
        with pytest.raises(UnknownTarget, match="is not a Target"):
            target_class("bogus")
    finally:
        registry._REGISTRY.pop("mine", None)
        sys.modules.pop("my_targets", None)
