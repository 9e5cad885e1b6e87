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
from audit.reporting.charts import charts
from audit.reporting.i18n import Lang
from audit.reporting.metrics import DAY, WaveMetrics
from audit.reporting.paragraphs import not_reached_reason, representative, tier_sections, withheld_note
from audit.reporting.tables import (
    business_day,
    channels,
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
            probe_id: tuple(
                Link(label=i18n.translator(lang).gettext(i18n.EVIDENCE_LINKS[e.kind]), href=e.href)
                for e in evidence
            )
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
    audit_name = ctx.audit_name()
    return ReportData(
        lang=lang,
        direction=i18n.direction(lang),
        wave_id=grades.wave_id,
        title=ctx.gettext("{audit}: wave {wave}", audit=audit_name, wave=grades.wave_id),
        subtitle=ctx.gettext(
            "Graded as of {as_of}. Times in {zone}.", as_of=ctx.moment(grades.as_of, "long"), zone=ctx.zone
        ),
        subject=_subject(ctx, audit_name, grades.wave_id, companies),
        headline=_headline(ctx, companies, numbers, trend_data.sentence if trend_data else None),
        tiers=tier_sections(ctx, companies),
        ranking=ranking(ctx, companies),
        ranking_note=withheld_note(ctx, hidden) if hidden else None,
        metrics=metric_rows(ctx, numbers),
        distribution=distribution(ctx, probes),
        speed_quality=speed_quality(ctx, companies, numbers),
        rubric=rubric(ctx, probes),
        sectors=sectors(ctx, companies),
        channels=channels(ctx, companies),
        charts=charts(ctx, companies),
        trend=trend_data,
        method=_methodology(ctx, grades, companies),
        context_intro=ctx.gettext(
            "The model is TACK's 2010 survey for TheMarker: 41 Israeli companies contacted through their "
            "websites; 4 answered fast and courteously, 14 correctly but coldly, 3 after 2 to 5 days, "
            "about 20 never."
        ),
        context=tuple(
            Study(name=ctx.gettext(name), finding=ctx.gettext(finding)) for name, finding in i18n.STUDIES
        ),
        footer=ctx.gettext(
            "Made with contact-audit on {date}. Times are in {zone}.",
            date=ctx.moment(facts.generated_at, "long"),
            zone=ctx.zone,
        ),
        evidence_links=config.report.evidence_links,
        numbers=numbers,
    )


def _count(companies: tuple[CompanyResult, ...], tier: Tier) -> int:
    return sum(1 for company in companies if company.tier is tier)


def _subject(ctx: BuildContext, audit_name: str, wave_id: int, companies: tuple[CompanyResult, ...]) -> str:
    return ctx.gettext(
        "{audit}, wave {wave}: {fast} fast, {reasonable} reasonable, {slow} slow or lacking, {none} no reply",
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
            return ctx.gettext("{low} days", low=i18n.number(low_days, ctx.lang))
        return ctx.gettext(
            "{low} to {high} days", low=i18n.number(low_days, ctx.lang), high=i18n.number(high_days, ctx.lang)
        )
    if ctx.duration(low) == ctx.duration(high):
        return ctx.duration(low)
    return ctx.gettext("{low} to {high}", low=ctx.duration(low), high=ctx.duration(high))


def _slow_part(ctx: BuildContext, members: list[CompanyResult]) -> str:
    reasonable = ctx.config.audit.thresholds.reasonable.total_seconds()
    adequate = ctx.config.audit.quality.adequate
    seconds = [s for s in (_clock_seconds(ctx, company) for company in members) if s is not None]
    all_slow = len(seconds) == len(members) and all(s > reasonable for s in seconds)
    all_poor = all(company.quality is None or company.quality < adequate for company in members)
    walls = [c.wall_seconds_to_human for c in members if c.wall_seconds_to_human is not None]
    n = len(members)
    if all_slow and walls:
        took = _slow_range(ctx, walls)
        if all_poor:
            return ctx.ngettext(
                "{n} took {range} and answered poorly", "{n} took {range} and answered poorly", n, range=took
            )
        return ctx.ngettext("{n} took {range} to answer", "{n} took {range} to answer", n, range=took)
    if all_poor and not any(s > reasonable for s in seconds):
        return ctx.ngettext("{n} answered, but poorly", "{n} answered, but poorly", n)
    return ctx.ngettext("{n} answered late or poorly", "{n} answered late or poorly", n)


def _tier_part(ctx: BuildContext, tier: Tier, n: int) -> str | None:
    """The headline's clause for a tier other than the slow one; None when it has nothing to say."""
    # English needs no plural here ("1 answered"), Hebrew does ("חברה אחת ענתה"): hence ngettext.
    if tier is Tier.FAST_COURTEOUS:
        if not n:
            return ctx.gettext("none answered fast, personally and courteously")
        return ctx.ngettext(
            "{n} answered fast, personally and courteously",
            "{n} answered fast, personally and courteously",
            n,
        )
    if tier is Tier.REASONABLE and n:
        return ctx.ngettext(
            "{n} answered correctly but left us indifferent",
            "{n} answered correctly but left us indifferent",
            n,
        )
    if tier is Tier.NO_REPLY:
        if not n:
            return ctx.gettext("every one of them answered")
        return ctx.ngettext("{n} never answered", "{n} never answered", n)
    if tier is Tier.PENDING and n:
        return ctx.ngettext("{n} have not answered yet", "{n} have not answered yet", n)
    return None


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
        return ctx.gettext("No inquiry of this wave has been graded yet."), None
    if not reached:
        none_reached = ctx.ngettext(
            "We could not send an inquiry to any of the {n} companies ({reasons}).",
            "We could not send an inquiry to any of the {n} companies ({reasons}).",
            len(companies),
            reasons=reasons,
        )
        return none_reached, None
    parts = []
    for tier in (Tier.FAST_COURTEOUS, Tier.REASONABLE, Tier.SLOW_OR_LACKING, Tier.NO_REPLY, Tier.PENDING):
        members = [company for company in reached if company.tier is tier]
        if tier is Tier.SLOW_OR_LACKING:
            if members:
                parts.append(_slow_part(ctx, members))
        elif (part := _tier_part(ctx, tier, len(members))) is not None:
            parts.append(part)
    intro = ctx.ngettext(
        "Of the one company we contacted through its website, ",
        "Of {n} companies we contacted through their websites, ",
        len(reached),
    )
    sentence = intro + "; ".join(parts) + "."
    second = None
    if unreached:
        second = ctx.ngettext(
            "On one more company we could not send an inquiry ({reasons}).",
            "On {n} more we could not send an inquiry ({reasons}).",
            len(unreached),
            reasons=reasons,
        )
    return sentence, second


def _headline(
    ctx: BuildContext, companies: tuple[CompanyResult, ...], numbers: WaveMetrics, trend_sentence: str | None
) -> Headline:
    sentence, not_reached = headline_sentence(ctx, companies)
    figures = (
        Figure(i18n.number(len(companies), ctx.lang), ctx.gettext("companies audited")),
        Figure(ctx.percent(numbers.reachable_share), ctx.gettext("could be contacted")),
        Figure(ctx.percent(numbers.within_1h), ctx.gettext("replied within 1 hour")),
        Figure(ctx.percent(numbers.within_24h), ctx.gettext("within 24 hours")),
        Figure(ctx.percent(numbers.within_5d), ctx.gettext("within 5 days")),
        Figure(ctx.latency(numbers.median_s), ctx.gettext("median first reply by a person")),
        Figure(ctx.percent(numbers.never_share), ctx.gettext("never replied")),
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
        # Translators: stands for the company's name in the inquiry as the report quotes it.
        company=ctx.gettext("[company]"),
        first_name=persona.first_name,
        last_name=persona.last_name,
    )


def _methodology(ctx: BuildContext, grades: WaveGrades, companies: tuple[CompanyResult, ...]) -> Methodology:
    audit, persona = ctx.config.audit, ctx.config.persona
    probes = [probe for company in companies for probe in company.probes]
    sent = sorted(probe.submitted_at for probe in probes if probe.submitted_at is not None)
    first, last = (ctx.moment(sent[0], "date"), ctx.moment(sent[-1], "date")) if sent else ("", "")
    dates = ctx.gettext("on {date}", date=first) if first == last else ""
    dates = dates or ctx.gettext("from {first} to {last}", first=first, last=last)
    wave = ctx.gettext(
        "Wave {wave}: {sent} inquiries sent to {companies} companies, {dates}",
        wave=grades.wave_id,
        sent=len(sent),
        companies=len(companies),
        dates=dates,
    )
    clock = ctx.gettext("business time") if grades.clock == "business" else ctx.gettext("wall-clock time")
    hours = audit.business_hours
    who = f"{persona.first_name} {persona.last_name}"  # not inside the call: pybabel warns of f-strings there
    holidays = ""
    if audit.country:
        holidays = ctx.gettext("; public holidays of {country} closed", country=audit.country)
    items = [
        (ctx.gettext("Audit"), ctx.audit_name()),
        (ctx.gettext("Wave"), wave),
        (ctx.gettext("Graded as of"), ctx.moment(grades.as_of, "long")),
        (
            ctx.gettext("Who asked"),
            ctx.gettext(
                "{name}, a fictional customer (phone {phone}), with a reply address of its own for every "
                "inquiry",
                name=who,
                phone=persona.phone,
            ),
        ),
        (
            ctx.gettext("Deadline"),
            ctx.gettext(
                "{deadline} after each inquiry; later replies are shown as late and do not change the tier",
                deadline=ctx.deadline(),
            ),
        ),
        (
            ctx.gettext("Tier thresholds"),
            ctx.gettext(
                "fast within {fast}, reasonable within {reasonable} ({clock}); quality at least {good} for "
                "the best tier and {adequate} to count as an answer",
                fast=ctx.duration(audit.thresholds.fast.total_seconds()),
                reasonable=ctx.duration(audit.thresholds.reasonable.total_seconds()),
                clock=clock,
                good=ctx.percent(audit.quality.good),
                adequate=ctx.percent(audit.quality.adequate),
            ),
        ),
        (
            ctx.gettext("Business hours"),
            ctx.gettext(
                "{days}, {opens} to {closes}, {zone}{holidays}",
                days=i18n.weekdays(workdays(ctx), ctx.lang),
                opens=hours.opens,
                closes=hours.closes,
                zone=audit.timezone,
                holidays=holidays,
            )
            + f" ({ctx.duration(business_day(ctx).total_seconds())})",
        ),
        (
            ctx.gettext("What counts as a reply"),
            ctx.gettext(
                "Only a reply written by a person: an email, or a phone call or text message logged by hand. "
                "Automatic acknowledgements, out-of-office notes and marketing mail do not count."
            ),
        ),
        (
            ctx.gettext("Medians and percentiles"),
            ctx.gettext(
                "Nearest rank over every inquiry that was sent, counting no reply as infinitely late: when "
                "more than half never replied, the median reads “more than {deadline}”.",
                deadline=ctx.deadline(),
            ),
        ),
    ]
    if audit.mask_staff_names:
        items.append((ctx.gettext("Staff names"), ctx.gettext("Replaced by [staff] in every quote.")))
    return Methodology(
        items=tuple(MethodItem(label=label, value=value) for label, value in items),
        inquiry_subject=ctx.config.inquiry.subject,
        inquiry_message=_inquiry_text(ctx, ctx.config.inquiry.message),
        rubric=tuple(
            MethodItem(label=f"{criterion_id} · {words.name}", value=words.checks)
            for criterion_id, words in i18n.criteria(ctx.lang).items()
        ),
    )
