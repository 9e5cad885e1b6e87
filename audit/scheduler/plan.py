"""A scheduled wave's plan: one `PlannedSubmission` per company, written before anything is due.

Submissions are spread evenly over the wave's window in random company order, each moved by a random jitter
(never out of the stretch of time it was placed in), so a company cannot tell the audit's rhythm and no two
inquiries land at once. With `working_hours_only` the window's open hours are used (a window holding none is
extended to the next working day's); `off_hours_share` of the companies are placed in the window's evenings,
nights or weekends instead and labelled `off_hours`, so the report never averages the two silently. A company
contacted recently (any earlier wave, sent or planned) is moved to `min_gap_same_company` after that contact.

Planning is idempotent: a probe that already has its planned row is left alone, so planning a wave twice
(a restart mid-start, a second scheduler) creates nothing new.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from audit.config import AuditConfig, ScheduleSection
from audit.grading.calendar import BusinessCalendar
from audit.models import PlannedSubmission, Probe, ProbeState, Wave
from audit.runner import plan_probes, sync_companies
from audit.scheduler.hours import Span, closed_spans, is_open, next_open_moment, open_spans

BUSINESS = "business"
OFF_HOURS = "off_hours"
_SEARCH_AHEAD = timedelta(days=30)  # how far to look for open (or closed) hours when the window has none


@dataclass(frozen=True, slots=True)
class Slot:
    due_at: datetime
    time_class: str  # BUSINESS | OFF_HOURS


def _pool_total(pool: Sequence[Span]) -> float:
    return sum(span.seconds for span in pool)


def _slots_in(pool: Sequence[Span], count: int, jitter: timedelta, rng: random.Random) -> list[datetime]:
    """`count` moments spread evenly over the pool's spans, each jittered but kept inside its own span."""
    total = _pool_total(pool)
    moments: list[datetime] = []
    for index in range(count):
        offset = (index + 0.5) / count * total
        for span in pool:
            if offset <= span.seconds or span is pool[-1]:
                break
            offset -= span.seconds
        shifted = offset + rng.uniform(-1.0, 1.0) * jitter.total_seconds()
        # Inside the span, and a second short of its end (an opening hour is [opens, closes)).
        clamped = min(max(shifted, 0.0), max(span.seconds - 1.0, 0.0))
        moments.append(span.start + timedelta(seconds=clamped))
    return moments


def _business_pool(
    calendar: BusinessCalendar, schedule: ScheduleSection, start: datetime, end: datetime
) -> list[Span]:
    if not schedule.working_hours_only:
        return [Span(start, end)]
    pool = open_spans(calendar, start, end)
    if _pool_total(pool) > 0:
        return pool
    opening = next_open_moment(calendar, end)
    following = open_spans(calendar, opening, opening + timedelta(days=1))
    return following[:1] or [Span(start, end)]  # no open hours within a month: the window as it is


def _off_hours_pool(calendar: BusinessCalendar, start: datetime, end: datetime) -> list[Span]:
    pool = [span for span in closed_spans(calendar, start, end) if span.seconds > 0]
    if pool:
        return pool
    later = closed_spans(calendar, end, end + _SEARCH_AHEAD)  # the window is all open hours: the next closing
    return later[:1] or [Span(start, end)]


def spread(
    config: AuditConfig, *, count: int, start: datetime, end: datetime, rng: random.Random
) -> list[Slot]:
    """`count` slots over [start, end), in random order: the off-hours share outside open hours."""
    schedule = config.schedule
    assert schedule is not None
    calendar = BusinessCalendar.from_config(config.audit)
    off_count = round(count * schedule.off_hours_share)
    in_count = count - off_count
    slots = [
        Slot(moment, BUSINESS if is_open(calendar, moment) else OFF_HOURS)
        for moment in _slots_in(
            _business_pool(calendar, schedule, start, end), in_count, schedule.jitter, rng
        )
    ]
    if off_count:
        off_pool = _off_hours_pool(calendar, start, end)
        slots += [Slot(moment, OFF_HOURS) for moment in _slots_in(off_pool, off_count, schedule.jitter, rng)]
    rng.shuffle(slots)
    return slots


def last_contacts(session: Session, wave_id: int, company_ids: Sequence[str]) -> dict[str, datetime]:
    """Per company, the latest inquiry of another wave: sent (or at least clicked) or still planned."""
    contacted = func.coalesce(Probe.submitted_at, Probe.clicked_at, Probe.submit_started_at)
    latest: dict[str, datetime] = {}
    sent = session.exec(
        select(Probe.company_id, func.max(contacted))
        .where(
            col(Probe.wave_id) != wave_id,
            col(Probe.company_id).in_(company_ids),
            col(Probe.dry_run).is_(False),
        )
        .group_by(col(Probe.company_id))
    ).all()
    planned = session.exec(
        select(PlannedSubmission.company_id, func.max(PlannedSubmission.due_at))
        .join(Probe, col(Probe.id) == col(PlannedSubmission.probe_id))
        .where(
            col(PlannedSubmission.wave_id) != wave_id,
            col(PlannedSubmission.company_id).in_(company_ids),
            PlannedSubmission.status == "planned",
            Probe.state == ProbeState.PLANNED,
        )
        .group_by(col(PlannedSubmission.company_id))
    ).all()
    for company_id, moment in (*sent, *planned):
        if moment is not None and (company_id not in latest or moment > latest[company_id]):
            latest[company_id] = moment
    return latest


def plan_wave(
    session: Session,
    config: AuditConfig,
    wave: Wave,
    *,
    start: datetime,
    end: datetime,
    rng: random.Random | None = None,
) -> list[PlannedSubmission]:
    """Create the wave's probes and planned rows for every enabled company not planned yet; return the new
    rows. The caller commits (with the wave, so a wave never exists without its plan)."""
    schedule = config.schedule
    assert schedule is not None and wave.id is not None
    rng = rng or random.Random()
    companies = [company for company in config.companies if company.enabled]
    sync_companies(session, config)
    plan_probes(session, wave, config, companies)
    session.flush()
    enabled = {company.id for company in companies}
    already = set(
        session.exec(select(PlannedSubmission.probe_id).where(PlannedSubmission.wave_id == wave.id))
    )
    probes = [
        probe
        for probe in session.exec(
            select(Probe)
            .where(Probe.wave_id == wave.id, Probe.state == ProbeState.PLANNED)
            .order_by(col(Probe.id))
        )
        if probe.id not in already and probe.company_id in enabled
    ]
    if not probes:
        return []
    slots = spread(config, count=len(probes), start=start, end=end, rng=rng)
    previous = last_contacts(session, wave.id, [probe.company_id for probe in probes])
    calendar = BusinessCalendar.from_config(config.audit)
    rows: list[PlannedSubmission] = []
    for probe, slot in zip(probes, slots, strict=True):
        assert probe.id is not None
        due, note = slot.due_at, None
        earliest = previous.get(probe.company_id)
        if earliest is not None and due < earliest + schedule.min_gap_same_company:
            due = earliest + schedule.min_gap_same_company
            if schedule.working_hours_only and slot.time_class == BUSINESS:
                due = next_open_moment(calendar, due)
            note = f"moved: the company was last contacted at {earliest.isoformat()} (min_gap_same_company)"
        row = PlannedSubmission(
            wave_id=wave.id,
            company_id=probe.company_id,
            probe_id=probe.id,
            due_at=due,
            time_class=slot.time_class,
            note=note,
        )
        session.add(row)
        rows.append(row)
    return rows
