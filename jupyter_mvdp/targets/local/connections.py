"""Airflow connections, as the local target reads them: from the environment variable Airflow
itself reads, ``AIRFLOW_CONN_<CONN_ID>`` (a connection URI, or its JSON form), so a plan's
``notify`` names the same connection id locally as on Airflow and its credentials stay out of
the plan. Only what the notices need is read (type, host, port, login, password, schema,
extra)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass(frozen=True)
class Connection:
    conn_type: str | None = None
    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    schema: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def flag(self, key: str) -> bool:
        """An extra's yes/no (a URI carries it as text: ``?disable_ssl=true``)."""
        value = self.extra.get(key, False)
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)


def env_name(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def connection(conn_id: str, environ: Mapping[str, str] | None = None) -> Connection | None:
    """The connection ``conn_id`` from the environment, or None when it is not there.
    ValueError (naming the variable, never its value) when it does not read."""
    raw = (os.environ if environ is None else environ).get(env_name(conn_id))
    if not raw:
        return None
    try:
        return _from_json(json.loads(raw)) if raw.lstrip().startswith("{") else _from_uri(raw)
    except (ValueError, TypeError, KeyError):
        raise ValueError(f"{env_name(conn_id)} is not a connection URI or JSON") from None


def _from_json(doc: dict) -> Connection:
    extra = doc.get("extra") or {}
    return Connection(
        conn_type=doc.get("conn_type"),
        host=doc.get("host"),
        port=int(doc["port"]) if doc.get("port") else None,
        login=doc.get("login"),
        password=doc.get("password"),
        schema=doc.get("schema"),
        extra=json.loads(extra) if isinstance(extra, str) else dict(extra),
    )


def _from_uri(uri: str) -> Connection:
    """Airflow's URI form: ``type://login:password@host:port/schema?extra=...`` (or
    ``?__extra__=<JSON>``)."""
    parts = urlsplit(uri)
    if not parts.scheme:
        raise ValueError("no scheme")
    extra: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
    if "__extra__" in extra:
        extra = json.loads(extra["__extra__"])
    return Connection(
        conn_type=parts.scheme.replace("-", "_"),
        host=unquote(parts.hostname or "") or None,
        port=parts.port,
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        schema=unquote(parts.path.lstrip("/")) or None,
        extra=extra,
    )
