"""A plan's ``schedule``, checked as Airflow 3 will read it, before anything is stored.

Airflow takes ``@once``, ``@continuous``, its cron presets, a cron expression (validated with
croniter, as Airflow's CronMixin does) or a ``timedelta``. JSON has no timedelta, so a plan
gives one as an ISO 8601 duration (``PT30M``, ``P1D``) and the DAG gets ``timedelta(seconds=...)``.
A schedule Airflow would refuse (``AirflowTimetableInvalid`` at import) is refused here instead.
"""

from __future__ import annotations

import itertools
import math
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


#: the shortest time between two runs of each preset (a month: 28 days; a quarter: 89)
PRESET_INTERVALS = {
    "@once": math.inf,
    "@continuous": 0.0,
    "@hourly": 3600.0,
    "@daily": 86400.0,
    "@weekly": 7 * 86400.0,
    "@monthly": 28 * 86400.0,
    "@quarterly": 89 * 86400.0,
    "@yearly": 365 * 86400.0,
}


def min_interval(schedule: str) -> float:
    """The shortest time, in seconds, between two runs of a schedule ``check`` accepted
    (``math.inf`` for ``@once``). A cron expression is read field by field (never iterated):
    the gaps between its times of day, and from the last time of one day to the first of
    the next firing day. Where a field is not a plain list (``L``, ``W``, ``#``), it is read
    as every value: never a longer interval than the real one."""
    if schedule in PRESET_INTERVALS:
        return PRESET_INTERVALS[schedule]
    seconds = duration_seconds(schedule)
    if seconds is not None:
        return seconds
    from croniter import croniter

    minutes, hours, days, months, weekdays = croniter(schedule).expanded[:5]
    times = sorted(h * 3600 + m * 60 for h in _values(hours, 24) for m in _values(minutes, 60))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    day_gap = _day_gap(_values(days, 32, 1), _values(months, 13, 1), _values(weekdays, 7))
    gaps.append(day_gap * 86400 - (times[-1] - times[0]))
    return float(min(gaps))


def _values(field: list, stop: int, start: int = 0) -> set[int]:
    """A cron field's values; ``*`` and special tokens (``L``...) as every value."""
    if all(isinstance(v, int) for v in field):
        return {v % 7 if stop == 7 else v for v in field}
    return set(range(start, stop))


def _day_gap(days: set[int], months: set[int], weekdays: set[int]) -> int:
    """The fewest days between two firing days, over four years of calendar (cron's rule:
    with both a day of month and a weekday restricted, either one fires)."""
    import datetime as dt

    both = len(days) < 31 and len(weekdays) < 7
    fired, best = None, 4 * 366  # fires at most once in four years
    day = dt.date(2024, 1, 1)
    for _ in range(4 * 366):
        on_day, on_weekday = day.day in days, (day.isoweekday() % 7) in weekdays
        if day.month in months and ((on_day or on_weekday) if both else on_day and on_weekday):
            if fired is not None:
                best = min(best, (day - fired).days)
                if best == 1:
                    return 1
            fired = day
        day += dt.timedelta(days=1)
    return best


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
