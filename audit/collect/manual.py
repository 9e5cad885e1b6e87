"""What a person does to the inbox: enter a reply that came another way, assign a message by hand."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from audit.collect.matching import MatchResult
from audit.collect.parse import parse_message
from audit.collect.store import apply_facts
from audit.errors import AuditError
from audit.models import Message, MessageKind, Probe, utcnow

CHANNELS = ("phone", "sms", "whatsapp", "email", "letter", "other")


def find_probe(session: Session, reference: str) -> Probe:
    """A probe by its reference code (newest wave first), or by its number."""
    text = reference.strip()
    if text.isdigit():
        probe = session.get(Probe, int(text))
        if probe is None:
            raise AuditError(f"there is no probe number {text}")
        return probe
    probe = session.exec(
        select(Probe).where(Probe.ref_code == text.upper()).order_by(col(Probe.id).desc())
    ).first()
    if probe is None:
        raise AuditError(f"no inquiry has the reference code {text!r} (see `audit status`)")
    return probe


def add_manual_reply(session: Session, *, reference: str, channel: str, at: datetime, note: str) -> Message:
    if channel not in CHANNELS:
        raise AuditError(f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")
    if at.tzinfo is None:
        raise AuditError("the reply time needs a time zone")
    probe = find_probe(session, reference)
    if probe.submitted_at is not None and at < probe.submitted_at:
        raise AuditError(
            f"{at.isoformat()} is before the inquiry was submitted ({probe.submitted_at.isoformat()})"
        )
    key = hashlib.sha256(f"manual|{probe.id}|{channel}|{at.isoformat()}|{note}".encode()).hexdigest()
    existing = session.exec(
        select(Message).where(Message.source == "manual", Message.delivery_key == key)
    ).first()
    if existing is not None:
        return existing  # the same entry twice is one reply (its key is unique per source)
    message = Message(
        source="manual",
        channel=channel,
        delivery_key=key,
        content_key=key,
        received_at=at,
        received_at_source="entered_by_hand",
        probe_id=probe.id,
        match_method="manual",
        match_confidence="high",
        assigned_by_hand=True,
        kind=MessageKind.HUMAN,
        kind_rule=f"human: a {channel} reply entered by hand",
        text=note,
        reply_text=note,
        note=note,
        ingested_at=utcnow(),
    )
    session.add(message)
    session.flush()
    return message


def assign(session: Session, message_id: int, reference: str, *, data_dir: Path) -> Message:
    """Attach a message to a probe by hand; the choice survives re-matching. Re-classifies against it."""
    message = session.get(Message, message_id)
    if message is None:
        raise AuditError(f"there is no message number {message_id} (see `audit inbox`)")
    probe = find_probe(session, reference)
    message.assigned_by_hand = True
    message.probe_id = probe.id
    message.match_method, message.match_confidence, message.needs_review = "manual", "high", False
    if message.raw_path:
        raw = (data_dir / message.raw_path).read_bytes()
        apply_facts(message, parse_message(raw), MatchResult(probe.id, "manual", "high"), session, raw=raw)
    session.add(message)
    return message
