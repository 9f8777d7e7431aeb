"""core/events.py: every event kind the server sends validates against the schema."""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from jupyter_mvdp.core import events
from jupyter_mvdp.core.models import PointStatus

SCHEMA = yaml.safe_load(events.SCHEMA_PATH.read_text())
TRIES = [{"try": 1, "state": "failed", "error": "x", "started": 1.0, "finished": 2.0}]

EVENTS = {
    "run": events.run_changed("running", "triggered", None),
    "run unreachable": events.run_changed("unknown", None, "down", unreachable_since=12.5),
    "run back": events.run_changed("running", None, None, unreachable_since=None),
    "points": events.points_changed(
        {
            "p-1": PointStatus(state="failed", error="e", tries=TRIES),
            "p-2": PointStatus(state="success", metrics={"acc": 0.5, "name": "x"}),
            "p-3": PointStatus(state="success", metrics={"acc": float("nan")}),
        },
        {"queued": 0, "running": 0, "success": 2, "failed": 1, "skipped": 0},
    )[0],
    "outcome": events.outcome_decided("alert", "acc 0.5 is below the baseline"),
}


@pytest.mark.parametrize("name", EVENTS)
def test_each_event_kind_is_valid_for_the_schema(name):
    event = events.stamped(EVENTS[name], run_id="r1", user="ann", seq=3)
    jsonschema.validate(event, SCHEMA)
    assert SCHEMA["$id"] == events.SCHEMA_ID
    assert set(event) <= set(SCHEMA["properties"])  # nothing the schema does not describe


def test_a_run_event_keeps_or_clears_unreachable_since_as_asked():
    assert "unreachable_since" not in events.run_changed("running", None, None)
    assert (
        events.run_changed("running", None, None, unreachable_since=None)["unreachable_since"]
        is None
    )


def test_an_event_the_schema_refuses_is_refused():  # the check above can fail
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"kind": "outcome", "outcome": "maybe", "run_id": "r", "user": "u", "seq": 1}, SCHEMA
        )


def test_a_tick_of_many_points_is_said_in_a_few_bounded_events():
    changed = {f"p-{i}": PointStatus(state="skipped") for i in range(events.BATCH * 2 + 1)}
    said = events.points_changed(changed, {"skipped": len(changed)})
    assert [len(e["points"]) for e in said] == [events.BATCH, events.BATCH, 1]
    assert [p["id"] for e in said for p in e["points"]] == list(changed)  # each once, in order
    for e in said:
        jsonschema.validate(events.stamped(e, run_id="r1", user="ann", seq=1), SCHEMA)
    assert events.points_changed({}, {}) == []


def test_a_points_event_carries_strict_json_and_no_parameters():
    (said,) = events.points_changed({"p": PointStatus(state="success", metrics={"a": 1e400})}, {})
    assert said["points"][0]["metrics"] == {"a": "inf"}
    assert "parameters" not in said["points"][0]
    with pytest.raises(jsonschema.ValidationError):  # a point's state is one of the five
        bad = {**said, "points": [{**said["points"][0], "state": "done"}]}
        jsonschema.validate(events.stamped(bad, run_id="r", user="u", seq=1), SCHEMA)
