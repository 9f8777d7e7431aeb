"""What the benches that measure through HTTP share: a real jupyter_server with the extension
configured (loopback, a token, its own store), waited for and stopped; and a loopback proxy
that counts the REST calls the server makes to Airflow."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from jupyter_mvdp.targets.airflow.dev import free_port


@contextlib.contextmanager
def jupyter_server(
    tmp: Path, root: Path, targets: dict, *options: str, token: str = "bench"
) -> Iterator[tuple[str, dict]]:
    """A jupyter_server serving ``root`` with ``targets`` (``c.MvdpApp.targets``) and
    ``options`` (command-line traits); yields its URL and the auth header."""
    config = Path(tmp, "config.py")
    config.write_text(f"import json\nc.MvdpApp.targets = json.loads({json.dumps(targets)!r})\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"token {token}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--config={config}",
         f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--ServerApp.open_browser=False", "--ServerApp.allow_root=True",
         f"--MvdpApp.db_path={Path(tmp, 'runs.sqlite')}", *options],
        stdout=open(Path(tmp, "server.log"), "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/api/status", headers=auth, timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "jupyter server did not start"
            assert server.poll() is None, f"jupyter server exited; see {tmp}/server.log"
            time.sleep(0.3)
        yield url, auth
    finally:
        server.terminate()
        server.wait(30)


class CountingProxy(ThreadingHTTPServer):
    """Forwards every request to ``upstream`` and counts the REST calls (not the login)."""

    def __init__(self, upstream: str):
        self.upstream, self.calls = upstream, []
        super().__init__(("127.0.0.1", 0), _Forward)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Forward(BaseHTTPRequestHandler):
    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
        if self.path.startswith("/api/v2/"):
            self.server.calls.append((time.time(), self.command, self.path.split("?")[0]))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
        upstream = requests.request(
            self.command, self.server.upstream + self.path, data=body, headers=headers, timeout=60
        )
        self.send_response(upstream.status_code)
        for k, v in upstream.headers.items():
            if k.lower() not in (
                "content-length",
                "transfer-encoding",
                "connection",
                "content-encoding",
            ):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(upstream.content)))
        self.end_headers()
        self.wfile.write(upstream.content)

    do_GET = do_POST = do_PATCH = do_DELETE = _forward

    def log_message(self, *args) -> None:
        pass
