"""`audit collect` as a user runs it: a Maildir and a real Dovecot, secrets from the environment."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import hypothesis.strategies as st
from click.testing import CliRunner
from hypothesis import given, settings
from sqlmodel import Session, select

from audit.cli import cli
from audit.collect.store import Arrival, ingest_raw
from audit.db import open_database
from audit.models import Message
from tests.dovecot import DovecotServer

CONFIG = """\
audit: {{name: "Collect test"}}
mailbox:
  address: "dana.{{token}}@replies.example.org"
{source}
persona: {{first_name: Dana, last_name: Levi, phone: "050-1234567"}}
inquiry: {{subject: "Plans", message: "Do you offer a monthly plan?"}}
companies:
  - {{id: acme, name: Acme, contact_url: "https://acme.example/contact"}}
"""


def reply(subject: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Ruth <ruth@acme.example>"
    message["To"] = "dana.k7q29fxm3@replies.example.org"
    message["Subject"] = subject
    message["Date"] = "Thu, 26 Nov 2026 10:00:00 +0200"
    message.set_content("Hello Dana, yes we do.")
    return bytes(message)


def test_collect_reads_a_maildir_once(tmp_path: Path) -> None:
    box = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True)
    (box / "new" / "1.M1.mx").write_bytes(reply("Re: Plans"))
    (box / "cur" / "2.M2.mx:2,S").write_bytes(reply("Re: Plans again"))
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.format(source=f"  maildir: {box}"), encoding="utf-8")
    runner = CliRunner()
    args = ["--data-dir", str(tmp_path / "data"), "collect", "--config", str(config)]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert f"maildir {box}: 2 new, 0 already stored" in first.output
    second = runner.invoke(cli, args)
    assert f"maildir {box}: 0 new, 2 already stored" in second.output


def test_collect_reads_imap_with_the_password_from_the_environment(
    dovecot: DovecotServer, tmp_path: Path
) -> None:
    user = dovecot.add_user()
    dovecot.append(user, "INBOX", reply("Re: Plans"), datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
    dovecot.append(user, "Junk", reply("Re: Plans (spam folder)"), datetime(2026, 11, 26, 8, 5, tzinfo=UTC))
    source = (
        f"  imap: {{host: {dovecot.host}, port: {dovecot.port}, tls: false, username: {user}, "
        "password_env: TEST_IMAP_PASSWORD}"
    )
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.format(source=source), encoding="utf-8")
    runner = CliRunner()
    args = ["--data-dir", str(tmp_path / "data"), "collect", "--config", str(config)]
    missing = runner.invoke(cli, args, env={"TEST_IMAP_PASSWORD": ""})
    assert missing.exit_code == 1 and "set $TEST_IMAP_PASSWORD" in missing.stderr
    done = runner.invoke(cli, args, env={"TEST_IMAP_PASSWORD": dovecot.passwords[user]})
    assert done.exit_code == 0, done.output
    assert "2 new, 0 already stored" in done.output
    wrong = runner.invoke(cli, args, env={"TEST_IMAP_PASSWORD": "wrong"})
    assert wrong.exit_code == 1 and "wrong" not in wrong.stderr and "Traceback" not in wrong.output


def test_collect_without_a_source_says_what_to_add(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.format(source=""), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "collect", "--config", str(config)])
    assert result.exit_code == 1 and "add mailbox.imap or mailbox.maildir" in result.stderr


MIME_PIECES = st.sampled_from([
    b"From: a@b.example\r\n", b"To: dana.k7q29fxm3@replies.example.org\r\n", b"Subject: =?utf-8?B?15TXldeT16LXlA==?=\r\n",
    b"Content-Type: multipart/mixed; boundary=x\r\n", b"--x\r\n", b"--x--\r\n", b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Type: text/html; charset=windows-1255\r\n", b"\r\n", b"\xe0\xe1\xe2 =C3=A9 \x00\xff", b"Date: garbage\r\n",
    b"Message-ID: <>\r\n", b"Received: from x; Thu, 26 Nov 2026 10:00:00 -0000\r\n",
])  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.binary(max_size=2000), st.lists(MIME_PIECES, max_size=30).map(b"".join)))
def test_any_bytes_are_stored_raw_and_never_crash_ingestion(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:  # a fresh database per example
        _ingest_and_check(Path(folder), raw)


def _ingest_and_check(tmp_path: Path, raw: bytes) -> None:
    engine = open_database(f"sqlite:///{tmp_path}/fuzz.db")
    try:
        with Session(engine) as session:
            result = ingest_raw(
                session, raw, Arrival(source="maildir", delivery_key=f"k{hash(raw)}"), data_dir=tmp_path
            )
            session.commit()
            stored = session.exec(select(Message).where(Message.id == result.message.id)).one()
            assert (tmp_path / str(stored.raw_path)).read_bytes() == raw
            assert stored.received_at.tzinfo is not None
    finally:
        engine.dispose()
