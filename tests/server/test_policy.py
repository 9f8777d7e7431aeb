"""The admin's policy (c.MvdpApp.policy) on a real jupyter_server with auth on: every
forbidden executor shape of tests/core/test_policy.py is a field error naming its rule at
validate, and a 403 naming it at deploy (nothing stored); the panel reads the effective
policy per target; a user's active runs are capped."""

from __future__ import annotations

import asyncio

import pytest

from tests.core.test_policy import ALLOWED, FORBIDDEN, TEAM, plan_doc
from tests.server.test_handlers import call
from tests.targets.test_local import write_notebook

SLOW = "x = 1  # the score\nfail = False\nsleep = 0.0"


@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config["MvdpApp"]["targets"] = {"one-at-a-time": {"kind": "local"}}
    jp_server_config["MvdpApp"]["policy"] = {
        **TEAM,
        "targets": {"one-at-a-time": {"max_active_runs": 1}},
    }
    return jp_server_config


@pytest.fixture
def root(jp_root_dir):
    write_notebook(jp_root_dir / "tiny.ipynb")
    return jp_root_dir


async def validate(jp_fetch, plan: dict, target: str | None = None) -> dict:
    body = {"notebook": "tiny.ipynb", "plan": plan}
    if target:
        body["target"] = target
    status, doc = await call(jp_fetch, "mvdp", "plans", "validate", method="POST", body=body)
    assert status == 200, doc
    return doc


async def test_every_forbidden_shape_is_refused_at_validate_and_at_deploy(jp_fetch, root):
    for name, fields, where, rule in FORBIDDEN:
        doc = await validate(jp_fetch, plan_doc(fields))
        assert doc["valid"] is False, name
        assert (where, rule) in {(e["field"], e.get("rule")) for e in doc["errors"]}, (name, doc)

        status, refused = await call(
            jp_fetch,
            "mvdp",
            "runs",
            method="POST",
            body={"notebook": "tiny.ipynb", "plan": plan_doc(fields), "target": "local"},
        )
        assert status == 403, (name, status, refused)
        assert refused["error"] == "PolicyViolation"
        assert f"policy rule {rule}" in refused["message"], (name, refused["message"])
        assert [(e["field"], e["rule"]) for e in refused["errors"]] == [(where, rule)]
    _, runs = await call(jp_fetch, "mvdp", "runs")
    assert runs["runs"] == []  # nothing refused was stored


async def test_what_the_policy_allows_validates(jp_fetch, root):
    for name, fields in ALLOWED:
        doc = await validate(jp_fetch, plan_doc(fields))
        assert doc["valid"] is True, (name, doc)


async def test_targets_carry_their_effective_policy(jp_fetch, root):
    _, doc = await call(jp_fetch, "mvdp", "targets")
    policies = {t["name"]: t["policy"] for t in doc["targets"]}
    assert policies["local"]["queues"] == ["ml"] and policies["local"]["max_cpu"] == "4"
    assert policies["local"]["max_active_runs"] == 3
    assert policies["one-at-a-time"]["max_active_runs"] == 1
    assert policies["one-at-a-time"]["queues"] == ["ml"]  # the rest from the base
    assert "@continuous" not in policies["local"]["presets"]


async def test_a_user_runs_at_most_max_active_runs_at_once(jp_fetch, root):
    write_notebook(root / "slow.ipynb", SLOW, "import time\ntime.sleep(sleep)")
    body = {
        "notebook": "slow.ipynb",
        "plan": {"grid": {"sleep": [60]}, "strategy": {"kind": "grid"}},
        "target": "one-at-a-time",
    }
    status, first = await call(jp_fetch, "mvdp", "runs", method="POST", body=body)
    assert status == 202, first
    status, second = await call(jp_fetch, "mvdp", "runs", method="POST", body=body)
    assert status == 429 and second["error"] == "TooManyRuns", second
    assert "policy rule max_active_runs" in second["message"]
    # another target keeps its own count
    status, other = await call(
        jp_fetch, "mvdp", "runs", method="POST", body={**body, "target": "local"}
    )
    assert status == 202, other
    for run in (first, other):
        await call(jp_fetch, "mvdp", "runs", run["run_id"], "cancel", method="POST")
    for _ in range(100):
        _, doc = await call(jp_fetch, "mvdp", "runs", first["run_id"])
        if doc["state"] == "cancelled":
            break
        await asyncio.sleep(0.2)
    status, third = await call(jp_fetch, "mvdp", "runs", method="POST", body=body)
    assert status == 202, third  # the cancelled run no longer counts
    await call(jp_fetch, "mvdp", "runs", third["run_id"], "cancel", method="POST")


@pytest.mark.parametrize("policy", [None, {"targets": {"local": {"nonsense": 1}}}])
async def test_without_a_readable_policy_the_strict_default_applies(
    jp_fetch, jp_serverapp, root, policy
):
    manager = jp_serverapp.web_app.settings["mvdp_manager"]
    from jupyter_mvdp.core.policy import Policies

    manager.policies = Policies() if policy is None else jp_serverapp_policy(policy)
    doc = await validate(jp_fetch, plan_doc({"executor_config": {"pod_override": {}}}))
    assert [e["rule"] for e in doc["errors"]] == ["executor_config"]
    doc = await validate(jp_fetch, plan_doc({"queue": "ml"}))
    assert [e["rule"] for e in doc["errors"]] == ["queues"]


def jp_serverapp_policy(config):
    """What the extension does with a setting that does not read (extension._build_policy)."""
    from jupyter_mvdp.server.extension import MvdpApp

    app = MvdpApp()
    app.policy = config
    return app._build_policy()
