"""Recompute every stored message's parse, match and classification from its raw bytes.

Facts first, judgements recomputed (docs/architecture.md, "Facts first, judgements recomputed"): when the
parser, the matching rules or the classifier improve, or a probe is added after its reply arrived,
`audit collect --reparse` brings every message up to date. The raw file and the transport facts (source,
folder, UID, arrival time) are never changed; a person's assignment (`assigned_by_hand`) is kept; manual
replies have no raw bytes and are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from audit.collect.matching import match_message
from audit.collect.parse import parse_message
from audit.collect.store import apply_facts
from audit.models import Message

BATCH_SIZE = 200  # messages per transaction: a crash redoes at most one batch, which is idempotent


@dataclass(slots=True)
class ReparseStats:
    seen: int = 0
    changed: int = 0  # the match or the kind moved
    missing_raw: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"re-parsed {self.seen} messages; {self.changed} changed their match or kind"
        if self.missing_raw:
            text += f"; {len(self.missing_raw)} raw files missing (left as they were)"
        return text


def reparse_all(engine: Engine, *, data_dir: Path, batch_size: int = BATCH_SIZE) -> ReparseStats:
    """Re-parse, re-match and re-classify every message with raw bytes, in id order, in batches."""
    stats = ReparseStats()
    last_id = 0
    while True:
        with Session(engine) as session:
            batch = session.exec(
                select(Message)
                .where(col(Message.id) > last_id, col(Message.raw_path).is_not(None))
                .order_by(col(Message.id))
                .limit(batch_size)
            ).all()
            if not batch:
                return stats
            for message in batch:
                assert message.id is not None and message.raw_path is not None
                last_id = message.id
                stats.seen += 1
                try:
                    raw = (data_dir / message.raw_path).read_bytes()
                except FileNotFoundError:
                    stats.missing_raw.append(f"message {message.id}: {message.raw_path}")
                    continue
                before = (message.probe_id, message.kind)
                parsed = parse_message(raw)
                # The transport's own recipients are those the headers do not name (a webhook's envelope).
                named = {
                    address.lower() for address in (*parsed.envelope_recipients, *parsed.header_recipients)
                }
                envelope = tuple(
                    address
                    for address in (part.strip() for part in (message.recipients or "").split(","))
                    if address and address.lower() not in named
                )
                match = match_message(session, parsed, envelope=envelope, received_at=message.received_at)
                apply_facts(message, parsed, match, session, raw=raw)
                session.add(message)
                session.flush()  # the next message's classification sees this one's new match
                if (message.probe_id, message.kind) != before:
                    stats.changed += 1
            session.commit()
