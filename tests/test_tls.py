"""Encrypted connections against real servers on 127.0.0.1 with throw-away certificates (tests/tls_certs.py).

SMTP: aiosmtpd with STARTTLS (required before MAIL) and with implicit TLS receives the report email that
audit.mailer sends, trusting only `report.smtp.ca_file`. IMAP: a Dovecot with `ssl = required` (STARTTLS on
one port, implicit TLS on another) is read by collect_imap_once trusting only `mailbox.imap.ca_file`.
Untrusted certificates, wrong host names and unreadable CA files are one clear line each.
"""

from __future__ import annotations

import email
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from string import Template
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import Engine
from sqlmodel import Session, select

from audit.collect.imap import ImapCredentials, ImapError, ImapUnavailable, collect_imap_once
from audit.config import ImapSection, SmtpSection
from audit.db import open_database
from audit.errors import MailError
from audit.mailer import send_report_email
from audit.models import Message
from audit.reporting.data import ReportData, WaveFacts, build_report_data
from tests.dovecot import DovecotServer, _template_values, dovecot_binary, free_port
from tests.report_fixtures import make_config, make_wave
from tests.tls_certs import Pki, TestPkis, make_pki, tls_pkis

__all__ = ["tls_pkis"]  # the session fixture, imported so pytest finds it here

PASSWORD = "tls-Pa55word-for-the-test"
PASSWORD_ENV = "AUDIT_TEST_TLS_SMTP_PASSWORD"
TLS_CONF_IN = Path(__file__).with_name("dovecot_tls.conf.in")


# ---------------------------------------------------------------------------------------------------------
# SMTP


@dataclass
class Received:
    """What the SMTP server got: per message the envelope, the raw bytes, and whether TLS and AUTH were on."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    over_tls: list[bool] = field(default_factory=list)
    authenticated: list[bool] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        # session.ssl is set by STARTTLS; an implicit-TLS transport carries its SSL object from the start.
        self.over_tls.append(
            session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        )
        self.authenticated.append(bool(session.authenticated))
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = data.login.decode(), data.password.decode()
        self.logins.append((user, password))
        return AuthResult(success=(user, password) == ("reports", PASSWORD), handled=False)


@contextmanager
def smtp_server(pki: Pki, mode: str, *, auth: bool = False) -> Iterator[tuple[int, Received]]:
    """aiosmtpd presenting `pki`'s certificate: `starttls` (required before MAIL) or `ssl` (implicit TLS)."""
    received = Received()
    options: dict[str, Any] = (
        {"tls_context": pki.server_context(), "require_starttls": True}
        if mode == "starttls"
        else {"ssl_context": pki.server_context()}
    )
    if auth:
        options |= {"authenticator": received.authenticate, "auth_required": True}
    port = free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def smtp_section(port: int, security: str, ca_file: Path | None, **changes: Any) -> SmtpSection:
    return SmtpSection.model_validate(
        {
            "host": "127.0.0.1",
            "port": port,
            "security": security,
            "from_address": "audit@example.org",
            "timeout": 10,
            "ca_file": str(ca_file) if ca_file else None,
            **changes,
        }
    )


@pytest.fixture(scope="module")
def report() -> ReportData:
    wave = make_wave()
    tiny = replace(wave, companies=wave.companies[:3])  # the TLS tests are about the connection
    return build_report_data(
        tiny, None, WaveFacts(generated_at=datetime(2026, 12, 1, tzinfo=UTC)), make_config(), lang="en"
    )


def _parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_the_report_arrives_over_tls_trusting_only_the_ca_file(
    tls_pkis: TestPkis, report: ReportData, security: str
) -> None:
    with smtp_server(tls_pkis.trusted, security) as (port, received):
        send_report_email(report, smtp_section(port, security, tls_pkis.trusted.ca_file), ["cx@example.org"])
    [(sender, recipients, raw)] = received.messages
    assert (sender, recipients, received.over_tls) == ("audit@example.org", ["cx@example.org"], [True])
    message = _parsed(raw)
    assert message["Subject"] == report.subject
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_a_certificate_from_another_ca_is_one_clear_line_without_the_password(
    tls_pkis: TestPkis,
    report: ReportData,
    security: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with smtp_server(tls_pkis.stranger, security, auth=True) as (port, received):
        smtp = smtp_section(
            port, security, tls_pkis.trusted.ca_file, username="reports", password_env=PASSWORD_ENV
        )
        with caplog.at_level(logging.DEBUG), pytest.raises(MailError) as failure:
            send_report_email(report, smtp, ["cx@example.org"])
    message = str(failure.value)
    assert message == (
        f"the SMTP server 127.0.0.1:{port} sent a certificate that does not verify: unable to get local "
        f"issuer certificate (is it signed by a CA in report.smtp.ca_file {tls_pkis.trusted.ca_file}, "
        f"and is it for 127.0.0.1?)"
    )
    assert failure.value.__suppress_context__  # the CLI prints this line, with no traceback behind it
    assert PASSWORD not in message + caplog.text
    assert received.messages == [] and received.logins == []


@pytest.mark.parametrize(
    ("host", "mismatch"),
    [("localhost", "Hostname mismatch"), ("127.0.0.1", "IP address mismatch")],
)
def test_a_certificate_for_another_host_is_refused(
    tls_pkis: TestPkis, report: ReportData, host: str, mismatch: str
) -> None:
    # The chain verifies (its CA is the ca_file); only the name is wrong: host-name checking is on.
    pki = tls_pkis.wrong_name
    with smtp_server(pki, "ssl") as (port, received), pytest.raises(MailError) as failure:
        send_report_email(report, smtp_section(port, "ssl", pki.ca_file, host=host), ["cx@example.org"])
    assert f"does not verify: {mismatch}, certificate is not valid for '{host}'" in str(failure.value)
    assert received.messages == []


def test_ca_file_replaces_the_system_store_rather_than_adding_to_it(
    tls_pkis: TestPkis, report: ReportData, monkeypatch: pytest.MonkeyPatch
) -> None:
    # OpenSSL's default store is the file SSL_CERT_FILE names: make the stranger CA a "system" CA.
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_pkis.stranger.ca_file))
    with smtp_server(tls_pkis.stranger, "ssl") as (port, received):
        send_report_email(report, smtp_section(port, "ssl", None), ["cx@example.org"])
        assert len(received.messages) == 1  # no ca_file: the system store is used
        with pytest.raises(MailError, match="unable to get local issuer certificate"):
            send_report_email(report, smtp_section(port, "ssl", tls_pkis.trusted.ca_file), ["cx@example.org"])
    assert len(received.messages) == 1


def test_without_ca_file_a_private_ca_is_not_trusted(tls_pkis: TestPkis, report: ReportData) -> None:
    with smtp_server(tls_pkis.trusted, "starttls") as (port, received), pytest.raises(MailError) as failure:
        send_report_email(report, smtp_section(port, "starttls", None), ["cx@example.org"])
    assert str(failure.value).endswith(
        "(is it for 127.0.0.1? A server on a private CA needs report.smtp.ca_file)"
    )
    assert received.messages == []


def test_auth_over_starttls_with_the_password_from_the_environment(
    tls_pkis: TestPkis,
    report: ReportData,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with smtp_server(tls_pkis.trusted, "starttls", auth=True) as (port, received):
        smtp = smtp_section(
            port, "starttls", tls_pkis.trusted.ca_file, username="reports", password_env=PASSWORD_ENV
        )
        with caplog.at_level(logging.DEBUG):
            send_report_email(report, smtp, ["board@example.org"])
        monkeypatch.setenv(PASSWORD_ENV, "wrong-" + PASSWORD)
        with pytest.raises(MailError, match=r"refused the login for reports \(check \$AUDIT_TEST_TLS_SMTP"):
            send_report_email(report, smtp, ["board@example.org"])
    # smtplib tries the wrong password with each mechanism the server offers (PLAIN, then LOGIN).
    assert received.logins[0] == ("reports", PASSWORD)
    assert set(received.logins[1:]) == {("reports", "wrong-" + PASSWORD)}
    assert (received.over_tls, received.authenticated) == ([True], [True])
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize(
    ("content", "reason"),
    [(None, "No such file or directory"), (b"not a certificate\n", "no certificate or crl found")],
)
def test_an_unusable_ca_file_is_named(
    tmp_path: Path, report: ReportData, content: bytes | None, reason: str
) -> None:
    ca_file = tmp_path / "ca.pem"
    if content is not None:
        ca_file.write_bytes(content)
    with pytest.raises(MailError) as failure:
        send_report_email(report, smtp_section(free_port(), "starttls", ca_file), ["cx@example.org"])
    message = str(failure.value)
    assert message.startswith(f"report.smtp.ca_file {ca_file}: cannot load CA certificates: ")
    assert reason in message


# ---------------------------------------------------------------------------------------------------------
# IMAP


class TlsDovecot(DovecotServer):
    """tests/dovecot.py's server with dovecot_tls.conf.in: STARTTLS on `port`, implicit TLS on `imaps_port`."""

    def __init__(self, root: Path, port: int, imaps_port: int, pki: Pki) -> None:
        super().__init__(root, port)
        self.imaps_port = imaps_port
        values = {
            **_template_values(root, port),
            "imaps_port": str(imaps_port),
            "cert_file": str(pki.cert_file),
            "key_file": str(pki.key_file),
        }
        self.conf.write_text(
            Template(TLS_CONF_IN.read_text(encoding="utf-8")).substitute(values), encoding="utf-8"
        )

    def section(self, user: str, *, starttls: bool, ca_file: Path | None) -> ImapSection:
        return ImapSection(
            host=self.host,
            port=self.port if starttls else self.imaps_port,
            tls=True,
            starttls=starttls,
            username=user,
            folders=("INBOX",),
            ca_file=str(ca_file) if ca_file else None,
        )

    def logins(self, user: str, *, wait_for_tls: bool = False) -> list[str]:
        """Dovecot's login lines for `user`: ", TLS," in one means that session was encrypted (a plain one
        from 127.0.0.1 says ", secured,"). Dovecot's log process writes them a moment later; with
        `wait_for_tls`, wait up to 5 s for a TLS one."""
        log = self.root / "log" / "dovecot-info.log"
        deadline = time.monotonic() + 5
        while True:
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines() if log.exists() else []
            found = [line for line in lines if f"Login: user=<{user}>," in line]
            if not wait_for_tls or any(", TLS," in line for line in found) or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@pytest.fixture(scope="module")
def tls_dovecot(tls_pkis: TestPkis) -> Iterator[TlsDovecot]:
    if dovecot_binary() is None:
        if os.environ.get("CI"):  # as tests/conftest.py: CI must not pass by skipping
            pytest.fail("dovecot is not installed (apt-get install -y dovecot-imapd)")
        pytest.skip("dovecot is not installed (apt-get install -y dovecot-imapd)")
    # Not pytest's tmp_path: its parents are 0700, and Dovecot's processes run as other users.
    root = Path(tempfile.mkdtemp(prefix="dovecot-tls-"))
    root.chmod(0o755)
    server = TlsDovecot(root, free_port(), free_port(), tls_pkis.trusted)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_database(f"sqlite:///{tmp_path}/a.db")
    yield engine
    engine.dispose()


def reply() -> bytes:
    token = uuid.uuid4().hex[:8]
    return (
        f"Delivered-To: dana.{token}@replies.example.org\r\n"
        f"From: Acme Support <support@acme.test>\r\n"
        f"To: dana.{token}@replies.example.org\r\n"
        f"Subject: Re: your inquiry over TLS\r\n"
        f"Date: Sun, 01 Mar 2026 10:00:00 +0200\r\n"
        f"Message-ID: <{token}@acme.test>\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n"
        f"\r\n"
        f"Hello Dana,\r\nthanks for reaching out. We will call you back.\r\n"
    ).encode()


@pytest.mark.parametrize("starttls", [False, True], ids=["imaps", "starttls"])
def test_collect_over_tls_trusting_only_the_ca_file(
    tls_dovecot: TlsDovecot, tls_pkis: TestPkis, engine: Engine, tmp_path: Path, starttls: bool
) -> None:
    user = tls_dovecot.add_user()
    tls_dovecot.append(user, "INBOX", reply(), datetime(2026, 3, 1, 8, 7, tzinfo=UTC))
    imap = tls_dovecot.section(user, starttls=starttls, ca_file=tls_pkis.trusted.ca_file)

    stats = collect_imap_once(engine, imap, tls_dovecot.credentials(user), data_dir=tmp_path, timeout_s=10)

    assert (stats.fetched, stats.stored, stats.errors) == (1, 1, 0)
    with Session(engine) as session:
        [stored] = session.exec(select(Message)).all()
    assert stored.subject == "Re: your inquiry over TLS" and stored.folder == "INBOX"
    # Two logins: the plain one that appended the message, then the collector's, under TLS.
    logins = tls_dovecot.logins(user, wait_for_tls=True)
    assert [", TLS," in line for line in logins] == [False, True]


@pytest.mark.parametrize("starttls", [False, True], ids=["imaps", "starttls"])
def test_an_untrusted_imap_certificate_is_the_sources_clear_error(
    tls_dovecot: TlsDovecot, tls_pkis: TestPkis, engine: Engine, tmp_path: Path, starttls: bool
) -> None:
    user = tls_dovecot.add_user()
    imap = tls_dovecot.section(user, starttls=starttls, ca_file=tls_pkis.stranger.ca_file)
    with pytest.raises(ImapUnavailable) as failure:
        collect_imap_once(engine, imap, tls_dovecot.credentials(user), data_dir=tmp_path, timeout_s=10)
    port = imap.port
    assert str(failure.value) == (
        f"IMAP {user}@127.0.0.1:{port}: the server's TLS certificate does not verify: unable to get local "
        f"issuer certificate (is it signed by a CA in mailbox.imap.ca_file {tls_pkis.stranger.ca_file}, "
        f"and is it for 127.0.0.1?)"
    )
    assert tls_dovecot.passwords[user] not in str(failure.value)
    assert tls_dovecot.logins(user) == []  # the password was never sent


def test_an_unreadable_imap_ca_file_is_named(tmp_path: Path, engine: Engine) -> None:
    imap = ImapSection(host="127.0.0.1", port=free_port(), username="u", ca_file=str(tmp_path / "no.pem"))
    with pytest.raises(
        ImapError, match=r"mailbox\.imap\.ca_file .*no\.pem: cannot load CA certificates: No such"
    ):
        collect_imap_once(
            engine, imap, ImapCredentials(password="x", oauth2_token=None), data_dir=tmp_path, timeout_s=5
        )


# ---------------------------------------------------------------------------------------------------------
# The certificate helper's openssl path (the fixture uses the cryptography package when it is there)


def test_the_openssl_made_certificates_verify_and_name_the_host(tmp_path: Path, report: ReportData) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command")
    pki = make_pki(tmp_path, "Audit openssl CA", use_openssl=True)
    with smtp_server(pki, "ssl") as (port, received):
        # By name this time: the certificate's DNS name is checked, not only its IP address.
        send_report_email(
            report, smtp_section(port, "ssl", pki.ca_file, host="localhost"), ["cx@example.org"]
        )
    assert received.over_tls == [True]
