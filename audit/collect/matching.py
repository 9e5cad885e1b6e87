"""Which inquiry a reply answers (email-collection.md section 3). First rule that hits wins, and says so.

1. the token in the true recipient: envelope headers and the transport's recipient first, then To/Cc (high);
2. the reference code ("Ref: K7Q2-9F") in the subject or body, which help desks quote back (medium);
3. the sender's site domain is a company with a submitted inquiry in the window before the reply (low,
   flagged for a person to review).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from audit.collect.parse import ParsedMessage
from audit.domains import site_domain
from audit.models import Company, Probe
from audit.tokens import is_valid_token

DOMAIN_WINDOW = timedelta(days=30)  # a reply by sender domain counts only this long after the submission
_REF = re.compile(r"(?<![0-9A-Z])([0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{2})(?![0-9A-Z])")
_LOCAL_PARTS = re.compile(r"[.+_=-]")


@dataclass(frozen=True, slots=True)
class MatchResult:
    probe_id: int | None
    method: str | None  # token:envelope | token:header | reference | sender_domain
    confidence: str | None  # high | medium | low
    needs_review: bool = False


NO_MATCH = MatchResult(None, None, None, needs_review=True)


def tokens_in(address: str) -> list[str]:
    """Valid-looking tokens in an address's local part (`dana.k7q29fxm3@...`, `shopper+k7q29fxm3@...`)."""
    local = address.rpartition("@")[0] if "@" in address else address
    pieces = [local, *_LOCAL_PARTS.split(local)]
    return [piece.lower() for piece in dict.fromkeys(pieces) if is_valid_token(piece)]


def _probe_by_token(session: Session, addresses: Iterable[str]) -> Probe | None:
    for address in addresses:
        for token in tokens_in(address):
            probe = session.exec(select(Probe).where(Probe.token == token)).first()
            if probe is not None:
                return probe
    return None


def _probe_by_reference(session: Session, text: str, received_at: datetime) -> Probe | None:
    for code in dict.fromkeys(_REF.findall(text.upper())):
        candidates = session.exec(
            select(Probe).where(Probe.ref_code == code).order_by(col(Probe.id).desc())
        ).all()
        # Codes are unique within a wave; across waves, the newest inquiry sent before the reply.
        for probe in candidates:
            if probe.submitted_at is None or probe.submitted_at <= received_at:
                return probe
    return None


def _probe_by_domain(session: Session, domain: str, received_at: datetime) -> Probe | None:
    companies = session.exec(select(Company.id).where(Company.domain == domain)).all()
    if not companies:
        return None
    probes = session.exec(
        select(Probe)
        .where(col(Probe.company_id).in_(companies), col(Probe.submitted_at).is_not(None))
        .order_by(col(Probe.submitted_at).desc())
    ).all()
    for probe in probes:
        assert probe.submitted_at is not None
        if probe.submitted_at <= received_at <= probe.submitted_at + DOMAIN_WINDOW:
            return probe
    return None


def match_message(
    session: Session, parsed: ParsedMessage, *, envelope: tuple[str, ...], received_at: datetime
) -> MatchResult:
    probe = _probe_by_token(session, (*envelope, *parsed.envelope_recipients))
    if probe is not None:
        return MatchResult(probe.id, "token:envelope", "high")
    probe = _probe_by_token(session, parsed.header_recipients)
    if probe is not None:
        return MatchResult(probe.id, "token:header", "high")
    probe = _probe_by_reference(session, f"{parsed.subject or ''}\n{parsed.text}", received_at)
    if probe is not None:
        return MatchResult(probe.id, "reference", "medium")
    if parsed.from_domain:
        probe = _probe_by_domain(session, site_domain(f"http://{parsed.from_domain}/"), received_at)
        if probe is not None:
            return MatchResult(probe.id, "sender_domain", "low", needs_review=True)
    return NO_MATCH
