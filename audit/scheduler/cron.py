"""`schedule.cron` -> an APScheduler CronTrigger, and the latest firing at or before a moment.

Five fields (`minute hour day month day_of_week`) as everyone writes them, or six with seconds first (for
tests and demos measured in seconds). Two differences from classic cron are handled here: APScheduler counts
weekdays from Monday = 0 while cron counts from Sunday = 0 (so numbers are turned into names), and when both
a day of the month and a weekday are given APScheduler requires both (`0 9 1-7 * sun` is the first Sunday of
the month), where classic cron takes either; the README says so.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo

from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from audit.errors import ConfigError

_CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NUMERIC_PART = re.compile(r"^(\*|\d+)(?:-(\d+))?(?:/(\d+))?$")
MAX_FIRINGS_SCANNED = 100_000  # a per-second cron over a six-hour grace is 21,600


def _weekday_names(field: str) -> str:
    """Cron weekday numbers (0 or 7 = Sunday) as the names APScheduler reads the same way."""
    if field == "*" or not any(ch.isdigit() for ch in field):
        return field
    days: list[int] = []
    for part in field.split(","):
        match = _NUMERIC_PART.match(part)
        if match is None:
            raise ValueError(f"day-of-week '{part}' mixes numbers and names; use one or the other")
        first, last, step = match.groups()
        if first == "*":
            low, high = 0, 6
        else:
            low = int(first)
            high = int(last) if last is not None else (6 if step else low)
        if not (0 <= low <= 7 and 0 <= high <= 7 and low <= high):
            raise ValueError(f"day-of-week '{part}' is out of range (0-7, Sunday is 0 or 7)")
        days.extend(range(low, high + 1, int(step or 1)))
    ordered = sorted({day % 7 for day in days})
    return ",".join(_CRON_WEEKDAYS[day] for day in ordered)


def parse_cron(expression: str, timezone: tzinfo) -> CronTrigger:
    """A trigger for a 5-field (or 6-field, seconds first) cron expression in `timezone`."""
    fields = expression.split()
    try:
        if len(fields) == 5:
            second, (minute, hour, day, month, weekday) = "0", fields
        elif len(fields) == 6:
            second, minute, hour, day, month, weekday = fields
        else:
            raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_weekday_names(weekday.lower()),
            timezone=timezone,
        )
    except ValueError as ex:
        raise ConfigError([f"schedule.cron: '{expression}' is not a cron expression: {ex}"]) from ex


def latest_firing(trigger: CronTrigger, *, now: datetime, not_before: datetime) -> datetime | None:
    """The last time the trigger fired in [not_before, now], or None."""
    latest: datetime | None = None
    firing = trigger.get_next_fire_time(None, not_before)
    for _ in range(MAX_FIRINGS_SCANNED):
        if firing is None or firing > now:
            break
        latest = firing
        firing = trigger.get_next_fire_time(firing, firing + timedelta(microseconds=1))
    return latest
