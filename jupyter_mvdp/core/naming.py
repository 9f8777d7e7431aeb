"""How things are named: users, pipelines (DAG ids, outputs folders, champions) and runs.

One module for the naming rules, so the lab, the CLI and the targets derive the same names.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import secrets
import subprocess
import time
import unicodedata
from pathlib import Path

#: a pipeline name a user may choose (the CLI's --pipeline): a valid Airflow DAG id
PIPELINE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")


def current_user() -> str:
    """JupyterHub's user where set (per-user servers), else the OS user."""
    return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()


#: Airflow's longest DAG id; ours stay well under it
DAG_ID_MAX = 250
_SLUG_MAX = 40


def _slug(text: str, fallback: str) -> str:
    """A readable ASCII part of an id: accents dropped, other scripts as their code points,
    anything else ``_``. Readable only: two texts may share a slug (the digest tells them
    apart)."""
    out = []
    for ch in unicodedata.normalize("NFKD", text):
        if ch.isascii() and (ch.isalnum() or ch in "._-"):
            out.append(ch)
        elif unicodedata.combining(ch):
            continue  # the accent of a decomposed letter: é -> e
        elif ch.isalnum():
            out.append(f"u{ord(ch):x}")  # 张 -> u5f20
        else:
            out.append("_")
    slug = "_".join(part for part in "".join(out).split("_") if part).strip(".-")
    return slug[:_SLUG_MAX].rstrip("._-") or fallback


def pipeline_id(user: str, notebook: str) -> str:
    """The pipeline of ``user``'s ``notebook`` (its path relative to the root): the DAG id,
    the outputs folder and the champion's key. Injective over (user, notebook): the digest
    covers both exactly (case, punctuation, script), so ``ann.lee`` and ``ann_lee``, or
    ``张三`` and ``李四``, never share a pipeline; the readable parts are for people. A valid
    Airflow DAG id (``[A-Za-z0-9_.-]``, under 250 characters), stable for a user and path."""
    digest = hashlib.sha256(json.dumps([user, notebook]).encode()).hexdigest()[:16]
    who = _slug(user, "user")
    stem = _slug(Path(notebook).stem, "notebook")
    return f"mvdp_{who}_{stem}_{digest}"


def legacy_pipeline_id(user: str, notebook: str) -> str:
    """The pipeline id of jupyter-mvdp before 2026-12 (not injective: ``ann.lee`` and
    ``ann_lee`` shared it), kept to carry a pipeline's champion over to its new id."""
    stem = re.sub(r"[^A-Za-z0-9_]+", "_", Path(notebook).stem).strip("_") or "notebook"
    who = re.sub(r"[^A-Za-z0-9_]+", "_", user).strip("_") or "user"
    digest = hashlib.sha1(notebook.encode()).hexdigest()[:6]
    return f"mvdp_{who}_{stem}_{digest}"


def is_pipeline_name(name: str) -> bool:
    """Can a user name a pipeline ``name``?"""
    return PIPELINE_NAME.fullmatch(name) is not None


def project_root(path: Path) -> Path:
    """The root the pipeline id and the outputs are relative to, whatever the working
    directory: the git repository holding ``path``, else its folder. Run from the root of a
    Jupyter server, the CLI and the lab name a notebook's pipeline the same."""
    folder = path if path.is_dir() else path.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return folder
    top = out.stdout.strip()
    return Path(top).resolve() if out.returncode == 0 and top else folder


#: what ``new_run_id`` makes: a time and 64 random bits
RUN_ID = re.compile(r"\d{8}T\d{6}-[0-9a-f]{16}")


def is_run_id(text: object) -> bool:
    """Is ``text`` a run id as ``new_run_id`` makes them (a client may propose one)?"""
    return isinstance(text, str) and RUN_ID.fullmatch(text) is not None


def new_run_id() -> str:
    """Sortable by time, unique by 64 random bits (a clash needs ~4 billion runs a second)."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(8)
