"""The settings the README recommends to a deployment are the ones the harness runs with."""

from __future__ import annotations

import json
import re
from pathlib import Path

from jupyter_mvdp.cli import EXIT_BAD_INPUT, main
from jupyter_mvdp.targets.airflow.dev import (
    RECOMMENDED_CELERY_SETTINGS,
    RECOMMENDED_LOCAL_SETTINGS,
    RECOMMENDED_SETTINGS,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def recommended_section() -> str:
    text = README.read_text()
    start = text.index("### Recommended Airflow settings")
    end = text.index("\n##", start + 1)
    return text[start:end]


def test_readme_recommends_exactly_the_harness_settings():
    documented = dict(re.findall(r"^(AIRFLOW__[A-Z_]+)=(\S+)", recommended_section(), re.M))
    assert documented == {**RECOMMENDED_SETTINGS, **RECOMMENDED_CELERY_SETTINGS}
    local_settings = re.search(r"```python\n(.*?)```", recommended_section(), re.S)
    assert local_settings.group(1) == RECOMMENDED_LOCAL_SETTINGS


def test_dev_airflow_rejects_an_unknown_executor(capsys):
    assert main(["dev-airflow", "--executor", "kubernetes"]) == EXIT_BAD_INPUT
    assert "invalid choice: 'kubernetes'" in capsys.readouterr().err


def test_the_password_files_are_their_owners_only_from_the_start(tmp_path):
    """passwords.json holds the admin's password: never readable by others, not even for a
    moment between writing and a chmod."""
    import stat

    from jupyter_mvdp.targets.airflow.dev import DevAirflow

    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    (home / "passwords.json").write_text("{}")  # left by an earlier run, readable by all
    (home / "passwords.json").chmod(0o644)
    dev = DevAirflow(home=home, venv=tmp_path / "venv")
    dev.write_credentials()
    assert json.loads((home / "passwords.json").read_text()) == {dev.username: dev.password}
    assert dev.password_file.read_text() == dev.password
    for path in (home / "passwords.json", dev.password_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
