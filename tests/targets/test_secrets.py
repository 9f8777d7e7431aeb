"""The one rule for reading a target's credential, and the Airflow and Astro targets on it."""

from __future__ import annotations

import pytest

from jupyter_mvdp.exceptions import TargetAuthError
from jupyter_mvdp.targets.airflow import AirflowTarget
from jupyter_mvdp.targets.astro import AstroTarget
from jupyter_mvdp.targets.secrets import credential

SECRET = "s3cr3t-value-91f2"
ENV = "MVDP_TEST_CREDENTIAL"


@pytest.mark.parametrize(
    ("inline", "env", "file", "expected"),
    [
        ("inline", SECRET, "holds", "inline"),  # inline wins (CLI config, tests)
        (None, SECRET, "holds", SECRET),  # then the environment variable
        (None, None, "holds", "from-file"),  # variable not set: the file, stripped
        (None, "", "holds", "from-file"),  # set but empty counts as not set
        (None, None, None, None),  # no variable, no file: no credential
        (None, "", None, None),
        (None, SECRET, None, SECRET),
    ],
)
def test_a_credential_is_taken_in_order(tmp_path, monkeypatch, inline, env, file, expected):
    if env is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, env)
    path = tmp_path / "secret"
    path.write_text("  from-file\n")
    got = credential("token", inline, ENV, str(path) if file else None)
    assert got == expected


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: None, "No such file or directory"),  # missing
        (lambda p: p.mkdir(), "Is a directory"),  # unreadable
        (lambda p: p.write_text(""), "is empty"),
        (lambda p: p.write_text(" \n\t\n"), "is empty"),
        (lambda p: p.write_bytes(b"\xff\xfe" + SECRET.encode() + b"\xff"), "it is not text"),
    ],
    ids=["missing", "unreadable", "empty", "blank", "not-text"],
)
def test_a_credential_file_that_cannot_be_used_is_an_auth_error(
    tmp_path, monkeypatch, make, needle
):
    monkeypatch.delenv(ENV, raising=False)
    path = tmp_path / "secret"
    make(path)
    with pytest.raises(TargetAuthError) as caught:
        credential("password", None, ENV, str(path))
    message = caught.value.message
    assert needle in message and "password_file" in message and str(path) in message
    assert "\n" not in message and SECRET not in message


def test_both_targets_read_their_credential_file_by_the_same_rule(tmp_path):
    missing = str(tmp_path / "nowhere")
    common = {"outputs_location": str(tmp_path)}
    airflow = {
        "api_url": "http://127.0.0.1:9",
        "dags_location": str(tmp_path),
        "notebooks_location": str(tmp_path),
    }
    astro = {"organization_id": "o", "deployment_id": "d", "airflow_url": "http://127.0.0.1:9"}
    with pytest.raises(TargetAuthError, match="token_file"):
        AirflowTarget("a", token_file=missing, **airflow, **common)
    with pytest.raises(TargetAuthError, match="password_file"):
        AirflowTarget("a", username="u", password_file=missing, **airflow, **common)
    with pytest.raises(TargetAuthError, match="token_file"):
        AstroTarget("b", token_env=ENV + "_UNSET", token_file=missing, **astro, **common)

    (tmp_path / "token").write_text(SECRET + "\n")
    target = AstroTarget(
        "b", token_env=ENV + "_UNSET", token_file=str(tmp_path / "token"), **astro, **common
    )
    assert target.settings["token"] == SECRET and SECRET not in str(target.describe())
