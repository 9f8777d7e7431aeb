"""The plan's ``notify``: read and checked from the plan, the events a run's end raises, the
connection each channel uses, the channels as the DAG holds them."""

from __future__ import annotations

import json

import pytest

from jupyter_mvdp.core import notify
from jupyter_mvdp.core.contract import EVENTS
from jupyter_mvdp.core.models import Plan, plan_schema
from jupyter_mvdp.exceptions import InvalidPlan

GRID = {"grid": {}, "strategy": {"kind": "grid"}}


def plan(*channels) -> Plan:
    return Plan.from_json({**GRID, "notify": list(channels)})


def test_the_schema_names_the_contract_events():
    events = plan_schema()["$defs"]["notify_events"]["items"]["enum"]
    assert sorted(events) == sorted(EVENTS.values())


def test_a_plan_keeps_its_channels_through_json():
    doc = {
        **GRID,
        "notify": [
            {"channel": "email", "on": ["canary_alert"], "to": ["ops@example.com"]},
            {"channel": "slack", "on": ["run_failed"], "slack_webhook_conn_id": "team"},
            {"channel": "webhook", "on": ["run_succeeded"], "endpoint": "/hooks/mvdp"},
        ],
    }
    assert Plan.from_json(doc).to_json() == doc
    assert "notify" not in Plan.from_json(GRID).to_json()


@pytest.mark.parametrize(
    ("channel", "field_says"),
    [
        ({"channel": "fax", "on": ["run_failed"]}, "channel must be one of email, slack, webhook"),
        ({"channel": "email", "on": ["run_failed"]}, "'to' is a required property"),
        ({"channel": "email", "on": [], "to": ["a@b.c"]}, "on: [] should be non-empty"),
        ({"channel": "slack", "on": ["paged"]}, "on.0: 'paged' is not one of"),
        ({"channel": "email", "on": ["run_failed"], "to": ["ops"]}, "'ops' is not an email"),
        (
            {"channel": "slack", "on": ["run_failed"], "password": "hunter2"},
            "unknown key 'password'",
        ),
        (
            {"channel": "webhook", "on": ["run_failed"], "http_conn_id": "a b"},
            "'a b' is not an Airflow connection id",
        ),
        (
            {"channel": "webhook", "on": ["run_failed"], "endpoint": "/a b"},
            "'/a b' is not a path without spaces",
        ),
    ],
)
def test_a_bad_channel_is_refused_naming_its_field(channel, field_says):
    with pytest.raises(InvalidPlan) as e:
        plan(channel)
    assert e.value.errors[0]["field"] == "notify.0"
    assert field_says in e.value.errors[0]["message"], e.value.errors


def test_credentials_have_no_place_in_the_plan():
    """Only connection ids: a key that could hold a secret is an unknown key."""
    for key in ("password", "token", "webhook_url", "smtp_password", "headers"):
        for kind in ("email", "slack", "webhook"):
            entry = {"channel": kind, "on": ["run_failed"], "to": ["a@b.c"], key: "x"}
            if kind != "email":
                entry.pop("to")
            with pytest.raises(InvalidPlan, match="unknown key"):
                plan(entry)


@pytest.mark.parametrize(
    ("state", "outcome", "events"),
    [
        ("success", None, ["run_succeeded"]),
        ("failed", None, ["run_failed"]),
        ("cancelled", None, []),
        ("success", "alert", ["canary_alert", "run_succeeded"]),
        ("success", "deploy", ["canary_deployed", "run_succeeded"]),
        ("failed", "deploy", ["canary_deployed", "run_failed"]),
    ],
)
def test_the_events_of_a_run_end(state, outcome, events):
    assert notify.end_events(state, outcome) == events


def test_each_channel_uses_its_providers_default_connection_unless_named():
    p = plan(
        {"channel": "email", "on": ["run_failed"], "to": ["a@b.c"]},
        {"channel": "slack", "on": ["run_failed"]},
        {"channel": "webhook", "on": ["run_failed"]},
        {"channel": "webhook", "on": ["run_failed"], "http_conn_id": "mine"},
    )
    assert [notify.connection_id(c) for c in p.notify] == [
        "smtp_default",
        "slack_default",
        "http_default",
        "mine",
    ]


def test_who_listens_to_what():
    p = plan(
        {"channel": "email", "on": ["canary_alert", "run_failed"], "to": ["a@b.c"]},
        {"channel": "webhook", "on": ["canary_alert"]},
    )
    assert [c.channel for c in notify.listening(p, "canary_alert")] == ["email", "webhook"]
    assert [c.channel for c in notify.listening(p, "run_succeeded")] == []
    assert notify.listens_to_end(p)
    assert not notify.listens_to_end(plan({"channel": "slack", "on": ["canary_deployed"]}))


def test_the_dag_holds_the_channels_as_plain_data():
    p = plan(
        {
            "channel": "email",
            "on": ["canary_alert"],
            "to": ["{{var.value.secret}}@example.com"],
            "from_email": "mvdp@example.com",
        },
        {"channel": "webhook", "on": ["run_failed"], "http_conn_id": "hook", "endpoint": "/x"},
    )
    settings = notify.dag_settings(p)
    assert json.loads(json.dumps(settings)) == settings
    assert settings == [
        {
            "channel": "email",
            "on": ["canary_alert"],
            "connection": "smtp_default",
            "to": ["{{var.value.secret}}@example.com"],
            "from_email": "mvdp@example.com",
            "endpoint": "",
        },
        {
            "channel": "webhook",
            "on": ["run_failed"],
            "connection": "hook",
            "to": [],
            "from_email": None,
            "endpoint": "/x",
        },
    ]
