"""IMAP source: read-only, UID-checkpointed collection from INBOX and Junk (docs/collection.md, "IMAP").

Per (account, folder) an `ImapCheckpoint` holds UIDVALIDITY and the last UID stored; it advances in the same
transaction as the messages, so a crash or a dropped connection loses nothing and stores nothing twice. The
folder is EXAMINEd and bodies are fetched with BODY.PEEK[]: the collector never marks, moves or deletes mail.

Our exceptions (both `AuditError`, so the CLI shows one line):

* ImapError              the IMAP server could not be read
  + ImapLoginFailed      wrong or missing password or token: retry only after a long pause
  + ImapUnavailable      refused, dropped, timed out, BYE: retry soon
"""

from __future__ import annotations

import imaplib
import logging
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import imapclient  # type: ignore[import-untyped]
from imapclient.exceptions import LoginError  # type: ignore[import-untyped]
from imapclient.imapclient import JUNK  # type: ignore[import-untyped]
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from audit.backoff import backoff_seconds
from audit.collect.store import Arrival, ingest_raw
from audit.config import ImapSection
from audit.db import writer
from audit.errors import AuditError
from audit.models import ImapCheckpoint, utcnow

logger = logging.getLogger(__name__)

FETCH_ITEMS = [b"BODY.PEEK[]", b"INTERNALDATE", b"RFC822.SIZE"]
SPECIAL_USE = {"junk": JUNK, "spam": JUNK}  # configured name -> RFC 6154 flag
BACKOFF_BASE_S, BACKOFF_CAP_S = 1.0, 300.0
LOGIN_BACKOFF_BASE_S, LOGIN_BACKOFF_CAP_S = 900.0, 3600.0
WATCH_SOCKET_TIMEOUT_S = 60.0


class ImapError(AuditError):
    pass


class ImapLoginFailed(ImapError):
    pass


class ImapUnavailable(ImapError):
    pass


@dataclass(frozen=True, slots=True)
class ImapCredentials:
    """A password or an OAuth2 access token (XOAUTH2; preferred when both are given)."""

    password: str | None = field(repr=False)
    oauth2_token: str | None = field(repr=False)


@dataclass(slots=True)
class FolderStats:
    folder: str  # as configured
    mailbox: str | None = None  # as found on the server; None when missing
    uidvalidity: int | None = None
    last_uid: int = 0  # the checkpoint after this pass
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0  # had it already: same UID, or the same reply by another folder or channel
    errors: list[int] = field(default_factory=list)  # UIDs whose ingest failed; retried next pass
    rescanned: bool = False  # UIDVALIDITY changed (or UIDNEXT went back): read from UID 1 again
    warning: str | None = None


@dataclass(slots=True)
class ImapStats:
    account: str
    folders: list[FolderStats] = field(default_factory=list)

    @property
    def fetched(self) -> int:
        return sum(f.fetched for f in self.folders)

    @property
    def stored(self) -> int:
        return sum(f.stored for f in self.folders)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.folders)

    @property
    def errors(self) -> int:
        return sum(len(f.errors) for f in self.folders)

    @property
    def rescanned(self) -> bool:
        return any(f.rescanned for f in self.folders)

    @property
    def warnings(self) -> list[str]:
        return [f.warning for f in self.folders if f.warning]

    def summary(self) -> str:
        """One line for the CLI: what this pass did."""
        parts = [f"{self.stored} new, {self.duplicates} already stored"]
        if self.errors:
            parts.append(f"{self.errors} failed (retried next pass)")
        if self.rescanned:
            parts.append("a folder was re-read after a UIDVALIDITY change")
        parts += self.warnings
        return "; ".join(parts)


def account_name(imap: ImapSection) -> str:
    return f"{imap.username}@{imap.host}"


@contextmanager
def imap_connection(imap: ImapSection, credentials: ImapCredentials, *, timeout_s: float) -> Iterator[Any]:
    """A logged-in `IMAPClient`; IMAP and socket errors inside the block become `ImapError`s."""
    where = f"IMAP {account_name(imap)}:{imap.port}"
    implicit_tls = imap.tls and not imap.starttls
    context = tls_context(imap) if implicit_tls or imap.starttls else None
    try:
        client = imapclient.IMAPClient(
            imap.host,
            port=imap.port,
            ssl=implicit_tls,
            ssl_context=context if implicit_tls else None,
            timeout=imapclient.SocketTimeout(connect=timeout_s, read=timeout_s),
        )
    except ssl.SSLCertVerificationError as ex:
        raise ImapUnavailable(f"{where}: {_untrusted(imap, ex)}") from ex
    except (OSError, imaplib.IMAP4.error) as ex:
        raise ImapUnavailable(f"{where}: cannot connect: {_one_line(ex)}") from ex
    try:
        with client:  # logs out, or closes the socket when it cannot
            if imap.starttls:
                try:
                    client.starttls(context)
                except ssl.SSLCertVerificationError as ex:
                    raise ImapUnavailable(f"{where}: {_untrusted(imap, ex)}") from ex
            if credentials.oauth2_token:
                client.oauth2_login(imap.username, credentials.oauth2_token)
            elif credentials.password is not None:
                client.login(imap.username, credentials.password)
            else:
                raise ImapLoginFailed(f"{where}: no password or OAuth2 token given")
            client._cached_capabilities = None  # imapclient keeps the pre-login (pre-TLS) list; ask again
            client.normalise_times = False  # aware INTERNALDATEs, not naive local time
            yield client
    except LoginError as ex:
        raise ImapLoginFailed(f"{where}: login refused: {_one_line(ex)}") from ex
    except (OSError, imaplib.IMAP4.error) as ex:
        raise ImapUnavailable(f"{where}: {_one_line(ex)}") from ex


def tls_context(imap: ImapSection) -> ssl.SSLContext:
    """Certificate and host-name checks always on; `ca_file` replaces the system's CAs rather than adding to
    them, so a server on a private CA is trusted through that CA alone."""
    try:
        return ssl.create_default_context(cafile=imap.ca_file)
    except OSError as ex:  # ssl.SSLError included: a file without a certificate in it
        reason = ex.strerror or getattr(ex, "reason", None) or str(ex)
        raise ImapError(f"mailbox.imap.ca_file {imap.ca_file}: cannot load CA certificates: {reason}") from ex


def _untrusted(imap: ImapSection, ex: ssl.SSLCertVerificationError) -> str:
    hint = (
        f"is it signed by a CA in mailbox.imap.ca_file {imap.ca_file}, and is it for {imap.host}?"
        if imap.ca_file
        else f"is it for {imap.host}? A server on a private CA needs mailbox.imap.ca_file"
    )
    return f"the server's TLS certificate does not verify: {ex.verify_message} ({hint})"


def collect_imap_once(
    engine: Engine,
    imap: ImapSection,
    credentials: ImapCredentials,
    *,
    data_dir: Path,
    batch_size: int = 50,
    timeout_s: float = 30,
    on_batch: Callable[[FolderStats], None] | None = None,
) -> ImapStats:
    """One pass over every configured folder: store what is new since the checkpoint, then log out.

    `on_batch` is called after each committed batch (progress reports).
    """
    with imap_connection(imap, credentials, timeout_s=timeout_s) as client:
        return _collect(client, engine, imap, data_dir=data_dir, batch_size=batch_size, on_batch=on_batch)


def _collect(
    client: Any,
    engine: Engine,
    imap: ImapSection,
    *,
    data_dir: Path,
    batch_size: int,
    on_batch: Callable[[FolderStats], None] | None = None,
    stop: threading.Event | None = None,
) -> ImapStats:
    stats = ImapStats(account=account_name(imap))
    with Session(writer(engine), expire_on_commit=False) as session:
        for folder in imap.folders:
            if stop is not None and stop.is_set():
                break
            folder_stats = FolderStats(folder=folder, mailbox=_resolve_folder(client, folder))
            stats.folders.append(folder_stats)
            if folder_stats.mailbox is None:
                folder_stats.warning = f"folder {folder!r} does not exist on {stats.account}; skipped"
                logger.warning(folder_stats.warning)
                continue
            try:
                _collect_folder(
                    client, session, stats.account, folder_stats, data_dir, batch_size, on_batch, stop
                )
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as ex:  # the server said NO or BAD about this folder: try the next
                session.rollback()
                folder_stats.warning = f"folder {folder_stats.mailbox!r}: {_one_line(ex)}"
                logger.warning(folder_stats.warning)
    return stats


def _resolve_folder(client: Any, folder: str) -> str | None:
    if client.folder_exists(folder):
        return folder
    flag = SPECIAL_USE.get(folder.lower())
    return cast("str | None", client.find_special_folder(flag)) if flag else None


def _collect_folder(
    client: Any,
    session: Session,
    account: str,
    stats: FolderStats,
    data_dir: Path,
    batch_size: int,
    on_batch: Callable[[FolderStats], None] | None,
    stop: threading.Event | None,
) -> None:
    mailbox = cast(str, stats.mailbox)
    selected = client.select_folder(mailbox, readonly=True)  # EXAMINE: flags stay as they are
    uidvalidity = int(selected.get(b"UIDVALIDITY", 0))  # iCloud has sent 0; a missing one is treated alike
    uidnext = int(selected.get(b"UIDNEXT", 0))
    stats.uidvalidity = uidvalidity
    checkpoint = session.exec(
        select(ImapCheckpoint).where(ImapCheckpoint.account == account, ImapCheckpoint.folder == mailbox)
    ).first()
    if checkpoint is None:
        checkpoint = ImapCheckpoint(account=account, folder=mailbox, uidvalidity=uidvalidity, last_uid=0)
        _save(session, checkpoint)
    elif checkpoint.uidvalidity != uidvalidity or 0 < uidnext <= checkpoint.last_uid:
        # New UIDs for everything (or a server that rewound UIDNEXT): read all again; ingest drops what we
        # have by its content key.
        logger.warning(
            "%s %s: UIDVALIDITY %s -> %s, UIDNEXT %s, last UID %s: rescanning",
            *(account, mailbox, checkpoint.uidvalidity, uidvalidity, uidnext, checkpoint.last_uid),
        )
        stats.rescanned = True
        checkpoint.uidvalidity, checkpoint.last_uid = uidvalidity, 0
        _save(session, checkpoint)
    stats.last_uid = checkpoint.last_uid
    # "UID n:*" always includes the highest UID, even below n (RFC 3501 §6.4.8): filter here.
    uids = sorted(
        u for u in client.search(["UID", f"{checkpoint.last_uid + 1}:*"]) if u > checkpoint.last_uid
    )
    failed = False  # after a failure the checkpoint stays below it, so the failed UID is tried again
    for start in range(0, len(uids), batch_size):
        batch = uids[start : start + batch_size]
        response = client.fetch(batch, FETCH_ITEMS)
        # pysqlite opens a transaction only at the first write; write the checkpoint first so the per-message
        # savepoints nest inside it and the batch commits as one.
        _touch(session, checkpoint)
        last_uid = checkpoint.last_uid
        for uid in batch:
            data = response.get(uid)
            if data is None or b"BODY[]" not in data:
                logger.warning("%s %s: UID %s vanished before FETCH", account, mailbox, uid)
            elif not _ingest_one(session, account, mailbox, uidvalidity, uid, data, stats, data_dir):
                failed = True
            if not failed:
                last_uid = uid
        checkpoint.last_uid = last_uid
        _save(session, checkpoint)
        stats.last_uid = checkpoint.last_uid
        if on_batch is not None:
            on_batch(stats)
        if stop is not None and stop.is_set():
            return


def _ingest_one(
    session: Session,
    account: str,
    mailbox: str,
    uidvalidity: int,
    uid: int,
    data: dict[bytes, Any],
    stats: FolderStats,
    data_dir: Path,
) -> bool:
    """Store one fetched message in its own savepoint; False (and logged) when ingesting it failed."""
    stats.fetched += 1
    internaldate = data.get(b"INTERNALDATE")
    arrival = Arrival(
        source="imap",
        account=account,
        folder=mailbox,
        uidvalidity=uidvalidity,
        uid=uid,
        transport_time=_utc(internaldate) if isinstance(internaldate, datetime) else None,
        transport_time_source="internaldate" if isinstance(internaldate, datetime) else None,
    )
    try:
        with session.begin_nested():
            result = ingest_raw(session, bytes(data[b"BODY[]"]), arrival, data_dir=data_dir)
    except OperationalError:
        raise  # the database itself is unavailable: end the pass, keep the checkpoint
    except Exception:  # a bug with one message must not hold back the others
        logger.exception("%s %s: cannot ingest UID %s", account, mailbox, uid)
        stats.errors.append(uid)
        return False
    if result.created:
        stats.stored += 1
    else:
        stats.duplicates += 1
    return True


def _touch(session: Session, checkpoint: ImapCheckpoint) -> None:
    checkpoint.updated_at = utcnow()
    session.add(checkpoint)
    session.flush()


def _save(session: Session, checkpoint: ImapCheckpoint) -> None:
    _touch(session, checkpoint)
    session.commit()
    session.expunge_all()  # keep memory flat over long folders
    session.add(checkpoint)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _one_line(ex: BaseException) -> str:
    """The error as one line; imapclient often gives a bytes repr: "b'[AUTHENTICATIONFAILED] ...'"."""
    text = ex.args[0] if len(ex.args) == 1 else str(ex)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(str(text).split())
    if quoted := re.fullmatch(r"b(['\"])(.*)\1", text):
        text = quoted.group(2)
    return text or ex.__class__.__name__


# -- watching -----------------------------------------------------------------------------------------------


def backoff_delay(
    failures: int, *, login_failure: bool = False, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after `failures` failures in a row: doubling up to a cap, the upper half jittered.

    Transient errors start at 1 s and stop growing at 5 min; refused logins start at 15 min, capped at 1 h
    (a locked account or a revoked token does not heal by hammering the server).
    """
    base, cap = (
        (LOGIN_BACKOFF_BASE_S, LOGIN_BACKOFF_CAP_S) if login_failure else (BACKOFF_BASE_S, BACKOFF_CAP_S)
    )
    return backoff_seconds(failures, first=base, longest=cap, jitter=rand)


def imap_watch(
    engine: Engine,
    imap: ImapSection,
    credentials: ImapCredentials,
    *,
    data_dir: Path,
    poll_interval_s: float = 300,
    idle_timeout_s: float = 300,
    stop: threading.Event | None = None,
    on_pass: Callable[[ImapStats], None] | None = None,
) -> None:
    """Collect, wait for news (IDLE on INBOX as a wake-up, a poll regardless), repeat, until `stop` is set.

    Connection problems reconnect with backoff; only unexpected errors (bugs) end the loop.
    """
    stop = stop or threading.Event()
    failures = 0
    while not stop.is_set():
        try:
            with imap_connection(imap, credentials, timeout_s=WATCH_SOCKET_TIMEOUT_S) as client:
                while not stop.is_set():
                    stats = _collect(client, engine, imap, data_dir=data_dir, batch_size=50, stop=stop)
                    failures = 0
                    if on_pass is not None:
                        on_pass(stats)
                    _wait_for_news(client, min(idle_timeout_s, poll_interval_s), stop)
        except ImapLoginFailed as ex:
            failures += 1
            delay = backoff_delay(failures, login_failure=True)
            logger.error("%s; next attempt in %.0f s", ex, delay)
        except (ImapError, OperationalError) as ex:
            failures += 1
            delay = backoff_delay(failures)
            logger.warning("%s; reconnecting in %.1f s", _one_line(ex), delay)
        else:
            return
        stop.wait(delay)


def imap_idle_wakeups(
    imap: ImapSection,
    credentials: ImapCredentials,
    *,
    on_news: Callable[[], None],
    stop: threading.Event,
    idle_timeout_s: float = 300,
) -> None:
    """Sit in IDLE on INBOX and call `on_news` when new mail arrives, until `stop` is set (for `audit serve`).

    Reads and stores nothing: the server's collect job does that on its own connection, so a wake-up is only a
    hint, and a missed one costs at most one `schedule.collect_every`. Reconnects with the same backoff as
    `imap_watch`; returns at once if the server has no IDLE (polling covers it).
    """
    failures = 0
    while not stop.is_set():
        try:
            with imap_connection(imap, credentials, timeout_s=WATCH_SOCKET_TIMEOUT_S) as client:
                if not client.has_capability("IDLE"):
                    logger.info("the IMAP server offers no IDLE; new mail is found by polling only")
                    return
                failures = 0
                while not stop.is_set():
                    if _wait_for_news(client, idle_timeout_s, stop):
                        on_news()
        except ImapLoginFailed as ex:
            failures += 1
            delay = backoff_delay(failures, login_failure=True)
            logger.error("IMAP IDLE: %s; next attempt in %.0f s", ex, delay)
        except ImapError as ex:
            failures += 1
            delay = backoff_delay(failures)
            logger.warning("IMAP IDLE: %s; reconnecting in %.1f s", _one_line(ex), delay)
        else:
            return
        stop.wait(delay)


def _wait_for_news(client: Any, seconds: float, stop: threading.Event) -> bool:
    """Return True when INBOX reports new mail, False after `seconds` or soon after `stop` is set."""
    if not client.has_capability("IDLE"):
        stop.wait(seconds)
        return False
    client.select_folder("INBOX", readonly=True)
    client.idle()
    deadline = time.monotonic() + seconds
    try:
        while not stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
            step = min(1.0, remaining)
            started = time.monotonic()
            responses = client.idle_check(timeout=step)
            if _has_news(responses):
                return True
            if not responses and time.monotonic() - started < step / 2:
                # idle_check returns nothing at once on a closed socket (mjs/imapclient#449)
                raise ImapUnavailable("IMAP connection closed during IDLE")
    finally:
        client.idle_done()
    return False


def _has_news(responses: Sequence[Any]) -> bool:
    for response in responses:
        if response and response[0] == b"BYE":
            raise ImapUnavailable("the IMAP server ended the connection during IDLE (BYE)")
        if len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT"):
            return True
    return False
