"""The REST client's auth and error handling, without an Airflow: a stand-in API object."""

from __future__ import annotations

import pytest
from airflow_client.client.api_response import ApiResponse
from airflow_client.client.exceptions import ApiException

from jupyter_mvdp.exceptions import TargetAuthError, TargetUnreachable
from jupyter_mvdp.targets.airflow import client as client_module
from jupyter_mvdp.targets.airflow.client import AirflowClient, ApiError


def settings(**overrides):
    return {
        "api_url": "http://127.0.0.1:9",
        "username": None,
        "password": None,
        "token": "tok",
        **overrides,
    }


class FakeApi:
    """Answers ``get_dags`` from a list of outcomes, one a call (an ApiResponse as is)."""

    def __init__(self, outcomes):
        self.outcomes = list(outcomes)

    def get_dags_with_http_info(self, **kwargs):
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        if isinstance(outcome, ApiResponse):
            return outcome
        return ApiResponse(status_code=200, headers={}, data=outcome, raw_data=b"")


def with_api(client: AirflowClient, outcomes, monkeypatch) -> list:
    logins = []
    api = FakeApi(outcomes)

    def fake_api(name):
        if client._token is None:
            logins.append(name)
            client._token = "fresh"
        return api

    monkeypatch.setattr(client, "_api", fake_api)
    return logins


def test_an_expired_token_logs_in_again_once(monkeypatch):
    client = AirflowClient("a", settings(), 5)
    logins = with_api(client, [ApiException(status=401), "dags"], monkeypatch)
    assert client.call("DAGApi", "get_dags") == "dags" and logins == ["DAGApi"]


@pytest.mark.parametrize(
    ("outcomes", "error", "needle"),
    [
        ([ApiException(status=401), ApiException(status=401)], TargetAuthError, "(401)"),
        ([ApiException(status=403)], TargetAuthError, "check the target's credentials"),
        ([ApiException(status=500, reason="boom")], ApiError, "HTTP 500"),
        ([ConnectionRefusedError()], TargetUnreachable, "Cannot reach Airflow"),
    ],
)
def test_failures_become_target_errors(monkeypatch, outcomes, error, needle):
    client = AirflowClient("a", settings(), 5)
    with_api(client, outcomes, monkeypatch)
    with pytest.raises(error, match=needle.replace("(", r"\(").replace(")", r"\)")):
        client.call("DAGApi", "get_dags")


def test_no_credentials_is_an_auth_error_naming_the_target():
    client = AirflowClient("prod", settings(token=None), 5)
    with pytest.raises(TargetAuthError, match="'prod' has no credentials"):
        client.call("DAGApi", "get_dags")


def test_a_fixed_password_is_read_at_the_next_login():
    conf = settings(username="u", password="old", token=None)
    client = AirflowClient("prod", conf, 0.5)
    conf["password"] = "new"
    with pytest.raises(TargetUnreachable):  # nothing listens: the login is tried, with "new"
        client._fetch_token()
    assert client.settings["password"] == "new"


def test_airflows_clock_is_its_last_answers_date_while_fresh(monkeypatch):
    client = AirflowClient("a", settings(), 5)
    assert client.server_now() is None  # nothing heard yet
    date = {"Date": "Sun, 06 Dec 2026 16:11:10 GMT"}
    answer = ApiResponse(status_code=200, headers=date, data="dags", raw_data=b"")
    with_api(client, [answer], monkeypatch)
    assert client.call("DAGApi", "get_dags") == "dags"
    assert client.server_now().isoformat() == "2026-12-06T16:11:10+00:00"
    monkeypatch.setattr(client_module.time, "monotonic", lambda: 1e12)  # long after
    assert client.server_now() is None
