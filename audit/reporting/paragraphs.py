"""The tier sections: one short paragraph per company, built from the graded facts (TACK's style)."""

from __future__ import annotations

from audit.grading.types import CompanyResult, CriterionScore, ProbeResult, Tier
from audit.reporting import i18n
from audit.reporting.i18n import N_
from audit.reporting.metrics import answered_in_time
from audit.reporting.types import BuildContext, CompanyEntry, Link, TierSection

SECTION_ORDER = (Tier.FAST_COURTEOUS, Tier.REASONABLE, Tier.SLOW_OR_LACKING, Tier.NO_REPLY)
OPTIONAL_SECTIONS = (Tier.PENDING, Tier.NOT_REACHED)  # shown only when some company is in them
CRITERION_ORDER = ("A", "P1", "P2", "Q", "V", "E", "M")
QUOTE_LIMIT = 280
_JUNK_FOLDERS = ("junk", "spam", "bulk")

# The reply's first sentence, by the channel it came through.
_REPLIED_BY = {
    "email": N_("Answered by email {time} after the inquiry (sent {sent})"),
    "phone": N_("Called back {time} after the inquiry (sent {sent})"),
    "sms": N_("Replied by text message {time} after the inquiry (sent {sent})"),
    "other": N_("Replied {time} after the inquiry (sent {sent})"),
}

# Whether the acknowledgement's promise of a reply was kept: True, False, or None while it is still due.
_PROMISE = {
    True: N_("the promise was kept"),
    False: N_("the promise was broken"),
    None: N_("the promise is still open"),
}

# Each tier's rule, under its title, from the audit's thresholds; {clock} is "" or " of business time".
_RULES = {
    Tier.FAST_COURTEOUS: N_(
        "A reply from a person within {fast}{clock} that answers the question and is personal and polite "
        "(quality at least {good})."
    ),
    Tier.REASONABLE: N_(
        "A reply from a person within {reasonable}{clock} that answers the main question (quality at least "
        "{adequate})."
    ),
    Tier.SLOW_OR_LACKING: N_(
        "A reply from a person after {reasonable}{clock}, or a faster reply that did not answer."
    ),
    Tier.NO_REPLY: N_(
        "No reply from a person within {deadline}. Automatic acknowledgements and marketing mail do not "
        "count."
    ),
    Tier.PENDING: N_("No reply yet, and the deadline has not passed."),
    Tier.NOT_REACHED: N_("No inquiry could be sent: no form, a CAPTCHA, or a broken form."),
}


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
    words = i18n.criteria(ctx.lang)
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
        return [ctx.gettext("It met every quality criterion.")]
    sentences = []
    if good:
        sentences.append(ctx.gettext("Good: {items}.", items=", ".join(good)))
    if partly:
        sentences.append(ctx.gettext("Partly: {items}.", items=", ".join(partly)))
    if missing:
        # Not "Missing:": the items name the fault ("impersonal"), so "missing" would read as its opposite.
        sentences.append(ctx.gettext("Fell short: {items}.", items=", ".join(missing)))
    return sentences


def _reply_sentence(ctx: BuildContext, probe: ProbeResult) -> str:
    channel = probe.human_channel if probe.human_channel in ("email", "phone", "sms") else "other"
    sentence = ctx.gettext(
        _REPLIED_BY[channel],
        time=ctx.latency(probe.wall_seconds_to_human),
        sent=ctx.moment(probe.submitted_at),
    )
    business = probe.business_seconds_to_human
    if business == 0 and (probe.wall_seconds_to_human or 0) > 0:
        # Sent after hours and answered before the next opening: "0 min in business hours" says it badly.
        sentence += ctx.gettext("; before business hours began")
    elif business is not None and ctx.duration(business) != ctx.latency(probe.wall_seconds_to_human):
        sentence += ctx.gettext("; {time} in business hours", time=ctx.duration(business))
    return sentence + "."


def _ack_sentences(ctx: BuildContext, probe: ProbeResult, *, replied: bool) -> list[str]:
    sentences = []
    if probe.wall_seconds_to_ack is not None:
        time = ctx.duration(probe.wall_seconds_to_ack)
        if replied:
            sentences.append(
                ctx.gettext("An automatic acknowledgement came first, {time} after the inquiry.", time=time)
            )
        else:
            sentences.append(
                ctx.gettext("Only an automatic acknowledgement came, {time} after the inquiry.", time=time)
            )
    elif not replied:
        sentences.append(ctx.gettext("Not even an automatic acknowledgement."))
    if probe.promise is not None:
        status = ctx.gettext(_PROMISE[probe.promise.kept])
        text = shorten(probe.promise.text, 80)
        sentences.append(ctx.gettext("It promised a reply (“{text}”): {status}.", text=text, status=status))
    return sentences


def _is_junk(probe: ProbeResult) -> bool:
    folder = (probe.human_folder or "").casefold()
    return any(word in folder for word in _JUNK_FOLDERS)


def _override_sentence(ctx: BuildContext, company: CompanyResult) -> str | None:
    notes = tuple(dict.fromkeys(company.override_notes + representative(company).override_notes))
    if not (company.tier_overridden or representative(company).tier_overridden):
        return None
    if notes:
        return ctx.gettext("Tier set by a reviewer: {notes}.", notes="; ".join(notes))
    return ctx.gettext("Tier set by a reviewer.")


def company_entry(ctx: BuildContext, company: CompanyResult) -> CompanyEntry:
    probe = representative(company)
    sentences: list[str] = []
    flags: list[str] = []
    quote: str | None = None
    if company.tier is Tier.NOT_REACHED:
        time = ctx.tier_short(Tier.NOT_REACHED)
        sentences.append(
            ctx.gettext("No inquiry could be sent: {reason}.", reason=not_reached_reason(ctx, probe))
        )
    elif answered_in_time(probe):
        time = ctx.latency(probe.wall_seconds_to_human)
        sentences.append(_reply_sentence(ctx, probe))
        sentences.extend(_ack_sentences(ctx, probe, replied=True))
        if _is_junk(probe):
            sentences.append(ctx.gettext("The reply landed in the spam folder."))
            flags.append(ctx.gettext("in spam"))
        sentences.extend(_criteria_sentences(ctx, probe.criteria))
        if probe.followed_up:
            sentences.append(ctx.gettext("They followed up unprompted."))
        quote = shorten(probe.excerpt) if probe.excerpt else None
    elif company.tier is Tier.PENDING:
        # Translators: in place of the reply time of a company whose deadline is still ahead.
        time = ctx.gettext("not yet")
        sentences.append(
            ctx.gettext("No reply yet; the deadline is {deadline}.", deadline=ctx.moment(probe.deadline_at))
        )
        sentences.extend(_ack_sentences(ctx, probe, replied=False))
    else:
        # Translators: in place of the reply time of a company that did not reply.
        time = ctx.gettext("never")
        sentences.append(ctx.gettext("No reply from a person within {deadline}.", deadline=ctx.deadline()))
        sentences.extend(_ack_sentences(ctx, probe, replied=False))
        if probe.late and probe.wall_seconds_to_human is not None:
            late = ctx.duration(probe.wall_seconds_to_human)
            sentences.append(
                ctx.gettext(
                    "A reply from a person came only after the deadline, {time} after the inquiry.", time=late
                )
            )
            flags.append(ctx.gettext("late reply"))
    if company.inconsistent:
        sentences.append(
            ctx.ngettext(
                "Its {n} inquiries fell into different tiers; the median counts.",
                "Its {n} inquiries fell into different tiers; the median counts.",
                len(company.probes),
            )
        )
        flags.append(ctx.gettext("inconsistent"))
    if company.quality_spread is not None and company.quality_spread[0] != company.quality_spread[1]:
        low, high = company.quality_spread
        sentences.append(
            ctx.gettext("Quality ranged from {low} to {high}.", low=ctx.percent(low), high=ctx.percent(high))
        )
    override = _override_sentence(ctx, company)
    if override is not None or any(c.overridden for c in probe.criteria):
        flags.append(ctx.gettext("reviewed"))
    if override is not None:
        sentences.append(override)
    return CompanyEntry(
        name=ctx.company_name(company),
        sector=ctx.sector_name(company.sector),
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
    for key in (probe.not_reached_reason, probe.outcome):
        if key and key in i18n.REASONS:
            return ctx.gettext(i18n.REASONS[key])
    return probe.not_reached_reason or probe.outcome or ctx.tier_short(Tier.NOT_REACHED)


def tier_rule(ctx: BuildContext, tier: Tier) -> str:
    audit = ctx.config.audit
    # Translators: follows a duration ("4 hr of business time"); keep the leading space.
    clock = ctx.gettext(" of business time") if audit.clock == "business" else ""
    return ctx.gettext(
        _RULES[tier],
        fast=ctx.duration(audit.thresholds.fast.total_seconds()),
        reasonable=ctx.duration(audit.thresholds.reasonable.total_seconds()),
        deadline=ctx.deadline(),
        good=ctx.percent(audit.quality.good),
        adequate=ctx.percent(audit.quality.adequate),
        clock=clock,
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
                count_text=ctx.ngettext("one company", "{n} companies", len(members)),
                entries=() if hidden else tuple(company_entry(ctx, company) for company in members),
                hidden_note=withheld_note(ctx, len(members)) if hidden else None,
            )
        )
    return tuple(sections)


def withheld_note(ctx: BuildContext, n: int) -> str:
    """Why the companies that did not reply are not named (audit.name_non_responders off)."""
    return ctx.ngettext(
        "The one company that did not reply is not named: the audit withholds their names.",
        "The {n} companies that did not reply are not named: the audit withholds their names.",
        n,
    )
