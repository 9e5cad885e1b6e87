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
from audit.db import writer

BATCH_SIZE = 50  # files per commit, as the IMAP source's batches


@dataclass(slots=True)
class MaildirStats:
    seen: int = 0
    stored: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)


def unique_name(filename: str) -> str:
    """The Maildir unique name: the file name without its ":2,FLAGS" info (flags change, the name not)."""
    return filename.split(":", 1)[0]


def maildir_folders(maildir: Path) -> list[tuple[str, Path]]:
    """The top folder (as INBOX) and its Maildir++ subfolders (`.Junk` as Junk, `.Archive.2026` as
    Archive.2026): a spam filter files replies into `.Junk`, and a reply caught there still counts."""
    folders = [("INBOX", maildir)]
    for entry in sorted(os.scandir(maildir), key=lambda entry: entry.name):
        path = Path(entry.path)
        if (
            entry.name.startswith(".")
            and entry.is_dir()
            and (path / "new").is_dir()
            and (path / "cur").is_dir()
        ):
            folders.append((entry.name[1:], path))
    return folders


def collect_maildir_once(
    engine: Engine, maildir: Path, *, data_dir: Path, batch_size: int = BATCH_SIZE
) -> MaildirStats:
    """One pass: store the files not stored yet, oldest first.

    Each file is ingested in a savepoint and the files are committed in batches of `batch_size` (a commit
    is a durable write of its own): a crash loses at most one uncommitted batch, which the next pass stores
    again (the keys make it idempotent, and each raw file was durable before its row was added). A file that
    fails ends its batch, so its trouble cannot reach the files behind it.
    """
    stats = MaildirStats()
    if not (maildir / "new").is_dir() or not (maildir / "cur").is_dir():
        stats.errors.append(f"{maildir} is not a Maildir (no new/ and cur/ folders)")
        return stats
    entries = [
        (folder, entry)
        for folder, path in maildir_folders(maildir)
        for sub in ("new", "cur")
        for entry in os.scandir(path / sub)
        if entry.is_file()
    ]
    entries.sort(key=lambda item: item[1].stat().st_mtime)
    pending: list[tuple[str, bool]] = []  # (file name, created), ingested but not yet committed
    with Session(writer(engine), expire_on_commit=False) as session:
        for folder, entry in entries:
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
                folder=folder,
                delivery_key=unique_name(entry.name),
                transport_time=delivered,
                transport_time_source="maildir_mtime",
            )
            try:
                with session.begin_nested():
                    result = ingest_raw(session, raw, arrival, data_dir=data_dir)
            except Exception as ex:  # one bad file must not block the ones behind it
                stats.errors.append(f"{entry.name}: {ex.__class__.__name__}: {ex}")
                _commit(session, pending, stats)  # the next file starts in a fresh transaction
                continue
            pending.append((entry.name, result.created))
            if len(pending) >= batch_size:
                _commit(session, pending, stats)
        _commit(session, pending, stats)
    return stats


def _commit(session: Session, pending: list[tuple[str, bool]], stats: MaildirStats) -> None:
    """Commit the batch and count it; if the commit fails, nothing in it counts as stored (next pass)."""
    try:
        session.commit()
    except Exception as ex:
        session.rollback()
        stats.errors.extend(f"{name}: {ex.__class__.__name__}: {ex}" for name, _ in pending)
    else:
        for _, created in pending:
            if created:
                stats.stored += 1
            else:
                stats.duplicates += 1
    pending.clear()
    session.expunge_all()  # keep memory flat over large Maildirs
