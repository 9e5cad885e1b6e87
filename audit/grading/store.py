"""Grades in the database: loading a wave's facts in a few queries, keeping the results, people's overrides.

`ProbeGrade` rows are a cache of the last grading (replaced whole each time); `GradeOverride` rows are facts,
never replaced: the newest for a target wins, and the value `auto` withdraws a person's earlier choice.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy import select as columns_of
from sqlmodel import Session, col, select

from audit.errors import GradingError, WaveError
from audit.grading.latency import MessageFacts, ProbeFacts
from audit.grading.rubric import MAX_SCORES
from audit.grading.tiers import company_result, sort_key
from audit.grading.types import (
    CompanyResult,
    CriterionScore,
    Evidence,
    ProbeResult,
    ReplyPromise,
    SubmitTimeClass,
    Tier,
    WaveGrades,
)
from audit.models import Company, GradeOverride, Message, Probe, ProbeGrade, Wave, utcnow

AUTO = "auto"  # an override value that hands the judgement back to the grader
TIER = "tier"
SETTABLE_TIERS = tuple(tier.value for tier in Tier if tier is not Tier.PENDING)

# ------------------------------------------------------------------------------------------------ loading


@dataclass(frozen=True)
class CompanyFacts:
    id: str
    name: str
    sector: str
    domain: str


@dataclass(frozen=True)
class WaveFacts:
    wave: Wave
    companies: dict[str, CompanyFacts]
    probes: tuple[ProbeFacts, ...]
    messages: dict[int, list[MessageFacts]]  # by probe id


def load_wave_facts(session: Session, wave_id: int) -> WaveFacts:
    """The wave, its probes, their companies and every message matched to them: three queries."""
    wave = session.get(Wave, wave_id)
    if wave is None:
        raise WaveError(f"there is no wave {wave_id} in this database")
    probe_rows = session.execute(
        columns_of(
            col(Probe.id),
            col(Probe.company_id),
            col(Probe.seq),
            col(Probe.state),
            col(Probe.outcome),
            col(Probe.reason),
            col(Probe.dry_run),
            col(Probe.submitted_at),
            col(Probe.clicked_at),
            col(Probe.submit_started_at),
            col(Probe.channel),
            col(Company.name),
            col(Company.sector),
            col(Company.domain),
        )
        .join(Company, col(Company.id) == col(Probe.company_id))
        .where(col(Probe.wave_id) == wave_id)
        .order_by(col(Probe.company_id), col(Probe.seq))
    ).all()
    probes: list[ProbeFacts] = []
    companies: dict[str, CompanyFacts] = {}
    for row in probe_rows:
        probes.append(ProbeFacts(*row[:11]))
        companies.setdefault(row[1], CompanyFacts(id=row[1], name=row[11], sector=row[12], domain=row[13]))
    message_rows = session.execute(
        columns_of(
            col(Message.id),
            col(Message.probe_id),
            col(Message.kind),
            col(Message.channel),
            col(Message.folder),
            col(Message.received_at),
            col(Message.text),
            col(Message.reply_text),
            col(Message.kind_rule),
        )
        .join(Probe, col(Probe.id) == col(Message.probe_id))
        # A copy of a message by a second channel (audit/collect/store.py) is not a second reply.
        .where(col(Probe.wave_id) == wave_id, col(Message.duplicate_of).is_(None))
    ).all()
    messages: dict[int, list[MessageFacts]] = defaultdict(list)
    for row in message_rows:
        messages[row[1]].append(MessageFacts(*row))
    return WaveFacts(wave=wave, companies=companies, probes=tuple(probes), messages=dict(messages))


# ---------------------------------------------------------------------------------------------- overrides


@dataclass(frozen=True)
class OverrideChoice:
    value: str
    note: str  # as the report shows it: "tier set to reasonable by dana: she called back"


class Overrides:
    """The newest override per (company, probe seq or None, criterion); withdrawn ones (`auto`) dropped."""

    def __init__(self, rows: Iterable[GradeOverride]) -> None:
        latest: dict[tuple[str, int | None, str], GradeOverride] = {}
        for row in sorted(rows, key=lambda row: (row.created_at, row.id or 0)):
            latest[(row.company_id, row.probe_seq, row.criterion)] = row
        self._choices = {
            key: OverrideChoice(row.value, f"{row.criterion} set to {row.value} by {row.author}: {row.note}")
            for key, row in latest.items()
            if row.value != AUTO
        }

    def get(self, company_id: str, seq: int | None, criterion: str) -> OverrideChoice | None:
        return self._choices.get((company_id, seq, criterion))

    def for_probe(self, company_id: str, seq: int, criterion: str) -> OverrideChoice | None:
        """A probe's own override first, then one for the whole company."""
        return self.get(company_id, seq, criterion) or self.get(company_id, None, criterion)


def load_overrides(session: Session, wave_id: int) -> Overrides:
    return Overrides(session.exec(select(GradeOverride).where(GradeOverride.wave_id == wave_id)).all())


def set_override(
    session: Session,
    *,
    wave_id: int,
    company_id: str,
    criterion: str,
    value: str,
    note: str,
    probe_seq: int | None = None,
    author: str = "cli",
) -> GradeOverride:
    """Record a person's tier or criterion score (a fact; the next grading applies it). Not committed here."""
    if session.get(Wave, wave_id) is None:
        raise WaveError(f"there is no wave {wave_id} in this database")
    name = criterion.strip()
    name = TIER if name.lower() == TIER else name.upper()
    cleaned = value.strip().lower() if name == TIER else value.strip()
    if name == TIER:
        if cleaned not in (*SETTABLE_TIERS, AUTO):
            raise GradingError(f"tier '{value}' is not one of {', '.join(SETTABLE_TIERS)} (or auto)")
    elif name in MAX_SCORES:
        maximum = MAX_SCORES[name]
        if cleaned.lower() == AUTO:
            cleaned = AUTO
        elif not cleaned.isdigit() or not 0 <= int(cleaned) <= maximum:
            raise GradingError(f"criterion {name} takes a score from 0 to {maximum} (or auto), not '{value}'")
    else:
        known = ", ".join(MAX_SCORES)
        raise GradingError(f"unknown criterion '{criterion}'; use tier or one of {known}")
    if not note.strip():
        raise GradingError("an override needs a note saying why (--note)")
    seqs = session.exec(
        select(Probe.seq).where(Probe.wave_id == wave_id, Probe.company_id == company_id)
    ).all()
    if not seqs:
        raise GradingError(f"company '{company_id}' has no inquiry in wave {wave_id}")
    if probe_seq is not None and probe_seq not in seqs:
        listed = ", ".join(str(seq) for seq in sorted(seqs))
        raise GradingError(
            f"company '{company_id}' has no probe {probe_seq} in wave {wave_id} (it has {listed})"
        )
    row = GradeOverride(
        wave_id=wave_id,
        company_id=company_id,
        probe_seq=probe_seq,
        criterion=name,
        value=cleaned,
        note=note.strip(),
        author=author,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


# ---------------------------------------------------------------------------------------------- persisting


def _criteria_json(criteria: Sequence[CriterionScore]) -> str:
    return json.dumps(
        [
            {
                "criterion": item.criterion,
                "score": item.score,
                "max_score": item.max_score,
                "evidence": [{"quote": e.quote, "rule": e.rule} for e in item.evidence],
                "overridden": item.overridden,
                "note": item.note,
            }
            for item in criteria
        ],
        ensure_ascii=False,
    )


def _row(probe: ProbeResult, company: CompanyResult, grades: WaveGrades) -> dict[str, Any]:
    promise = probe.promise
    return {
        "wave_id": grades.wave_id,
        "probe_id": probe.probe_id,
        "company_id": probe.company_id,
        "seq": probe.seq,
        "channel": probe.channel,
        "outcome": probe.outcome,
        "reached": probe.reached,
        "not_reached_reason": probe.not_reached_reason,
        "submitted_at": probe.submitted_at,
        "submit_time_class": probe.submit_time_class.value if probe.submit_time_class else None,
        "deadline_at": probe.deadline_at,
        "first_reply_at": probe.first_reply_at,
        "first_ack_at": probe.first_ack_at,
        "first_human_at": probe.first_human_at,
        "first_complete_at": probe.first_complete_at,
        "human_channel": probe.human_channel,
        "human_message_id": probe.human_message_id,
        "human_folder": probe.human_folder,
        "wall_seconds_to_ack": probe.wall_seconds_to_ack,
        "wall_seconds_to_human": probe.wall_seconds_to_human,
        "business_seconds_to_human": probe.business_seconds_to_human,
        "late": probe.late,
        "human_replies": probe.human_replies,
        "followed_up": probe.followed_up,
        "promise_text": promise.text if promise else None,
        "promise_due_at": promise.due_at if promise else None,
        "promise_kept": promise.kept if promise else None,
        "quality": probe.quality,
        "criteria": _criteria_json(probe.criteria),
        "excerpt": probe.excerpt,
        "reply_language": probe.reply_language,
        "tier": probe.tier.value,
        "tier_reason": probe.tier_reason,
        "tier_overridden": probe.tier_overridden,
        "override_notes": json.dumps(list(probe.override_notes), ensure_ascii=False),
        "company_tier": company.tier.value,
        "company_inconsistent": company.inconsistent,
        "company_tier_overridden": company.tier_overridden,
        "company_override_notes": json.dumps(list(company.override_notes), ensure_ascii=False),
        "clock": grades.clock,
        "as_of": grades.as_of,
        "graded_at": grades.graded_at,
    }


def replace_probe_grades(session: Session, grades: WaveGrades) -> None:
    """The wave's previous grade rows go, these come: one DELETE and one bulk INSERT, not committed."""
    session.execute(delete(ProbeGrade).where(col(ProbeGrade.wave_id) == grades.wave_id))
    rows = [_row(probe, company, grades) for company in grades.companies for probe in company.probes]
    if rows:
        # render_nulls: one executemany, not one statement per pattern of NULL columns.
        session.execute(insert(ProbeGrade).execution_options(render_nulls=True), rows)


def _criteria_from_json(text: str) -> tuple[CriterionScore, ...]:
    return tuple(
        CriterionScore(
            criterion=item["criterion"],
            score=item["score"],
            max_score=item["max_score"],
            evidence=tuple(Evidence(quote=e["quote"], rule=e["rule"]) for e in item["evidence"]),
            overridden=item["overridden"],
            note=item["note"],
        )
        for item in json.loads(text)
    )


def _probe_from_row(row: ProbeGrade) -> ProbeResult:
    promise = None
    if row.promise_text is not None and row.promise_due_at is not None:
        promise = ReplyPromise(text=row.promise_text, due_at=row.promise_due_at, kept=row.promise_kept)
    return ProbeResult(
        probe_id=row.probe_id,
        company_id=row.company_id,
        seq=row.seq,
        channel=row.channel,
        outcome=row.outcome,
        reached=row.reached,
        not_reached_reason=row.not_reached_reason,
        submitted_at=row.submitted_at,
        submit_time_class=SubmitTimeClass(row.submit_time_class) if row.submit_time_class else None,
        deadline_at=row.deadline_at,
        first_reply_at=row.first_reply_at,
        first_ack_at=row.first_ack_at,
        first_human_at=row.first_human_at,
        first_complete_at=row.first_complete_at,
        human_channel=row.human_channel,
        human_message_id=row.human_message_id,
        human_folder=row.human_folder,
        wall_seconds_to_ack=row.wall_seconds_to_ack,
        wall_seconds_to_human=row.wall_seconds_to_human,
        business_seconds_to_human=row.business_seconds_to_human,
        late=row.late,
        human_replies=row.human_replies,
        followed_up=row.followed_up,
        promise=promise,
        quality=row.quality,
        criteria=_criteria_from_json(row.criteria),
        excerpt=row.excerpt,
        reply_language=row.reply_language,
        tier=Tier(row.tier),
        tier_reason=row.tier_reason,
        tier_overridden=row.tier_overridden,
        override_notes=tuple(json.loads(row.override_notes)),
    )


def stored_wave_grades(session: Session, wave_id: int) -> WaveGrades | None:
    """The last grading of a wave as stored (no re-grading), or None if it was never graded."""
    wave = session.get(Wave, wave_id)
    if wave is None:
        raise WaveError(f"there is no wave {wave_id} in this database")
    rows = session.exec(
        select(ProbeGrade, Company)
        .join(Company, col(Company.id) == col(ProbeGrade.company_id))
        .where(ProbeGrade.wave_id == wave_id)
    ).all()
    if not rows:
        return None
    by_company: dict[str, list[tuple[ProbeGrade, Company]]] = defaultdict(list)
    for grade, company in rows:
        by_company[company.id].append((grade, company))
    companies = []
    for pairs in by_company.values():
        first, company = pairs[0]
        result = company_result(
            company_id=company.id,
            name=company.name,
            sector=company.sector,
            probes=[_probe_from_row(grade) for grade, _ in pairs],
        )
        companies.append(
            replace(
                result,
                tier=Tier(first.company_tier),
                inconsistent=first.company_inconsistent,
                tier_overridden=first.company_tier_overridden,
                override_notes=tuple(json.loads(first.company_override_notes)),
            )
        )
    first_row = rows[0][0]
    return WaveGrades(
        wave_id=wave_id,
        audit_name=wave.audit_name,
        as_of=first_row.as_of,
        clock=first_row.clock,
        companies=tuple(sorted(companies, key=sort_key)),
        graded_at=first_row.graded_at,
    )
