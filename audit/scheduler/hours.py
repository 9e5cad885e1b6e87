"""The audit's open hours between two moments, for placing submissions inside (or outside) working time.

Built on the grader's business calendar (`audit.grading.calendar`: working days, hours, public holidays), so
a submission planned "in business hours" is one the grader also classes as sent in business hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from audit.grading.calendar import BusinessCalendar
from audit.grading.types import SubmitTimeClass

_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Span:
    start: datetime  # aware, UTC
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def open_spans(calendar: BusinessCalendar, start: datetime, end: datetime) -> list[Span]:
    """The open-hours intervals inside [start, end), in order."""
    spans: list[Span] = []
    day, last = calendar.local_date(start), calendar.local_date(end)
    while day <= last:
        interval = calendar.open_interval(day)
        if interval is not None:
            low, high = max(interval[0], start), min(interval[1], end)
            if low < high:
                spans.append(Span(low, high))
        day += _DAY
    return spans


def closed_spans(calendar: BusinessCalendar, start: datetime, end: datetime) -> list[Span]:
    """The complement of `open_spans` inside [start, end): evenings, nights, weekends and holidays."""
    spans: list[Span] = []
    cursor = start
    for span in open_spans(calendar, start, end):
        if cursor < span.start:
            spans.append(Span(cursor, span.start))
        cursor = span.end
    if cursor < end:
        spans.append(Span(cursor, end))
    return spans


def next_open_moment(calendar: BusinessCalendar, moment: datetime) -> datetime:
    """`moment` if the audit is open then, else its next opening (`moment` for a calendar with no workday)."""
    try:
        return calendar.next_open(moment)
    except ValueError:
        return moment


def is_open(calendar: BusinessCalendar, moment: datetime) -> bool:
    return calendar.classify(moment) is SubmitTimeClass.BUSINESS
