"""The tier sections: one short paragraph per company, built from the graded facts (TACK's style)."""

from __future__ import annotations

from audit.grading.types import CompanyResult, CriterionScore, ProbeResult, Tier
from audit.reporting import i18n
from audit.reporting.metrics import answered_in_time
from audit.reporting.types import BuildContext, CompanyEntry, Link, TierSection

SECTION_ORDER = (Tier.FAST_COURTEOUS, Tier.REASONABLE, Tier.SLOW_OR_LACKING, Tier.NO_REPLY)
OPTIONAL_SECTIONS = (Tier.PENDING, Tier.NOT_REACHED)  # shown only when some company is in them
CRITERION_ORDER = ("A", "P1", "P2", "Q", "V", "E", "M")
QUOTE_LIMIT = 280
_JUNK_FOLDERS = ("junk", "spam", "bulk")


def representative(company: CompanyResult) -> ProbeResult:
    """The probe whose story the paragraph tells: the first one in the company's own tier."""
    for probe in company.probes:
        if probe.tier is company.tier:
            return probe
    return company.probes[0]


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """Collapse whitespace and cut at a word boundary, so a quote stays a quote."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.") + "…"


def criterion_order(criterion: CriterionScore) -> tuple[int, str]:
    known = CRITERION_ORDER.index(criterion.criterion) if criterion.criterion in CRITERION_ORDER else 99
    return known, criterion.criterion


def _criteria_sentences(ctx: BuildContext, criteria: tuple[CriterionScore, ...]) -> list[str]:
    words = i18n.CRITERIA[ctx.lang]
    good: list[str] = []
    partly: list[str] = []
    missing: list[str] = []
    for criterion in sorted(criteria, key=criterion_order):
        short, met, unmet, _ = words.get(criterion.criterion, (criterion.criterion,) * 4)
        if criterion.max_score <= 0:
            continue
        if criterion.score >= criterion.max_score:
            good.append(met)
        elif criterion.score <= 0:
            missing.append(unmet)
        else:
            partly.append(short)
    if good and not partly and not missing:
        return [ctx.phrase("p.all_good")]
    sentences = []
    for key, items in (("p.good", good), ("p.partly", partly), ("p.missing", missing)):
        if items:
            sentences.append(ctx.phrase(key, items=", ".join(items)))
    return sentences


def _reply_sentence(ctx: BuildContext, probe: ProbeResult) -> str:
    channel = probe.human_channel if probe.human_channel in ("email", "phone", "sms") else "other"
    sentence = ctx.phrase(
        f"p.{channel}",
        time=ctx.latency(probe.wall_seconds_to_human),
        sent=ctx.moment(probe.submitted_at),
    )
    business = probe.business_seconds_to_human
    if business is not None and ctx.duration(business) != ctx.latency(probe.wall_seconds_to_human):
        sentence += ctx.phrase("p.business", time=ctx.duration(business))
    return sentence + "."


def _ack_sentences(ctx: BuildContext, probe: ProbeResult, *, replied: bool) -> list[str]:
    sentences = []
    if probe.wall_seconds_to_ack is not None:
        key = "p.ack_first" if replied else "p.ack_only"
        sentences.append(ctx.phrase(key, time=ctx.duration(probe.wall_seconds_to_ack)))
    elif not replied:
        sentences.append(ctx.phrase("p.no_ack"))
    if probe.promise is not None:
        status = {True: "p.promise.kept", False: "p.promise.broken", None: "p.promise.open"}[
            probe.promise.kept
        ]
        sentences.append(
            ctx.phrase("p.promise", text=shorten(probe.promise.text, 80), status=ctx.phrase(status))
        )
    return sentences


def _is_junk(probe: ProbeResult) -> bool:
    folder = (probe.human_folder or "").casefold()
    return any(word in folder for word in _JUNK_FOLDERS)


def _override_sentence(ctx: BuildContext, company: CompanyResult) -> str | None:
    notes = tuple(dict.fromkeys(company.override_notes + representative(company).override_notes))
    if not (company.tier_overridden or representative(company).tier_overridden):
        return None
    if notes:
        return ctx.phrase("p.override_notes", notes="; ".join(notes))
    return ctx.phrase("p.override")


def company_entry(ctx: BuildContext, company: CompanyResult) -> CompanyEntry:
    probe = representative(company)
    sentences: list[str] = []
    flags: list[str] = []
    quote: str | None = None
    if company.tier is Tier.NOT_REACHED:
        time = ctx.tier_short(Tier.NOT_REACHED)
        sentences.append(ctx.phrase("p.not_reached", reason=not_reached_reason(ctx, probe)))
    elif answered_in_time(probe):
        time = ctx.latency(probe.wall_seconds_to_human)
        sentences.append(_reply_sentence(ctx, probe))
        sentences.extend(_ack_sentences(ctx, probe, replied=True))
        if _is_junk(probe):
            sentences.append(ctx.phrase("p.junk"))
            flags.append(ctx.phrase("flag.junk"))
        sentences.extend(_criteria_sentences(ctx, probe.criteria))
        if probe.followed_up:
            sentences.append(ctx.phrase("p.followed_up"))
        quote = shorten(probe.excerpt) if probe.excerpt else None
    elif company.tier is Tier.PENDING:
        time = ctx.phrase("pending")
        sentences.append(ctx.phrase("p.pending", deadline=ctx.moment(probe.deadline_at)))
        sentences.extend(_ack_sentences(ctx, probe, replied=False))
    else:
        time = ctx.phrase("never")
        sentences.append(ctx.phrase("p.no_human", deadline=ctx.deadline()))
        sentences.extend(_ack_sentences(ctx, probe, replied=False))
        if probe.late and probe.wall_seconds_to_human is not None:
            sentences.append(ctx.phrase("p.late", time=ctx.duration(probe.wall_seconds_to_human)))
            flags.append(ctx.phrase("flag.late"))
    if company.inconsistent:
        sentences.append(ctx.phrase("p.inconsistent", n=len(company.probes)))
        flags.append(ctx.phrase("flag.inconsistent"))
    if company.quality_spread is not None and company.quality_spread[0] != company.quality_spread[1]:
        low, high = company.quality_spread
        sentences.append(ctx.phrase("p.spread", low=ctx.percent(low), high=ctx.percent(high)))
    override = _override_sentence(ctx, company)
    if override is not None or any(c.overridden for c in probe.criteria):
        flags.append(ctx.phrase("flag.reviewed"))
    if override is not None:
        sentences.append(override)
    return CompanyEntry(
        name=company.name,
        sector=company.sector,
        time=time,
        paragraph=" ".join(sentences),
        quote=quote,
        flags=tuple(flags),
        links=company_links(ctx, company),
    )


def company_links(ctx: BuildContext, company: CompanyResult) -> tuple[Link, ...]:
    links: list[Link] = []
    for probe in company.probes:
        links.extend(ctx.links.get(probe.probe_id, ()))
    return tuple(links)


def not_reached_reason(ctx: BuildContext, probe: ProbeResult) -> str:
    """The tier-0 reason in words: the probe's outcome when we know it, else the grader's own text."""
    reasons = i18n.REASONS[ctx.lang]
    for key in (probe.not_reached_reason, probe.outcome):
        if key and key in reasons:
            return reasons[key]
    return probe.not_reached_reason or probe.outcome or ctx.tier_short(Tier.NOT_REACHED)


def tier_rule(ctx: BuildContext, tier: Tier) -> str:
    audit = ctx.config.audit
    return ctx.phrase(
        f"rule.{tier.value}",
        fast=ctx.duration(audit.thresholds.fast.total_seconds()),
        reasonable=ctx.duration(audit.thresholds.reasonable.total_seconds()),
        deadline=ctx.deadline(),
        good=ctx.percent(audit.quality.good),
        adequate=ctx.percent(audit.quality.adequate),
        clock=ctx.phrase("clock.business") if audit.clock == "business" else "",
    )


def tier_sections(ctx: BuildContext, companies: tuple[CompanyResult, ...]) -> tuple[TierSection, ...]:
    by_tier: dict[Tier, list[CompanyResult]] = {tier: [] for tier in Tier}
    for company in companies:
        by_tier[company.tier].append(company)
    sections = []
    for tier in SECTION_ORDER + OPTIONAL_SECTIONS:
        members = by_tier[tier]
        if tier in OPTIONAL_SECTIONS and not members:
            continue
        hidden = tier is Tier.NO_REPLY and ctx.names_hidden and bool(members)
        sections.append(
            TierSection(
                tier=tier.value,
                title=ctx.tier_name(tier),
                rule=tier_rule(ctx, tier),
                count=len(members),
                count_text=ctx.phrase("tier.count", n=len(members)),
                entries=() if hidden else tuple(company_entry(ctx, company) for company in members),
                hidden_note=ctx.phrase("hidden", n=len(members)) if hidden else None,
            )
        )
    return tuple(sections)
