"""What grading produces: plain frozen dataclasses, the contract between the grader, the report, the export,
the web UI and the scheduler. Built from stored facts by `audit.grading.grade_wave`; never stored as-is
(the `ProbeGrade` rows keep the same fields, and overrides are facts of their own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Tier(StrEnum):
    """Tiers in report order (best first). `pending` only appears when grading before a deadline."""

    FAST_COURTEOUS = "fast_courteous"
    REASONABLE = "reasonable"
    SLOW_OR_LACKING = "slow_or_lacking"
    NO_REPLY = "no_reply"
    PENDING = "pending"
    NOT_REACHED = "not_reached"

    @property
    def rank(self) -> int:
        """Lower is better; used to take 'the worse of two' and to sort."""
        return _TIER_RANK[self]


_TIER_RANK = {
    Tier.FAST_COURTEOUS: 1,
    Tier.REASONABLE: 2,
    Tier.SLOW_OR_LACKING: 3,
    Tier.NO_REPLY: 4,
    Tier.PENDING: 5,
    Tier.NOT_REACHED: 6,
}


class SubmitTimeClass(StrEnum):
    BUSINESS = "business"  # inside the audit calendar's open hours
    EVENING = "evening"  # a working day, outside open hours
    WEEKEND = "weekend"  # a non-working day (weekend or public holiday)


@dataclass(frozen=True)
class Evidence:
    """Words in a reply that justify a rubric score (already masked when staff names are masked)."""

    quote: str
    rule: str  # which detector fired, e.g. "greeting_by_name"


@dataclass(frozen=True)
class CriterionScore:
    """One rubric item for one human reply. `score` is 0..`max_score`; `overridden` when a person set it."""

    criterion: str  # A, P1, P2, Q, V, E, M (docs/method.md, "Rubric"); T and F are timing facts, not text
    score: int
    max_score: int
    evidence: tuple[Evidence, ...] = ()
    overridden: bool = False
    note: str | None = None


@dataclass(frozen=True)
class ReplyPromise:
    """An auto-acknowledgement promised a reply time ("within 2 business days", "תוך 48 שעות")."""

    text: str
    due_at: datetime
    kept: bool | None  # None while still open at as_of


@dataclass(frozen=True)
class ProbeResult:
    probe_id: int
    company_id: str
    seq: int
    outcome: str | None  # the probe's outcome from the runner
    reached: bool  # an inquiry was submitted
    not_reached_reason: str | None
    submitted_at: datetime | None
    submit_time_class: SubmitTimeClass | None
    deadline_at: datetime | None
    first_reply_at: datetime | None  # any kind, bounces excluded
    first_ack_at: datetime | None
    first_human_at: datetime | None
    first_complete_at: datetime | None  # first human reply that answered every declared part
    human_channel: str | None  # email | phone | sms | other
    human_message_id: int | None
    human_folder: str | None  # e.g. Junk, to say a reply was caught by the spam filter
    wall_seconds_to_ack: float | None
    wall_seconds_to_human: float | None
    business_seconds_to_human: float | None
    late: bool  # the first human reply came after the deadline (within the late window)
    human_replies: int
    followed_up: bool  # a second human message within 5 business days of the first
    promise: ReplyPromise | None
    quality: float | None  # 0..1 over the rubric's text criteria; None without a human reply
    criteria: tuple[CriterionScore, ...]
    excerpt: str | None  # a short quote from the first human reply, masked
    reply_language: str | None  # en | he | other
    tier: Tier
    tier_reason: str  # one line: why this tier
    tier_overridden: bool = False
    override_notes: tuple[str, ...] = ()
    channel: str = "form"  # how the inquiry was sent: form | email


@dataclass(frozen=True)
class CompanyResult:
    company_id: str
    name: str
    sector: str
    probes: tuple[ProbeResult, ...]
    tier: Tier  # median probe tier; with an even count the worse of the two middle ones
    inconsistent: bool  # the probes span two or more tiers
    wall_seconds_to_human: float | None  # median over probes; None if none replied
    business_seconds_to_human: float | None
    quality: float | None  # median over probes with a human reply
    quality_spread: tuple[float, float] | None  # (min, max) when several probes replied
    tier_overridden: bool = False
    override_notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class WaveGrades:
    wave_id: int
    audit_name: str
    as_of: datetime
    clock: str  # wall | business: which clock the tier thresholds used
    companies: tuple[CompanyResult, ...]  # sorted: tier, then time to first human reply, then name
    graded_at: datetime
    notes: tuple[str, ...] = field(default=())
