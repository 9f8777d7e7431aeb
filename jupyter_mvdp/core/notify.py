"""A plan's ``notify``: which channel hears of which event, through which connection.

Pure rules. The DAG delivers through Airflow's own notifiers (``SmtpNotifier``,
``SlackWebhookNotifier``, ``HttpNotifier``; render/templates/dag.py.j2), the local target
through the same kind of connection read from the environment (targets/local/notify.py).
What a channel is told is ``runtime.notice``: shipped with the DAG, so both say the same.
Credentials never appear here: a channel names an Airflow connection by id.
"""

from __future__ import annotations

from .contract import EVENTS
from .models import Notify, Plan

#: the plan field naming each channel's Airflow connection
CONNECTION_FIELD = {
    "email": "smtp_conn_id",
    "slack": "slack_webhook_conn_id",
    "webhook": "http_conn_id",
}
#: the connection each provider's notifier uses when none is named
DEFAULT_CONNECTION = {"email": "smtp_default", "slack": "slack_default", "webhook": "http_default"}


def connection_id(channel: Notify) -> str:
    """The Airflow connection ``channel`` delivers through."""
    return (
        getattr(channel, CONNECTION_FIELD[channel.channel]) or DEFAULT_CONNECTION[channel.channel]
    )


def listening(plan: Plan, event: str) -> list[Notify]:
    """The plan's channels told of ``event``."""
    return [c for c in plan.notify if event in c.on]


def end_events(state: str, outcome: str | None) -> list[str]:
    """The events a finished run raises: the canary's outcome, then the run's end (a run
    that failed, or one of whose points failed, is ``run_failed``; a cancelled run raises
    none: someone stopped it)."""
    events = []
    if outcome == "alert":
        events.append(EVENTS["alert"])
    elif outcome == "deploy":
        events.append(EVENTS["deployed"])
    if state == "failed":
        events.append(EVENTS["failed"])
    elif state == "success":
        events.append(EVENTS["succeeded"])
    return events


def listens_to_end(plan: Plan) -> bool:
    """Does a channel want the run's end (the DAG then has run callbacks)?"""
    return any(listening(plan, EVENTS[e]) for e in ("failed", "succeeded"))


def dag_settings(plan: Plan) -> list[dict]:
    """The channels as the DAG holds them (JSON data in its SETTINGS, never code)."""
    return [
        {
            "channel": c.channel,
            "on": list(c.on),
            "connection": connection_id(c),
            "to": list(c.to),
            "from_email": c.from_email,
            "endpoint": c.endpoint or "",
        }
        for c in plan.notify
    ]
