"""The collector's door (store), matching, the Maildir source and a person's entries, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlmodel import Session, select

from audit.cli import cli
from audit.collect.maildir import collect_maildir_once
from audit.collect.manual import add_manual_reply
from audit.collect.store import Arrival, ingest_raw
from audit.db import open_database
from audit.errors import AuditError
from audit.models import Company, Message, Probe, Wave

SUBMITTED = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
TOKEN = "k7q29fxm"  # completed with its check character below
REF = "K7Q2-9F"


def full_token() -> str:
    from audit.tokens import _check_char

    return TOKEN + _check_char(TOKEN)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_database(database_url)
    with Session(engine) as session:
        session.add(
            Company(id="acme", name="Acme", contact_url="https://www.acme.co.il/contact", domain="acme.co.il")
        )
        session.add(
            Company(id="globex", name="Globex", contact_url="https://globex.test/", domain="globex.test")
        )
        wave = Wave(audit_name="t")
        session.add(wave)
        session.flush()
        assert wave.id is not None
        session.add(Probe(wave_id=wave.id, company_id="acme", token=full_token(), ref_code=REF,
                          reply_address=f"dana.{full_token()}@replies.example.org", contact_url="u",
                          submitted_at=SUBMITTED, state="finished", outcome="submitted"))  # fmt: skip
        session.add(Probe(wave_id=wave.id, company_id="globex", token="zzzzzzzzz", ref_code="AAAA-BB",
                          reply_address="x", contact_url="u", submitted_at=SUBMITTED))  # fmt: skip
        session.commit()
    yield engine
    engine.dispose()


def email(*, to: str = "someone@else.example", subject: str = "Re: Monthly plans", body: str = "Hello Dana,\n",
          sender: str = "Ruth <ruth@acme.co.il>", received: datetime | None = None, **headers: str) -> bytes:  # fmt: skip
    message = EmailMessage()
    if received is not None:
        message["Received"] = f"from mx.acme.co.il by mx.replies.example.org; {format_datetime(received)}"
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(SUBMITTED + timedelta(hours=2))
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return bytes(message)


def ingest(engine: Engine, raw: bytes, tmp_path: Path, **arrival: object) -> Message:
    with Session(engine, expire_on_commit=False) as session:
        result = ingest_raw(session, raw, Arrival(**{"source": "maildir", **arrival}), data_dir=tmp_path)  # type: ignore[arg-type]
        session.commit()
        return result.message


def acme_probe_id(engine: Engine) -> int:
    with Session(engine) as session:
        probe = session.exec(select(Probe).where(Probe.company_id == "acme")).one()
        assert probe.id is not None
        return probe.id


def test_token_in_the_envelope_wins(engine: Engine, tmp_path: Path) -> None:
    raw = email(
        Delivered_To=f"dana.{full_token()}@replies.example.org", received=SUBMITTED + timedelta(hours=1)
    )
    message = ingest(engine, raw, tmp_path, delivery_key="a")
    assert message.probe_id == acme_probe_id(engine)
    assert (message.match_method, message.match_confidence) == ("token:envelope", "high")
    assert message.received_at == SUBMITTED + timedelta(hours=1)
    assert message.received_at_source == "received_header"
    assert (tmp_path / str(message.raw_path)).read_bytes() == raw  # the exact bytes are kept


def test_token_in_to_and_the_transport_time(engine: Engine, tmp_path: Path) -> None:
    arrived = SUBMITTED + timedelta(minutes=33)
    raw = email(to=f"Dana Levi <dana.{full_token()}@replies.example.org>")
    message = ingest(engine, raw, tmp_path, delivery_key="b", transport_time=arrived,
                     transport_time_source="maildir_mtime")  # fmt: skip
    assert message.match_method == "token:header"
    assert (message.received_at, message.received_at_source) == (arrived, "maildir_mtime")


def test_reference_code_quoted_by_a_help_desk(engine: Engine, tmp_path: Path) -> None:
    raw = email(sender="Support <noreply@helpdesk.example>", subject="[#4411] Your request",
                body=f"Dear customer, we can help.\n\n> Do you offer a monthly plan?\n> Ref: {REF}\n")  # fmt: skip
    message = ingest(engine, raw, tmp_path, delivery_key="c")
    assert (message.probe_id, message.match_method) == (acme_probe_id(engine), "reference")


def test_sender_domain_is_a_low_confidence_match_for_review(engine: Engine, tmp_path: Path) -> None:
    message = ingest(engine, email(sender="info@mail.acme.co.il"), tmp_path, delivery_key="d",
                     transport_time=SUBMITTED + timedelta(days=1), transport_time_source="maildir_mtime")  # fmt: skip
    assert (message.match_method, message.match_confidence, message.needs_review) == (
        "sender_domain",
        "low",
        True,
    )
    too_late = ingest(engine, email(sender="info@acme.co.il", body="later"), tmp_path, delivery_key="e",
                      transport_time=SUBMITTED + timedelta(days=60), transport_time_source="maildir_mtime")  # fmt: skip
    assert too_late.probe_id is None and too_late.needs_review


def test_unknown_sender_stays_unmatched(engine: Engine, tmp_path: Path) -> None:
    message = ingest(engine, email(sender="spam@elsewhere.example"), tmp_path, delivery_key="f")
    assert message.probe_id is None and message.match_method is None


def test_nothing_twice_by_transport_or_by_content(engine: Engine, tmp_path: Path) -> None:
    raw = email(to=f"dana.{full_token()}@replies.example.org", Message_ID="<abc@acme.co.il>")
    first = ingest(engine, raw, tmp_path, source="imap", account="a", folder="INBOX", uidvalidity=7, uid=1)
    again = ingest(engine, raw, tmp_path, source="imap", account="a", folder="INBOX", uidvalidity=7, uid=1)
    other_channel = ingest(engine, raw, tmp_path, delivery_key="maildir-name")
    assert first.id == again.id == other_channel.id
    with Session(engine) as session:
        assert len(session.exec(select(Message)).all()) == 1


def test_garbage_is_stored_raw_and_marked(engine: Engine, tmp_path: Path) -> None:
    raw = b"\xff\xfe\x00garbage\r\nSubject: =?bogus?Q?x?=\r\n\r\n\x80\x81--"
    message = ingest(engine, raw, tmp_path, delivery_key="g")
    assert (tmp_path / str(message.raw_path)).read_bytes() == raw
    assert message.id is not None


def write_maildir(root: Path, messages: dict[str, bytes]) -> None:
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for name, raw in messages.items():
        (root / name).write_bytes(raw)


def test_maildir_is_read_without_being_changed(engine: Engine, tmp_path: Path) -> None:
    box = tmp_path / "Maildir"
    write_maildir(box, {
        "new/1700000000.M1P1.mx": email(to=f"dana.{full_token()}@replies.example.org", body="one"),
        "cur/1700000001.M2P1.mx:2,S": email(sender="x@elsewhere.example", body="two"),
    })  # fmt: skip
    os.utime(box / "new/1700000000.M1P1.mx", (1_800_000_000, 1_800_000_000))
    before = sorted(
        (p.relative_to(box), p.stat().st_mtime, p.read_bytes()) for p in box.rglob("*") if p.is_file()
    )
    stats = collect_maildir_once(engine, box, data_dir=tmp_path / "data")
    assert (stats.stored, stats.duplicates, stats.errors) == (2, 0, [])
    again = collect_maildir_once(engine, box, data_dir=tmp_path / "data")
    assert (again.stored, again.duplicates) == (0, 2)
    after = sorted(
        (p.relative_to(box), p.stat().st_mtime, p.read_bytes()) for p in box.rglob("*") if p.is_file()
    )
    assert after == before
    with Session(engine) as session:
        matched = session.exec(select(Message).where(Message.delivery_key == "1700000000.M1P1.mx")).one()
    assert matched.received_at == datetime.fromtimestamp(1_800_000_000, tz=UTC)


def test_a_manual_reply_counts_and_is_not_entered_twice(engine: Engine) -> None:
    with Session(engine) as session:
        at = SUBMITTED + timedelta(hours=3)
        first = add_manual_reply(session, reference=REF.lower(), channel="phone", at=at, note="Called back")
        again = add_manual_reply(session, reference=REF, channel="phone", at=at, note="Called back")
        session.commit()
        assert first.id == again.id
        assert (first.kind, first.channel, first.received_at) == ("human", "phone", at)
        with pytest.raises(AuditError, match="before the inquiry was submitted"):
            add_manual_reply(
                session, reference=REF, channel="sms", at=SUBMITTED - timedelta(hours=1), note=""
            )
        with pytest.raises(AuditError, match="no inquiry has the reference code"):
            add_manual_reply(session, reference="ZZZZ-ZZ", channel="sms", at=at, note="")


def test_inbox_and_reply_commands(engine: Engine, tmp_path: Path, database_url: str) -> None:
    ingest(
        engine, email(sender="spam@elsewhere.example", subject="Unmatched one"), tmp_path, delivery_key="u"
    )
    env = {"AUDIT_DATABASE_URL": database_url, "AUDIT_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    missing = str(tmp_path / "none.yaml")
    added = runner.invoke(cli, ["reply", "add", "--config", missing, "--probe", REF, "--channel", "phone",
                                "--at", "2026-11-22 12:30+00:00", "--note", "Called back"], env=env)  # fmt: skip
    assert added.exit_code == 0, added.output
    listing = runner.invoke(cli, ["inbox", "--config", missing], env=env)
    assert listing.exit_code == 0 and "Unmatched one" in listing.output and "acme K7Q2-9F" in listing.output
    unmatched = runner.invoke(cli, ["inbox", "--config", missing, "--unmatched"], env=env)
    assert "Unmatched one" in unmatched.output and "Called back" not in unmatched.output
    with Session(engine) as session:
        loose = session.exec(select(Message).where(Message.subject == "Unmatched one")).one()
    assigned = runner.invoke(cli, ["inbox", "assign", str(loose.id), REF], env=env)
    assert assigned.exit_code == 0, assigned.output
    with Session(engine) as session:
        fixed = session.get(Message, loose.id)
        assert fixed is not None and fixed.probe_id == acme_probe_id(engine) and fixed.assigned_by_hand
    bad = runner.invoke(cli, ["inbox", "assign", "99999", REF], env=env)
    assert bad.exit_code == 1 and "no message number 99999" in bad.stderr
