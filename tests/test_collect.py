"""The collector's door (store), matching, the Maildir source and a person's entries, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlmodel import Session, select

from audit.cli import cli
from audit.collect.maildir import collect_maildir_once
from audit.collect.manual import add_manual_reply
from audit.collect.store import Arrival, IngestResult, ingest_raw
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


def test_one_delivery_once_and_a_copy_by_another_channel_kept_but_marked(
    engine: Engine, tmp_path: Path
) -> None:
    raw = email(to=f"dana.{full_token()}@replies.example.org", Message_ID="<abc@acme.co.il>")
    first = ingest(engine, raw, tmp_path, source="imap", account="a", folder="INBOX", uidvalidity=7, uid=1)
    again = ingest(engine, raw, tmp_path, source="imap", account="a", folder="INBOX", uidvalidity=7, uid=1)
    other_channel = ingest(engine, raw, tmp_path, delivery_key="maildir-name")
    assert first.id == again.id != other_channel.id  # the same transport key is the same delivery
    assert (first.duplicate_of, other_channel.duplicate_of) == (None, first.id)
    assert other_channel.duplicate_reason == f"same Message-ID and body as message {first.id} (imap INBOX)"
    assert (tmp_path / str(other_channel.raw_path)).read_bytes() == raw
    with Session(engine) as session:
        assert len(session.exec(select(Message)).all()) == 2


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


def test_maildir_plus_plus_subfolders_are_read_with_their_folder_name(engine: Engine, tmp_path: Path) -> None:
    # A spam filter files a company's reply into .Junk: it still counts, and the report can say where it was.
    box = tmp_path / "Maildir"
    write_maildir(box, {"new/1.M1.mx": email(body="inbox one")})
    write_maildir(box / ".Junk", {"new/2.M2.mx": email(body="caught by the spam filter")})
    (box / ".not-a-folder").write_text("x")  # a stray dotfile is neither a folder nor a message
    stats = collect_maildir_once(engine, box, data_dir=tmp_path / "data")
    assert (stats.stored, stats.errors) == (2, [])
    with Session(engine) as session:
        folders = {m.delivery_key: m.folder for m in session.exec(select(Message)).all()}
    assert folders == {"1.M1.mx": "INBOX", "2.M2.mx": "Junk"}


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


# --- the fast path keeps the same guarantees (prepared lookups, one IN query per rule, durable raw files) ---


def token_for(body: str) -> str:
    from audit.tokens import _check_char

    return body + _check_char(body)


def add_probe(engine: Engine, *, company: str, token: str, ref: str, submitted: datetime | None) -> int:
    with Session(engine) as session:
        wave = Wave(audit_name="second")
        session.add(wave)
        session.flush()
        assert wave.id is not None
        probe = Probe(wave_id=wave.id, company_id=company, token=token, ref_code=ref, reply_address="x",
                      contact_url="u", submitted_at=submitted)  # fmt: skip
        session.add(probe)
        session.commit()
        assert probe.id is not None
        return probe.id


def test_token_order_envelope_first_then_headers_then_address_order(engine: Engine, tmp_path: Path) -> None:
    other = add_probe(
        engine, company="globex", token=token_for("g7q29fxm"), ref="GGGG-22", submitted=SUBMITTED
    )
    unknown = token_for("h7q29fxm")  # valid, but no probe has it
    both = email(to=f"dana.{full_token()}@replies.example.org",
                 Delivered_To=f"x.{unknown}.{token_for('g7q29fxm')}@replies.example.org")  # fmt: skip
    message = ingest(engine, both, tmp_path, delivery_key="order-1")
    assert (message.probe_id, message.match_method) == (other, "token:envelope")
    only_unknown_in_envelope = email(to=f"a.{unknown}@r.example, b.{full_token()}@r.example, "
                                        f"c.{token_for('g7q29fxm')}@r.example",
                                     Delivered_To=f"x.{unknown}@replies.example.org", body="second")  # fmt: skip
    message = ingest(engine, only_unknown_in_envelope, tmp_path, delivery_key="order-2")
    assert (message.probe_id, message.match_method) == (acme_probe_id(engine), "token:header")


def test_reference_order_and_the_newest_wave_sent_before_the_reply(engine: Engine, tmp_path: Path) -> None:
    arrived = SUBMITTED + timedelta(days=2)
    oldest = acme_probe_id(engine)
    unsent = add_probe(engine, company="acme", token=token_for("n7q29fxm"), ref=REF, submitted=None)
    add_probe(engine, company="acme", token=token_for("m7q29fxm"), ref=REF,
              submitted=arrived + timedelta(days=1))  # the newest wave, but sent after the reply  # fmt: skip
    body = "Ref: ZZZZ-ZZ (not ours), then " + " ".join(f"{n:04d}-XY" for n in range(1200)) + f" and {REF}\n"
    message = ingest(engine, email(sender="a@helpdesk.example", body=body), tmp_path, delivery_key="ref-1",
                     transport_time=arrived, transport_time_source="maildir_mtime")  # fmt: skip
    # Over 1,200 code-like strings (several IN lists): the first that names a probe wins; of the probes with
    # that code, the newest one not sent after the reply (one with no submission time counts).
    assert (message.probe_id, message.match_method) == (unsent, "reference")
    assert unsent != oldest


def test_sender_domain_takes_the_newest_inquiry_in_the_window(engine: Engine, tmp_path: Path) -> None:
    first = acme_probe_id(engine)
    second = add_probe(engine, company="acme", token=token_for("p7q29fxm"), ref="PPPP-22",
                       submitted=SUBMITTED + timedelta(days=10))  # fmt: skip
    add_probe(engine, company="acme", token=token_for("q7q29fxm"), ref="QQQQ-22",
              submitted=SUBMITTED + timedelta(days=40))  # fmt: skip
    # Reply on day 12: the day-40 inquiry is later, the day-0 one older; the day-10 one it is.
    message = ingest(engine, email(sender="info@mail.acme.co.il"), tmp_path, delivery_key="dom-1",
                     transport_time=SUBMITTED + timedelta(days=12), transport_time_source="maildir_mtime")  # fmt: skip
    assert (message.probe_id, message.match_method) == (second, "sender_domain")
    early = ingest(engine, email(sender="info@acme.co.il", body="early"), tmp_path, delivery_key="dom-2",
                   transport_time=SUBMITTED + timedelta(days=3), transport_time_source="maildir_mtime")  # fmt: skip
    assert (early.probe_id, early.match_method) == (first, "sender_domain")


TEMPLATE_REPLY = (
    "Hello {name}, thank you for contacting us about our monthly plans. A representative will call you "
    "within two business days to discuss the options that fit your needs. Kind regards, the service team.\n"
)


def test_siblings_are_the_other_replies_to_the_same_company(engine: Engine, tmp_path: Path) -> None:
    second = add_probe(
        engine, company="acme", token=token_for("s7q29fxm"), ref="SSSS-22", submitted=SUBMITTED
    )
    first = ingest(engine, email(to=f"dana.{full_token()}@r.example", body=TEMPLATE_REPLY.format(name="Dana")),
                   tmp_path, delivery_key="sib-1")  # fmt: skip
    assert first.kind == "human"
    again = ingest(engine, email(to=f"avi.{token_for('s7q29fxm')}@r.example",
                                 body=TEMPLATE_REPLY.format(name="Avi")), tmp_path, delivery_key="sib-2")  # fmt: skip
    assert again.probe_id == second
    assert again.kind == "templated" and str(again.kind_rule).endswith(
        "similar to another reply to this company"
    )
    unmatched = ingest(engine, email(sender="x@elsewhere.example", body=TEMPLATE_REPLY.format(name="Ruth")),
                       tmp_path, delivery_key="sib-3")  # fmt: skip
    assert unmatched.probe_id is None and unmatched.kind == "human"  # no probe, so no siblings


def test_lookups_see_what_the_caller_has_not_flushed(engine: Engine, tmp_path: Path) -> None:
    token = token_for("w7q29fxm")
    with Session(engine, expire_on_commit=False) as session:
        wave = session.exec(select(Wave)).first()
        assert wave is not None and wave.id is not None
        probe = Probe(wave_id=wave.id, company_id="globex", seq=2, token=token, ref_code="UUUU-22", reply_address="x",
                      contact_url="u", submitted_at=SUBMITTED)  # fmt: skip
        session.add(probe)  # pending: an ORM query would autoflush it, and so must the prepared lookups
        raw = email(to=f"dana.{token}@replies.example.org")
        result = ingest_raw(
            session, raw, Arrival(source="maildir", delivery_key="pending"), data_dir=tmp_path
        )
        session.commit()
        assert probe.id is not None and result.message.probe_id == probe.id


def test_imap_key_without_an_account_is_still_found(engine: Engine, tmp_path: Path) -> None:
    raw = email(sender="x@elsewhere.example", body="no account")
    first = ingest(engine, raw, tmp_path, source="imap", uidvalidity=3, uid=9)
    again = ingest(engine, email(sender="y@elsewhere.example", body="other bytes"), tmp_path, source="imap",
                   uidvalidity=3, uid=9)  # fmt: skip
    assert first.id == again.id  # account and folder NULL: compared with IS NULL, as before


def test_a_concurrent_insert_is_recovered_in_the_savepoint(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import audit.collect.store as store

    raw = email(to=f"dana.{full_token()}@replies.example.org", Message_ID="<race@acme.co.il>")
    imap = {"source": "imap", "account": "a", "folder": "INBOX", "uidvalidity": 7, "uid": 5}
    first = ingest(engine, raw, tmp_path, **imap)
    real_transport, real_copy = store._existing_by_transport, store._first_copy
    blind = {"transport": True, "copy": True}  # as if another writer committed it just after our checks

    def transport(*args: Any) -> Message | None:
        if blind["transport"]:
            blind["transport"] = False
            return None
        return real_transport(*args)

    def copy(*args: Any) -> Any:
        if blind["copy"]:
            blind["copy"] = False
            return None
        return real_copy(*args)

    monkeypatch.setattr(store, "_existing_by_transport", transport)
    monkeypatch.setattr(store, "_first_copy", copy)
    with Session(engine, expire_on_commit=False) as session:
        result = ingest_raw(session, raw, Arrival(**imap), data_dir=tmp_path)  # type: ignore[arg-type]
        session.commit()  # the failed insert was rolled back to its savepoint; the caller's transaction lives
    assert (result.created, result.message.id) == (False, first.id)
    with Session(engine) as session:
        assert len(session.exec(select(Message)).all()) == 1


def test_raw_file_and_its_name_are_durable_once_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from audit.collect import store

    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(handle: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{handle}")))
        real_fsync(handle)

    def replace(source: str, target: str) -> None:
        events.append(("replace", str(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    data = tmp_path / "data"
    raw = email(body="keep me")
    relative = store.keep_raw(raw, data)
    monkeypatch.undo()
    path = data / relative
    folder = path.parent
    assert path.read_bytes() == raw and path.stat().st_mode & 0o777 == 0o600
    assert [entry.name for entry in folder.iterdir()] == [path.name]  # no temporary file left behind
    kinds = [kind for kind, _ in events]
    # The new folders' parents, the file's data before its rename, its folder (the new name) after.
    assert ("fsync", str(data)) in events and ("fsync", str(folder.parent)) in events
    file_sync = next(i for i, (kind, what) in enumerate(events) if kind == "fsync" and ".incoming-" in what)
    assert kinds[file_sync + 1 :] == ["replace", "fsync"] and events[-1] == ("fsync", str(folder))
    before = path.stat()
    events.clear()
    monkeypatch.setattr(os, "fsync", fsync)
    assert store.keep_raw(raw, data) == relative  # content-addressed: kept once, not written again
    monkeypatch.undo()
    assert events == [("fsync", str(folder))]  # its name made durable, whoever wrote it
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_failed_raw_write_leaves_no_file_and_no_row(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(handle: int) -> None:
        raise OSError(28, "No space left on device")

    raw = email(body="lost")
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        ingest(engine, raw, tmp_path / "data", delivery_key="disk-full")
    monkeypatch.undo()
    assert [path for path in (tmp_path / "data").rglob("*") if path.is_file()] == []
    with Session(engine) as session:
        assert session.exec(select(Message).where(Message.delivery_key == "disk-full")).first() is None
    message = ingest(engine, raw, tmp_path / "data", delivery_key="disk-full")  # the next attempt stores it
    assert (tmp_path / "data" / str(message.raw_path)).read_bytes() == raw


def test_maildir_batches_commit_and_a_bad_file_blocks_nothing(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import audit.collect.maildir as maildir_module

    box = tmp_path / "Maildir"
    names = [f"17000000{n:02d}.M{n}P1.mx" for n in range(5)]
    write_maildir(box, {f"new/{name}": email(sender=f"s{n}@elsewhere.example", body=f"file {n}")
                        for n, name in enumerate(names)})  # fmt: skip
    for n, name in enumerate(names):
        os.utime(box / "new" / name, (1_800_000_000 + n, 1_800_000_000 + n))  # the order they are read in
    real_ingest = ingest_raw

    def second_file_fails(session: Session, raw: bytes, arrival: Arrival, *, data_dir: Path) -> IngestResult:
        result = real_ingest(session, raw, arrival, data_dir=data_dir)
        if arrival.delivery_key == names[1]:  # its row was added: the savepoint must take it back
            raise RuntimeError("a bug with this one message")
        return result

    monkeypatch.setattr(maildir_module, "ingest_raw", second_file_fails)
    stats = collect_maildir_once(engine, box, data_dir=tmp_path / "data", batch_size=2)
    monkeypatch.undo()
    assert (stats.seen, stats.stored, stats.duplicates) == (5, 4, 0)
    assert stats.errors == [f"{names[1]}: RuntimeError: a bug with this one message"]
    with Session(engine) as session:
        stored = {m.delivery_key for m in session.exec(select(Message).where(Message.source == "maildir"))}
    assert stored == {names[0], *names[2:]}
    again = collect_maildir_once(engine, box, data_dir=tmp_path / "data", batch_size=2)
    assert (again.stored, again.duplicates, again.errors) == (1, 4, [])


def test_reparse_recomputes_matches_from_the_raw_bytes_and_keeps_what_a_person_decided(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    # A reply that came before its probe was known (a company added later) matches nothing at first.
    late_token = token_for("k8a29fxm")
    early = ingest(engine, email(to=f"dana.{late_token}@replies.example.org", sender="x@nowhere.example",
                                 body="early bird"), tmp_path,
                   delivery_key="early")  # fmt: skip
    assert early.probe_id is None
    # A person assigned a loose message by hand; re-parsing must keep that choice.
    loose = ingest(
        engine, email(sender="spam@elsewhere.example", subject="Loose"), tmp_path, delivery_key="l"
    )
    gone = ingest(engine, email(body="raw file lost"), tmp_path, delivery_key="gone")
    with Session(engine) as session:
        from audit.collect.manual import assign

        assign(session, loose.id or 0, REF, data_dir=tmp_path)
        session.commit()
    assert gone.raw_path is not None
    (tmp_path / gone.raw_path).unlink()
    late_probe = add_probe(engine, company="globex", token=late_token, ref="KKKK-88", submitted=SUBMITTED)

    env = {"AUDIT_DATABASE_URL": database_url, "AUDIT_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, ["collect", "--reparse"], env=env)
    assert result.exit_code == 0, result.output
    assert "re-parsed 3 messages; 1 changed their match or kind; 1 raw files missing" in result.output
    with Session(engine) as session:
        now_early = session.get(Message, early.id)
        now_loose = session.get(Message, loose.id)
        assert now_early is not None and now_loose is not None
        assert (now_early.probe_id, now_early.match_method) == (late_probe, "token:header")
        assert now_loose.assigned_by_hand and now_loose.probe_id == acme_probe_id(engine)
    again = CliRunner().invoke(cli, ["collect", "--reparse"], env=env)
    assert "re-parsed 3 messages; 0 changed" in again.output  # idempotent
    both = CliRunner().invoke(cli, ["collect", "--reparse", "--watch"], env=env)
    assert both.exit_code == 1 and "do not go together" in both.output + (both.stderr or "")
