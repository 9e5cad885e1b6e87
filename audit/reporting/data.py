"""Grades in, report data out: pure functions, no database, no clock, no files.

`build_report_data(grades, previous, facts, config, lang=...)` returns the whole `ReportData` tree in the
order the report reads: headline, tier sections, ranked table, numbers, sectors, trend, method, context.
"""

from __future__ import annotations

import math
from collections import Counter

from audit.config import AuditConfig
from audit.grading.types import CompanyResult, Tier, WaveGrades
from audit.reporting import i18n
from audit.reporting.i18n import Lang
from audit.reporting.metrics import DAY, WaveMetrics
from audit.reporting.paragraphs import not_reached_reason, representative, tier_sections
from audit.reporting.tables import (
    business_day,
    distribution,
    metric_rows,
    metrics_for,
    ranking,
    rubric,
    sectors,
    sort_key,
    speed_quality,
    tier_counts,
    trend,
    workdays,
)
from audit.reporting.types import (
    Bar,
    BuildContext,
    CompanyEntry,
    EvidenceLink,
    Figure,
    Headline,
    Link,
    MethodItem,
    Methodology,
    MetricRow,
    Mover,
    RankRow,
    ReportData,
    SectorRow,
    SpeedPoint,
    SpeedQuality,
    Study,
    TierCount,
    TierSection,
    Trend,
    TrendRow,
    WaveFacts,
)
from audit.tokens import compose_message

__all__ = [
    "Bar",
    "CompanyEntry",
    "EvidenceLink",
    "Figure",
    "Headline",
    "Link",
    "MethodItem",
    "Methodology",
    "MetricRow",
    "Mover",
    "RankRow",
    "ReportData",
    "SectorRow",
    "SpeedPoint",
    "SpeedQuality",
    "Study",
    "TierCount",
    "TierSection",
    "Trend",
    "TrendRow",
    "WaveFacts",
    "build_report_data",
    "headline_sentence",
]


def build_report_data(
    grades: WaveGrades,
    previous: WaveGrades | None,
    facts: WaveFacts,
    config: AuditConfig,
    *,
    lang: Lang,
) -> ReportData:
    links = {}
    if config.report.evidence_links:
        links = {
            probe_id: tuple(Link(label=i18n.phrase(lang, f"link.{e.kind}"), href=e.href) for e in evidence)
            for probe_id, evidence in facts.evidence.items()
        }
    ctx = BuildContext(lang=lang, config=config, links=links)
    companies = tuple(sorted(grades.companies, key=sort_key))
    probes = [probe for company in companies for probe in company.probes]
    numbers = metrics_for(ctx, probes)
    trend_data = None
    if previous is not None:
        before = metrics_for(ctx, [probe for company in previous.companies for probe in company.probes])
        trend_data = trend(
            ctx,
            numbers,
            before,
            previous_wave=previous.wave_id,
            companies=companies,
            previous=previous.companies,
        )
    hidden = sum(1 for company in companies if company.tier is Tier.NO_REPLY) if ctx.names_hidden else 0
    audit_name = " ".join(config.audit.name.split())
    return ReportData(
        lang=lang,
        direction=i18n.direction(lang),
        wave_id=grades.wave_id,
        title=ctx.phrase("title", audit=audit_name, wave=grades.wave_id),
        subtitle=ctx.phrase("subtitle", as_of=ctx.moment(grades.as_of, "long"), zone=ctx.zone),
        subject=_subject(ctx, audit_name, grades.wave_id, companies),
        labels=i18n.LABELS[lang],
        headline=_headline(ctx, companies, numbers, trend_data.sentence if trend_data else None),
        tiers=tier_sections(ctx, companies),
        ranking=ranking(ctx, companies),
        ranking_note=ctx.phrase("hidden", n=hidden) if hidden else None,
        metrics=metric_rows(ctx, numbers),
        distribution=distribution(ctx, probes),
        speed_quality=speed_quality(ctx, companies, numbers),
        rubric=rubric(ctx, probes),
        sectors=sectors(ctx, companies),
        trend=trend_data,
        method=_methodology(ctx, grades, companies),
        context_intro=ctx.phrase("context.intro"),
        context=tuple(Study(name=name, finding=finding) for name, finding in i18n.STUDIES[lang]),
        footer=ctx.phrase("footer", date=ctx.moment(facts.generated_at, "long"), zone=ctx.zone),
        evidence_links=config.report.evidence_links,
        numbers=numbers,
    )


def _count(companies: tuple[CompanyResult, ...], tier: Tier) -> int:
    return sum(1 for company in companies if company.tier is tier)


def _subject(ctx: BuildContext, audit_name: str, wave_id: int, companies: tuple[CompanyResult, ...]) -> str:
    return ctx.phrase(
        "subject",
        audit=audit_name,
        wave=wave_id,
        fast=_count(companies, Tier.FAST_COURTEOUS),
        reasonable=_count(companies, Tier.REASONABLE),
        slow=_count(companies, Tier.SLOW_OR_LACKING),
        none=_count(companies, Tier.NO_REPLY),
    )


def _clock_seconds(ctx: BuildContext, company: CompanyResult) -> float | None:
    if ctx.config.audit.clock == "business":
        return company.business_seconds_to_human
    return company.wall_seconds_to_human


def _slow_range(ctx: BuildContext, seconds: list[float]) -> str:
    """'2 to 5 days' from the data (whole days when all took a day or more), else '20 hr to 3 days'."""
    low, high = min(seconds), max(seconds)
    if low >= DAY:
        low_days, high_days = max(1, round(low / DAY)), max(1, math.ceil(high / DAY - 0.25))
        high_days = max(low_days, high_days)
        if low_days == high_days:
            return ctx.phrase("range.same_days", low=i18n.number(low_days, ctx.lang))
        return ctx.phrase(
            "range.days", low=i18n.number(low_days, ctx.lang), high=i18n.number(high_days, ctx.lang)
        )
    if ctx.duration(low) == ctx.duration(high):
        return ctx.duration(low)
    return ctx.phrase("range.mixed", low=ctx.duration(low), high=ctx.duration(high))


def _slow_part(ctx: BuildContext, members: list[CompanyResult]) -> str:
    reasonable = ctx.config.audit.thresholds.reasonable.total_seconds()
    adequate = ctx.config.audit.quality.adequate
    seconds = [s for s in (_clock_seconds(ctx, company) for company in members) if s is not None]
    all_slow = len(seconds) == len(members) and all(s > reasonable for s in seconds)
    all_poor = all(company.quality is None or company.quality < adequate for company in members)
    walls = [c.wall_seconds_to_human for c in members if c.wall_seconds_to_human is not None]
    if all_slow and walls:
        key = "head.slow.slow_poor" if all_poor else "head.slow.slow"
        return ctx.phrase(key, n=len(members), range=_slow_range(ctx, walls))
    if all_poor and not any(s > reasonable for s in seconds):
        return ctx.phrase("head.slow.poor", n=len(members))
    return ctx.phrase("head.slow.mixed", n=len(members))


def headline_sentence(ctx: BuildContext, companies: tuple[CompanyResult, ...]) -> tuple[str, str | None]:
    """TACK's sentence, built from the counts: 'Of 41 companies we contacted ..., 4 answered fast ...'.

    Returns the sentence and a second one about the companies no inquiry could reach (or None).
    """
    reached = [company for company in companies if company.tier is not Tier.NOT_REACHED]
    unreached = [company for company in companies if company.tier is Tier.NOT_REACHED]
    reasons = ", ".join(
        f"{reason} ({count})" if len(unreached) > 1 else reason
        for reason, count in Counter(
            not_reached_reason(ctx, representative(company)) for company in unreached
        ).most_common()
    )
    if not companies:
        return ctx.phrase("head.empty"), None
    if not reached:
        return ctx.phrase("head.none_reached", n=len(companies), reasons=reasons), None
    parts = []
    for tier in (Tier.FAST_COURTEOUS, Tier.REASONABLE, Tier.SLOW_OR_LACKING, Tier.NO_REPLY, Tier.PENDING):
        members = [company for company in reached if company.tier is tier]
        if tier is Tier.SLOW_OR_LACKING and members:
            parts.append(_slow_part(ctx, members))
        elif members:
            parts.append(ctx.phrase(f"head.{tier.value}", n=len(members)))
        elif tier in (Tier.FAST_COURTEOUS, Tier.NO_REPLY):
            parts.append(ctx.phrase(f"head.{tier.value}.zero"))
    sentence = ctx.phrase("head.intro", n=len(reached)) + "; ".join(parts) + "."
    second = ctx.phrase("head.not_reached", n=len(unreached), reasons=reasons) if unreached else None
    return sentence, second


def _headline(
    ctx: BuildContext, companies: tuple[CompanyResult, ...], numbers: WaveMetrics, trend_sentence: str | None
) -> Headline:
    sentence, not_reached = headline_sentence(ctx, companies)
    figures = (
        Figure(i18n.number(len(companies), ctx.lang), ctx.phrase("fig.companies")),
        Figure(ctx.percent(numbers.reachable_share), ctx.phrase("fig.reachable")),
        Figure(ctx.percent(numbers.within_1h), ctx.phrase("fig.within_1h")),
        Figure(ctx.percent(numbers.within_24h), ctx.phrase("fig.within_24h")),
        Figure(ctx.percent(numbers.within_5d), ctx.phrase("fig.within_5d")),
        Figure(ctx.latency(numbers.median_s), ctx.phrase("fig.median")),
        Figure(ctx.percent(numbers.never_share), ctx.phrase("fig.never")),
    )
    counts: tuple[TierCount, ...] = tier_counts(ctx, companies)
    return Headline(
        sentence=sentence, not_reached=not_reached, trend=trend_sentence, counts=counts, figures=figures
    )


def _inquiry_text(ctx: BuildContext, text: str) -> str:
    """The message as companies received it, with a placeholder company name and reference code."""
    persona = ctx.config.persona
    return compose_message(
        text,
        ref="XXXX-XX",
        company="[company]" if ctx.lang == "en" else "[שם החברה]",
        first_name=persona.first_name,
        last_name=persona.last_name,
    )


def _methodology(ctx: BuildContext, grades: WaveGrades, companies: tuple[CompanyResult, ...]) -> Methodology:
    audit, persona = ctx.config.audit, ctx.config.persona
    probes = [probe for company in companies for probe in company.probes]
    sent = sorted(probe.submitted_at for probe in probes if probe.submitted_at is not None)
    first, last = (ctx.moment(sent[0], "date"), ctx.moment(sent[-1], "date")) if sent else ("", "")
    dates = ctx.phrase("method.dates.one", date=first) if first == last else ""
    dates = dates or ctx.phrase("method.dates.range", first=first, last=last)
    wave = ctx.phrase(
        "method.wave_value", wave=grades.wave_id, sent=len(sent), companies=len(companies), dates=dates
    )
    clock = ctx.phrase("method.clock.business" if grades.clock == "business" else "method.clock.wall")
    hours = audit.business_hours
    holidays = ctx.phrase("method.holidays", country=audit.country) if audit.country else ""
    items = [
        ("method.audit", " ".join(audit.name.split())),
        ("method.wave", wave),
        ("method.as_of", ctx.moment(grades.as_of, "long")),
        (
            "method.persona",
            ctx.phrase(
                "method.persona_value", name=f"{persona.first_name} {persona.last_name}", phone=persona.phone
            ),
        ),
        ("method.deadline", ctx.phrase("method.deadline_value", deadline=ctx.deadline())),
        (
            "method.thresholds",
            ctx.phrase(
                "method.thresholds_value",
                fast=ctx.duration(audit.thresholds.fast.total_seconds()),
                reasonable=ctx.duration(audit.thresholds.reasonable.total_seconds()),
                clock=clock,
                good=ctx.percent(audit.quality.good),
                adequate=ctx.percent(audit.quality.adequate),
            ),
        ),
        (
            "method.calendar",
            ctx.phrase(
                "method.calendar_value",
                days=i18n.weekdays(workdays(ctx), ctx.lang),
                opens=hours.opens,
                closes=hours.closes,
                zone=audit.timezone,
                holidays=holidays,
            )
            + f" ({ctx.duration(business_day(ctx).total_seconds())})",
        ),
        ("method.reply", ctx.phrase("method.reply_value")),
        ("method.quantiles", ctx.phrase("method.quantiles_value", deadline=ctx.deadline())),
    ]
    if audit.mask_staff_names:
        items.append(("method.staff", ctx.phrase("method.staff_value")))
    criteria = i18n.CRITERIA[ctx.lang]
    return Methodology(
        items=tuple(MethodItem(label=ctx.phrase(key), value=value) for key, value in items),
        inquiry_subject=ctx.config.inquiry.subject,
        inquiry_message=_inquiry_text(ctx, ctx.config.inquiry.message),
        rubric=tuple(
            MethodItem(label=f"{criterion_id} · {words[0]}", value=words[3])
            for criterion_id, words in criteria.items()
        ),
    )
