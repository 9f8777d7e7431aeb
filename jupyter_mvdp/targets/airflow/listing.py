"""Listing the DAG runs of the pipelines deployed from here, whoever started them: the plan's
schedule, a colleague in Airflow's UI, a script through the REST API.

One call lists the runs of every pipeline at once (``POST /api/v2/dags/~/dagRuns/list`` with
their DAG ids), newest first, a page at a time: the caller reads on only while a page is all
new to it, so following any number of pipelines costs one call per look.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...core.models import ListedRun
from .client import AirflowClient

#: Airflow's run_type (and, for a manual run, triggered_by) -> who or what started a run
_BY_RUN_TYPE = {
    "scheduled": "schedule",
    "backfill": "backfill",
    "asset_triggered": "asset",
    "asset_materialization": "asset",
    "operator_triggered": "operator",
}
_BY_TRIGGER = {"ui": "ui", "rest_api": "api", "cli": "cli", "test": "cli", "operator": "operator"}


def started_by(run_type: str | None, triggered_by: str | None, user: str | None) -> dict:
    """``{"kind", "user"}`` of an Airflow DAG run: ``schedule`` (its timetable), ``ui``,
    ``api`` or ``cli`` (someone triggered it: ``user``), ``asset``, ``backfill``,
    ``operator`` (another DAG), else ``other``."""
    kind = _BY_RUN_TYPE.get(run_type or "")
    if kind is None:
        kind = _BY_TRIGGER.get(triggered_by or "", "other")
    return {"kind": kind, "user": user or None}


def dag_run_pages(
    client: AirflowClient, dag_ids: dict[str, str], page_size: int
) -> Iterator[list[ListedRun]]:
    """Pages of the DAG runs of ``dag_ids`` (DAG id -> pipeline id), newest first."""
    from airflow_client.client import DAGRunsBatchBody

    offset = 0
    while True:
        body = DAGRunsBatchBody(
            dag_ids=sorted(dag_ids), order_by="-id", page_limit=page_size, page_offset=offset
        )
        found = client.call("DagRunApi", "get_list_dag_runs_batch", "~", body)
        runs = found.dag_runs or []
        yield [_listed(run, dag_ids[run.dag_id]) for run in runs if run.dag_id in dag_ids]
        offset += len(runs)
        if not runs or offset >= (found.total_entries or 0):
            return


def _listed(run, pipeline: str) -> ListedRun:
    when = run.queued_at or run.run_after or run.start_date
    return ListedRun(
        pipeline=pipeline,
        target_run_id=run.dag_run_id,
        started_by=started_by(
            _value(run.run_type), _value(run.triggered_by), run.triggering_user_name
        ),
        queued_at=when.timestamp() if when else None,
        conf=dict(run.conf or {}),
    )


def _value(enum) -> str | None:
    return getattr(enum, "value", enum)
