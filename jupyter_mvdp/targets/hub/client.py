"""The hub service's API (jupyter_mvdp/hub/handlers.py) as the ``hub`` target calls it: the
user's own hub token in the ``Authorization`` header, JSON in and out, the service's errors
raised again as the same ``MvdpError`` (a policy refusal stays a 403 naming its rule, an
unknown target a 404), so the user's server answers as if it had checked itself."""

from __future__ import annotations

import json
import os
from typing import Any

import requests

from ... import exceptions
from ...exceptions import MvdpError, TargetAuthError, TargetError, TargetUnreachable


def without_outputs(notebook: dict) -> dict:
    """The notebook as the service needs it: no outputs (papermill runs it again; outputs
    are not code and would only weigh on the request)."""
    out = dict(notebook)
    out["cells"] = [
        {**cell, "outputs": [], "execution_count": None}
        if isinstance(cell, dict) and cell.get("cell_type") == "code"
        else cell
        for cell in notebook.get("cells") or []
    ]
    return out


class ServiceClient:
    def __init__(self, url: str, token_env: str, timeout: float):
        self.url = url
        self.token_env = token_env
        self.timeout = timeout

    def _token(self) -> str:
        token = os.environ.get(self.token_env)
        if not token:
            raise TargetAuthError(
                f"${self.token_env} is not set: the hub target runs in a JupyterHub "
                "single-user server, which the hub gives its token"
            )
        return token

    def call(self, method: str, path: str, body: Any = None, raw: bool = False) -> Any:
        """``method <url><path>``: the JSON answer (bytes with ``raw``), None for a 404
        with ``raw``; a failure as the service's own error."""
        try:
            response = requests.request(
                method,
                self.url + path,
                data=None if body is None else json.dumps(body),
                headers={
                    "Authorization": f"token {self._token()}",
                    "Content-Type": "application/json",
                },
                timeout=self.timeout,
            )
        except requests.RequestException:
            raise TargetUnreachable(
                f"Cannot reach the jupyter-mvdp hub service at {self.url}"
            ) from None
        if raw and response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise self._error(response)
        return response.content if raw else response.json()

    def _error(self, response: requests.Response) -> MvdpError:
        try:
            doc = response.json()
        except ValueError:
            doc = {}
        message = str(doc.get("message") or f"HTTP {response.status_code}")
        cls = getattr(exceptions, str(doc.get("error")), None)
        if isinstance(cls, type) and issubclass(cls, MvdpError):
            return cls(message, errors=doc.get("errors"))
        if response.status_code in (401, 403):
            return TargetAuthError(f"The jupyter-mvdp hub service refused this server: {message}")
        if response.status_code >= 500:  # followed runs say so and are polled again
            return TargetUnreachable(f"The jupyter-mvdp hub service failed: {message}")
        return TargetError(f"The jupyter-mvdp hub service answered: {message}")
