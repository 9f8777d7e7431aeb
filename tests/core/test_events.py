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
    "point": events.point_changed("p-1", PointStatus(state="failed", error="e", tries=TRIES)),
    "metrics": events.metrics_recorded("p-1", {"acc": 0.5, "name": "x"}),
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
