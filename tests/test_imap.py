"""The IMAP source against a real Dovecot: once and only once, read-only, restarts, UIDVALIDITY, logins."""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from audit.collect import imap as imap_module
from audit.collect.imap import (
    FolderStats,
    ImapCredentials,
    ImapLoginFailed,
    ImapStats,
    ImapUnavailable,
    backoff_delay,
    collect_imap_once,
    imap_watch,
)
from audit.collect.store import ingest_raw as real_ingest
from audit.db import open_database
from audit.models import ImapCheckpoint, Message
from tests.dovecot import DovecotServer

JERUSALEM = timezone(timedelta(hours=2))


@pytest.fixture
def server(dovecot: DovecotServer) -> Iterator[DovecotServer]:
    dovecot.start()  # a no-op unless a previous test left it stopped
    yield dovecot
    dovecot.start()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_database(f"sqlite:///{tmp_path}/a.db")
    yield engine
    engine.dispose()


def reply(n: int, *, received: datetime | None = None, subject: str = "Re: your inquiry") -> bytes:
    """A small hand-written reply to a probe's address; with a Received line from our MX when asked."""
    token = f"k7q{n:03d}f"
    trace = (
        f"Received: from mail.acme.test (mail.acme.test [203.0.113.5])\r\n"
        f"\tby mx.replies.example.org with ESMTPS id {n:05d}\r\n"
        f"\tfor <dana.{token}@replies.example.org>; {received.strftime('%a, %d %b %Y %H:%M:%S %z')}\r\n"
        if received
        else ""
    )
    return (
        f"{trace}Delivered-To: dana.{token}@replies.example.org\r\n"
        f"From: Acme Support <support@acme.test>\r\n"
        f"To: dana.{token}@replies.example.org\r\n"
        f"Subject: {subject} #{n}\r\n"
        f"Date: Sun, 01 Mar 2026 10:00:00 +0200\r\n"
        f"Message-ID: <{n}.{uuid.uuid4().hex}@acme.test>\r\n"
        f"MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n"
        f"\r\n"
        f"Hello Dana,\r\nthanks for reaching out (message {n}). We will call you back.\r\n"
    ).encode()


def collect(engine: Engine, server: DovecotServer, user: str, data_dir: Path, **kwargs: object) -> ImapStats:
    return collect_imap_once(
        engine,
        server.imap_section(user),
        server.credentials(user),
        data_dir=data_dir,
        **kwargs,  # type: ignore[arg-type]
    )


def messages(engine: Engine) -> list[Message]:
    with Session(engine) as session:
        return list(session.exec(select(Message).order_by(Message.folder, Message.uid)).all())  # type: ignore[arg-type]


def checkpoints(engine: Engine) -> dict[str, tuple[int, int]]:
    with Session(engine) as session:
        return {c.folder: (c.uidvalidity, c.last_uid) for c in session.exec(select(ImapCheckpoint)).all()}


def assert_once(engine: Engine, expected: int) -> None:
    stored = messages(engine)
    assert len(stored) == expected
    assert len({m.message_id for m in stored}) == expected
    assert len({(m.folder, m.uidvalidity, m.uid) for m in stored}) == expected


def test_inbox_and_junk_stored_once_with_arrival_times_and_left_unseen(
    server: DovecotServer, engine: Engine, tmp_path: Path
) -> None:
    user = server.add_user()
    received = datetime(2026, 3, 1, 8, 0, 5, tzinfo=UTC)
    reply_bytes = {1: reply(1, received=received)}
    server.append(user, "INBOX", reply_bytes[1], datetime(2026, 3, 1, 8, 7, tzinfo=UTC))
    server.append(user, "INBOX", reply(2), datetime(2026, 3, 1, 11, 30, tzinfo=JERUSALEM))  # no Received
    server.append(user, "Junk", reply(3), datetime(2026, 3, 2, 6, 0, tzinfo=UTC))

    first = collect(engine, server, user, tmp_path)

    assert [(f.folder, f.fetched, f.stored, f.duplicates, f.errors) for f in first.folders] == [
        ("INBOX", 2, 2, 0, []),
        ("Junk", 1, 1, 0, []),
    ]
    assert not first.rescanned and first.warnings == []
    by_subject = {m.subject: m for m in messages(engine)}
    assert set(by_subject) == {"Re: your inquiry #1", "Re: your inquiry #2", "Re: your inquiry #3"}
    one, two, three = (by_subject[f"Re: your inquiry #{n}"] for n in (1, 2, 3))
    assert (one.received_at, one.received_at_source) == (received, "received_header")
    assert (two.received_at, two.received_at_source) == (
        datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        "internaldate",
    )
    assert (three.folder, three.received_at) == ("Junk", datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    assert all(m.source == "imap" and m.account == f"{user}@127.0.0.1" and m.raw_size > 0 for m in (one, two))
    assert (tmp_path / str(one.raw_path)).read_bytes() == reply_bytes[1]
    assert {k: v[1] for k, v in checkpoints(engine).items()} == {"INBOX": 2, "Junk": 1}

    # Second pass: "UID 3:*" still answers UID 2 (the n:* rule); nothing is fetched, nothing stored.
    second = collect(engine, server, user, tmp_path)
    assert (second.fetched, second.stored, second.duplicates) == (0, 0, 0)
    assert_once(engine, 3)
    for folder in ("INBOX", "Junk"):
        assert all(b"\\Seen" not in flags for flags in server.flags(user, folder).values())


def test_spam_resolves_to_the_junk_special_use_folder_and_missing_folders_are_skipped(
    server: DovecotServer, engine: Engine, tmp_path: Path
) -> None:
    user = server.add_user()
    server.append(user, "Junk", reply(1), datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    section = server.imap_section(user, folders=("Spam", "Archive"))

    stats = collect_imap_once(engine, section, server.credentials(user), data_dir=tmp_path)

    spam, archive = stats.folders
    assert (spam.folder, spam.mailbox, spam.stored) == ("Spam", "Junk", 1)
    assert archive.mailbox is None and archive.warning is not None and "Archive" in archive.warning
    assert messages(engine)[0].folder == "Junk"


def test_restart_between_passes_loses_nothing(server: DovecotServer, engine: Engine, tmp_path: Path) -> None:
    user = server.add_user()
    for n in range(3):
        server.append(user, "INBOX", reply(n), datetime(2026, 3, 1, 8, n, tzinfo=UTC))
    assert collect(engine, server, user, tmp_path).stored == 3

    server.restart()
    for n in range(3, 5):
        server.append(user, "INBOX", reply(n), datetime(2026, 3, 1, 9, n, tzinfo=UTC))
    second = collect(engine, server, user, tmp_path)

    assert (second.fetched, second.stored, second.duplicates) == (2, 2, 0)
    assert_once(engine, 5)


def test_server_stopped_mid_collect_then_resumed_without_loss_or_duplicates(
    server: DovecotServer, engine: Engine, tmp_path: Path
) -> None:
    user = server.add_user()
    for n in range(12):
        server.append(user, "INBOX", reply(n), datetime(2026, 3, 1, 8, n, tzinfo=UTC))
    server.append(user, "Junk", reply(99), datetime(2026, 3, 1, 9, 0, tzinfo=UTC))

    def stop_after_first_batch(stats: FolderStats) -> None:
        server.stop()

    with pytest.raises(ImapUnavailable) as raised:
        collect(engine, server, user, tmp_path, batch_size=5, on_batch=stop_after_first_batch)
    assert "\n" not in str(raised.value)
    assert len(messages(engine)) == 5  # the first batch was committed with its checkpoint
    assert checkpoints(engine)["INBOX"][1] == 5

    server.start()
    resumed = collect(engine, server, user, tmp_path, batch_size=5)

    assert [(f.folder, f.fetched, f.stored, f.duplicates) for f in resumed.folders] == [
        ("INBOX", 7, 7, 0),
        ("Junk", 1, 1, 0),
    ]
    assert_once(engine, 13)


def test_uidvalidity_change_rescans_without_duplicates(
    server: DovecotServer, engine: Engine, tmp_path: Path
) -> None:
    user = server.add_user()
    for n in range(3):
        server.append(user, "INBOX", reply(n), datetime(2026, 3, 1, 8, n, tzinfo=UTC))
    collect(engine, server, user, tmp_path)
    new_validity = server.change_uidvalidity(user, "INBOX")
    server.append(user, "INBOX", reply(3), datetime(2026, 3, 1, 9, 0, tzinfo=UTC))

    stats = collect(engine, server, user, tmp_path)

    inbox, junk = stats.folders
    assert inbox.rescanned and not junk.rescanned
    assert (inbox.fetched, inbox.stored, inbox.duplicates) == (4, 1, 3)
    assert checkpoints(engine)["INBOX"] == (new_validity, 4)
    assert_once(engine, 4)
    assert collect(engine, server, user, tmp_path).fetched == 0  # and the rescan happens once


def test_a_message_that_cannot_be_ingested_is_retried_and_holds_no_one_back(
    server: DovecotServer, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fault injection: ingest fails once for message #2 (a bug in parsing, say); the real ingest otherwise.
    user = server.add_user()
    for n in range(1, 5):
        server.append(user, "INBOX", reply(n), datetime(2026, 3, 1, 8, n, tzinfo=UTC))

    def flaky_ingest(session: Session, raw: bytes, arrival: object, **kwargs: object) -> object:
        if b"inquiry #2" in raw:
            raise ValueError("boom")
        return real_ingest(session, raw, arrival, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(imap_module, "ingest_raw", flaky_ingest)
    first = collect(engine, server, user, tmp_path, batch_size=2)
    assert (first.stored, first.folders[0].errors) == (3, [2])
    assert checkpoints(engine)["INBOX"][1] == 1  # below the failure, so it is fetched again

    monkeypatch.setattr(imap_module, "ingest_raw", real_ingest)
    second = collect(engine, server, user, tmp_path, batch_size=2)
    assert (second.fetched, second.stored, second.duplicates, second.errors) == (3, 1, 2, 0)
    assert checkpoints(engine)["INBOX"][1] == 4
    assert_once(engine, 4)


def test_wrong_or_missing_password_is_one_clear_line(
    server: DovecotServer, engine: Engine, tmp_path: Path
) -> None:
    user = server.add_user()
    section = server.imap_section(user)
    for credentials in (ImapCredentials(password="wrong", oauth2_token=None), ImapCredentials(None, None)):
        with pytest.raises(ImapLoginFailed) as raised:
            collect_imap_once(engine, section, credentials, data_dir=tmp_path)
        message = str(raised.value)
        assert "\n" not in message and f"{user}@127.0.0.1" in message and "wrong" not in message
    assert "wrong" not in repr(ImapCredentials(password="wrong", oauth2_token=None))
    assert checkpoints(engine) == {}


def test_unreachable_server_is_unavailable(engine: Engine, tmp_path: Path, dovecot: DovecotServer) -> None:
    section = dovecot.imap_section("nobody").model_copy(update={"port": 1})
    with pytest.raises(ImapUnavailable, match="cannot connect"):
        collect_imap_once(engine, section, ImapCredentials("x", None), data_dir=tmp_path, timeout_s=5)


def test_backoff_doubles_with_jitter_and_caps() -> None:
    low, high = (lambda: 0.0), (lambda: 1.0)
    assert [backoff_delay(n, rand=high) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert [backoff_delay(n, rand=low) for n in (1, 2, 3)] == [0.5, 1, 2]
    assert backoff_delay(20, rand=high) == 300 and backoff_delay(10_000, rand=high) == 300
    assert backoff_delay(1, login_failure=True, rand=high) == 900
    assert backoff_delay(1, login_failure=True, rand=low) == 450
    assert backoff_delay(5, login_failure=True, rand=high) == 3600
    assert 150 <= backoff_delay(50) <= 300


def test_watch_wakes_on_idle_survives_a_restart_and_stops_promptly(
    server: DovecotServer, engine: Engine, tmp_path: Path
) -> None:
    user = server.add_user()
    server.append(user, "INBOX", reply(1), datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    passes: queue.Queue[ImapStats] = queue.Queue()
    stop = threading.Event()
    watcher = threading.Thread(
        target=imap_watch,
        args=(engine, server.imap_section(user), server.credentials(user)),
        kwargs={
            "data_dir": tmp_path,
            "poll_interval_s": 60,
            "idle_timeout_s": 60,
            "stop": stop,
            "on_pass": passes.put,
        },
    )
    watcher.start()
    try:
        assert passes.get(timeout=10).stored == 1
        server.append(user, "INBOX", reply(2), datetime(2026, 3, 1, 8, 1, tzinfo=UTC))
        assert passes.get(timeout=10).stored == 1  # IDLE woke it, long before the 60 s poll

        # Junk does not wake an IDLE on INBOX: only the pass after the reconnection can find this one.
        server.append(user, "Junk", reply(3), datetime(2026, 3, 1, 8, 2, tzinfo=UTC))
        server.restart()  # kills the connection mid-IDLE
        caught_up = passes.get(timeout=20)  # reconnected after a short backoff
        assert caught_up.stored == 1 and caught_up.folders[1].stored == 1
    finally:
        stop.set()
        watcher.join(timeout=5)
    assert not watcher.is_alive()
    assert_once(engine, 3)


def test_the_servers_idle_watcher_wakes_its_collect_job_long_before_the_poll(
    server: DovecotServer, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `audit serve` polls every schedule.collect_every (an hour here); IMAP IDLE must bring a reply in at once.
    import asyncio
    import time

    from audit.config import parse_config
    from audit.scheduler import AuditScheduler
    from audit.settings import Settings

    user = server.add_user()
    monkeypatch.setenv("AUDIT_TEST_IDLE_PASSWORD", server.passwords[user])
    config = parse_config(
        f"""\
audit: {{name: "Idle test", timezone: Asia/Jerusalem}}
mailbox:
  address: "dana.{{token}}@replies.example.org"
  imap: {{host: "{server.host}", port: {server.port}, tls: false, username: "{user}",
          password_env: AUDIT_TEST_IDLE_PASSWORD, folders: [INBOX]}}
persona: {{first_name: Dana, last_name: Levi, phone: "050-1234567"}}
inquiry: {{subject: "Plans", message: "Do you offer a monthly plan?"}}
schedule: {{cron: "0 9 1 1 *", collect_every: 1h}}
companies:
  - {{id: acme, name: Acme, contact_url: "https://acme.example.com/contact"}}
"""
    )

    def stored() -> int:
        with Session(engine) as session:
            return len(session.exec(select(Message)).all())

    async def scenario() -> tuple[int, float, bool]:
        scheduler = AuditScheduler(Settings(data_dir=tmp_path), config, engine)
        await scheduler.start()
        try:
            assert scheduler.active
            for _ in range(100):  # the catch-up collect at start
                if scheduler.health().last_collect_at is not None:
                    break
                await asyncio.sleep(0.1)
            assert scheduler.health().last_collect_at is not None
            await asyncio.sleep(1.0)  # let the watcher enter IDLE
            appended = time.monotonic()
            await asyncio.to_thread(
                server.append, user, "INBOX", reply(1), datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
            )
            while time.monotonic() - appended < 15 and await asyncio.to_thread(stored) == 0:
                await asyncio.sleep(0.1)
            count, waited = await asyncio.to_thread(stored), time.monotonic() - appended
            watcher = scheduler._idle_thread
        finally:
            await scheduler.shutdown()
        return count, waited, watcher is not None and watcher.is_alive()

    count, waited, alive_after_shutdown = asyncio.run(scenario())
    assert count == 1 and waited < 15  # woken by IDLE, not by the hourly poll
    assert not alive_after_shutdown
