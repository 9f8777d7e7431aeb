"""A plan's ``schedule``, checked as Airflow 3 will read it, before anything is stored.

Airflow takes ``@once``, ``@continuous``, its cron presets, a cron expression (validated with
croniter, as Airflow's CronMixin does) or a ``timedelta``. JSON has no timedelta, so a plan
gives one as an ISO 8601 duration (``PT30M``, ``P1D``) and the DAG gets ``timedelta(seconds=...)``.
A schedule Airflow would refuse (``AirflowTimetableInvalid`` at import) is refused here instead.
"""

from __future__ import annotations

import re

from ..exceptions import InvalidPlan

PRESETS = frozenset(
    {"@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly"}
)
_DURATION = re.compile(
    r"P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)
_HELP = "a cron expression ('0 6 * * *'), a preset (@daily) or an ISO 8601 duration (PT30M)"


def duration_seconds(schedule: str | None) -> float | None:
    """Seconds of an ISO 8601 duration schedule; None for cron, presets and None."""
    match = _DURATION.fullmatch(schedule or "")
    if not match or not any(match.groupdict().values()):
        return None
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return (
        parts.get("days", 0) * 86400
        + parts.get("hours", 0) * 3600
        + parts.get("minutes", 0) * 60
        + parts.get("seconds", 0)
    )


def check(schedule: object) -> None:
    """Raise InvalidPlan (field ``schedule``) unless Airflow would accept ``schedule``."""
    if schedule is None or schedule in PRESETS:
        return
    if not isinstance(schedule, str):
        raise _invalid(f"expected {_HELP}")
    seconds = duration_seconds(schedule)
    if seconds is not None:
        if not 0 < seconds <= 366 * 86400:
            raise _invalid(f"{schedule!r}: a duration must be above 0 and at most a year")
        return
    from croniter import croniter

    fields = schedule.split()
    try:
        croniter(schedule)
    except Exception as e:  # croniter raises several types for one user problem
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise _invalid(f"{schedule!r} is not {_HELP} ({reason})") from None
    if not schedule.startswith("@") and len(fields) != 5:
        raise _invalid(f"{schedule!r}: Airflow takes 5 cron fields (minute hour day month weekday)")


def _invalid(message: str) -> InvalidPlan:
    return InvalidPlan(f"schedule: {message}", errors=[{"field": "schedule", "message": message}])
