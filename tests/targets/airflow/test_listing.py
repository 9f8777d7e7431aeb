"""Listing the DAG runs of deployed pipelines against a stand-in client: who started each
(Airflow's run_type, triggered_by, triggering_user_name), one batch call for every pipeline,
pages read only on demand. The real listing: integration/test_schedule.py."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from jupyter_mvdp.targets.airflow import AirflowTarget
from jupyter_mvdp.targets.airflow.listing import started_by

from .fakes import FakeClient


@pytest.mark.parametrize(
    ("run_type", "triggered_by", "user", "expected"),
    [
        ("scheduled", "timetable", None, {"kind": "schedule", "user": None}),
        ("manual", "ui", "ann", {"kind": "ui", "user": "ann"}),
        ("manual", "rest_api", "ci-bot", {"kind": "api", "user": "ci-bot"}),
        ("manual", "cli", "", {"kind": "cli", "user": None}),
        ("asset_triggered", "asset", None, {"kind": "asset", "user": None}),
        ("backfill", "backfill", "ann", {"kind": "backfill", "user": "ann"}),
        ("operator_triggered", "operator", None, {"kind": "operator", "user": None}),
        ("manual", None, None, {"kind": "other", "user": None}),
    ],
)
def test_who_started_a_dag_run(run_type, triggered_by, user, expected):
    assert started_by(run_type, triggered_by, user) == expected


def dag_run(dag_id, run_id, run_type="scheduled", triggered_by="timetable", user=None, conf=None):
    return SimpleNamespace(
        dag_id=dag_id,
        dag_run_id=run_id,
        run_type=SimpleNamespace(value=run_type),
        triggered_by=SimpleNamespace(value=triggered_by),
        triggering_user_name=user,
        queued_at=datetime(2026, 12, 6, 10, tzinfo=UTC),
        run_after=None,
        start_date=None,
        conf=conf,
    )


def test_one_call_lists_every_pipeline_and_pages_are_read_on_demand(tmp_path):
    target = AirflowTarget(
        "af",
        api_url="http://127.0.0.1:9",
        dags_location=str(tmp_path),
        notebooks_location=str(tmp_path),
        outputs_location=str(tmp_path),
        token="t",
        dag_id_prefix="team_",
    )
    runs = [
        dag_run("team_a", "scheduled__3"),
        dag_run("team_b", "manual__2", "manual", "rest_api", "bob", {"baseline": 0.5}),
        dag_run("team_a", "scheduled__1"),
    ]

    def listing(dag_id, body):
        assert dag_id == "~" and body.order_by == "-id"
        chunk = runs[body.page_offset : body.page_offset + body.page_limit]
        return SimpleNamespace(dag_runs=chunk, total_entries=len(runs))

    target.client = FakeClient({"get_list_dag_runs_batch": listing})
    target.listing_page = 2
    pages = target.list_runs(["a", "b"])
    first = next(pages)
    assert len(target.client.calls) == 1
    _, (_, body), _ = target.client.calls[0]
    assert body.dag_ids == ["team_a", "team_b"]
    assert [(r.pipeline, r.target_run_id) for r in first] == [
        ("a", "scheduled__3"),
        ("b", "manual__2"),
    ]
    assert first[1].started_by == {"kind": "api", "user": "bob"}
    assert first[1].conf == {"baseline": 0.5}
    assert first[0].queued_at == datetime(2026, 12, 6, 10, tzinfo=UTC).timestamp()
    assert [r.target_run_id for r in next(pages)] == ["scheduled__1"]
    assert len(target.client.calls) == 2
    assert list(pages) == []
