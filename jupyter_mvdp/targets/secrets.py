"""How a target reads a credential, once for every target.

The server extension accepts a secret only by environment variable (``<name>_env``) or in a
file (``<name>_file``): traitlets logs its raw config, so an inline one would be in the log.
Both the Airflow and the Astro target read it by this one rule, so a credential that cannot be
read fails the same way everywhere: a TargetAuthError naming the setting, never the secret.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..exceptions import TargetAuthError


def credential(
    name: str, value: str | None = None, env: str | None = None, file: str | None = None
) -> str | None:
    """A credential given inline (CLI config, tests), by environment variable or in a file
    (the only two forms the server extension accepts), in that order; None when none is
    given (an unset variable counts as none). ``name`` is the setting (``password``,
    ``token``): an unreadable or empty ``<name>_file`` raises TargetAuthError naming it."""
    if value:
        return value
    if env and os.environ.get(env):
        return os.environ[env]
    if file:
        try:
            text = Path(file).read_text().strip()
        except OSError as e:
            raise TargetAuthError(
                f"Cannot read the credential file {file} ({name}_file): "
                f"{e.strerror or type(e).__name__}"
            ) from None
        except UnicodeDecodeError:
            raise TargetAuthError(
                f"Cannot read the credential file {file} ({name}_file): it is not text"
            ) from None
        if not text:
            raise TargetAuthError(f"The credential file {file} ({name}_file) is empty")
        return text
    return None
