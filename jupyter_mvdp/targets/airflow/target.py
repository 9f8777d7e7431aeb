"""An Airflow 3 deployment as a target, through its REST API (apache-airflow-client).

Airflow's API cannot upload a DAG, so ``deploy`` writes the DAG file and the notebook where
the deployment reads them (fsspec URLs: a shared folder, ``s3://``, ``gs://``...), then waits
through the API until Airflow serves that very file (the digest at the end of the DAG's
``doc_md``), surfacing Airflow's own import error when there is one. A DAG Airflow already
serves is not written again, so a re-run of a plan is triggered at once. ``poll`` reads the
task instances that changed since the last poll (one page whatever the grid size) and the DAG
run only when no task is busy or every few polls. Outputs come back through fsspec from the
outputs location.
"""

from __future__ import annotations

import os
import posixpath
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec
import requests

from ...core import contract
from ...core.models import PointStatus, RunSpec, Snapshot
from ...core.params import shipped_notebook
from ...exceptions import (
    DagImportError,
    DagNotParsed,
    DeployError,
    MissingDependency,
    TargetAuthError,
    TargetError,
    TargetUnreachable,
)
from ...render.dag import digest_of, runtime_files
from ..base import Progress, Target, _silent, register

_POINT_STATES = {
    "success": "success",
    "failed": "failed",
    "upstream_failed": "failed",
    "skipped": "skipped",
    "removed": "skipped",
    "running": "running",
    "restarting": "running",
    "up_for_retry": "running",
    "up_for_reschedule": "running",
    "deferred": "running",
}
_CANCEL_NOTE = "cancelled from jupyter-mvdp"
_BUSY = (  # a task in these states: its DAG run has not ended
    "running",
    "queued",
    "scheduled",
    "restarting",
    "deferred",
    "up_for_reschedule",
    "up_for_retry",
)


def _secret(value: str | None, env: str | None, file: str | None) -> str | None:
    """A credential given inline (CLI config, tests), by environment variable or in a file
    (the only two forms the server extension accepts)."""
    if value:
        return value
    if env and os.environ.get(env):
        return os.environ[env]
    if file:
        try:
            return Path(file).read_text().strip()
        except OSError as e:
            raise TargetAuthError(f"Cannot read the credential file {file}: {e.strerror}") from None
    return None


@register
class AirflowTarget(Target):
    """Settings: ``api_url``; ``username`` + ``password`` (or ``password_env`` /
    ``password_file``) or ``token`` (or ``token_env`` / ``token_file``); ``dags_location``,
    ``notebooks_location``, ``outputs_location`` as
    the workers see them (fsspec URLs); ``kernel_name``; ``dag_id_prefix``; ``parse_timeout``."""

    kind = "airflow"
    secret_settings = ("password", "token")
    page_size = 100  # task instances per API call (Airflow's default page)
    changed_margin = 10.0  # seconds: see _task_instances
    full_every = 30  # polls: a full read now and then, whatever the clocks say
    run_every = 5  # polls: the DAG run is read at least this often while tasks run

    def __init__(
        self,
        name: str | None = None,
        *,
        api_url: str,
        dags_location: str,
        notebooks_location: str,
        outputs_location: str,
        username: str | None = None,
        password: str | None = None,
        password_env: str | None = None,
        password_file: str | None = None,
        token: str | None = None,
        token_env: str | None = None,
        token_file: str | None = None,
        kernel_name: str | None = None,
        dag_id_prefix: str = "",
        parse_timeout: float = 120,
        request_timeout: float = 10,
        **settings: Any,
    ):
        super().__init__(
            name,
            api_url=api_url.rstrip("/"),
            dags_location=dags_location.rstrip("/"),
            notebooks_location=notebooks_location.rstrip("/"),
            outputs_location=outputs_location.rstrip("/"),
            username=username,
            password=_secret(password, password_env, password_file),
            token=_secret(token, token_env, token_file),
            kernel_name=kernel_name,
            dag_id_prefix=dag_id_prefix,
            parse_timeout=parse_timeout,
            **settings,
        )
        self.timeout = request_timeout
        self._token: str | None = self.settings["token"]
        self._client = None
        self._following: dict[str, _Following] = {}  # run id -> what polling keeps of it

    # --- the API, with auth and errors handled once ----------------------------------

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

    def _call(self, api: str, method: str, *args, **kwargs):
        """Call the API; refresh the token once on 401; map failures to TargetErrors."""
        from airflow_client.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        for attempt in (1, 2):
            try:
                return getattr(self._api(api), method)(
                    *args, _request_timeout=self.timeout, **kwargs
                )
            except ApiException as e:
                if e.status == 401 and attempt == 1:
                    self._token = None  # expired: log in again
                    continue
                if e.status in (401, 403):
                    raise TargetAuthError(
                        f"Airflow refused the request ({e.status}): check the target's credentials"
                    ) from None
                raise _ApiError(e.status, e.body) from None
            except (Urllib3Error, OSError):
                # log in again once it answers: a restarted Airflow may have new credentials
                self._token = self._client = None
                raise TargetUnreachable(
                    f"Cannot reach Airflow at {self.settings['api_url']}"
                ) from None
        raise AssertionError("unreachable")

    def check(self) -> None:
        """Reachable and the credentials accepted (an authenticated call; health is public)."""
        self._token = self.settings["token"]
        self._client = None
        self._call("DAGApi", "get_dags", limit=1)

    # --- deploy -----------------------------------------------------------------------

    def locations(self, spec: RunSpec) -> tuple[str, str]:
        s = self.settings
        return (
            f"{s['notebooks_location']}/{spec.pipeline}.ipynb",
            f"{s['outputs_location']}/{spec.pipeline}",
        )

    def deploy_location(self, spec: RunSpec) -> str | None:
        if not spec.deploy_notebook:
            return None
        return f"{self.settings['notebooks_location']}/{spec.pipeline}.deploy.ipynb"

    def dag_id(self, spec: RunSpec) -> str:
        return self.settings["dag_id_prefix"] + spec.pipeline

    def render(self, spec: RunSpec) -> str:
        from dataclasses import replace

        return super().render(replace(spec, pipeline=self.dag_id(spec)))

    def deploy(self, spec: RunSpec, progress: Progress = _silent) -> None:
        self.check()
        served = self._served(spec)
        # a DAG already there and paused was paused by someone (ours are unpaused when
        # deployed): the run is triggered but the pause is theirs to lift
        spec.extra["admin_paused"] = bool(served and served.is_paused)
        notebook, _ = self.locations(spec)
        _write_if_changed(notebook, shipped_notebook(spec.notebook))  # no stale injected cells
        if spec.deploy_notebook:
            _write_if_changed(self.deploy_location(spec), shipped_notebook(spec.deploy_notebook))
        for name, content in runtime_files().items():  # the rules the DAG imports
            _write_if_changed(f"{self.settings['dags_location']}/{name}", content)
        dag_file = f"{self.settings['dags_location']}/{spec.pipeline}.py"
        source = (spec.dag_source or "").encode()
        if self._serves(served, spec) and _holds(dag_file, source):
            progress("Airflow already has this DAG")  # and it is unpaused, or paused by someone
            return
        written = time.time()
        _write(dag_file, source)  # even when unchanged: a new mtime makes Airflow parse it now
        self._activate(spec, dag_file, written, progress)

    def _activate(self, spec: RunSpec, dag_file: str, written: float, progress: Progress) -> None:
        """After delivery (by any route): wait until Airflow parsed the DAG, then unpause it."""
        progress("waiting for Airflow to parse the DAG")
        self._wait_parsed(spec, dag_file, written)
        from airflow_client.client import DAGPatchBody

        if spec.extra.get("admin_paused"):
            return
        self._call(
            "DAGApi",
            "patch_dag",
            self.dag_id(spec),
            DAGPatchBody(is_paused=False),
            update_mask=["is_paused"],
        )

    def _served(self, spec: RunSpec):
        """What Airflow serves as the pipeline's DAG (its details), or None when it has none."""
        try:
            return self._call("DAGApi", "get_dag_details", self.dag_id(spec))
        except _ApiError as e:
            if e.status != 404:
                raise
            return None

    @staticmethod
    def _serves(details, spec: RunSpec) -> bool:
        """Airflow parsed this very source: its doc_md ends with the source's digest (an
        exact test, unlike a parse time, which a parse begun before the write also passes)."""
        digest = digest_of(spec.dag_source)
        return (
            details is not None
            and digest is not None
            and digest_of(details.doc_md) == digest
            and not details.is_stale
        )

    def _wait_parsed(self, spec: RunSpec, dag_file: str, written: float) -> None:
        dag_id = self.dag_id(spec)
        deadline = time.monotonic() + self.settings["parse_timeout"]
        name = posixpath.basename(dag_file)
        while time.monotonic() < deadline:
            errors = self._call("ImportErrorApi", "get_import_errors", filename_pattern=name)
            for error in errors.import_errors:
                if (
                    posixpath.basename(error.filename) == name
                    and error.timestamp.timestamp() >= written - 1
                ):
                    raise DagImportError(
                        f"Airflow could not import the DAG {name}: {_last_line(error.stack_trace)}"
                    )
            if self._serves(self._served(spec), spec):
                return
            time.sleep(0.2)
        raise DagNotParsed(
            f"Airflow did not pick up the DAG {dag_id} in {self.settings['parse_timeout']:g} s: "
            f"is {self.settings['dags_location']} the deployment's DAGs folder, and is the dag-processor running?"
        )

    def trigger(self, spec: RunSpec) -> None:
        from airflow_client.client import TriggerDAGRunPostBody

        conf = {}  # the points are the DAG's own (it maps them when the run is created)
        if spec.plan.strategy.kind == "canary":
            conf["baseline"] = (
                spec.plan.strategy.baseline
                if spec.plan.strategy.baseline is not None
                else spec.champion
            )
        body = TriggerDAGRunPostBody(dag_run_id=spec.run_id, conf=conf, logical_date=None)
        self._call("DagRunApi", "trigger_dag_run", self.dag_id(spec), body)
        spec.extra["dag_run_id"] = spec.run_id

    # --- follow -----------------------------------------------------------------------

    def _task_instances(self, spec: RunSpec, full: bool = False) -> list:
        """The run's task instances. After a first full read, only those Airflow updated
        since the last poll (minus ``changed_margin`` seconds for clock skew and commits
        landing late), merged into what was seen: one page per poll whatever the grid size.
        ``full`` (and every ``full_every`` polls) reads them all again."""
        follow = self._follow(spec)
        follow.polls += 1
        asked_at = time.time()
        since = None
        if follow.seen is not None and not full and follow.polls % self.full_every:
            since = datetime.fromtimestamp(follow.asked - self.changed_margin, UTC)
        found, offset = {}, 0
        while True:
            page = self._call(
                "TaskInstanceApi",
                "get_task_instances",
                self.dag_id(spec),
                spec.run_id,
                limit=self.page_size,
                offset=offset,
                **({"updated_at_gte": since} if since else {}),
            )
            found.update({(ti.task_id, ti.map_index): ti for ti in page.task_instances})
            offset += len(page.task_instances)
            if not page.task_instances or offset >= (page.total_entries or 0):
                break
        follow.seen = {**(follow.seen or {}), **found} if since else found
        follow.asked = asked_at
        return list(follow.seen.values())

    def _follow(self, spec: RunSpec) -> _Following:
        return self._following.setdefault(spec.run_id, _Following())

    def forget(self, run_id: str) -> None:
        """Drop what polling kept of a run (once it ended, it is all in the run store)."""
        self._following.pop(run_id, None)

    def poll(self, spec: RunSpec) -> Snapshot:
        """One call while tasks are busy (the task instances that changed); the DAG run
        itself is read when none is (it may have ended) and every ``run_every`` polls (a
        cancel or a deletion made in Airflow)."""
        follow = self._follow(spec)
        try:
            tis = self._task_instances(spec)
            busy = any(_value(ti.state) in _BUSY for ti in tis)
            run_state = "running"
            if not busy or follow.polls % self.run_every == 1:
                run = self._call("DagRunApi", "get_dag_run", self.dag_id(spec), spec.run_id)
                run_state = _value(run.state)
        except _ApiError as e:
            if e.status != 404:
                raise
            self.forget(spec.run_id)
            return self._gone(spec)
        finished = run_state in ("success", "failed")
        if finished:  # the last snapshot: every task read again
            tis = self._task_instances(spec, full=True)
        first_index = dict(contract.papermill_tasks(spec.plan, len(spec.points)))
        points = {p.id: PointStatus(state="queued") for p in spec.points}
        for ti in tis:
            if ti.task_id not in first_index or ti.map_index is None or ti.map_index < 0:
                continue
            index = first_index[ti.task_id] + ti.map_index
            if index >= len(spec.points):
                continue
            state = _POINT_STATES.get(_value(ti.state), "queued")
            tries = self._tries(spec, ti)
            points[spec.points[index].id] = PointStatus(
                state=state,
                # a failure says why (its log); a retry under way or a success after one, too
                error=(tries[-1]["error"] if tries else None)
                if state == "failed"
                else _tries_note(ti),
                started=ti.start_date.timestamp() if ti.start_date else None,
                finished=ti.end_date.timestamp() if ti.end_date else None,
                tries=tries,
            )
        if finished:  # points that never got a task instance (early stop) were skipped
            for pid, status in points.items():
                if status.state in ("queued", "running"):
                    points[pid] = PointStatus(state="skipped")
        snapshot = Snapshot(state="running", points=points)
        if finished:
            self.forget(spec.run_id)
            snapshot.outcome, snapshot.reason = self._decision(spec, tis)
            note = getattr(run, "note", None) or ""
            if note.startswith(_CANCEL_NOTE):
                snapshot.state = "cancelled"
                snapshot.message = note.removeprefix(_CANCEL_NOTE).lstrip(": ") or None
            elif run_state == "failed":
                snapshot.state, snapshot.message = (
                    "failed",
                    f"the Airflow DAG run {spec.run_id} failed",
                )
            else:
                snapshot.state = (
                    "failed" if any(p.state == "failed" for p in points.values()) else "success"
                )
        elif run_state == "queued" and not busy:  # nothing runs: paused? (asked now and then)
            if follow.polls % self.run_every == 1 or follow.paused is None:
                follow.paused = self._paused_message(spec) or ""
            snapshot.message = follow.paused or None
        return snapshot

    def _gone(self, spec: RunSpec) -> Snapshot:
        """The DAG run is not in Airflow any more: the DAG (or the run) was deleted there."""
        try:
            self._call("DAGApi", "get_dag", self.dag_id(spec))
        except _ApiError as e:
            if e.status != 404:
                raise
            what = f"the DAG {self.dag_id(spec)} was deleted from Airflow"
        else:
            what = f"the DAG run {spec.run_id} was deleted from Airflow"
        return Snapshot(
            state="failed",
            points={},
            message=f"{what} while the run was going on; productionize the pipeline again",
        )

    def _paused_message(self, spec: RunSpec) -> str | None:
        """Nothing runs: say so when the DAG is paused (an admin did it; we do not undo it)."""
        try:
            dag = self._call("DAGApi", "get_dag", self.dag_id(spec))
        except _ApiError:  # gone: the next poll says so (the DAG run is gone too)
            return None
        if not dag.is_paused:
            return None
        return (
            f"the DAG {self.dag_id(spec)} is paused in Airflow: this run waits until someone "
            "unpauses it there"
        )

    def _tries(self, spec: RunSpec, ti) -> list[dict]:
        """Each try of one mapped task instance: state, error (from its log), times. One
        call for the tries' history, only for a task that was tried more than once."""
        state = _value(ti.state)
        if state in (None, "scheduled", "queued", "none") and ti.try_number <= 1:
            return []
        history, known = [], self._follow(spec).history
        if ti.try_number > 1:
            at = (ti.task_id, ti.map_index, ti.try_number)
            if at not in known:
                found = self._call(
                    "TaskInstanceApi",
                    "get_mapped_task_instance_tries",
                    self.dag_id(spec),
                    spec.run_id,
                    ti.task_id,
                    ti.map_index,
                ).task_instances
                known[at] = [h for h in found if h.try_number < ti.try_number]
            history = known[at]
        tries = []
        for entry in [*history, ti]:
            entry_state = _value(entry.state)
            failed = entry_state in ("failed", "up_for_retry", "upstream_failed")
            tries.append(
                {
                    "try": max(entry.try_number, 1),
                    "state": "failed" if failed else _POINT_STATES.get(entry_state, "queued"),
                    "error": self._error(spec, entry) if failed else None,
                    "started": entry.start_date.timestamp() if entry.start_date else None,
                    "finished": entry.end_date.timestamp() if entry.end_date else None,
                }
            )
        return tries

    def _error(self, spec: RunSpec, ti) -> str:
        """Why one try failed: the first meaningful line of its log (the notebook's
        exception, a timeout, a lost heartbeat...), read once."""
        follow = self._follow(spec)
        key = (ti.task_id, ti.map_index, max(ti.try_number, 1))
        if key in follow.said:
            return follow.said[key]
        fallback = f"Airflow task {ti.task_id}[{ti.map_index}] {_value(ti.state)}"
        try:
            lines = self._log_lines(spec, ti.task_id, ti.map_index, key[-1])
        except TargetError:
            return fallback  # not kept: asked again at the next poll
        why = why_failed(lines)
        follow.log_reads[key] = follow.log_reads.get(key, 0) + 1
        if why is None and follow.log_reads[key] < 5:  # the log may still be being written
            return f"{fallback}; its log says no more"
        follow.said[key] = why or f"{fallback}; its log says no more"
        return follow.said[key]

    def _log_lines(self, spec: RunSpec, task_id: str, map_index: int, try_number: int) -> list:
        """The structured lines of one try's log (plain REST: the client's log model drops
        ``error_detail``, where Airflow 3 keeps the exception)."""
        self._api("TaskInstanceApi")  # makes sure a token is there
        url = (
            f"{self.settings['api_url']}/api/v2/dags/{self.dag_id(spec)}/dagRuns/{spec.run_id}"
            f"/taskInstances/{task_id}/logs/{try_number}"
        )
        try:
            response = requests.get(
                url,
                params={"map_index": map_index, "full_content": "true"},
                headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException:
            raise TargetUnreachable(f"Cannot reach Airflow at {self.settings['api_url']}") from None
        if response.status_code == 401:
            self._token = None  # expired: the next call logs in again
        if response.status_code >= 300:
            raise _ApiError(response.status_code, response.text)
        content = response.json().get("content", [])
        return content if isinstance(content, list) else str(content).splitlines()

    def _decision(self, spec: RunSpec, tis: list) -> tuple[str | None, str | None]:
        """The canary's outcome, or why an early stop stopped (the tasks' XCom)."""
        decider = contract.decision_task(spec.plan)
        if decider is None:
            return None, None
        if spec.plan.strategy.kind == "canary":
            tasks = [decider]
        else:  # early stop: the last round check that ran says why the search ended
            done = (
                ti.task_id
                for ti in tis
                if ti.task_id.startswith(decider) and _value(ti.state) == "success"
            )
            tasks = sorted(done, key=lambda task_id: int(task_id[len(decider) :]), reverse=True)
        for task_id in tasks:
            try:
                entry = self._call(
                    "XComApi",
                    "get_xcom_entry",
                    self.dag_id(spec),
                    task_id,
                    spec.run_id,
                    contract.KEYS["decision"],
                )
            except _ApiError:
                continue
            value = _xcom_value(entry)
            if isinstance(value, dict) and value.get("reason"):
                return value.get("outcome"), value["reason"]
        return None, None

    def fetch_output(self, spec: RunSpec, point_id: str, dest: Path) -> Path | None:
        _, outputs = self.locations(spec)
        source = f"{outputs}/{spec.run_id}/{point_id}.ipynb"
        try:
            with fsspec.open(source, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        return dest

    def cancel(self, spec: RunSpec, reason: str | None = None) -> None:
        from airflow_client.client import DAGRunPatchBody

        self._call(
            "DagRunApi",
            "patch_dag_run",
            self.dag_id(spec),
            spec.run_id,
            DAGRunPatchBody(
                state="failed", note=f"{_CANCEL_NOTE}: {reason}" if reason else _CANCEL_NOTE
            ),
            update_mask=["state", "note"],
        )

    def logs(self, spec: RunSpec, point_id: str) -> str:
        index = next(i for i, p in enumerate(spec.points) if p.id == point_id)
        layout = contract.papermill_tasks(spec.plan, len(spec.points))
        task_id, first = next((t, f) for t, f in reversed(layout) if f <= index)
        ti = self._call(
            "TaskInstanceApi",
            "get_mapped_task_instance",
            self.dag_id(spec),
            spec.run_id,
            task_id,
            index - first,
        )
        content = self._log_lines(spec, task_id, index - first, max(ti.try_number, 1))
        return "\n".join(_log_line(line) for line in content)

    def remove(self, pipeline: str) -> None:
        """Delete the DAG file first (else the dag-processor brings the DAG back), then the DAG."""
        fs, path = fsspec.core.url_to_fs(f"{self.settings['dags_location']}/{pipeline}.py")
        if fs.exists(path):
            fs.rm(path)
        try:
            self._call("DAGApi", "delete_dag", self.settings["dag_id_prefix"] + pipeline)
        except _ApiError as e:
            if e.status != 404:
                raise


class _ApiError(TargetError):
    def __init__(self, status: int, body: Any):
        super().__init__(f"Airflow answered HTTP {status}: {str(body)[:300]}")
        self.status = status


def _log_line(line) -> str:
    """One line of a task log: Airflow 3 serves structured messages (an event, and for a
    failure the exception's type and value)."""
    if isinstance(line, str):
        return line
    text = str(line.get("event", ""))
    for error in line.get("error_detail") or []:
        text += f"\n{error.get('exc_type')}: {error.get('exc_value')}"
    return text


def _tries_note(ti) -> str | None:
    """What the lab shows of a point's unfinished task beyond its state: a retry under way
    (a worker died, the notebook failed); the tries themselves are in the point's history."""
    label, state, tries = (
        f"Airflow task {ti.task_id}[{ti.map_index}]",
        _value(ti.state),
        ti.try_number or 1,
    )
    if state == "up_for_retry":
        return f"{label}: try {tries} failed (see its log); Airflow retries it"
    if state in ("running", "queued") and tries > 1:
        return f"{label}: try {tries} (an earlier try failed; see its log)"
    return None


def why_failed(lines: list) -> str | None:
    """The first meaningful line of a failed task's log: the exception it ended with (for a
    notebook, papermill's error: the cell's exception), else the first error-level message."""
    for line in lines:
        for error in (line.get("error_detail") or []) if isinstance(line, dict) else []:
            return _exception_line(error.get("exc_type"), str(error.get("exc_value") or ""))
    for line in lines:  # the task's own stderr (a kernel's chatter) is not why it failed
        if (
            isinstance(line, dict)
            and str(line.get("level", "")).lower() in ("error", "critical")
            and line.get("logger") != "task.stderr"
        ):
            return " ".join(str(line.get("event", "")).split())[:500] or None
        if isinstance(line, str) and " ERROR " in line:
            return line.strip()[:500]
    return None


def _exception_line(exc_type: str | None, value: str) -> str:
    """``Type: value`` in one line; papermill's value is a banner plus the cell's
    traceback, of which the last line (``ValueError: boom``) is the point."""
    lines = [line.strip() for line in value.splitlines() if line.strip()]
    if exc_type and exc_type.endswith("PapermillExecutionError") and lines:
        return f"{lines[-1]} (in the notebook)"[:500]
    return f"{exc_type}: {lines[0] if lines else ''}".rstrip(": ")[:500]


def _value(state) -> str | None:
    return getattr(state, "value", state)


def _xcom_value(entry) -> Any:
    import json

    entry = getattr(entry, "actual_instance", entry)  # the client's oneOf wrapper
    value = getattr(entry, "value", None)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _last_line(trace: str) -> str:
    lines = [line.strip() for line in (trace or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


@dataclass
class _Following:
    """What polling keeps of one run until it ends: the task instances seen and when they
    were last read (each poll reads only what changed since), and what each finished try
    said, by (task, map index, try): its log and the tries' history are read once."""

    seen: dict | None = None  # (task id, map index) -> task instance
    asked: float = 0.0
    polls: int = 0
    said: dict[tuple, str] = field(default_factory=dict)
    history: dict[tuple, list] = field(default_factory=dict)
    log_reads: dict[tuple, int] = field(default_factory=dict)
    paused: str | None = None  # the last "the DAG is paused" message ("" when it is not)


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
