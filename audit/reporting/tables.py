"""The numbers: the ranked table, metrics, distribution, speed against quality, rubric, sectors, trend."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import timedelta

from audit.grading.types import CompanyResult, ProbeResult, Tier
from audit.reporting import i18n
from audit.reporting.i18n import N_
from audit.reporting.metrics import (
    DAY,
    HOUR,
    NEVER,
    WaveMetrics,
    answered_in_time,
    compute_metrics,
    human_seconds,
)
from audit.reporting.paragraphs import CRITERION_ORDER, company_links, representative, withheld_note
from audit.reporting.types import (
    Bar,
    BuildContext,
    ChannelRow,
    MetricRow,
    Mover,
    RankRow,
    SectorRow,
    SpeedPoint,
    SpeedQuality,
    TierCount,
    Trend,
    TrendRow,
)

REPORTED_TIERS = (Tier.FAST_COURTEOUS, Tier.REASONABLE, Tier.SLOW_OR_LACKING, Tier.NO_REPLY)
# A correlation weaker than this is reported as "no clear relation" rather than as a tendency.
CORRELATION_NOTEWORTHY = 0.3
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# The measures of "The numbers", some of them again in the trend table.
_MEASURES = {
    "reachable": N_("Could be contacted through the website"),
    "median": N_("Median first human reply (no reply counts as never)"),
    "p90": N_("90th percentile"),
    "median_responders": N_("Median among those who replied"),
    "within_1h": N_("Replied within 1 hour"),
    "within_24h": N_("Replied within 24 hours"),
    "within_5d": N_("Replied within 5 days"),
    "within_fast_business": N_("Replied within {fast} of business time"),
    "within_2_business_days": N_("Replied within 2 business days"),
    "never": N_("Never replied (by the deadline)"),
    "acknowledged": N_("Sent an automatic acknowledgement"),
    "median_ack": N_("Median time to the acknowledgement"),
    "complete": N_("Answered every part in the first reply (of those who replied)"),
    "followed_up": N_("Followed up unprompted (of those who replied)"),
    "quality": N_("Average reply quality"),
    "correlation": N_("Rank correlation of reply time and quality"),
}


def sort_key(company: CompanyResult) -> tuple[int, float, str]:
    """Tier, then time to the first human reply, then name: the grader's order, re-applied to be sure."""
    seconds = company.wall_seconds_to_human
    return company.tier.rank, NEVER if seconds is None else seconds, company.name.casefold()


def business_day(ctx: BuildContext) -> timedelta:
    hours = ctx.config.audit.business_hours
    opens_h, opens_m = (int(part) for part in hours.opens.split(":"))
    closes_h, closes_m = (int(part) for part in hours.closes.split(":"))
    return timedelta(hours=closes_h - opens_h, minutes=closes_m - opens_m)


def workdays(ctx: BuildContext) -> tuple[str, ...]:
    configured = ctx.config.audit.business_hours.workdays
    if configured:
        return tuple(configured)
    return ("sun", "mon", "tue", "wed", "thu") if ctx.config.audit.country == "IL" else _WEEKDAYS[:5]


def metrics_for(ctx: BuildContext, probes: Sequence[ProbeResult]) -> WaveMetrics:
    return compute_metrics(
        probes, fast_business=ctx.config.audit.thresholds.fast, business_day=business_day(ctx)
    )


def tier_counts(ctx: BuildContext, companies: Sequence[CompanyResult]) -> tuple[TierCount, ...]:
    total = len(companies)
    counts = []
    for tier in Tier:
        count = sum(1 for company in companies if company.tier is tier)
        if count == 0 and tier not in REPORTED_TIERS:
            continue
        counts.append(
            TierCount(
                tier=tier.value,
                label=ctx.tier_short(tier),
                count=count,
                percent=ctx.percent(count / total if total else None),
                width=100 * count / total if total else 0.0,
            )
        )
    return tuple(counts)


def ranking(ctx: BuildContext, companies: Sequence[CompanyResult]) -> tuple[RankRow, ...]:
    rows = []
    position = 0
    emailed = any(probe.channel == "email" for company in companies for probe in company.probes)
    for company in sorted(companies, key=sort_key):
        if company.tier is Tier.NO_REPLY and ctx.names_hidden:
            continue
        probe = representative(company)
        reached = company.tier is not Tier.NOT_REACHED
        position += reached
        if answered_in_time(probe):
            first_human = ctx.latency(company.wall_seconds_to_human)
            first_human_at = ctx.moment(probe.first_human_at, "table")
        elif probe.late and probe.wall_seconds_to_human is not None:
            first_human = ctx.gettext("late reply")
            first_human_at = ctx.moment(probe.first_human_at, "table")
        else:
            first_human = ""
            if reached:
                first_human = ctx.gettext("not yet") if company.tier is Tier.PENDING else ctx.gettext("never")
            first_human_at = ""
        quality = company.quality
        rows.append(
            RankRow(
                rank=str(position) if reached else "",
                name=ctx.company_name(company),
                sector=ctx.sector_name(company.sector),
                submitted=ctx.moment(probe.submitted_at, "table"),
                first_ack=ctx.latency(probe.wall_seconds_to_ack)
                if probe.wall_seconds_to_ack is not None
                else "",
                first_human=first_human,
                first_human_at=first_human_at,
                business=ctx.latency(company.business_seconds_to_human)
                if company.business_seconds_to_human is not None and answered_in_time(probe)
                else "",
                quality=ctx.percent(quality) if quality is not None else "",
                quality_width=100 * quality if quality is not None else 0.0,
                tier=company.tier.value,
                tier_label=ctx.tier_short(company.tier),
                links=company_links(ctx, company),
                channel=channel_label(ctx, probe.channel) if emailed else "",
            )
        )
    return tuple(rows)


def metric_rows(ctx: BuildContext, numbers: WaveMetrics) -> tuple[MetricRow, ...]:
    fast = ctx.duration(ctx.config.audit.thresholds.fast.total_seconds())
    rho = numbers.rank_correlation
    rows = [
        ("reachable", ctx.percent(numbers.reachable_share)),
        ("median", ctx.latency(numbers.median_s)),
        ("p90", ctx.latency(numbers.p90_s)),
        ("median_responders", ctx.latency(numbers.median_responders_s)),
        ("within_1h", ctx.percent(numbers.within_1h)),
        ("within_24h", ctx.percent(numbers.within_24h)),
        ("within_5d", ctx.percent(numbers.within_5d)),
        ("within_fast_business", ctx.percent(numbers.within_fast_business)),
        ("within_2_business_days", ctx.percent(numbers.within_2_business_days)),
        ("never", ctx.percent(numbers.never_share)),
        ("acknowledged", ctx.percent(numbers.acknowledged_share)),
        ("median_ack", ctx.latency(numbers.median_ack_s)),
        ("complete", ctx.percent(numbers.complete_share)),
        ("followed_up", ctx.percent(numbers.followed_up_share)),
        ("quality", ctx.percent(numbers.mean_quality)),
        ("correlation", ctx.gettext("–") if rho is None else i18n.number(rho, ctx.lang, "0.00")),
    ]
    return tuple(MetricRow(label=ctx.gettext(_MEASURES[key], fast=fast), value=value) for key, value in rows)


_BUCKETS = (
    (N_("within 1 hour"), HOUR, Tier.FAST_COURTEOUS),
    (N_("1 to 4 hours"), 4 * HOUR, Tier.FAST_COURTEOUS),
    (N_("4 to 24 hours"), DAY, Tier.REASONABLE),
    (N_("1 to 2 days"), 2 * DAY, Tier.REASONABLE),
    (N_("2 to 5 days"), 5 * DAY, Tier.SLOW_OR_LACKING),
    (N_("more than 5 days"), math.inf, Tier.SLOW_OR_LACKING),
)
_NEVER_BUCKET = N_("no reply by the deadline")
_PENDING_BUCKET = N_("no reply yet")


def distribution(ctx: BuildContext, probes: Sequence[ProbeResult]) -> tuple[Bar, ...]:
    """HBR's and Insellerate's time buckets, plus never and not yet, over every submitted inquiry."""
    reached = [probe for probe in probes if probe.reached]
    counts = [0] * (len(_BUCKETS) + 2)
    for probe in reached:
        seconds = human_seconds(probe)
        if seconds == NEVER:
            counts[-1 if probe.tier is Tier.PENDING else -2] += 1
            continue
        counts[next(i for i, (_, limit, _) in enumerate(_BUCKETS) if seconds <= limit)] += 1
    labels = [(label, tone.value) for label, _, tone in _BUCKETS]
    labels += [(_NEVER_BUCKET, Tier.NO_REPLY.value), (_PENDING_BUCKET, Tier.PENDING.value)]
    largest = max(counts) or 1
    bars = []
    for (label, tone), count in zip(labels, counts, strict=True):
        if label == _PENDING_BUCKET and count == 0:
            continue
        bars.append(
            Bar(
                label=ctx.gettext(label),
                count=count,
                value=ctx.percent(count / len(reached) if reached else None),
                width=100 * count / largest,
                tone=tone,
            )
        )
    return tuple(bars)


def speed_quality(
    ctx: BuildContext, companies: Sequence[CompanyResult], numbers: WaveMetrics
) -> SpeedQuality:
    """The companies that replied, fastest first, each with its quality: TACK's "the slower, the poorer"."""
    points = []
    for company in sorted(companies, key=sort_key):
        probe = representative(company)
        if not answered_in_time(probe) or company.quality is None or company.wall_seconds_to_human is None:
            continue
        points.append(
            (
                company.wall_seconds_to_human,
                SpeedPoint(
                    name=ctx.company_name(company),
                    time=ctx.latency(company.wall_seconds_to_human),
                    quality=ctx.percent(company.quality),
                    width=100 * company.quality,
                    tier=company.tier.value,
                ),
            )
        )
    points.sort(key=lambda pair: pair[0])  # stable: equal times keep the ranking's order
    rho = numbers.rank_correlation
    if rho is None:
        sentence = ctx.gettext("Too few replies to relate speed and quality.")
    else:
        n, shown = numbers.correlation_pairs, i18n.number(rho, ctx.lang, "0.00")
        if rho <= -CORRELATION_NOTEWORTHY:
            sentence = ctx.ngettext(
                "Among the {n} replies, the rank correlation of reply time and quality is {rho}: the slower "
                "the reply, the poorer it tended to be (TACK saw the same in 2010).",
                "Among the {n} replies, the rank correlation of reply time and quality is {rho}: the slower "
                "the reply, the poorer it tended to be (TACK saw the same in 2010).",
                n,
                rho=shown,
            )
        elif rho >= CORRELATION_NOTEWORTHY:
            sentence = ctx.ngettext(
                "Among the {n} replies, the rank correlation of reply time and quality is {rho}: slower "
                "replies tended to be better ones, unlike TACK's finding.",
                "Among the {n} replies, the rank correlation of reply time and quality is {rho}: slower "
                "replies tended to be better ones, unlike TACK's finding.",
                n,
                rho=shown,
            )
        else:
            sentence = ctx.ngettext(
                "Among the {n} replies, the rank correlation of reply time and quality is {rho}: no clear "
                "relation.",
                "Among the {n} replies, the rank correlation of reply time and quality is {rho}: no clear "
                "relation.",
                n,
                rho=shown,
            )
    return SpeedQuality(sentence=sentence, points=tuple(point for _, point in points))


def rubric(ctx: BuildContext, probes: Sequence[ProbeResult]) -> tuple[Bar, ...]:
    """Each criterion's average share of its maximum over the human replies, in the order of
    docs/method.md, "Rubric"."""
    totals: dict[str, list[float]] = defaultdict(list)
    for probe in probes:
        if not answered_in_time(probe):
            continue
        for criterion in probe.criteria:
            if criterion.max_score > 0:
                totals[criterion.criterion].append(criterion.score / criterion.max_score)
    words = i18n.criteria(ctx.lang)
    bars = []
    for criterion_id in sorted(totals, key=_criterion_key):
        scores = totals[criterion_id]
        average = sum(scores) / len(scores)
        name = words[criterion_id].name if criterion_id in words else criterion_id
        bars.append(
            Bar(
                label=f"{criterion_id} · {name}",
                count=len(scores),
                value=ctx.percent(average),
                width=100 * average,
                tone=_quality_tone(ctx, average),
            )
        )
    return tuple(bars)


def _criterion_key(criterion_id: str) -> tuple[int, str]:
    order = CRITERION_ORDER.index(criterion_id) if criterion_id in CRITERION_ORDER else 99
    return order, criterion_id


def _quality_tone(ctx: BuildContext, share: float) -> str:
    quality = ctx.config.audit.quality
    if share >= quality.good:
        return Tier.FAST_COURTEOUS.value
    return Tier.REASONABLE.value if share >= quality.adequate else Tier.SLOW_OR_LACKING.value


def channel_label(ctx: BuildContext, channel: str) -> str:
    return ctx.gettext("by email") if channel == "email" else ctx.gettext("by contact form")


def channels(ctx: BuildContext, companies: Sequence[CompanyResult]) -> tuple[ChannelRow, ...]:
    """Form against email, when the wave used both: each channel's inquiries on the wave's measures."""
    grouped: dict[str, list[ProbeResult]] = defaultdict(list)
    for company in companies:
        for probe in company.probes:
            grouped[probe.channel].append(probe)
    if len(grouped) < 2:
        return ()
    rows = []
    for channel in sorted(grouped, key=lambda name: name != "form"):
        numbers = metrics_for(ctx, grouped[channel])
        rows.append(
            ChannelRow(
                channel=channel_label(ctx, channel),
                inquiries=len(grouped[channel]),
                reached=ctx.percent(numbers.reachable_share),
                replied=ctx.percent(None if numbers.never_share is None else 1 - numbers.never_share),
                median=ctx.latency(numbers.median_s),
                median_responders=ctx.latency(numbers.median_responders_s),
                within_24h=ctx.percent(numbers.within_24h),
                quality=ctx.percent(numbers.mean_quality),
            )
        )
    return tuple(rows)


def sectors(ctx: BuildContext, companies: Sequence[CompanyResult]) -> tuple[SectorRow, ...]:
    grouped: dict[str, list[CompanyResult]] = defaultdict(list)
    for company in companies:
        grouped[company.sector].append(company)
    rows = []
    for sector in sorted(grouped, key=str.casefold):
        members = grouped[sector]
        numbers = metrics_for(ctx, [probe for company in members for probe in company.probes])
        rows.append(
            SectorRow(
                sector=ctx.sector_name(sector),
                companies=len(members),
                reached=ctx.percent(numbers.reachable_share),
                replied=ctx.percent(None if numbers.never_share is None else 1 - numbers.never_share),
                median=ctx.latency(numbers.median_s),
                median_responders=ctx.latency(numbers.median_responders_s),
                within_24h=ctx.percent(numbers.within_24h),
                quality=ctx.percent(numbers.mean_quality),
                tiers=tier_counts(ctx, members),
            )
        )
    return tuple(rows)


# (measure, the number, higher is better, how to show it)
_TREND_MEASURES: tuple[tuple[str, Callable[[WaveMetrics], float | None], bool, str], ...] = (
    ("reachable", lambda m: m.reachable_share, True, "percent"),
    ("median", lambda m: m.median_s, False, "time"),
    ("median_responders", lambda m: m.median_responders_s, False, "time"),
    ("within_1h", lambda m: m.within_1h, True, "percent"),
    ("within_24h", lambda m: m.within_24h, True, "percent"),
    ("never", lambda m: m.never_share, False, "percent"),
    ("acknowledged", lambda m: m.acknowledged_share, True, "percent"),
    ("quality", lambda m: m.mean_quality, True, "percent"),
)


def compare(before: float | None, now: float | None, *, higher_is_better: bool) -> tuple[str, str]:
    """An arrow for the direction of the change and a tone for whether it is good news."""
    if before is None or now is None:
        return "", "none"
    if before == now or (not math.isinf(before) and not math.isinf(now) and abs(before - now) < 1e-9):
        return "=", "same"
    went_up = now > before
    return ("↑" if went_up else "↓"), ("better" if went_up == higher_is_better else "worse")


def trend(
    ctx: BuildContext,
    now: WaveMetrics,
    before: WaveMetrics,
    *,
    previous_wave: int,
    companies: Sequence[CompanyResult],
    previous: Sequence[CompanyResult],
) -> Trend:
    rows = []
    for key, value_of, higher_is_better, kind in _TREND_MEASURES:
        old, new = value_of(before), value_of(now)
        shown = ctx.latency if kind == "time" else ctx.percent
        arrow, tone = compare(old, new, higher_is_better=higher_is_better)
        rows.append(
            TrendRow(
                label=ctx.gettext(_MEASURES[key]), before=shown(old), now=shown(new), arrow=arrow, tone=tone
            )
        )
    for tier in REPORTED_TIERS:
        old_count = sum(1 for company in previous if company.tier is tier)
        new_count = sum(1 for company in companies if company.tier is tier)
        better_when_more = tier in (Tier.FAST_COURTEOUS, Tier.REASONABLE)
        arrow, tone = compare(old_count, new_count, higher_is_better=better_when_more)
        rows.append(
            TrendRow(
                label=ctx.gettext("Companies in tier: {tier}", tier=ctx.tier_short(tier)),
                before=i18n.number(old_count, ctx.lang),
                now=i18n.number(new_count, ctx.lang),
                arrow=arrow,
                tone=tone,
            )
        )
    movers, hidden = _movers(ctx, companies, previous)
    return Trend(
        title=ctx.gettext("Change from the previous wave"),
        sentence=ctx.gettext(
            "Against wave {wave}: median first human reply {before} → {now}; never replied {never_before} → "
            "{never_now}.",
            wave=previous_wave,
            before=ctx.latency(before.median_s),
            now=ctx.latency(now.median_s),
            never_before=ctx.percent(before.never_share),
            never_now=ctx.percent(now.never_share),
        ),
        rows=tuple(rows),
        movers=movers,
        hidden_note=withheld_note(ctx, hidden) if hidden else None,
    )


def _movers(
    ctx: BuildContext, companies: Sequence[CompanyResult], previous: Sequence[CompanyResult]
) -> tuple[tuple[Mover, ...], int]:
    """Companies whose tier changed, most improved first; withheld names stay withheld."""
    before_by_id = {company.company_id: company for company in previous}
    changed = []
    hidden = 0
    for company in companies:
        old = before_by_id.get(company.company_id)
        if old is None or old.tier is company.tier:
            continue
        if ctx.names_hidden and Tier.NO_REPLY in (old.tier, company.tier):
            hidden += 1  # naming it would reveal that it did not reply in one of the two waves
            continue
        changed.append((old.tier.rank - company.tier.rank, company, old))
    changed.sort(key=lambda item: (-item[0], item[1].name.casefold()))
    movers = tuple(
        Mover(
            name=ctx.company_name(company),
            before=ctx.tier_short(old.tier),
            now=ctx.tier_short(company.tier),
            before_tier=old.tier.value,
            now_tier=company.tier.value,
            arrow="↑" if gain > 0 else "↓",
            tone="better" if gain > 0 else "worse",
        )
        for gain, company, old in changed
    )
    return movers, hidden
