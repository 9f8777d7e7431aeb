"""Airflow's REST API with auth and errors handled once, for the rest of the target.

Every call the target makes goes through ``AirflowClient.call`` (apache-airflow-client) or,
where the client's models drop what we need, ``AirflowClient.get_json`` (plain REST): both log
in with the target's credentials, log in again on an expired token, and turn failures into
TargetErrors, so delivery, following and log reading never see an HTTP detail but ``ApiError``.
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from ...exceptions import MissingDependency, TargetAuthError, TargetError, TargetUnreachable


class ApiError(TargetError):
    def __init__(self, status: int, body: Any):
        super().__init__(f"Airflow answered HTTP {status}: {str(body)[:300]}")
        self.status = status


_CLOCK_FRESH = 5.0  # seconds: an older answer's Date says nothing of Airflow's now


class AirflowClient:
    """One Airflow deployment's API. ``settings`` is the target's own (read at each login,
    so a fixed password is picked up): ``api_url``, ``username``, ``password``, ``token``."""

    def __init__(self, name: str, settings: dict, timeout: float):
        self.name = name
        self.settings = settings
        self.timeout = timeout
        self._token: str | None = settings["token"]
        self._client = None
        self._date: tuple[datetime, float] | None = None  # (last answer's Date, when heard)

    def _fetch_token(self) -> str:
        s = self.settings
        if not s["username"] or not s["password"]:
            if s["token"]:
                return s["token"]
            raise TargetAuthError(
                f"Airflow target {self.name!r} has no credentials: set username + password or token"
            )
        try:
            response = requests.post(
                f"{s['api_url']}/auth/token",
                json={"username": s["username"], "password": s["password"]},
                timeout=self.timeout,
            )
        except requests.RequestException:
            raise TargetUnreachable(f"Cannot reach Airflow at {s['api_url']}") from None
        if response.status_code in (401, 403):
            raise TargetAuthError(
                f"Airflow at {s['api_url']} refused the login of {s['username']!r}: wrong user or password"
            )
        if response.status_code >= 300:
            raise TargetUnreachable(
                f"Airflow at {s['api_url']} answered HTTP {response.status_code} to the login"
            )
        return response.json()["access_token"]

    def _api(self, name: str):
        try:
            import airflow_client.client as client
        except ImportError:  # pragma: no cover - a declared dependency
            raise MissingDependency(
                "The Airflow target needs: pip install apache-airflow-client"
            ) from None
        if self._client is None or self._token is None:
            self._token = self._fetch_token()
            config = client.Configuration(host=self.settings["api_url"], access_token=self._token)
            config.retries = 0
            self._client = client.ApiClient(config)
        return getattr(client, name)(self._client)

    def call(self, api: str, method: str, *args, **kwargs):
        """Call the API; refresh the token once on 401; map failures to TargetErrors."""
        from airflow_client.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        for attempt in (1, 2):
            try:
                response = getattr(self._api(api), f"{method}_with_http_info")(
                    *args, _request_timeout=self.timeout, **kwargs
                )
                self._heard(response.headers or {})
                return response.data
            except ApiException as e:
                if e.status == 401 and attempt == 1:
                    self._token = None  # expired: log in again
                    continue
                if e.status in (401, 403):
                    raise TargetAuthError(
                        f"Airflow refused the request ({e.status}): check the target's credentials"
                    ) from None
                raise ApiError(e.status, e.body) from None
            except (Urllib3Error, OSError):
                # log in again once it answers: a restarted Airflow may have new credentials
                self._token = self._client = None
                raise TargetUnreachable(
                    f"Cannot reach Airflow at {self.settings['api_url']}"
                ) from None
        raise AssertionError("unreachable")

    def _heard(self, headers) -> None:
        date = next((v for k, v in headers.items() if k.lower() == "date"), None)
        with contextlib.suppress(TypeError, ValueError):  # no Date, or not one
            self._date = (parsedate_to_datetime(date), time.monotonic())

    def server_now(self) -> datetime | None:
        """Airflow's clock as the Date header of its latest answer gave it: whole seconds,
        so never ahead of Airflow's own now, whatever this machine's clock says. None when
        that answer is more than a few seconds old."""
        if self._date is None or time.monotonic() - self._date[1] > _CLOCK_FRESH:
            return None
        return self._date[0]

    def get_json(self, path: str, params: dict) -> Any:
        """``GET <api_url><path>`` as plain REST, for what the client's models drop."""
        self._api("TaskInstanceApi")  # makes sure a token is there
        try:
            response = requests.get(
                f"{self.settings['api_url']}{path}",
                params=params,
                headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException:
            raise TargetUnreachable(f"Cannot reach Airflow at {self.settings['api_url']}") from None
        if response.status_code == 401:
            self._token = None  # expired: the next call logs in again
        if response.status_code >= 300:
            raise ApiError(response.status_code, response.text)
        return response.json()

    def check(self) -> None:
        """Reachable and the credentials accepted (an authenticated call; health is public)."""
        self._token = self.settings["token"]
        self._client = None
        self.call("DAGApi", "get_dags", limit=1)
