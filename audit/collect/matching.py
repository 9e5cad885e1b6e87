"""Which inquiry a reply answers (docs/collection.md, "Matching"). First rule that hits wins, and says so.

1. the token in the true recipient: envelope headers and the transport's recipient first, then To/Cc (high);
2. the reference code ("Ref: K7Q2-9F") in the subject or body, which help desks quote back (medium);
3. the sender's site domain is a company with a submitted inquiry in the window before the reply (low,
   flagged for a person to review).

Each rule is at most one query, prepared once (bound parameters) and run on the session's own connection:
matching needs probe numbers, not ORM objects, and this is the collector's hot path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import Connection, bindparam, select
from sqlmodel import Session, col

from audit.collect.parse import ParsedMessage
from audit.domains import site_domain
from audit.models import Company, Probe
from audit.tokens import is_valid_token

DOMAIN_WINDOW = timedelta(days=30)  # a reply by sender domain counts only this long after the submission
_REF = re.compile(r"(?<![0-9A-Z])([0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{2})(?![0-9A-Z])")
_LOCAL_PARTS = re.compile(r"[.+_=-]")
_IN_LIMIT = 500  # values per IN list: hostile mail may carry thousands; SQLite allows 999 before 3.32

_BY_TOKENS = select(col(Probe.token), col(Probe.id)).where(
    col(Probe.token).in_(bindparam("tokens", expanding=True))
)
_BY_REFERENCES = (
    select(col(Probe.ref_code), col(Probe.id), col(Probe.submitted_at))
    .where(col(Probe.ref_code).in_(bindparam("codes", expanding=True)))
    .order_by(col(Probe.id).desc())
)
_BY_DOMAIN = (  # companies first (IN, not JOIN: SQLite would otherwise scan every probe), then their probes
    select(col(Probe.id), col(Probe.submitted_at))
    .where(
        col(Probe.company_id).in_(select(col(Company.id)).where(col(Company.domain) == bindparam("domain"))),
        col(Probe.submitted_at).is_not(None),
    )
    .order_by(col(Probe.submitted_at).desc(), col(Probe.id).desc())  # ties: the newer probe, every time
)


@dataclass(frozen=True, slots=True)
class MatchResult:
    probe_id: int | None
    method: str | None  # token:envelope | token:header | reference | sender_domain
    confidence: str | None  # high | medium | low
    needs_review: bool = False


NO_MATCH = MatchResult(None, None, None, needs_review=True)


def lookup_connection(session: Session) -> Connection:
    """The session's connection for read-only Core lookups, which then see what an ORM query would see.

    An ORM query autoflushes pending changes first; so does this (a no-op on a clean session). The lookups
    then skip the ORM's per-query machinery, which costs more than the query itself on SQLite. Changes made
    to the session afterwards are not flushed for them: call this again after changing the session.
    """
    if session.autoflush:
        session.flush()
    return session.connection()


def tokens_in(address: str) -> list[str]:
    """Valid-looking tokens in an address's local part (`dana.k7q29fxm3@...`, `shopper+k7q29fxm3@...`)."""
    local = address.rpartition("@")[0] if "@" in address else address
    pieces = [local, *_LOCAL_PARTS.split(local)]
    return [piece.lower() for piece in dict.fromkeys(pieces) if is_valid_token(piece)]


def _candidate_tokens(addresses: Iterable[str]) -> list[str]:
    """Every token in the addresses, in the order the addresses and their pieces come (first one wins)."""
    return list(dict.fromkeys(token for address in addresses for token in tokens_in(address)))


def _probes_by_token(connection: Connection, tokens: list[str]) -> dict[str, int | None]:
    found: dict[str, int | None] = {}
    for start in range(0, len(tokens), _IN_LIMIT):
        for token, probe_id in connection.execute(_BY_TOKENS, {"tokens": tokens[start : start + _IN_LIMIT]}):
            found[token] = probe_id
    return found


def _probe_by_reference(connection: Connection, text: str, received_at: datetime) -> int | None:
    codes = list(dict.fromkeys(_REF.findall(text.upper())))
    for start in range(0, len(codes), _IN_LIMIT):  # the codes in the order they come in the text
        chunk = codes[start : start + _IN_LIMIT]
        by_code: dict[str, list[tuple[int | None, datetime | None]]] = {}
        for code, probe_id, submitted_at in connection.execute(_BY_REFERENCES, {"codes": chunk}):
            by_code.setdefault(code, []).append((probe_id, submitted_at))  # newest probe first
        for code in chunk:
            # Codes are unique within a wave; across waves, the newest inquiry sent before the reply.
            for probe_id, submitted_at in by_code.get(code, ()):
                if submitted_at is None or submitted_at <= received_at:
                    return probe_id
    return None


@lru_cache(maxsize=4096)
def sender_site(from_domain: str) -> str:
    """The site domain of a sender's mail domain (`mail.acme.co.il` -> `acme.co.il`); pure, so cached."""
    return site_domain(f"http://{from_domain}/")


def _probe_by_domain(connection: Connection, domain: str, received_at: datetime) -> int | None:
    for probe_id, submitted_at in connection.execute(_BY_DOMAIN, {"domain": domain}):
        assert submitted_at is not None
        if submitted_at <= received_at <= submitted_at + DOMAIN_WINDOW:
            return probe_id
    return None


def match_message(
    session: Session, parsed: ParsedMessage, *, envelope: tuple[str, ...], received_at: datetime
) -> MatchResult:
    return match_on(lookup_connection(session), parsed, envelope=envelope, received_at=received_at)


def match_on(
    connection: Connection, parsed: ParsedMessage, *, envelope: tuple[str, ...], received_at: datetime
) -> MatchResult:
    """`match_message` on a connection from `lookup_connection` (the collector reuses its own)."""
    # Rule 1 in one query for both kinds of recipient; the envelope's tokens are looked at first.
    in_envelope = _candidate_tokens((*envelope, *parsed.envelope_recipients))
    in_headers = _candidate_tokens(parsed.header_recipients)
    found = _probes_by_token(connection, list(dict.fromkeys((*in_envelope, *in_headers))))
    for tokens, method in ((in_envelope, "token:envelope"), (in_headers, "token:header")):
        for token in tokens:
            if token in found:
                return MatchResult(found[token], method, "high")
    probe_id = _probe_by_reference(connection, f"{parsed.subject or ''}\n{parsed.text}", received_at)
    if probe_id is not None:
        return MatchResult(probe_id, "reference", "medium")
    if parsed.from_domain:
        probe_id = _probe_by_domain(connection, sender_site(parsed.from_domain), received_at)
        if probe_id is not None:
            return MatchResult(probe_id, "sender_domain", "low", needs_review=True)
    return NO_MATCH
