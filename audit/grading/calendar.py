"""The audit's business calendar: working days and hours in the audit's zone, public holidays closed.

Business time counts only open hours (docs/method.md, "Business hours"): a probe sent on Friday evening in
Israel starts its business clock on Sunday at opening. Each local day's open interval is computed once, in
UTC, so DST days come out right and a wave of thousands of probes costs a few dictionary lookups per
probe-day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from audit.config import AuditSection
from audit.grading.types import SubmitTimeClass

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
DEFAULT_WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
# Israel works Sunday to Thursday; Friday and Saturday are the weekend.
COUNTRY_WORKDAYS = {"IL": ("sun", "mon", "tue", "wed", "thu")}
_DAY = timedelta(days=1)
_SEARCH_DAYS = 3660  # a calendar with no working day at all would otherwise loop forever


@dataclass(frozen=True)
class BusinessCalendar:
    zone: ZoneInfo
    workdays: frozenset[int]  # date.weekday() numbers
    opens: time
    closes: time
    country: str | None = None
    holiday_names: dict[date, str] = field(default_factory=dict, compare=False, repr=False)
    """Filled lazily, one year at a time, from the `holidays` package."""
    _years_loaded: set[int] = field(default_factory=set, compare=False, repr=False)
    _intervals: dict[date, tuple[datetime, datetime] | None] = field(
        default_factory=dict, compare=False, repr=False
    )
    notes: list[str] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def from_config(cls, audit: AuditSection) -> BusinessCalendar:
        country = audit.country.upper() if audit.country else None
        hours = audit.business_hours
        names = hours.workdays or COUNTRY_WORKDAYS.get(country or "", DEFAULT_WORKDAYS)
        return cls(
            zone=ZoneInfo(audit.timezone),
            workdays=frozenset(WEEKDAYS.index(name) for name in names),
            opens=time.fromisoformat(hours.opens),
            closes=time.fromisoformat(hours.closes),
            country=country,
        )

    # ----------------------------------------------------------------------------------------- days

    def holiday(self, day: date) -> str | None:
        """The public holiday's name on that local date, if any."""
        if self.country is None:
            return None
        if day.year not in self._years_loaded:
            self._load_year(day.year)
        return self.holiday_names.get(day)

    def _load_year(self, year: int) -> None:
        self._years_loaded.add(year)
        assert self.country is not None
        try:
            found = holidays.country_holidays(self.country, years=year)
        except NotImplementedError:
            note = f"no public holidays are known for country {self.country}; only weekends are closed"
            if note not in self.notes:
                self.notes.append(note)
            return
        for day, name in found.items():
            self.holiday_names[day] = str(name)

    def is_workday(self, day: date) -> bool:
        return day.weekday() in self.workdays and self.holiday(day) is None

    def open_interval(self, day: date) -> tuple[datetime, datetime] | None:
        """That local day's open hours as a UTC interval, or None when closed all day."""
        if day in self._intervals:
            return self._intervals[day]
        interval = None
        if self.is_workday(day):
            start = datetime.combine(day, self.opens, tzinfo=self.zone).astimezone(UTC)
            end = datetime.combine(day, self.closes, tzinfo=self.zone).astimezone(UTC)
            interval = (start, end)
        self._intervals[day] = interval
        return interval

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    # ------------------------------------------------------------------------------------- measures

    def business_seconds_between(self, start: datetime, end: datetime) -> float:
        """Open seconds in [start, end); 0 when end is not after start."""
        if end <= start:
            return 0.0
        total = 0.0
        day, last = self.local_date(start), self.local_date(end)
        while day <= last:
            interval = self.open_interval(day)
            if interval is not None:
                low, high = max(start, interval[0]), min(end, interval[1])
                if high > low:
                    total += (high - low).total_seconds()
            day += _DAY
        return total

    def classify(self, moment: datetime) -> SubmitTimeClass:
        """Business hours, evening (a working day, outside hours) or weekend (a closed day or holiday)."""
        day = self.local_date(moment)
        interval = self.open_interval(day)
        if interval is None:
            return SubmitTimeClass.WEEKEND
        if interval[0] <= moment < interval[1]:
            return SubmitTimeClass.BUSINESS
        return SubmitTimeClass.EVENING

    def next_open(self, moment: datetime) -> datetime:
        """The moment itself when open, else the next opening."""
        day = self.local_date(moment)
        for _ in range(_SEARCH_DAYS):
            interval = self.open_interval(day)
            if interval is not None and moment < interval[1]:
                return max(moment, interval[0])
            day += _DAY
        raise ValueError("the business calendar has no working day")

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The moment when `seconds` of open time have passed since start."""
        moment = self.next_open(start)
        remaining = seconds
        day = self.local_date(moment)
        for _ in range(_SEARCH_DAYS):
            interval = self.open_interval(day)
            if interval is not None and moment < interval[1]:
                low = max(moment, interval[0])
                available = (interval[1] - low).total_seconds()
                if remaining <= available:
                    return low + timedelta(seconds=remaining)
                remaining -= available
            day += _DAY
        raise ValueError("the business calendar has no working day")

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        return self.add_business_seconds(start, hours * 3600)

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The close of the `days`-th working day after the first open moment from start.

        "Within 2 business days" of Monday 10:00 means by Wednesday's close; 0 days means today's close
        (or, after hours, the next working day's close).
        """
        first = self.next_open(start)
        day = self.local_date(first)
        counted = 0
        for _ in range(_SEARCH_DAYS):
            interval = self.open_interval(day)
            if interval is not None:
                if counted == days:
                    return interval[1]
                counted += 1
            day += _DAY
        raise ValueError("the business calendar has no working day")

    def add_threshold(self, start: datetime, threshold: timedelta) -> datetime:
        """A threshold on the business clock: whole days are working days, anything else open hours.

        So `reasonable: 48h` reads "within 2 business days" and `fast: 4h` "within 4 business hours", the
        tier lines of docs/method.md, "Tiers", rather than 48 open hours (six working days).
        """
        seconds = threshold.total_seconds()
        if seconds >= 86400 and seconds % 86400 == 0:
            return self.add_business_days(start, int(seconds // 86400))
        return self.add_business_seconds(start, seconds)
