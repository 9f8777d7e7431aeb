"""Real receivers on loopback for the alerts: an SMTP server (aiosmtpd) and an HTTP server
that keeps what is posted to it. The local target and the Airflow workers send to them as
they would to a team's mail relay and webhook."""

from __future__ import annotations

import email
import json
import threading
import time
from email.message import EmailMessage
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jupyter_mvdp.targets.airflow.dev import free_port


class MailBox:
    """An SMTP server on 127.0.0.1 (no TLS, no auth: the connection says so); ``messages``
    holds what it received."""

    def __init__(self):
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"

    def __enter__(self) -> MailBox:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()

    def uri(self, from_email: str = "mvdp@example.com") -> str:
        """An Airflow smtp connection URI for this server (AIRFLOW_CONN_<ID>'s form)."""
        return (
            f"smtp://127.0.0.1:{self.port}?disable_ssl=true&disable_tls=true"
            f"&from_email={from_email}&timeout=10"
        )

    def wait(self, count: int = 1, timeout: float = 60) -> list[EmailMessage]:
        return _wait(lambda: self.messages if len(self.messages) >= count else None, timeout)


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 keeping every POST: (path, headers, JSON body)."""

    def __init__(self, status: int = 200):
        self.posts: list[tuple[str, dict, dict]] = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.posts.append((self.path, dict(self.headers), json.loads(body or b"{}")))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> WebhookReceiver:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, count: int = 1, timeout: float = 60) -> list[tuple[str, dict, dict]]:
        return _wait(lambda: self.posts if len(self.posts) >= count else None, timeout)


def _wait(found, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value is not None:
            return value
        time.sleep(0.1)
    raise AssertionError(f"nothing received in {timeout:g} s")
