"""Tiers: one per probe from its times and quality, one per company from its probes
(docs/method.md, "Tiers" and "Company tier").

Probe rules (thresholds from `audit.thresholds` and `audit.quality`, on the clock `audit.clock` names):
- not_reached: no inquiry was submitted (the reason is the runner's);
- pending: graded before the deadline and no human reply yet;
- no_reply: no human reply by the deadline (a later one within the late window is shown as late);
- fast_courteous: a first human reply within `fast` and quality at least `good`;
- reasonable: within `reasonable` and quality at least `adequate`;
- slow_or_lacking: any other human reply by the deadline (later, or poorer).

On the business clock a threshold of whole days counts working days (48h: "within 2 business days") and any
other threshold open hours (4h: "within 4 business hours").

A company's tier is the median of its probes' tiers, the worse middle one for an even count; probes that were
not reached count only when no probe was. It is `inconsistent` when its graded probes land in two or more
different tiers.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta

from audit.config import AuditSection
from audit.grading.calendar import BusinessCalendar
from audit.grading.latency import Timeline
from audit.grading.types import CompanyResult, ProbeResult, Tier


def format_duration(seconds: float) -> str:
    """33 min, 2 h 30 min, 3 d 4 h: the way TACK wrote times."""
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" if minutes == 0 else f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d" if hours == 0 else f"{days} d {hours} h"


def describe_threshold(threshold: timedelta, clock: str) -> str:
    seconds = threshold.total_seconds()
    if clock == "business":
        if seconds >= 86400 and seconds % 86400 == 0:
            return f"{int(seconds // 86400)} business day(s)"
        return f"{format_duration(seconds)} of business hours"
    return format_duration(seconds)


def within(
    threshold: timedelta, *, sent: datetime, replied: datetime, clock: str, calendar: BusinessCalendar
) -> bool:
    if clock == "business":
        return replied <= calendar.add_threshold(sent, threshold)
    return replied - sent <= threshold


def probe_tier(
    timeline: Timeline,
    quality: float | None,
    *,
    audit: AuditSection,
    calendar: BusinessCalendar,
    as_of: datetime,
) -> tuple[Tier, str]:
    """The probe's tier and one line saying why."""
    if not timeline.reached:
        return Tier.NOT_REACHED, f"not reached: {timeline.not_reached_reason}"
    assert timeline.submitted_at is not None and timeline.deadline_at is not None
    first = timeline.first_human
    if first is None or timeline.late:
        if as_of < timeline.deadline_at:
            return Tier.PENDING, "no human reply yet; the deadline has not passed"
        reason = f"no human reply within {format_duration(audit.deadline.total_seconds())}"
        if first is not None and timeline.wall_seconds_to_human is not None:
            reason += f" (a late reply came after {format_duration(timeline.wall_seconds_to_human)})"
        return Tier.NO_REPLY, reason
    clock = audit.clock
    elapsed = timeline.business_seconds_to_human if clock == "business" else timeline.wall_seconds_to_human
    assert elapsed is not None
    score = quality if quality is not None else 0.0
    took = f"first human reply after {format_duration(elapsed)} ({clock} clock)"
    thresholds, needed = audit.thresholds, audit.quality

    def in_time(threshold: timedelta) -> bool:
        assert timeline.submitted_at is not None and first is not None
        return within(
            threshold, sent=timeline.submitted_at, replied=first.received_at, clock=clock, calendar=calendar
        )

    fast, reasonable = in_time(thresholds.fast), in_time(thresholds.reasonable)
    if fast and score >= needed.good:
        return Tier.FAST_COURTEOUS, f"{took}, quality {score:.2f}"
    if reasonable and score >= needed.adequate:
        return Tier.REASONABLE, f"{took}, quality {score:.2f}"
    if not reasonable:
        limit = describe_threshold(thresholds.reasonable, clock)
        return Tier.SLOW_OR_LACKING, f"{took}, later than {limit}; quality {score:.2f}"
    return Tier.SLOW_OR_LACKING, f"{took}, but quality {score:.2f} is below {needed.adequate:.2f}"


def _counted(tiers: Sequence[Tier]) -> list[Tier]:
    reached: list[Tier] = [tier for tier in tiers if tier is not Tier.NOT_REACHED]
    return reached or list(tiers)


def company_tier(tiers: Sequence[Tier]) -> Tier:
    """The median tier; with an even count the worse of the two middle ones."""
    if not tiers:
        raise ValueError("a company without probes has no tier")
    ranked = sorted(_counted(tiers), key=lambda tier: tier.rank)
    return ranked[len(ranked) // 2]


def is_inconsistent(tiers: Sequence[Tier]) -> bool:
    graded = {tier for tier in tiers if tier not in (Tier.NOT_REACHED, Tier.PENDING)}
    return len(graded) >= 2


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def company_result(
    *,
    company_id: str,
    name: str,
    sector: str,
    probes: Sequence[ProbeResult],
    override: tuple[Tier, str] | None = None,
) -> CompanyResult:
    """Combine a company's probes; `override` is a person's tier for the whole company, with its note."""
    ordered = tuple(sorted(probes, key=lambda probe: probe.seq))
    tiers = [probe.tier for probe in ordered]
    tier = company_tier(tiers)
    answered = [probe for probe in ordered if probe.first_human_at is not None and not probe.late]
    qualities = [probe.quality for probe in ordered if probe.quality is not None and not probe.late]
    notes = tuple(note for probe in ordered for note in probe.override_notes)
    overridden = any(probe.tier_overridden for probe in ordered)
    if override is not None:
        tier, notes, overridden = override[0], (*notes, override[1]), True
    return CompanyResult(
        company_id=company_id,
        name=name,
        sector=sector,
        probes=ordered,
        tier=tier,
        inconsistent=is_inconsistent(tiers),
        wall_seconds_to_human=_median(
            [p.wall_seconds_to_human for p in answered if p.wall_seconds_to_human is not None]
        ),
        business_seconds_to_human=_median(
            [p.business_seconds_to_human for p in answered if p.business_seconds_to_human is not None]
        ),
        quality=_median(qualities),
        quality_spread=(min(qualities), max(qualities)) if len(qualities) > 1 else None,
        tier_overridden=overridden,
        override_notes=tuple(dict.fromkeys(notes)),
    )


def sort_key(company: CompanyResult) -> tuple[int, float, str]:
    """Report order: tier, then time to the first human reply (none last), then name."""
    seconds = company.wall_seconds_to_human
    return (company.tier.rank, seconds if seconds is not None else float("inf"), company.name.lower())
