"""A local Maildir (the server's own delivery), read without modifying it.

Written over `os.scandir` rather than `mailbox.Maildir` because we need each file's delivery time (its
mtime) and its unique name, and must never rename new/ to cur/ or touch flags; `mailbox` hides the first two.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from audit.collect.store import Arrival, ingest_raw


@dataclass(slots=True)
class MaildirStats:
    seen: int = 0
    stored: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)


def unique_name(filename: str) -> str:
    """The Maildir unique name: the file name without its ":2,FLAGS" info (flags change, the name not)."""
    return filename.split(":", 1)[0]


def collect_maildir_once(engine: Engine, maildir: Path, *, data_dir: Path) -> MaildirStats:
    stats = MaildirStats()
    if not (maildir / "new").is_dir() or not (maildir / "cur").is_dir():
        stats.errors.append(f"{maildir} is not a Maildir (no new/ and cur/ folders)")
        return stats
    entries = [entry for sub in ("new", "cur") for entry in os.scandir(maildir / sub) if entry.is_file()]
    entries.sort(key=lambda entry: entry.stat().st_mtime)
    for entry in entries:
        if entry.name.startswith("."):
            continue
        stats.seen += 1
        try:
            raw = Path(entry.path).read_bytes()
            delivered = datetime.fromtimestamp(entry.stat().st_mtime, tz=UTC)
        except FileNotFoundError:
            continue  # moved by the mail client between listing and reading; seen next pass under cur/
        arrival = Arrival(
            source="maildir",
            account=str(maildir),
            delivery_key=unique_name(entry.name),
            transport_time=delivered,
            transport_time_source="maildir_mtime",
        )
        try:
            with Session(engine, expire_on_commit=False) as session:
                result = ingest_raw(session, raw, arrival, data_dir=data_dir)
                session.commit()
        except Exception as ex:  # one bad file must not block the ones behind it
            stats.errors.append(f"{entry.name}: {ex.__class__.__name__}: {ex}")
            continue
        if result.created:
            stats.stored += 1
        else:
            stats.duplicates += 1
    return stats
