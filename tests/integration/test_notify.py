"""Alerts reach people through Airflow's own notifiers, on a real Airflow 3: a canary alert
is mailed by the smtp provider's SmtpNotifier to an SMTP server on loopback (aiosmtpd),
posted by the http provider's HttpNotifier to an HTTP receiver and by the slack provider's
SlackWebhookNotifier to the same receiver as Slack's incoming webhook, through connections created
with Airflow's REST API (the plan names them by id; no credential is in the plan or the
DAG); the run's end reaches the webhook through the DAG's own callback."""

from __future__ import annotations

import json

import pytest
import requests

from jupyter_mvdp.core.policy import Policies
from tests.receivers import MailBox, WebhookReceiver
from tests.targets.test_local import write_notebook


def add_connection(airflow, conn: dict) -> None:
    headers = {"Authorization": f"Bearer {airflow.token()}"}
    url = f"{airflow.url}/api/v2/connections"
    requests.delete(f"{url}/{conn['connection_id']}", headers=headers, timeout=10)
    response = requests.post(url, json=conn, headers=headers, timeout=10)
    assert response.status_code == 201, response.text


@pytest.fixture
def receivers(airflow):
    with MailBox() as mail, WebhookReceiver() as hook:
        add_connection(
            airflow,
            {
                "connection_id": "mvdp_test_mail",
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": mail.port,
                "extra": json.dumps(
                    {"disable_ssl": True, "disable_tls": True, "from_email": "airflow@example.com"}
                ),
            },
        )
        add_connection(  # Slack's incoming webhook, pointed at the receiver
            airflow,
            {
                "connection_id": "mvdp_test_slack",
                "conn_type": "slackwebhook",
                "host": hook.url,
                "password": "T000/B000/XXXX",
            },
        )
        add_connection(
            airflow,
            {
                "connection_id": "mvdp_test_hook",
                "conn_type": "http",
                "host": "127.0.0.1",
                "port": hook.port,
                "schema": "http",
                "extra": json.dumps({"X-Team": "ml"}),
            },
        )
        yield mail, hook


def test_a_canary_alert_is_mailed_and_posted_by_airflows_notifiers(
    manager, airflow, workspace, receivers
):
    mail, hook = receivers
    manager.policies = Policies(
        {"connections": ["mvdp_test_mail", "mvdp_test_slack", "mvdp_test_hook"]}
    )
    write_notebook(workspace / "tiny.ipynb")
    plan = {
        "grid": {"x": [1, 3]},
        "strategy": {"kind": "canary", "metric": "score", "baseline": 10},
        "notify": [
            {
                "channel": "email",
                "on": ["canary_alert"],
                "to": ["ops@example.com"],
                "smtp_conn_id": "mvdp_test_mail",
            },
            {
                "channel": "slack",
                "on": ["canary_alert"],
                "slack_webhook_conn_id": "mvdp_test_slack",
            },
            {
                "channel": "webhook",
                "on": ["canary_alert", "run_succeeded"],
                "http_conn_id": "mvdp_test_hook",
                "endpoint": "/hooks/mvdp",
            },
        ],
        "timeout": 300,
    }
    run_id = manager.submit("tiny.ipynb", plan, "airflow", background=False)
    doc = manager.wait(run_id, interval=0.5)
    assert doc["state"] == "success" and doc["outcome"] == "alert", doc["message"]
    dag = manager.dag_source(run_id)
    assert "127.0.0.1" not in dag and "mvdp_test_mail" in dag  # a connection id, no address

    (message,) = mail.wait(timeout=120)
    assert mail.envelopes == [("airflow@example.com", ["ops@example.com"])]
    pipeline, best = doc["pipeline"], doc["best"]
    assert message["Subject"] == (
        f"[jupyter-mvdp] canary alert on {pipeline}: the new model is not deployed"
    )
    body = message.get_body(("html", "plain")).get_content()
    for line in (
        f"Pipeline: {pipeline}",
        f"Run: {run_id}",
        "Outcome: alert (the candidate is not deployed)",
        f"Reason: {doc['reason']}",
        f"Best point: {best['id']} (x=3)",
        "score: 3",
    ):
        assert line in body, body

    # the alert's task callback (Slack, the webhook), the DAG's callback (the webhook)
    posts = hook.wait(count=3, timeout=180)
    (slack,) = [body for path, _, body in posts if path == "/T000/B000/XXXX"]
    assert slack["text"].startswith(f"Pipeline: {pipeline}\nRun: {run_id}\n")
    by_event = {post[2]["event"]: post for post in posts if "event" in post[2]}
    path, headers, alert = by_event["canary_alert"]
    assert path == "/hooks/mvdp" and headers["X-Team"] == "ml"
    assert alert["pipeline"] == pipeline and alert["run_id"] == run_id
    assert alert["reason"] == doc["reason"] and alert["outcome"] == "alert"
    assert alert["best"] == {"id": best["id"], "parameters": {"x": 3}, "value": 3}
    _, _, end = by_event["run_succeeded"]
    assert end["run_id"] == run_id and end["state"] == "success"
