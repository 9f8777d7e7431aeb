"""Reading a task's log and the line that says why it failed."""

from __future__ import annotations

import pytest

from jupyter_mvdp.core import contract
from jupyter_mvdp.targets.airflow.logs import point_log, why_failed

from .fakes import FakeClient, spec, ti

PAPERMILL = (
    "\n---------------------------------------------------------------------------\n"
    'Exception encountered at "In [3]":\nTraceback...\nValueError: boom at x=2\n'
)


@pytest.mark.parametrize(
    ("lines", "why"),
    [
        (
            [
                {
                    "event": "x",
                    "error_detail": [
                        {
                            "exc_type": "papermill.exceptions.PapermillExecutionError",
                            "exc_value": PAPERMILL,
                        }
                    ],
                }
            ],
            "ValueError: boom at x=2 (in the notebook)",
        ),
        (
            [
                {
                    "event": "x",
                    "error_detail": [{"exc_type": "TimeoutError", "exc_value": "late\nmore"}],
                }
            ],
            "TimeoutError: late",
        ),
        (
            [
                {"event": "kernel chatter", "level": "error", "logger": "task.stderr"},
                {"event": "Heartbeat   lost", "level": "critical"},
            ],
            "Heartbeat lost",
        ),
        (["[2024] INFO fine", "[2024] ERROR it broke  "], "[2024] ERROR it broke"),
        ([{"event": "all good", "level": "info"}, "plain text"], None),
        ([], None),
    ],
    ids=["papermill", "exception", "error-level", "text", "nothing", "empty"],
)
def test_why_a_task_failed(lines, why):
    assert why_failed(lines) == why


def test_a_points_log_is_the_last_try_of_its_mapped_task():
    s = spec(
        {"kind": "early_stop", "metric": "acc", "budget": 4, "target": 0.99}, {"x": [1, 2, 3, 4]}, 2
    )
    (_, _), (round1, first) = contract.papermill_tasks(s.plan, len(s.points))
    lines = [
        {"event": "start"},
        {"event": "end", "error_detail": [{"exc_type": "E", "exc_value": "v"}]},
    ]
    client = FakeClient(
        {"get_mapped_task_instance": ti(round1, 1, "failed", try_number=2)},
        logs={(round1, 1, 2): lines},
    )
    text = point_log(client, s, "dag", s.points[first + 1].id)
    assert text == "start\nend\nE: v"
    assert client.calls[0][1] == ("dag", "r1", round1, 1)
    assert client.calls[1][0] == "get_json"
    assert client.calls[1][1][0] == f"/api/v2/dags/dag/dagRuns/r1/taskInstances/{round1}/logs/2"
