"""The grader: every company's result for a wave, recomputed from stored facts (issue 4, docs/method.md).

    grades = grade_wave(session, config, wave_id, as_of=deadline)   # then session.commit()

Times come from latency.py (on the calendar of calendar.py), reply quality from rubric.py, tiers from
tiers.py; store.py loads the facts in a handful of queries, keeps the results (`ProbeGrade`) and people's
overrides (`GradeOverride`), which every grading applies again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from audit.config import AuditConfig
from audit.errors import WaveError
from audit.grading.calendar import BusinessCalendar
from audit.grading.latency import MessageFacts, ProbeFacts, Timeline, probe_timeline
from audit.grading.rubric import (
    RubricContext,
    answers_completely,
    quality_of,
    reply_text_of,
    score_reply,
)
from audit.grading.store import (
    TIER,
    CompanyFacts,
    Overrides,
    load_overrides,
    load_wave_facts,
    replace_probe_grades,
)
from audit.grading.tiers import company_result, probe_tier, sort_key
from audit.grading.types import (
    CompanyResult,
    CriterionScore,
    ProbeResult,
    Tier,
    WaveGrades,
)
from audit.models import Probe, Wave, WaveMode, utcnow


def previous_wave_id(session: Session, wave_id: int) -> int | None:
    """The live wave of the same audit just before this one, for the trend section."""
    wave = session.get(Wave, wave_id)
    if wave is None:
        return None
    return session.exec(
        select(Wave.id)
        .where(Wave.audit_name == wave.audit_name, col(Wave.id) < wave_id, Wave.mode == WaveMode.LIVE)
        .order_by(col(Wave.id).desc())
        .limit(1)
    ).first()


def wave_to_grade(session: Session, wave_id: int | None, audit_name: str) -> Wave:
    """The wave asked for, else the audit's newest live wave (else its newest dry run): what `audit grade`,
    `audit report` and `audit export` work on by default."""
    if wave_id is not None:
        wave = session.get(Wave, wave_id)
        if wave is None:
            raise WaveError(f"there is no wave {wave_id} in this database")
        return wave
    newest = select(Wave).where(Wave.audit_name == audit_name).order_by(col(Wave.id).desc())
    wave = session.exec(newest.where(Wave.mode == WaveMode.LIVE)).first() or session.exec(newest).first()
    if wave is None:
        raise WaveError(f"audit '{audit_name}' has no wave yet; start one with `audit run`")
    return wave


def wave_deadline(session: Session, config: AuditConfig, wave_id: int) -> datetime | None:
    """The wave's deadline: the latest of its probes' deadlines (submission + audit.deadline); None if
    nothing was submitted. `--as-of deadline` grades as of this moment."""
    rows = session.execute(
        select(col(Probe.submitted_at), col(Probe.clicked_at), col(Probe.submit_started_at)).where(
            col(Probe.wave_id) == wave_id, col(Probe.dry_run).is_(False)
        )
    ).all()
    moments = [row[0] or row[1] or row[2] for row in rows]
    sent = [moment for moment in moments if moment is not None]
    return max(sent) + config.audit.deadline if sent else None


def grade_wave(
    session: Session,
    config: AuditConfig,
    wave_id: int,
    *,
    as_of: datetime | None = None,
    persist: bool = True,
) -> WaveGrades:
    """Grade every probe of the wave as things stood at `as_of` (default now), apply overrides, combine
    per company. With `persist`, the wave's `ProbeGrade` rows are replaced in the caller's session (the
    caller commits)."""
    if as_of is not None and as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    moment = (as_of or datetime.now(UTC)).astimezone(UTC)
    facts = load_wave_facts(session, wave_id)
    grader = _Grader(config, moment, load_overrides(session, wave_id))
    by_company: dict[str, list[ProbeFacts]] = defaultdict(list)
    for probe in facts.probes:
        by_company[probe.company_id].append(probe)
    companies = [
        grader.company(facts.companies[company_id], probes, facts.messages)
        for company_id, probes in by_company.items()
    ]
    notes = list(grader.calendar.notes)
    if not config.inquiry.answer_parts:
        notes.append("inquiry.answer_parts is empty: criterion A judges replies on substance only")
    pending = sum(1 for company in companies for probe in company.probes if probe.tier is Tier.PENDING)
    if pending:
        notes.append(f"inquiries still within their deadline (pending): {pending}")
    grades = WaveGrades(
        wave_id=wave_id,
        audit_name=facts.wave.audit_name,
        as_of=moment,
        clock=config.audit.clock,
        companies=tuple(sorted(companies, key=sort_key)),
        graded_at=utcnow(),
        notes=tuple(notes),
    )
    if persist:
        replace_probe_grades(session, grades)
    return grades


class _Grader:
    """What stays the same for every probe of one grading: config, calendar, rubric patterns, overrides."""

    def __init__(self, config: AuditConfig, as_of: datetime, overrides: Overrides) -> None:
        self.config, self.as_of, self.overrides = config, as_of, overrides
        self.calendar = BusinessCalendar.from_config(config.audit)
        self.context = RubricContext.from_config(config)

    def company(
        self, company: CompanyFacts, probes: Sequence[ProbeFacts], messages: dict[int, list[MessageFacts]]
    ) -> CompanyResult:
        single = len(probes) == 1
        results = [self.probe(probe, company, messages.get(probe.id, []), single=single) for probe in probes]
        company_override = None
        if not single:
            choice = self.overrides.get(company.id, None, TIER)
            if choice is not None:
                company_override = (Tier(choice.value), choice.note)
        return company_result(
            company_id=company.id,
            name=company.name,
            sector=company.sector,
            probes=results,
            override=company_override,
        )

    def probe(
        self, probe: ProbeFacts, company: CompanyFacts, messages: Sequence[MessageFacts], *, single: bool
    ) -> ProbeResult:
        audit = self.config.audit
        timeline = probe_timeline(
            probe,
            messages,
            calendar=self.calendar,
            deadline=audit.deadline,
            late_window=audit.late_window,
            as_of=self.as_of,
        )
        notes: list[str] = []
        criteria: tuple[CriterionScore, ...] = ()
        quality = excerpt = language = complete_at = None
        first = timeline.first_human
        if first is not None:
            reply = reply_text_of(first.text, first.reply_text, first.channel)
            scored = score_reply(
                reply, self.context, company_domain=company.domain, company_name=company.name
            )
            criteria = tuple(self.criterion(item, probe, notes) for item in scored.criteria)
            quality = quality_of(criteria)
            excerpt, language = scored.excerpt, scored.language
            complete_at = self.first_complete(timeline, criteria, company)
        tier, reason = probe_tier(timeline, quality, audit=audit, calendar=self.calendar, as_of=self.as_of)
        tier_overridden = False
        # A company-wide tier override is the probe's own when the company has one probe in the wave.
        choice = self.overrides.get(probe.company_id, probe.seq, TIER) or (
            self.overrides.get(probe.company_id, None, TIER) if single else None
        )
        if choice is not None:
            tier, reason, tier_overridden = Tier(choice.value), f"set by a person ({reason})", True
            notes.append(choice.note)
        return ProbeResult(
            probe_id=probe.id,
            company_id=probe.company_id,
            seq=probe.seq,
            channel=probe.channel,
            outcome=probe.outcome,
            reached=timeline.reached,
            not_reached_reason=timeline.not_reached_reason,
            submitted_at=timeline.submitted_at,
            submit_time_class=timeline.submit_time_class,
            deadline_at=timeline.deadline_at,
            first_reply_at=timeline.first_reply_at,
            first_ack_at=timeline.first_ack.received_at if timeline.first_ack else None,
            first_human_at=first.received_at if first else None,
            first_complete_at=complete_at,
            human_channel=timeline.human_channel,
            human_message_id=first.id if first else None,
            human_folder=first.folder if first else None,
            wall_seconds_to_ack=timeline.wall_seconds_to_ack,
            wall_seconds_to_human=timeline.wall_seconds_to_human,
            business_seconds_to_human=timeline.business_seconds_to_human,
            late=timeline.late,
            human_replies=len(timeline.humans),
            followed_up=timeline.followed_up,
            promise=timeline.promise,
            quality=quality,
            criteria=criteria,
            excerpt=excerpt,
            reply_language=language,
            tier=tier,
            tier_reason="; ".join((reason, *timeline.notes)),
            tier_overridden=tier_overridden,
            override_notes=tuple(notes),
        )

    def criterion(self, item: CriterionScore, probe: ProbeFacts, notes: list[str]) -> CriterionScore:
        choice = self.overrides.for_probe(probe.company_id, probe.seq, item.criterion)
        if choice is None:
            return item
        notes.append(choice.note)
        score = min(int(choice.value), item.max_score)
        return replace(item, score=score, overridden=True, note=choice.note)

    def first_complete(
        self, timeline: Timeline, criteria: Sequence[CriterionScore], company: CompanyFacts
    ) -> datetime | None:
        """The first human reply that answered every part: the first one by its (possibly overridden) A,
        later ones by the detector."""
        answered = next((item for item in criteria if item.criterion == "A"), None)
        first = timeline.humans[0]
        if answered is not None and answered.score == answered.max_score:
            return first.received_at
        for later in timeline.humans[1:]:
            reply = reply_text_of(later.text, later.reply_text, later.channel)
            if answers_completely(
                reply, self.context, company_domain=company.domain, company_name=company.name
            ):
                return later.received_at
        return None
