"""The plan's ``notify`` on the local target: the same events and the same message
(``runtime.notice``) as the DAG's notifiers, sent the way those notifiers send them, through
the same Airflow connections read from the environment (connections.py):

- email: the SMTP server of the connection, with SSL unless its extra says ``disable_ssl``
  and STARTTLS unless ``disable_tls``, as Airflow's ``SmtpHook``;
- slack: the incoming webhook of the connection (its password, a token or the whole URL), as
  ``SlackWebhookHook``;
- webhook: a JSON POST to the connection's base URL plus the endpoint, its extra as headers
  and its login as basic auth, as ``HttpHook``.

A connection the environment does not have is said before the run (``problems``).
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from urllib.parse import urlsplit

import requests

from ...core import notify, runtime, strategies
from ...core.contract import EVENTS
from ...core.models import Notify, Plan, PointStatus, RunSpec
from .connections import Connection, connection, env_name

_EXAMPLES = {
    "email": "smtp://user:password@mail.example.com:587",
    "slack": "slackwebhook://:T000%2FB000%2FXXXX@hooks.slack.com%2Fservices",
    "webhook": "https://hooks.example.com?Authorization=Bearer%20...",
}
#: HttpHook's options read from a connection's extra, not sent as headers
_HTTP_OPTIONS = frozenset(
    {"stream", "cert", "proxies", "proxy", "timeout", "verify", "verify_ssl", "allow_redirects"}
    | {"max_redirects", "trust_env", "check_response", "srv_lookup"}
)


def problems(plan: Plan) -> list[dict]:
    """Each channel whose connection the environment does not hold (or that does not read)."""
    found = []
    for i, channel in enumerate(plan.notify):
        conn_id = notify.connection_id(channel)
        try:
            there = connection(conn_id) is not None
            why = f"set {env_name(conn_id)} to its URI (e.g. {_EXAMPLES[channel.channel]}) or JSON"
        except ValueError as e:
            there, why = False, str(e)
        if not there:
            found.append(
                {
                    "field": f"notify.{i}",
                    "message": f"the local target cannot tell {channel.channel}: it has no "
                    f"Airflow connection {conn_id!r}; {why}",
                }
            )
    return found


def tell_run_end(
    spec: RunSpec,
    state: str,
    outcome: str | None,
    reason: str | None,
    points: dict[str, PointStatus],
) -> list[str]:
    """Tell the plan's channels how the run ended; returns what could not be told."""
    plan, strategy = spec.plan, spec.plan.strategy
    done = [(p, s.metrics) for p in spec.points if (s := points.get(p.id)) and s.state == "success"]
    top = strategies.best(done, strategy.metric, strategy.goal)
    best = {"id": top[0].id, "parameters": top[0].parameters, "value": top[1]} if top else None
    failed = sum(s.state == "failed" for s in points.values())

    def message(event: str) -> dict:
        why = reason
        if event == EVENTS["failed"] and failed:
            why = f"{failed} of {len(points)} points failed"
        run_end = event in (EVENTS["failed"], EVENTS["succeeded"])
        return runtime.notice(
            event,
            spec.pipeline,
            spec.run_id,
            metric=strategy.metric,
            best=best,
            reason=why,
            state=state if run_end else None,
            outcome=outcome,
        )

    return tell(plan, notify.end_events(state, outcome), message)


def tell(plan: Plan, events: list[str], message: Callable[[str], dict]) -> list[str]:
    """Send each event to the channels that listen to it; a channel that fails does not
    stop the others. Returns one line per failure (the connection's id, never its secret)."""
    failures = []
    for event in events:
        for channel in notify.listening(plan, event):
            conn_id = notify.connection_id(channel)
            try:
                conn = connection(conn_id)
                if conn is None:
                    raise LookupError(f"no connection {conn_id!r} ({env_name(conn_id)})")
                _SEND[channel.channel](channel, conn, message(event))
            except Exception as e:  # one channel down must not silence the others
                failures.append(
                    f"could not tell {channel.channel} ({conn_id}) of {event}: {type(e).__name__}: {e}"
                )
    return failures


def _email(channel: Notify, conn: Connection, message: dict) -> None:
    sender = channel.from_email or conn.extra.get("from_email")
    if not sender:
        raise ValueError("no from_email: set it in the plan or the connection's extra")
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = message["subject"], sender, ", ".join(channel.to)
    mail.set_content(message["text"])
    mail.add_alternative(runtime.notice_html(message), subtype="html")
    ssl = not conn.flag("disable_ssl")
    timeout = float(conn.extra.get("timeout", 30))
    client = smtplib.SMTP_SSL if ssl else smtplib.SMTP
    with client(conn.host or "localhost", conn.port or 0, timeout=timeout) as smtp:
        if not ssl and not conn.flag("disable_tls"):
            smtp.starttls()
        if conn.login:
            smtp.login(conn.login, conn.password or "")
        smtp.send_message(mail)


def _slack(channel: Notify, conn: Connection, message: dict) -> None:
    token = (conn.password or "").strip()
    if not token:
        raise ValueError("the connection has no password (the webhook's token or URL)")
    if "://" in token:
        url = token
    else:
        base = conn.host or ""
        if "://" not in base:
            base = f"{conn.schema or 'https'}://{conn.host or 'hooks.slack.com/services'}"
        url = base.rstrip("/") + "/" + token.lstrip("/")
    _post(url, {"text": message["text"]}, {}, None, conn)


def _webhook(channel: Notify, conn: Connection, message: dict) -> None:
    host = conn.host or ""
    base = host if "://" in host else f"{conn.schema or 'http'}://{host}"
    if conn.port:
        base = f"{base}:{conn.port}"
    endpoint = channel.endpoint or ""
    if base and not base.endswith("/") and endpoint and not endpoint.startswith("/"):
        url = f"{base}/{endpoint}"
    else:
        url = base + endpoint
    headers = {k: str(v) for k, v in conn.extra.items() if k not in _HTTP_OPTIONS}
    auth = (conn.login, conn.password or "") if conn.login else None
    _post(url, message, headers, auth, conn)


def _post(url: str, body: dict, headers: dict, auth, conn: Connection) -> None:
    """POST JSON; a failure names the host only (a webhook's path may be its secret)."""
    host = urlsplit(url).hostname
    try:
        response = requests.post(
            url, json=body, headers=headers, auth=auth, timeout=float(conn.extra.get("timeout", 30))
        )
    except requests.RequestException as e:
        raise ConnectionError(f"cannot reach {host} ({type(e).__name__})") from None
    if response.status_code >= 400:
        raise RuntimeError(f"{host} answered HTTP {response.status_code}")


_SEND = {"email": _email, "slack": _slack, "webhook": _webhook}
