"""The one door for every reply: keep the raw bytes, parse, match, classify, store once.

Sources call `ingest_raw` inside their own transaction (IMAP advances its checkpoint in the same one), so a
crash either keeps both the message and the checkpoint or neither. Idempotency is by unique keys: the
transport's own (IMAP UID, webhook event or raw hash, Maildir file name) and a content key across channels.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from audit.collect.classify import classify
from audit.collect.matching import MatchResult, match_message
from audit.collect.parse import ParsedMessage, parse_message
from audit.models import Message, Probe, utcnow

DATE_SKEW_LIMIT = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class Arrival:
    """How a message reached us, as the transport tells it."""

    source: str  # "imap" | "webhook:<provider>" | "maildir"
    account: str | None = None
    folder: str | None = None
    uidvalidity: int | None = None
    uid: int | None = None
    delivery_key: str | None = None  # webhook event id or raw SHA-256; Maildir unique file name
    envelope_recipients: tuple[str, ...] = ()  # the transport's recipient fields (webhooks)
    transport_time: datetime | None = None  # IMAP INTERNALDATE, provider receipt time, Maildir mtime
    transport_time_source: str | None = None  # "internaldate" | "provider" | "maildir_mtime"


@dataclass(frozen=True, slots=True)
class IngestResult:
    message: Message
    created: bool  # False: we had it already (same transport key or same content by another channel)


def raw_sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def keep_raw(raw: bytes, data_dir: Path) -> str:
    """Write the raw bytes once, content-addressed, atomically; return the path relative to data_dir."""
    digest = raw_sha256(raw)
    relative = Path("raw") / digest[:2] / f"{digest}.eml"
    path = data_dir / relative
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        with os.fdopen(handle, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    return relative.as_posix()


def _existing_by_transport(session: Session, arrival: Arrival) -> Message | None:
    if arrival.uid is not None and arrival.uidvalidity is not None:
        return session.exec(
            select(Message).where(
                Message.account == arrival.account,
                Message.folder == arrival.folder,
                Message.uidvalidity == arrival.uidvalidity,
                Message.uid == arrival.uid,
            )
        ).first()
    if arrival.delivery_key is not None:
        return session.exec(
            select(Message).where(
                Message.source == arrival.source, Message.delivery_key == arrival.delivery_key
            )
        ).first()
    return None


def content_key(parsed: ParsedMessage, raw: bytes, probe_id: int | None) -> str:
    """The same reply by two channels is one: Message-ID when there is one, else a digest of its content."""
    body = (parsed.text or "")[:4096]
    if parsed.message_id:
        basis = parsed.message_id
    elif parsed.from_address or parsed.subject or body:
        basis = "|".join((parsed.from_address or "", str(parsed.date_header), parsed.subject or "", body))
    else:
        basis = raw_sha256(raw)  # nothing parseable: the bytes are the identity
    return hashlib.sha256(f"{basis}|{probe_id}".encode()).hexdigest()


def arrival_time(parsed: ParsedMessage, arrival: Arrival, now: datetime) -> tuple[datetime, str]:
    """When it reached our mailbox: our server's Received line, else the transport's time, else now."""
    if parsed.top_received_at is not None:
        return parsed.top_received_at, "received_header"
    if arrival.transport_time is not None:
        return arrival.transport_time, arrival.transport_time_source or "transport"
    return now, "ingested"  # no better evidence: an upper bound only, and flagged as such


def apply_facts(message: Message, parsed: ParsedMessage, match: MatchResult, session: Session) -> None:
    """Fill the recomputable columns (parse, match, classification); used on ingest and on re-parse."""
    message.message_id = parsed.message_id
    message.subject = parsed.subject
    message.from_address, message.from_domain = parsed.from_address, parsed.from_domain
    message.recipients = ", ".join(dict.fromkeys((*parsed.envelope_recipients, *parsed.header_recipients)))
    message.date_header = parsed.date_header
    message.date_suspicious = parsed.date_zone_missing or (
        parsed.date_header is not None and abs(parsed.date_header - message.received_at) > DATE_SKEW_LIMIT
    )
    message.text, message.reply_text, message.html_sanitized = (
        parsed.text,
        parsed.reply_text,
        parsed.html_sanitized,
    )
    message.malformed = parsed.malformed
    message.parse_error = "; ".join(parsed.defects)[:2000] or None
    if not message.assigned_by_hand:
        message.probe_id = match.probe_id
        message.match_method, message.match_confidence = match.method, match.confidence
        message.needs_review = match.needs_review
    probe = session.get(Probe, message.probe_id) if message.probe_id is not None else None
    siblings: list[str] = []
    if probe is not None:
        siblings = [
            text
            for text in session.exec(
                select(Message.reply_text)
                .join(Probe, col(Probe.id) == col(Message.probe_id))
                .where(Probe.company_id == probe.company_id, Message.probe_id != probe.id)
            ).all()
            if text
        ]
    verdict = classify(
        parsed,
        ref_code=probe.ref_code if probe else None,
        submitted_at=probe.submitted_at if probe else None,
        received_at=message.received_at,
        sibling_texts=siblings,
    )
    message.kind, message.kind_rule = verdict.kind.value, verdict.rule


def ingest_raw(session: Session, raw: bytes, arrival: Arrival, *, data_dir: Path) -> IngestResult:
    """Store one message once. Does not commit: the caller's transaction decides (with its checkpoint)."""
    existing = _existing_by_transport(session, arrival)
    if existing is not None:
        return IngestResult(existing, created=False)
    raw_path = keep_raw(raw, data_dir)  # first, so the bytes survive whatever parsing does
    parsed = parse_message(raw)
    now = utcnow()
    received_at, received_source = arrival_time(parsed, arrival, now)
    match = match_message(session, parsed, envelope=arrival.envelope_recipients, received_at=received_at)
    key = content_key(parsed, raw, match.probe_id)
    duplicate = session.exec(select(Message).where(Message.content_key == key)).first()
    if duplicate is not None:
        return IngestResult(duplicate, created=False)
    message = Message(
        source=arrival.source,
        account=arrival.account,
        folder=arrival.folder,
        uidvalidity=arrival.uidvalidity,
        uid=arrival.uid,
        delivery_key=arrival.delivery_key,
        content_key=key,
        raw_sha256=raw_sha256(raw),
        raw_path=raw_path,
        raw_size=len(raw),
        received_at=received_at,
        received_at_source=received_source,
        ingested_at=now,
    )
    apply_facts(message, parsed, match, session)
    try:
        with session.begin_nested():  # a concurrent writer may have stored it a moment ago
            session.add(message)
    except IntegrityError:
        again = (
            _existing_by_transport(session, arrival)
            or session.exec(select(Message).where(Message.content_key == key)).first()
        )
        if again is None:
            raise
        return IngestResult(again, created=False)
    return IngestResult(message, created=True)
