"""A user's view of their single-user server through the hub's proxy: REST under
`/user/<name>/` with the user's own hub token, and the event websocket."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from urllib.parse import quote

import nbformat
from nbformat.v4 import new_code_cell, new_notebook
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from jupyter_mvdp.core.events import SCHEMA_ID

PARAMS = "x = 1  # the score this point records\nsleep = 0.0  # seconds to sleep"
BODY = "import time\nfrom jupyter_mvdp import record\ntime.sleep(sleep)\nrecord('score', x)"


def tiny_notebook() -> dict:
    nb = new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        }
    )
    nb.cells = [new_code_cell(PARAMS, metadata={"tags": ["parameters"]}), new_code_cell(BODY)]
    return json.loads(nbformat.writes(nb))


class UserClient:
    def __init__(self, hub_url: str, user: str, token: str):
        # JupyterHub's escaping of a name in its URLs (user.url): ann.lee, 张三, x@corp.com
        self.base = f"{hub_url}/user/{quote(user, safe='@~')}/"
        self.user, self.token = user, token
        self.http = AsyncHTTPClient()

    async def call(self, method: str, path: str, body=None, token: str | None = None):
        """(status, JSON body or None); never raises on an HTTP error status."""
        request = HTTPRequest(
            self.base + path,
            method=method,
            headers={"Authorization": f"token {token or self.token}"},
            body=None if body is None and method in ("GET", "DELETE") else json.dumps(body or {}),
            request_timeout=120,
        )
        try:
            response = await self.http.fetch(request)
        except HTTPClientError as e:
            response = e.response
            if response is None:
                raise
        text = response.body.decode() if response.body else ""
        return response.code, json.loads(text) if text else None

    async def put_notebook(self, path: str, content: dict) -> None:
        status, _ = await self.call(
            "PUT",
            f"api/contents/{path}",
            {"type": "notebook", "format": "json", "content": content},
        )
        assert status in (200, 201), status

    async def execute(self, code: str, timeout: float = 120) -> str:
        """Run ``code`` in a new kernel of the user's server (the kernels REST API and its
        websocket, as the lab does) and return what it printed; the kernel is shut down."""
        status, kernel = await self.call("POST", "api/kernels", {"name": "python3"})
        assert status == 201, kernel
        url = self.base.replace("http://", "ws://") + f"api/kernels/{kernel['id']}/channels"
        ws = await websocket_connect(
            HTTPRequest(url, headers={"Authorization": f"token {self.token}"})
        )
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": self.user,
            "session": uuid.uuid4().hex,
            "version": "5.3",
        }
        content = {
            "code": code,
            "silent": False,
            "store_history": False,  # nothing of it written to the user's home
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        message = {"header": header, "parent_header": {}, "metadata": {}, "content": content}
        ws.write_message(json.dumps({**message, "channel": "shell", "buffers": []}))
        out: list[str] = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                raw = await asyncio.wait_for(
                    ws.read_message(), timeout=max(1, deadline - time.monotonic())
                )
                assert raw is not None, "the kernel websocket closed"
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                if kind == "stream":
                    out.append(msg["content"]["text"])
                elif kind == "error":
                    raise AssertionError("\n".join(msg["content"]["traceback"]))
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    return "".join(out)
        finally:
            ws.close()
            await self.call("DELETE", f"api/kernels/{kernel['id']}")

    async def events(self):
        """The server's event stream (jupyter_server's /api/events/subscribe)."""
        url = self.base.replace("http://", "ws://") + "api/events/subscribe"
        return await websocket_connect(
            HTTPRequest(url, headers={"Authorization": f"token {self.token}"})
        )

    async def wait_run(self, ws, run_id: str, timeout: float = 180) -> list[dict]:
        """This run's events until its final state."""
        events: list[dict] = []
        deadline = time.monotonic() + timeout
        while not any(
            e["kind"] == "run" and e.get("state") in ("success", "failed", "cancelled")
            for e in events
        ):
            message = await asyncio.wait_for(
                ws.read_message(), timeout=max(1, deadline - time.monotonic())
            )
            assert message is not None, "the event websocket closed"
            event = json.loads(message)
            if event.get("schema_id") == SCHEMA_ID and event.get("run_id") == run_id:
                events.append(event)
        return events
