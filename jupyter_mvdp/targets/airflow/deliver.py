"""Delivery: putting a pipeline where Airflow reads it, and waiting until Airflow serves it.

Airflow's API cannot upload a DAG, so the DAG file, the notebook and the runtime module are
written where the deployment reads them (fsspec URLs: a shared folder, ``s3://``,
``gs://``...); a file is only rewritten when it changed, since a rewrite makes Airflow parse
it again. A DAG is ready when Airflow serves that very file (the digest at the end of its
``doc_md``), not when a parse time passes; Airflow's own import error is surfaced meanwhile.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import time
from pathlib import Path

import fsspec

from ...core import notify
from ...core.models import RunSpec
from ...exceptions import DagImportError, DagNotParsed, DeployError
from ...render.dag import digest_of, runtime_files, runtime_module, version_digest
from ...service.paths import size_text
from ...service.snapshots import checked
from ..base import Progress
from .client import AirflowClient, ApiError


class Delivery:
    """Delivers to one deployment: its client, and the target's ``settings`` for where its
    DAGs folder is (``dags_location``) and how long a parse may take (``parse_timeout``)."""

    def __init__(self, client: AirflowClient, settings: dict):
        self.client = client
        self.settings = settings

    def deploy(
        self,
        spec: RunSpec,
        dag_id: str,
        version: dict,
        store: str,
        progress: Progress,
    ) -> None:
        """Write what changed (the run's notebooks, files and version in the ``store``, by
        content: ``ship``; the runtime module and the DAG in the DAGs folder), then wait until
        Airflow serves the DAG. A DAG Airflow already serves is not written again, so a
        re-run of a plan is triggered at once."""
        pool = spec.plan.executor.pool
        if pool and missing_pool(self.client, pool):  # else its tasks wait, without a word
            raise DeployError(
                f"Airflow at {self.settings['api_url']} has no pool {pool!r} (the plan's "
                "executor.pool): create it there (Admin > Pools) or leave the pool out of the plan"
            )
        lacking = missing_connections(self.client, spec.plan)
        if lacking:  # the run goes on; what it would tell goes nowhere, so say it now
            progress(lacking)
        served = self.served(dag_id)
        # a DAG already there and paused was paused by someone (ours are unpaused when
        # deployed): the run is triggered but the pause is theirs to lift
        spec.extra["admin_paused"] = bool(served and served.is_paused)
        ship(spec, dag_id, version, store, progress)
        for name, content in runtime_files().items():  # the rules the DAG imports
            _write_if_changed(f"{self.settings['dags_location']}/{name}", content)
        dag_file = f"{self.settings['dags_location']}/{spec.pipeline}.py"
        source = (spec.dag_source or "").encode()
        if serves(served, spec) and _holds(dag_file, source):
            progress("Airflow already has this DAG")  # and it is unpaused, or paused by someone
            return
        written = time.time()
        _write(dag_file, source)  # even when unchanged: a new mtime makes Airflow parse it now
        self.activate(spec, dag_id, dag_file, written, progress)

    def activate(
        self, spec: RunSpec, dag_id: str, dag_file: str, written: float, progress: Progress
    ) -> None:
        """After delivery (by any route): wait until Airflow parsed the DAG, then unpause it."""
        progress("waiting for Airflow to parse the DAG")
        self.wait_parsed(spec, dag_id, dag_file, written)
        from airflow_client.client import DAGPatchBody

        if spec.extra.get("admin_paused"):
            return
        self.client.call(
            "DAGApi",
            "patch_dag",
            dag_id,
            DAGPatchBody(is_paused=False),
            update_mask=["is_paused"],
        )

    def served(self, dag_id: str):
        """What Airflow serves as the pipeline's DAG (its details), or None when it has none."""
        try:
            return self.client.call("DAGApi", "get_dag_details", dag_id)
        except ApiError as e:
            if e.status != 404:
                raise
            return None

    def wait_parsed(self, spec: RunSpec, dag_id: str, dag_file: str, written: float) -> None:
        deadline = time.monotonic() + self.settings["parse_timeout"]
        name = posixpath.basename(dag_file)
        while time.monotonic() < deadline:
            errors = self.client.call("ImportErrorApi", "get_import_errors", filename_pattern=name)
            for error in errors.import_errors:
                if (
                    posixpath.basename(error.filename) == name
                    and error.timestamp.timestamp() >= written - 1
                ):
                    raise DagImportError(
                        f"Airflow could not import the DAG {name}: {_last_line(error.stack_trace)}"
                    )
            if serves(self.served(dag_id), spec):
                return
            time.sleep(0.2)
        raise DagNotParsed(
            f"Airflow did not pick up the DAG {dag_id} in {self.settings['parse_timeout']:g} s: "
            f"is {self.settings['dags_location']} the deployment's DAGs folder, and is the dag-processor running?"
        )

    def remove(self, pipeline: str, dag_id: str, timeout: float = 60.0) -> None:
        """Delete the DAG file first (else the dag-processor brings the DAG back), then the DAG.
        Airflow refuses (409) to delete a DAG whose tasks run: its runs are stopped first (the
        DAG paused, so its schedule starts none, and each unfinished run marked failed)."""
        fs, path = fsspec.core.url_to_fs(f"{self.settings['dags_location']}/{pipeline}.py")
        if fs.exists(path):
            fs.rm(path)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.client.call("DAGApi", "delete_dag", dag_id)
                return
            except ApiError as e:
                if e.status == 404:
                    return
                if e.status != 409 or time.monotonic() > deadline:
                    raise
            self._stop_runs(dag_id)
            time.sleep(1)

    def _stop_runs(self, dag_id: str) -> None:
        from airflow_client.client import DAGPatchBody, DAGRunPatchBody

        self.client.call(
            "DAGApi", "patch_dag", dag_id, DAGPatchBody(is_paused=True), update_mask=["is_paused"]
        )
        runs = self.client.call("DagRunApi", "get_dag_runs", dag_id, state=["queued", "running"])
        for run in runs.dag_runs:
            self.client.call(
                "DagRunApi",
                "patch_dag_run",
                dag_id,
                run.dag_run_id,
                DAGRunPatchBody(state="failed", note="the pipeline was removed"),
                update_mask=["state", "note"],
            )


def ship(spec: RunSpec, dag_id: str, version: dict, store: str, progress: Progress) -> None:
    """Put the run's version where its workers read it: ``<store>/objects/<sha256>`` for each
    input notebook (the bytes the run read at submit), file (checked against the digest the
    run names as it is read) and the runtime module, written only when the store does not
    hold it yet (a re-deploy ships no dataset again), then ``<store>/versions/<dag id>/
    <digest>.json``. Objects are never changed once written: a run in flight keeps reading
    its own."""
    objects: list[tuple[str, str, object]] = []  # (sha256, name, bytes or a local path)
    for entry in (version["notebook"], version["deploy_notebook"]):
        if entry is None:
            continue
        data = spec.snapshots.get(entry["sha256"])
        if data is None:
            raise DeployError(
                f"the run has no copy of {entry['input']} as it was submitted; productionize again"
            )
        objects.append((entry["sha256"], entry["input"], data))
    folder = Path(spec.notebook).parent
    for entry in version["files"]:
        objects.append((entry["sha256"], entry["path"], folder / entry["path"]))
    module, source = runtime_module()
    objects.append((version["runtime"]["sha256"], f"{module}.py", source.encode()))
    fs, base = fsspec.core.url_to_fs(store)
    missing = [o for o in objects if not fs.exists(f"{base}/objects/{o[0]}")]
    if missing:
        size = sum(
            len(o[2]) if isinstance(o[2], bytes) else Path(o[2]).stat().st_size for o in missing
        )
        progress(
            f"shipping {len(missing)} file{'s' if len(missing) > 1 else ''} ({size_text(size)})"
        )
    for sha256, name, content in missing:
        target = f"{base}/objects/{sha256}"
        if isinstance(content, bytes):
            _put(fs, target, io.BytesIO(content))
        else:
            with checked(content, sha256, name) as reader:
                _put(fs, target, reader)
    digest = version_digest(version)
    path = f"{base}/versions/{dag_id}/{digest}.json"
    if not fs.exists(path):
        _put(fs, path, io.BytesIO(json.dumps(version, sort_keys=True).encode()))


def _put(fs, path: str, reader) -> None:
    """Write what ``reader`` holds to ``path`` whole or not at all (a local folder: written
    aside, then renamed; an object store writes an object whole)."""
    fs.makedirs(posixpath.dirname(path), exist_ok=True)
    local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))
    aside = f"{posixpath.dirname(path)}/.{posixpath.basename(path)}.{os.getpid()}.tmp"
    try:
        with fs.open(aside if local else path, "wb") as out:
            while chunk := reader.read(1 << 20):
                out.write(chunk)
            reader.read()  # the end: a checked reader says here whether the bytes were right
        if local:
            os.replace(aside, path)
    except DeployError:
        for leftover in (aside, path) if not local else (aside,):
            if fs.exists(leftover):
                fs.rm(leftover)
        raise
    except OSError as e:
        raise DeployError(f"Cannot write {path}: {e}") from None
    finally:
        if local and os.path.exists(aside):
            os.remove(aside)


def missing_pool(client: AirflowClient, pool: str) -> bool:
    """Airflow has no pool of that name: a task placed in it is never scheduled (Airflow
    only logs it, in the scheduler's log)."""
    try:
        client.call("PoolApi", "get_pool", pool)
    except ApiError as e:
        if e.status != 404:
            raise
        return True
    return False


def missing_connections(client: AirflowClient, plan) -> str:
    """What to say of the plan's ``notify`` connections that Airflow's database lacks ("" if
    none): their alerts fail. Said, not refused: a secrets backend or an ``AIRFLOW_CONN_``
    variable may hold a connection that the REST API cannot see."""
    missing = []
    for i, channel in enumerate(plan.notify):
        conn = notify.connection_id(channel)
        try:
            client.call("ConnectionApi", "get_connection", conn)
        except ApiError as e:
            if e.status != 404:
                raise
            missing.append(
                f"{conn!r} (the plan's notify.{i}.{notify.CONNECTION_FIELD[channel.channel]})"
            )
    if not missing:
        return ""
    return (
        f"Airflow has no connection {', '.join(dict.fromkeys(missing))}: its alerts fail unless "
        "a secrets backend or an AIRFLOW_CONN_ variable defines it (Admin > Connections)"
    )


def serves(details, spec: RunSpec) -> bool:
    """Airflow parsed this very source: its doc_md ends with the source's digest (an
    exact test, unlike a parse time, which a parse begun before the write also passes)."""
    digest = digest_of(spec.dag_source)
    return (
        details is not None
        and digest is not None
        and digest_of(details.doc_md) == digest
        and not details.is_stale
    )


def _last_line(trace: str) -> str:
    lines = [line.strip() for line in (trace or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


def _holds(url: str, data: bytes) -> bool:
    try:
        with fsspec.open(url, "rb") as f:
            return f.read() == data
    except OSError:
        return False


def _write_if_changed(url: str, data: bytes) -> None:
    """Write ``data`` unless the file already holds it (a rewrite would make Airflow parse
    it again)."""
    if not _holds(url, data):
        _write(url, data)


def _write(url: str, data: bytes) -> None:
    """Write a file through fsspec; on a local folder atomically (write, then rename)."""
    fs, path = fsspec.core.url_to_fs(url)
    fs.makedirs(posixpath.dirname(path), exist_ok=True)
    if fs.protocol in ("file", ("file", "local")) or "file" in fs.protocol:
        tmp = posixpath.join(posixpath.dirname(path), f".{posixpath.basename(path)}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    else:
        try:
            with fs.open(path, "wb") as f:
                f.write(data)
        except OSError as e:
            raise DeployError(f"Cannot write {url}: {e}") from None
