"""An Airflow 3 deployment as a target, through its REST API (apache-airflow-client).

Airflow's API cannot upload a DAG, so ``deploy`` writes the DAG file and the notebook where
the deployment reads them (fsspec URLs: a shared folder, ``s3://``, ``gs://``...), then waits
through the API until Airflow serves that very file (the digest at the end of the DAG's
``doc_md``), surfacing Airflow's own import error when there is one. A DAG Airflow already
serves is not written again, so a re-run of a plan is triggered at once. ``poll`` reads the
task instances that changed since the last poll (one page whatever the grid size) and the DAG
run only when no task is busy or every few polls. Outputs come back through fsspec from the
outputs location.

This module only composes the parts, one responsibility each: ``client`` (the REST API, auth
and errors), ``deliver`` (writing the files, waiting for the parse), ``follow`` (a run's task
instances as point statuses) and ``logs`` (task logs and why a try failed).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import fsspec

from ...core.models import RunSpec, Snapshot
from ...render.dag import version_digest
from ..base import Capabilities, Progress, Target, _silent
from ..registry import register
from ..secrets import credential
from .client import AirflowClient
from .deliver import Delivery
from .follow import CANCEL_NOTE, Follower, Pace
from .listing import dag_run_pages
from .logs import point_log


@register
class AirflowTarget(Target):
    """Settings: ``api_url``; ``username`` + ``password`` (or ``password_env`` /
    ``password_file``) or ``token`` (or ``token_env`` / ``token_file``); ``dags_location``,
    ``notebooks_location``, ``outputs_location`` (and ``store_location``, default
    ``<notebooks_location>/.mvdp-store``) as the workers see them (fsspec URLs); ``kernel_name``; ``dag_id_prefix``; ``parse_timeout``."""

    kind = "airflow"
    capabilities = Capabilities(lists_runs=True, ships_files=True)
    secret_settings = ("password", "token")
    page_size = 100  # task instances per API call (Airflow's default page)
    listing_page = 25  # DAG runs per call when looking for runs started elsewhere
    changed_margin = 10.0  # seconds: see follow.Follower._task_instances
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
            password=credential("password", password, password_env, password_file),
            token=credential("token", token, token_env, token_file),
            kernel_name=kernel_name,
            dag_id_prefix=dag_id_prefix,
            parse_timeout=parse_timeout,
            **settings,
        )
        self.client = AirflowClient(self.name, self.settings, request_timeout)
        self.delivery = Delivery(self.client, self.settings)
        self.follower = Follower(self.client)

    @property
    def timeout(self) -> float:
        """Seconds an API call may take (``request_timeout``)."""
        return self.client.timeout

    @timeout.setter
    def timeout(self, seconds: float) -> None:
        self.client.timeout = seconds

    def check(self) -> None:
        self.client.check()

    # --- deploy -----------------------------------------------------------------------

    def notebooks_folder(self, spec: RunSpec) -> str:
        """Where the workers read the pipeline's notebooks (the input and the deploy one)."""
        return self.settings["notebooks_location"]

    def locations(self, spec: RunSpec) -> tuple[str, str]:
        return (
            f"{self.notebooks_folder(spec)}/{spec.pipeline}.ipynb",
            f"{self.settings['outputs_location']}/{spec.pipeline}",
        )

    def deploy_location(self, spec: RunSpec) -> str | None:
        if not spec.deploy_notebook:
            return None
        return f"{self.notebooks_folder(spec)}/{spec.pipeline}.deploy.ipynb"

    def dag_id(self, spec: RunSpec) -> str:
        return self.settings["dag_id_prefix"] + spec.pipeline

    def store_location(self, spec: RunSpec) -> str | None:
        """``store_location``, else ``<notebooks_location>/.mvdp-store``: the workers read
        the runs' notebooks, files and versions there, by content (deliver.ship)."""
        return self.settings.get("store_location") or (
            f"{self.settings['notebooks_location']}/.mvdp-store"
        )

    def render(self, spec: RunSpec) -> str:
        return super().render(replace(spec, pipeline=self.dag_id(spec)))

    def version(self, spec: RunSpec) -> dict:
        return super().version(replace(spec, pipeline=self.dag_id(spec)))

    def deploy(self, spec: RunSpec, progress: Progress = _silent) -> None:
        self.check()
        self.delivery.deploy(
            spec, self.dag_id(spec), self.version(spec), self.store_location(spec), progress
        )

    def _activate(self, spec: RunSpec, dag_file: str, written: float, progress: Progress) -> None:
        """See ``Delivery.activate`` (the Astro target delivers by its own route)."""
        self.delivery.activate(spec, self.dag_id(spec), dag_file, written, progress)

    def trigger(self, spec: RunSpec) -> None:
        from airflow_client.client import TriggerDAGRunPostBody

        # the run's version (deploy shipped it): its points, parameters, notebook and rules
        # stay the run's whatever is deployed after
        conf: dict = {"version": version_digest(self.version(spec))}
        if spec.plan.strategy.kind == "canary":
            conf["baseline"] = (
                spec.plan.strategy.baseline
                if spec.plan.strategy.baseline is not None
                else spec.champion
            )
        # run_after, Airflow's default, is its now; a queued run starts once run_after <= the
        # database's now(), which SQLite and MySQL give in whole seconds: triggered at
        # 12:00:00.4, a run would wait until 12:00:01. Airflow's clock to the second (its
        # last answer's Date, never ahead of its now) starts it at the next scheduler loop.
        when = self.client.server_now()
        body = TriggerDAGRunPostBody(
            dag_run_id=spec.run_id,
            conf=conf,
            logical_date=None,
            **({"run_after": when} if when is not None else {}),
        )
        self.client.call("DagRunApi", "trigger_dag_run", self.dag_id(spec), body)
        spec.extra["dag_run_id"] = spec.run_id

    # --- follow -----------------------------------------------------------------------

    def poll(self, spec: RunSpec) -> Snapshot:
        """See ``Follower.poll``; the target's class attributes set its pace."""
        pace = Pace(self.page_size, self.changed_margin, self.full_every, self.run_every)
        return self.follower.poll(spec, self.dag_id(spec), pace)

    def forget(self, run_id: str) -> None:
        self.follower.forget(run_id)

    def fetch_output(self, spec: RunSpec, point_id: str, dest: Path) -> Path | None:
        _, outputs = self.locations(spec)
        source = f"{outputs}/{spec.target_run_id}/{point_id}.ipynb"
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

        self.client.call(
            "DagRunApi",
            "patch_dag_run",
            self.dag_id(spec),
            spec.target_run_id,
            DAGRunPatchBody(
                state="failed", note=f"{CANCEL_NOTE}: {reason}" if reason else CANCEL_NOTE
            ),
            update_mask=["state", "note"],
        )

    def logs(self, spec: RunSpec, point_id: str) -> str:
        return point_log(self.client, spec, self.dag_id(spec), point_id)

    def list_runs(self, pipelines: list[str]):
        """See ``listing.dag_run_pages``: one call lists the runs of every pipeline."""
        dag_ids = {self.settings["dag_id_prefix"] + p: p for p in pipelines}
        return dag_run_pages(self.client, dag_ids, self.listing_page)

    def remove(self, pipeline: str) -> None:
        self.delivery.remove(pipeline, self.settings["dag_id_prefix"] + pipeline)
