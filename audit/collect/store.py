"""The one door for every reply: keep the raw bytes, parse, match, classify, store every delivery.

Sources call `ingest_raw` inside their own transaction (IMAP advances its checkpoint in the same one), so a
crash either keeps both the message and the checkpoint or neither. A message's identity is its transport
key (IMAP account, folder, UIDVALIDITY and UID; a webhook delivery's event id or raw hash; a Maildir file
name): the same key again is the same delivery and stores nothing. Every other delivery is stored, with its
raw bytes. The same message by two channels (the same Message-ID *and* the same body, for the same inquiry)
is recognised by its content key and marked `duplicate_of` the first copy, which alone is counted; a shared
Message-ID alone proves nothing (a CRM may reuse one for its acknowledgement and its human reply), and
`audit inbox --duplicates` lists such reuse for a person to look at.

This is the collector's hot path: lookups are prepared statements run on the session's connection (see
`matching.lookup_connection`), the raw bytes are hashed once, and the Message is built once with its facts.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Select, bindparam
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from audit.collect.classify import classify
from audit.collect.matching import MatchResult, lookup_connection, match_on
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
    created: bool  # False: we had this delivery already (the same transport key)
    duplicate_of: int | None = None  # a new row, but a copy of this earlier message (same content)


def raw_sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)

# The lookups ingest makes for every message, prepared once; bound parameters are never NULL here (a NULL
# needs `IS NULL`, which the unprepared fallback in `_existing_by_transport` writes).
_BY_IMAP_UID = select(col(Message.id)).where(
    col(Message.account) == bindparam("account"),
    col(Message.folder) == bindparam("folder"),
    col(Message.uidvalidity) == bindparam("uidvalidity"),
    col(Message.uid) == bindparam("uid"),
)
_BY_DELIVERY = select(col(Message.id)).where(
    col(Message.source) == bindparam("source"), col(Message.delivery_key) == bindparam("delivery_key")
)
_BY_CONTENT = (
    core_select(
        col(Message.id),
        col(Message.source),
        col(Message.account),
        col(Message.folder),
        col(Message.raw_sha256),
    )
    .where(col(Message.content_key) == bindparam("key"), col(Message.duplicate_of).is_(None))
    .order_by(col(Message.id))
)
_SIBLING_TEXTS = (
    select(col(Message.reply_text))
    .join(Probe, col(Probe.id) == col(Message.probe_id))
    .where(
        col(Probe.company_id) == bindparam("company_id"),
        col(Message.probe_id) != bindparam("probe_id"),
        col(Message.duplicate_of).is_(None),
    )
)


def keep_raw(raw: bytes, data_dir: Path) -> str:
    """Write the raw bytes once, content-addressed, atomically; return the path relative to data_dir.

    When it returns, the bytes are durable: the file's data (fsynced before its rename into place) and its
    name (the directory fsynced after).
    """
    return _keep_raw(raw, data_dir, raw_sha256(raw))


def _keep_raw(raw: bytes, data_dir: Path, digest: str) -> str:
    directory = os.path.join(data_dir, "raw", digest[:2])
    path = os.path.join(directory, f"{digest}.eml")
    # A file of that name holds exactly these bytes, complete and fsynced: it only ever appears by a rename
    # made after its fsync. Its directory is fsynced all the same (cheap when clean): its writer may not
    # have got that far yet, or may have crashed just before.
    if not os.path.exists(path):
        _write_durably(raw, directory, path)
    _fsync_directory(directory)
    return f"raw/{digest[:2]}/{digest}.eml"


def _write_durably(raw: bytes, directory: str, path: str) -> None:
    temporary = os.path.join(directory, f".incoming-{secrets.token_hex(8)}")
    try:
        handle = os.open(temporary, _NEW_FILE, 0o600)
    except FileNotFoundError:  # the first message in this folder
        _make_directories(directory)
        handle = os.open(temporary, _NEW_FILE, 0o600)
    try:
        try:
            view = memoryview(raw)
            while view:
                view = view[os.write(handle, view) :]
            os.fsync(handle)
        finally:
            os.close(handle)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _make_directories(directory: str) -> None:
    """`mkdir -p`, fsyncing the parent of each directory on the way, so new names are durable too."""
    parent = os.path.dirname(directory)
    if not os.path.isdir(parent):
        _make_directories(parent)
    with contextlib.suppress(FileExistsError):  # made by a concurrent writer, whose fsync may be pending
        os.mkdir(directory)
    _fsync_directory(parent)


def _fsync_directory(directory: str) -> None:
    handle = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _first_message(
    session: Session, connection: Connection, statement: Select[Any], params: dict[str, Any]
) -> Message | None:
    row = connection.execute(statement, params).first()
    return session.get(Message, row[0]) if row is not None else None


def _existing_by_transport(session: Session, connection: Connection, arrival: Arrival) -> Message | None:
    if arrival.uid is not None and arrival.uidvalidity is not None:
        if arrival.account is None or arrival.folder is None:  # rare: compare with IS NULL, unprepared
            return session.exec(
                select(Message).where(
                    Message.account == arrival.account,
                    Message.folder == arrival.folder,
                    Message.uidvalidity == arrival.uidvalidity,
                    Message.uid == arrival.uid,
                )
            ).first()
        params = {
            "account": arrival.account,
            "folder": arrival.folder,
            "uidvalidity": arrival.uidvalidity,
            "uid": arrival.uid,
        }
        return _first_message(session, connection, _BY_IMAP_UID, params)
    if arrival.delivery_key is not None:
        params = {"source": arrival.source, "delivery_key": arrival.delivery_key}
        return _first_message(session, connection, _BY_DELIVERY, params)
    return None


@dataclass(frozen=True, slots=True)
class _Copy:
    id: int
    source: str
    account: str | None
    folder: str | None
    raw_sha256: str | None

    def renumbered(self, arrival: Arrival, digest: str) -> bool:
        """The same bytes in the same IMAP folder under a new UID: the server renumbered the folder (a new
        UIDVALIDITY), which is no new delivery."""
        return (
            arrival.uid is not None
            and (self.source, self.account, self.folder) == (arrival.source, arrival.account, arrival.folder)
            and self.raw_sha256 == digest
        )


def _first_copy(connection: Connection, key: str) -> _Copy | None:
    """The earliest counted message with this content key."""
    row = connection.execute(_BY_CONTENT, {"key": key}).first()
    if row is None or row[0] is None:
        return None
    return _Copy(row[0], row[1], row[2], row[3], row[4])


def content_key(parsed: ParsedMessage, raw: bytes, probe_id: int | None) -> str:
    """The same reply by two channels has one key: its Message-ID and its body; without a Message-ID, its
    sender, date, subject and body; with nothing parseable, its bytes."""
    return _content_key(parsed, raw, raw_sha256(raw), probe_id)


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_WHITESPACE = re.compile(rb"\s+")
_DIGEST_CHUNK = 1 << 20


def body_digest(raw: bytes) -> str:
    """SHA-256 of everything below the header block, white space removed: every MIME part counts (two
    bounces that differ only in their delivery-status part are two messages), and what transports change
    (CRLF or LF line ends, trailing blanks, the headers they add) does not."""
    end = _HEADER_END.search(raw)
    digest = hashlib.sha256()
    if end is None:
        return digest.hexdigest()
    # A chunk at a time through a memoryview: white space is removed byte by byte, so chunking changes
    # nothing, and a 25 MB message costs one chunk of copies, not two whole ones (issue 11's memory bound).
    view = memoryview(raw)
    for start in range(end.end(), len(raw), _DIGEST_CHUNK):
        digest.update(_WHITESPACE.sub(b"", view[start : start + _DIGEST_CHUNK]))
    return digest.hexdigest()


def _content_key(parsed: ParsedMessage, raw: bytes, digest: str, probe_id: int | None) -> str:
    body = body_digest(raw)
    if parsed.message_id:
        basis = f"{parsed.message_id}|{body}"
    elif parsed.from_address or parsed.subject or (parsed.text or "").strip():  # without a Message-ID
        basis = "|".join((parsed.from_address or "", str(parsed.date_header), parsed.subject or "", body))
    else:
        basis = digest  # nothing parseable: the bytes (their SHA-256) are the identity
    return hashlib.sha256(f"{basis}|{probe_id}".encode()).hexdigest()


def arrival_time(parsed: ParsedMessage, arrival: Arrival, now: datetime) -> tuple[datetime, str]:
    """When it reached our mailbox: our server's Received line, else the transport's time, else now."""
    if parsed.top_received_at is not None:
        return parsed.top_received_at, "received_header"
    if arrival.transport_time is not None:
        return arrival.transport_time, arrival.transport_time_source or "transport"
    return now, "ingested"  # no better evidence: an upper bound only, and flagged as such


def apply_facts(
    message: Message, parsed: ParsedMessage, match: MatchResult, session: Session, *, raw: bytes | None = None
) -> None:
    """Fill the recomputable columns (parse, match, content key, classification); used on re-parse.

    Whether the message is a copy of another (`duplicate_of`) is decided once, on arrival, and kept.
    """
    facts = _facts(parsed, match, received_at=message.received_at, assigned_by_hand=message.assigned_by_hand)
    for name, value in facts.items():
        setattr(message, name, value)
    if raw is not None:
        message.content_key = _content_key(parsed, raw, raw_sha256(raw), message.probe_id)
    # The message's new match is flushed before the siblings are read, as an ORM query's autoflush did.
    message.kind, message.kind_rule = _classification(
        session,
        lookup_connection(session),
        parsed,
        message.probe_id,
        received_at=message.received_at,
        raw=raw,
    )


def _facts(
    parsed: ParsedMessage, match: MatchResult, *, received_at: datetime, assigned_by_hand: bool
) -> dict[str, Any]:
    """The parse and match columns of a message received at `received_at` (the Message is built once).

    A person's assignment is kept: with `assigned_by_hand`, the match columns are left out.
    """
    facts: dict[str, Any] = {
        "message_id": parsed.message_id,
        "subject": parsed.subject,
        "from_address": parsed.from_address,
        "from_domain": parsed.from_domain,
        "recipients": ", ".join(dict.fromkeys((*parsed.envelope_recipients, *parsed.header_recipients))),
        "date_header": parsed.date_header,
        "date_suspicious": parsed.date_zone_missing
        or (parsed.date_header is not None and abs(parsed.date_header - received_at) > DATE_SKEW_LIMIT),
        "text": parsed.text,
        "reply_text": parsed.reply_text,
        "html_sanitized": parsed.html_sanitized,
        "malformed": parsed.malformed,
        "parse_error": "; ".join(parsed.defects)[:2000] or None,
    }
    if not assigned_by_hand:
        facts.update(
            probe_id=match.probe_id,
            match_method=match.method,
            match_confidence=match.confidence,
            needs_review=match.needs_review,
        )
    return facts


def _classification(
    session: Session,
    connection: Connection,
    parsed: ParsedMessage,
    probe_id: int | None,
    *,
    received_at: datetime,
    raw: bytes | None = None,
) -> tuple[str, str | None]:
    """(kind, kind_rule) of a message matched to `probe_id`, against the other replies to that company."""
    probe = session.get(Probe, probe_id) if probe_id is not None else None
    siblings: list[str] = []
    if probe is not None:  # only a matched message has siblings (replies to the same company's probes)
        rows = connection.execute(_SIBLING_TEXTS, {"company_id": probe.company_id, "probe_id": probe.id})
        siblings = [text for (text,) in rows if text]
    verdict = classify(
        parsed,
        ref_code=probe.ref_code if probe else None,
        submitted_at=probe.submitted_at if probe else None,
        received_at=received_at,
        sibling_texts=siblings,
        raw=raw,
    )
    return verdict.kind.value, verdict.rule


def ingest_raw(session: Session, raw: bytes, arrival: Arrival, *, data_dir: Path) -> IngestResult:
    """Store one message once. Does not commit: the caller's transaction decides (with its checkpoint).

    The raw bytes are durable (file and name fsynced) before this returns, so before any commit of the row.
    """
    # One flush, then Core lookups on the session's connection: nothing below changes the session until the
    # insert, so every lookup sees what an (autoflushing) ORM query would.
    connection = lookup_connection(session)
    existing = _existing_by_transport(session, connection, arrival)
    if existing is not None:
        return IngestResult(existing, created=False)
    digest = raw_sha256(raw)
    raw_path = _keep_raw(raw, data_dir, digest)  # first, so the bytes survive whatever parsing does
    parsed = parse_message(raw)
    now = utcnow()
    received_at, received_source = arrival_time(parsed, arrival, now)
    match = match_on(connection, parsed, envelope=arrival.envelope_recipients, received_at=received_at)
    key = _content_key(parsed, raw, digest, match.probe_id)
    first = _first_copy(connection, key)
    duplicate_of, duplicate_reason = None, None
    if first is not None:
        if first.renumbered(arrival, digest):
            existing = session.get(Message, first.id)
            assert existing is not None
            return IngestResult(existing, created=False)
        duplicate_of = first.id
        same = "same Message-ID and body" if parsed.message_id else "same sender, date, subject and body"
        where = " ".join(part for part in (first.source, first.folder) if part)
        duplicate_reason = f"{same} as message {first.id} ({where})"
    kind, kind_rule = _classification(
        session, connection, parsed, match.probe_id, received_at=received_at, raw=raw
    )
    message = Message(
        source=arrival.source,
        account=arrival.account,
        folder=arrival.folder,
        uidvalidity=arrival.uidvalidity,
        uid=arrival.uid,
        delivery_key=arrival.delivery_key,
        content_key=key,
        duplicate_of=duplicate_of,
        duplicate_reason=duplicate_reason,
        raw_sha256=digest,
        raw_path=raw_path,
        raw_size=len(raw),
        received_at=received_at,
        received_at_source=received_source,
        ingested_at=now,
        kind=kind,
        kind_rule=kind_rule,
        **_facts(parsed, match, received_at=received_at, assigned_by_hand=False),
    )
    try:
        with session.begin_nested():  # a concurrent writer may have stored it a moment ago
            session.add(message)
    except IntegrityError:
        again = _existing_by_transport(session, lookup_connection(session), arrival)
        if again is None:
            raise
        return IngestResult(again, created=False)
    return IngestResult(message, created=True, duplicate_of=duplicate_of)
