"""The plan's ``notify`` on the local target, against real receivers on loopback: a mail
through an SMTP server (aiosmtpd) and a JSON POST to an HTTP server, through the Airflow
connections of the environment (``AIRFLOW_CONN_<ID>``), as Airflow's notifiers send them.
The same events from a real Airflow: integration/test_notify.py."""

from __future__ import annotations

import pytest

from jupyter_mvdp.core.policy import Policies
from jupyter_mvdp.exceptions import InvalidPlan
from jupyter_mvdp.targets.local.connections import connection
from tests.receivers import MailBox, WebhookReceiver
from tests.targets.test_local import manager, workspace  # noqa: F401 - fixtures

NOTIFY = [
    {
        "channel": "email",
        "on": ["canary_alert", "run_failed"],
        "to": ["ops@example.com", "ann@example.com"],
        "smtp_conn_id": "mvdp_mail",
    },
    {"channel": "slack", "on": ["canary_alert"], "slack_webhook_conn_id": "mvdp_slack"},
    {
        "channel": "webhook",
        "on": ["canary_alert", "canary_deployed"],
        "http_conn_id": "mvdp_hook",
        "endpoint": "/hooks/mvdp",
    },
]


@pytest.fixture(autouse=True)
def team_policy(manager):  # noqa: F811
    """The admin opens the team's connections (the default policy allows the providers'
    defaults only)."""
    manager.policies = Policies({"connections": ["mvdp_mail", "mvdp_slack", "mvdp_hook"]})


@pytest.fixture
def receivers(monkeypatch):
    with MailBox() as mail, WebhookReceiver() as hook:
        monkeypatch.setenv("AIRFLOW_CONN_MVDP_MAIL", mail.uri())
        monkeypatch.setenv(  # Slack's incoming webhook, pointed at the receiver
            "AIRFLOW_CONN_MVDP_SLACK",
            f'{{"conn_type": "slackwebhook", "host": "{hook.url}", "password": "T0/B0/XX"}}',
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_MVDP_HOOK",
            f'{{"conn_type": "http", "host": "{hook.url}", "extra": {{"X-Team": "ml"}}}}',
        )
        yield mail, hook


def canary(grid: dict, baseline: float) -> dict:
    return {
        "grid": grid,
        "strategy": {"kind": "canary", "metric": "score", "baseline": baseline},
        "notify": NOTIFY,
    }


def test_a_canary_alert_reaches_the_mailbox_and_the_webhook(manager, receivers):  # noqa: F811
    mail, hook = receivers
    run_id = manager.submit("tiny.ipynb", canary({"x": [1, 2]}, 5), "local", background=False)
    doc = manager.wait(run_id, interval=0.1)
    assert doc["outcome"] == "alert" and doc["state"] == "success" and doc["message"] is None

    (message,) = mail.wait()
    assert mail.envelopes == [("mvdp@example.com", ["ops@example.com", "ann@example.com"])]
    pipeline = doc["pipeline"]
    assert message["Subject"] == (
        f"[jupyter-mvdp] canary alert on {pipeline}: the new model is not deployed"
    )
    text = message.get_body(("plain",)).get_content()
    best = doc["best"]["id"]
    for line in (
        f"Pipeline: {pipeline}",
        f"Run: {run_id}",
        "Outcome: alert (the candidate is not deployed)",
        f"Reason: {doc['reason']}",
        f"Best point: {best} (x=2)",
        "score: 2",
    ):
        assert line in text.splitlines(), text
    assert message.get_body(("html",)).get_content().startswith("<pre>Pipeline: ")

    posts = hook.wait(count=2)
    ((path, headers, body),) = [p for p in posts if p[0] != "/T0/B0/XX"]
    ((_, _, slack),) = [p for p in posts if p[0] == "/T0/B0/XX"]
    assert slack == {"text": text.replace("\r\n", "\n")}  # the mail's text, as sent
    assert path == "/hooks/mvdp" and headers["X-Team"] == "ml"
    assert body["event"] == "canary_alert" and body["pipeline"] == pipeline
    assert body["run_id"] == run_id and body["outcome"] == "alert"
    assert body["best"] == {"id": best, "parameters": {"x": 2}, "value": 2}
    assert body["reason"] == doc["reason"]


def test_a_deployed_canary_tells_only_who_listens_to_that(manager, receivers):  # noqa: F811
    mail, hook = receivers
    run_id = manager.submit("tiny.ipynb", canary({"x": [3]}, 1), "local", background=False)
    assert manager.wait(run_id, interval=0.1)["outcome"] == "deploy"
    ((_, _, body),) = hook.wait()
    assert body["event"] == "canary_deployed"
    assert mail.messages == []  # the mail listens to alerts and failures only


def test_a_failed_run_is_mailed_with_how_many_points_failed(manager, receivers):  # noqa: F811
    mail, _ = receivers
    plan = {"grid": {"fail": [True, False]}, "strategy": {"kind": "grid"}, "notify": NOTIFY[:1]}
    run_id = manager.submit("tiny.ipynb", plan, "local", background=False)
    assert manager.wait(run_id, interval=0.1)["state"] == "failed"
    (message,) = mail.wait()
    assert (
        message["Subject"]
        == f"[jupyter-mvdp] run {run_id} of {manager.document(run_id)['pipeline']} failed"
    )
    assert "Reason: 1 of 2 points failed" in message.get_body(("plain",)).get_content()


def test_a_receiver_that_fails_is_said_on_the_run_and_the_others_still_hear(
    manager,  # noqa: F811
    monkeypatch,
):
    with MailBox() as mail, WebhookReceiver(status=500) as hook:
        monkeypatch.setenv("AIRFLOW_CONN_MVDP_MAIL", mail.uri())
        monkeypatch.setenv("AIRFLOW_CONN_MVDP_HOOK", f'{{"host": "{hook.url}"}}')
        monkeypatch.setenv("AIRFLOW_CONN_MVDP_SLACK", f'{{"host": "{hook.url}", "password": "t"}}')
        run_id = manager.submit("tiny.ipynb", canary({"x": [1]}, 5), "local", background=False)
        doc = manager.wait(run_id, interval=0.1)
        assert len(mail.wait()) == 1
    assert doc["message"] == (
        "could not tell slack (mvdp_slack) of canary_alert: RuntimeError: "
        "127.0.0.1 answered HTTP 500; "
        "could not tell webhook (mvdp_hook) of canary_alert: RuntimeError: "
        "127.0.0.1 answered HTTP 500"
    )


def test_a_connection_the_local_target_lacks_is_said_before_the_run(manager, monkeypatch):  # noqa: F811
    monkeypatch.delenv("AIRFLOW_CONN_MVDP_MAIL", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_MVDP_HOOK", "http://127.0.0.1:9")
    monkeypatch.setenv("AIRFLOW_CONN_MVDP_SLACK", "slackwebhook://:token@hooks.slack.com")
    result = manager.validate("tiny.ipynb", canary({"x": [1]}, 5), "local")
    assert not result["valid"]
    assert result["errors"] == [
        {
            "field": "notify.0",
            "message": "the local target cannot tell email: it has no Airflow connection "
            "'mvdp_mail'; set AIRFLOW_CONN_MVDP_MAIL to its URI (e.g. "
            "smtp://user:password@mail.example.com:587) or JSON",
        }
    ]
    with pytest.raises(InvalidPlan, match=r"notify\.0: the local target cannot tell email"):
        manager.submit("tiny.ipynb", canary({"x": [1]}, 5), "local", background=False)
    assert manager.documents() == []  # nothing stored, nothing ran


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "smtp://us%40er:p%2Fw@mail.example.com:2525/x?disable_ssl=true&from_email=a%40b.c",
            ("smtp", "mail.example.com", 2525, "us@er", "p/w", "x", True, "a@b.c"),
        ),
        (
            '{"conn_type": "smtp", "host": "h", "port": "25", "login": "u", "password": "p",'
            ' "extra": "{\\"disable_ssl\\": false, \\"from_email\\": \\"a@b.c\\"}"}',
            ("smtp", "h", 25, "u", "p", None, False, "a@b.c"),
        ),
        (
            'http://h?__extra__={"disable_ssl": "yes"}',
            ("http", "h", None, None, None, None, True, None),
        ),
    ],
)
def test_connections_read_as_airflow_writes_them(value, expected):
    conn = connection("x", {"AIRFLOW_CONN_X": value})
    got = (conn.conn_type, conn.host, conn.port, conn.login, conn.password, conn.schema)
    assert (*got, conn.flag("disable_ssl"), conn.extra.get("from_email")) == expected
    assert "p/w" not in repr(conn) and connection("y", {}) is None
    with pytest.raises(ValueError, match="AIRFLOW_CONN_BAD is not a connection URI or JSON"):
        connection("bad", {"AIRFLOW_CONN_BAD": "{not json"})
