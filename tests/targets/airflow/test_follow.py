"""Following a run against a stand-in client: point statuses, tries and their errors, how the
run ended (the decision XCom, a cancel, a deletion), and the pace of the reads."""

from __future__ import annotations

import json
from types import SimpleNamespace

from jupyter_mvdp.core import contract
from jupyter_mvdp.targets.airflow import AirflowTarget
from jupyter_mvdp.targets.airflow.follow import CANCEL_NOTE, Follower, Pace

from .fakes import RUN_POINT, FakeClient, not_found, page, spec, ti

PACE = Pace(page_size=100, changed_margin=10.0, full_every=30, run_every=5)
DAG = "mvdp_u_nb"


def run(state, note=None):
    return SimpleNamespace(state=state, note=note)


def test_a_finished_grid_says_each_point_and_why_one_failed():
    s = spec({"kind": "grid", "metric": "acc"}, {"x": [1, 2, 3]})
    boom = [
        {"event": "Task failed", "error_detail": [{"exc_type": "ValueError", "exc_value": "boom"}]}
    ]
    client = FakeClient(
        {
            "get_task_instances": page(
                ti(RUN_POINT, 0, "success"),
                ti(RUN_POINT, 1, "failed"),
                ti("collect", -1, "success"),
            ),
            "get_dag_run": run("success"),
        },
        logs={(RUN_POINT, 1, 1): boom},
    )
    snap = Follower(client).poll(s, DAG, PACE)
    first, second, third = (snap.points[p.id] for p in s.points)
    assert (first.state, second.state, third.state) == ("success", "failed", "skipped")
    assert second.error == "ValueError: boom" and second.tries[0]["error"] == "ValueError: boom"
    assert snap.state == "failed" and snap.outcome is None


def test_a_retry_under_way_is_noted_and_its_history_read_once():
    s = spec({"kind": "grid"}, {"x": [1]})
    history = SimpleNamespace(
        task_instances=[ti(RUN_POINT, 0, "failed", 1), ti(RUN_POINT, 0, "running", 2)]
    )
    client = FakeClient(
        {
            "get_task_instances": page(ti(RUN_POINT, 0, "running", try_number=2)),
            "get_mapped_task_instance_tries": history,
            "get_dag_run": run("running"),
        },
        logs={(RUN_POINT, 0, 1): ["2024 ERROR worker lost"]},
    )
    follower = Follower(client)
    for _ in range(2):
        point = follower.poll(s, DAG, PACE).points[s.points[0].id]
    assert point.state == "running" and "try 2" in point.error
    assert [t["state"] for t in point.tries] == ["failed", "running"]
    assert point.tries[0]["error"] == "2024 ERROR worker lost"
    assert client.methods().count("get_mapped_task_instance_tries") == 1
    assert client.methods().count("get_json") == 1  # the failed try's log, read once


def test_early_stop_reads_why_from_the_last_round_check_that_ran():
    s = spec(
        {"kind": "early_stop", "metric": "acc", "budget": 4, "target": 0.99}, {"x": [1, 2, 3, 4]}, 2
    )
    (round0, _), (round1, _) = contract.papermill_tasks(s.plan, len(s.points))
    check = contract.TASKS["check_round"]
    asked = []

    def xcom(dag_id, task_id, run_id, key):
        asked.append((task_id, key))
        return SimpleNamespace(value=json.dumps({"stop": True, "reason": f"by {task_id}"}))

    client = FakeClient(
        {
            "get_task_instances": page(
                *(ti(t, i, "success") for t in (round0, round1) for i in (0, 1)),
                ti(check.format(0), -1, "success"),
                ti(check.format(1), -1, "success"),
            ),
            "get_dag_run": run("success"),
            "get_xcom_entry": xcom,
        }
    )
    snap = Follower(client).poll(s, DAG, PACE)
    assert snap.state == "success" and snap.reason == f"by {check.format(1)}"
    assert asked == [(check.format(1), contract.KEYS["decision"])]
    assert all(p.state == "success" for p in snap.points.values())


def test_a_run_we_cancelled_ends_cancelled_with_its_reason():
    s = spec({"kind": "grid"}, {"x": [1]})
    client = FakeClient(
        {
            "get_task_instances": page(ti(RUN_POINT, 0, "failed")),
            "get_dag_run": run("failed", note=f"{CANCEL_NOTE}: stopped by SIGTERM"),
        }
    )
    snap = Follower(client).poll(s, DAG, PACE)
    assert (snap.state, snap.message) == ("cancelled", "stopped by SIGTERM")


def test_a_deleted_dag_ends_the_run_and_forgets_it():
    s = spec({"kind": "grid"}, {"x": [1]})
    client = FakeClient({"get_task_instances": not_found(), "get_dag": not_found()})
    follower = Follower(client)
    snap = follower.poll(s, DAG, PACE)
    assert snap.state == "failed" and f"the DAG {DAG} was deleted" in snap.message
    assert s.run_id not in follower._following


def test_a_paused_dag_is_said_while_nothing_runs():
    s = spec({"kind": "grid"}, {"x": [1]})
    client = FakeClient(
        {
            "get_task_instances": page(),
            "get_dag_run": run("queued"),
            "get_dag": SimpleNamespace(is_paused=True),
        }
    )
    snap = Follower(client).poll(s, DAG, PACE)
    assert snap.state == "running" and "is paused in Airflow" in snap.message


def test_later_polls_read_only_what_changed_and_the_target_sets_the_pace(monkeypatch):
    target = AirflowTarget(
        "a",
        api_url="http://127.0.0.1:9",
        dags_location="/d",
        notebooks_location="/n",
        outputs_location="/o",
        token="t",
        dag_id_prefix="p_",
    )
    target.page_size = 7
    client = FakeClient(
        {"get_task_instances": page(ti(RUN_POINT, 0, "running")), "get_dag_run": run("running")}
    )
    monkeypatch.setattr(target.client, "call", client.call)
    s = spec({"kind": "grid"}, {"x": [1]})
    target.poll(s)
    target.poll(s)
    reads = [c for c in client.calls if c[0] == "get_task_instances"]
    assert [r[1] for r in reads] == [("p_mvdp_u_nb", "r1")] * 2
    assert all(r[2]["limit"] == 7 for r in reads)
    assert "updated_at_gte" not in reads[0][2] and "updated_at_gte" in reads[1][2]
    target.forget(s.run_id)
    assert s.run_id not in target.follower._following


def test_a_run_whose_first_task_failed_says_why_no_point_started():
    """The first task picks the run's version: when it fails (the store unreadable, a version
    gone), no point can start, and the run says why (its log) rather than only that it
    failed."""
    s = spec({"kind": "grid"}, {"x": [1, 2]})
    gone = [
        {
            "event": "Task failed",
            "error_detail": [
                {"exc_type": "FileNotFoundError", "exc_value": "/store/versions/d/0a1b.json"}
            ],
        }
    ]
    client = FakeClient(
        {
            "get_task_instances": page(
                ti(contract.TASKS["points"], -1, "failed"), ti(RUN_POINT, -1, "upstream_failed")
            ),
            "get_dag_run": run("failed"),
        },
        logs={(contract.TASKS["points"], -1, 1): gone},
    )
    snap = Follower(client).poll(s, DAG, PACE)
    assert snap.state == "failed"
    assert snap.message == "no point could start: FileNotFoundError: /store/versions/d/0a1b.json"
    assert {p.state for p in snap.points.values()} == {"skipped"}
