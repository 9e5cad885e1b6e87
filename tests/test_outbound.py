"""The email channel's sending side (audit/outbound.py) against a real SMTP server: aiosmtpd on 127.0.0.1,
recording every command it sees, so the tests check what the server received and in which order (the
write-ahead hook before DATA), how each refusal is classified, and that the password never leaks.
"""

from __future__ import annotations

import asyncio
import email
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from audit import outbound
from audit.config import SmtpSection
from audit.outbound import (
    NotSentError,
    SendUncertainError,
    SentInquiry,
    build_inquiry_email,
    inquiry_html,
    is_mostly_rtl,
    queue_id,
    send_inquiry,
)
from audit.smtp_transport import SmtpStage
from audit.tokens import compose_message, new_ref_code, new_token
from tests.dovecot import free_port
from tests.report_fixtures import parse
from tests.tls_certs import Pki, TestPkis, tls_pkis

__all__ = ["tls_pkis"]  # the session fixture, imported so pytest finds it here

PASSWORD = "outbound-Pa55-for-the-test"
PASSWORD_ENV = "AUDIT_TEST_OUTBOUND_PASSWORD"
COMPANY = "info@acme.test"
QUEUED = "250 2.0.0 Ok: queued as 4F1XyZ3Abc"
HEBREW_BODY = (
    "שלום,\n\nאני מתעניינת בחבילה החודשית שלכם <b>ללא התחייבות</b> & רוצה לדעת מה המחיר.\n"
    "אפשר לחזור אליי בטלפון?\n\nתודה, דנה לוי"
)


@dataclass
class Inbox:
    """The server's side: every command of interest in order, what it received, and how it answers."""

    events: list[str] = field(default_factory=list)
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    handler_ran: list[tuple[datetime, datetime]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str = QUEUED
    data_command_reply: str | None = None
    data_delay: float = 0.0
    drop_after_message: bool = False
    echo_password_on_login_failure: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, event: str) -> None:
        with self.lock:
            self.events.append(event)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        self.note(f"RCPT {address}")
        if self.rcpt_reply is not None:
            return self.rcpt_reply.replace("{password}", self.logins[-1][1] if self.logins else "")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        started = datetime.now(UTC)
        self.note("message")
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        self.handler_ran.append((started, datetime.now(UTC)))
        if self.drop_after_message:
            server.transport.close()  # the message is in, the 250 never reaches the client
        return self.data_reply

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = data.login.decode(), data.password.decode()
        self.logins.append((user, password))
        if (user, password) == ("dana", PASSWORD):
            return AuthResult(success=True)
        echo = f"535 5.7.8 bad password {password}" if self.echo_password_on_login_failure else None
        return AuthResult(success=False, handled=False, message=echo)


class RecordingSMTP(SMTP):
    """aiosmtpd's server, noting the DATA command itself (its handler hook runs only after the message)."""

    async def smtp_DATA(self, arg: str) -> None:
        handler = self.event_handler
        assert isinstance(handler, Inbox)
        handler.note("DATA")
        if handler.data_command_reply is not None:
            await self.push(handler.data_command_reply)
            return
        await super().smtp_DATA(arg)


class RecordingController(Controller):
    def factory(self) -> SMTP:
        return RecordingSMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class Server:
    port: int
    inbox: Inbox


@contextmanager
def smtp_server(inbox: Inbox | None = None, **options: Any) -> Iterator[Server]:
    inbox = inbox or Inbox()
    port = free_port()
    controller = RecordingController(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield Server(port, inbox)
    finally:
        controller.stop()


@contextmanager
def auth_server(inbox: Inbox) -> Iterator[Server]:
    # AUTH without TLS (as tests/test_mailer.py): not required, since aiosmtpd warns about that.
    with smtp_server(inbox, authenticator=inbox.authenticate, auth_require_tls=False) as server:
        yield server


def smtp_section(port: int, **changes: Any) -> SmtpSection:
    base = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": "outbound@replies.example.org",
        "timeout": 10,
    }
    return SmtpSection.model_validate({**base, **changes})


@dataclass(frozen=True)
class Inquiry:
    message: EmailMessage
    reply_address: str
    ref: str
    body: str


def make_inquiry(
    *,
    body_template: str = HEBREW_BODY,
    subject: str = "שאלה על החבילה החודשית",
    persona: str = "דנה לוי",
    to: str = COMPANY,
) -> Inquiry:
    reply_address = f"dana.{new_token()}@replies.example.org"
    ref = new_ref_code()
    body = compose_message(body_template, ref=ref, company="Acme", first_name="דנה", last_name="לוי")
    message = build_inquiry_email(
        persona_name=persona,
        from_address=reply_address,
        to_address=to,
        subject=subject,
        body_text=body,
        ref_code=ref,
        message_id_domain="replies.example.org",
    )
    return Inquiry(message, reply_address, ref, body)


class Hook:
    """The caller's write-ahead commit: counts its calls and notes them among the server's events."""

    def __init__(self, inbox: Inbox, fail: Exception | None = None) -> None:
        self.inbox, self.fail, self.calls = inbox, fail, 0

    def __call__(self) -> None:
        self.calls += 1
        self.inbox.note("before_data")
        if self.fail is not None:
            raise self.fail


def send(inquiry: Inquiry, smtp: SmtpSection, hook: Callable[[], None], **changes: Any) -> SentInquiry:
    arguments: dict[str, Any] = {"envelope_from": inquiry.reply_address, "recipient": COMPANY} | changes
    return send_inquiry(inquiry.message, smtp, before_data=hook, **arguments)


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


# ---------------------------------------------------------------------------------------------------------
# What the server receives


def test_the_inquiry_arrives_as_a_persons_email_from_the_reply_address() -> None:
    inquiry = make_inquiry()
    with smtp_server() as server:
        hook = Hook(server.inbox)
        sent = send(inquiry, smtp_section(server.port), hook)
    [(envelope_from, recipients, raw)] = server.inbox.received
    assert (envelope_from, recipients) == (inquiry.reply_address, [COMPANY])  # bounces come back to us
    assert raw.isascii()  # base64 or quoted-printable: any server takes it, with or without 8BITMIME
    message = parsed(raw)
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("דנה לוי", inquiry.reply_address)
    assert message["To"] == COMPANY
    assert message["Subject"] == "שאלה על החבילה החודשית"
    assert message["Date"] is not None and message["Auto-Submitted"] is None
    assert message["Message-ID"] == sent.message_id == inquiry.message["Message-ID"]
    assert sent.message_id.startswith("<") and sent.message_id.endswith("@replies.example.org>")
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = message.iter_parts()
    assert (plain.get_content_type(), rich.get_content_type()) == ("text/plain", "text/html")
    text = plain.get_content()
    assert text.rstrip("\n") == inquiry.body and f"Ref: {inquiry.ref}" in text
    page = parse(rich.get_content())
    assert [attrs.get("dir") for tag, attrs in page.elements if tag == "div"] == ["rtl"]
    assert len(page.tags("p")) == 4  # greeting, question, thanks, the reference line
    assert "&lt;b&gt;ללא התחייבות&lt;/b&gt; &amp; רוצה" in rich.get_content()
    assert page.tags("b") == page.tags("a") == page.tags("img") == page.tags("script") == []
    assert hook.calls == 1


def test_a_line_break_in_the_subject_or_the_name_cannot_add_headers_or_recipients() -> None:
    inquiry = make_inquiry(subject="Hello\r\nBcc: spy@evil.example", persona="Dana\nBcc: spy@evil.example")
    with smtp_server() as server:
        send(inquiry, smtp_section(server.port), Hook(server.inbox))
    [(_, recipients, raw)] = server.inbox.received
    message = parsed(raw)
    assert recipients == [COMPANY] and message["Bcc"] is None
    assert message["Subject"] == "Hello Bcc: spy@evil.example"
    assert message["From"].addresses[0].display_name == "Dana Bcc: spy@evil.example"


def test_an_english_inquiry_is_left_to_right_and_a_company_address_in_hebrew_letters_is_idna() -> None:
    company = "info@חברה.co.il"
    inquiry = make_inquiry(body_template="Hello,\n\nDo you sell a monthly plan?", subject="Plans", to=company)
    ascii_company = "info@" + "חברה.co.il".encode("idna").decode()
    with smtp_server() as server:
        send(inquiry, smtp_section(server.port), Hook(server.inbox), recipient=company)
    [(_, recipients, raw)] = server.inbox.received
    assert recipients == [ascii_company] and parsed(raw)["To"] == ascii_company
    assert '<div dir="ltr">' in parsed(raw).get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_an_address_that_is_not_one_is_refused_before_connecting() -> None:
    with pytest.raises(NotSentError, match=r"the company's email 'info@acme\.test\r\nBcc: x@evil\.example'"):
        make_inquiry(to="info@acme.test\r\nBcc: x@evil.example")
    inquiry = make_inquiry()
    with smtp_server() as server:
        hook = Hook(server.inbox)
        with pytest.raises(NotSentError) as failure:
            send(inquiry, smtp_section(server.port), hook, recipient="dana@acme.test>, spy@evil.example")
    assert (failure.value.stage, failure.value.temporary) == (SmtpStage.SETUP, False)
    assert server.inbox.events == [] and hook.calls == 0


# ---------------------------------------------------------------------------------------------------------
# The write-ahead hook and the send time


def test_before_data_is_called_once_after_rcpt_and_before_the_server_sees_data() -> None:
    inquiry = make_inquiry()
    with smtp_server() as server:
        hook = Hook(server.inbox)
        send(inquiry, smtp_section(server.port), hook)
    assert server.inbox.events == [f"RCPT {COMPANY}", "before_data", "DATA", "message"]
    assert hook.calls == 1


def test_the_send_time_is_when_the_server_accepted_and_its_queue_id_is_kept() -> None:
    inquiry = make_inquiry()
    with smtp_server(Inbox(data_delay=0.3)) as server:
        sent = send(inquiry, smtp_section(server.port), Hook(server.inbox))
    [(started, finished)] = server.inbox.handler_ran
    assert sent.accepted_at.tzinfo is UTC
    assert finished <= sent.accepted_at < finished + timedelta(seconds=5)
    assert sent.accepted_at - started >= timedelta(seconds=0.3)
    assert (sent.server_reply, sent.queue_id) == (QUEUED, "4F1XyZ3Abc")


def test_a_failing_write_ahead_commit_stops_before_data() -> None:
    inquiry = make_inquiry()
    with smtp_server() as server:
        hook = Hook(server.inbox, fail=RuntimeError("database is locked"))
        with pytest.raises(RuntimeError, match="database is locked"):
            send(inquiry, smtp_section(server.port), hook)
    assert server.inbox.events == [f"RCPT {COMPANY}", "before_data"]
    assert server.inbox.received == []


# ---------------------------------------------------------------------------------------------------------
# Refusals: which may be retried, which need the record undone, which need a person


@pytest.mark.parametrize(
    ("reply", "temporary"), [("451 4.7.1 try again later", True), ("550 5.1.1 no such user", False)]
)
def test_a_refused_recipient_is_not_sent_and_the_hook_is_not_called(reply: str, temporary: bool) -> None:
    inquiry = make_inquiry()
    with smtp_server(Inbox(rcpt_reply=reply)) as server:
        hook = Hook(server.inbox)
        with pytest.raises(NotSentError) as failure:
            send(inquiry, smtp_section(server.port), hook)
    error = failure.value
    assert (error.temporary, error.after_write_ahead, error.stage) == (temporary, False, SmtpStage.RCPT)
    assert error.code == int(reply[:3])
    assert str(error) == f"the SMTP server 127.0.0.1:{server.port} refused the recipient {COMPANY}: {reply}"
    assert hook.calls == 0 and server.inbox.received == [] and "DATA" not in server.inbox.events


@pytest.mark.parametrize(("reply", "temporary"), [("451 4.3.0 queue full", True), ("554 5.7.1 spam", False)])
def test_a_definite_refusal_of_the_message_says_the_record_needs_undoing(reply: str, temporary: bool) -> None:
    inquiry = make_inquiry()
    with smtp_server(Inbox(data_reply=reply)) as server:
        hook = Hook(server.inbox)
        with pytest.raises(NotSentError) as failure:
            send(inquiry, smtp_section(server.port), hook)
    error = failure.value
    assert (error.temporary, error.after_write_ahead, error.stage) == (temporary, True, SmtpStage.DATA)
    assert str(error).endswith(f"did not take the inquiry to {COMPANY}: {reply}")
    assert hook.calls == 1


def test_a_refused_data_command_is_as_definite_as_a_refused_message() -> None:
    inquiry = make_inquiry()
    with (
        smtp_server(Inbox(data_command_reply="554 5.5.1 no valid recipients")) as server,
        pytest.raises(NotSentError) as failure,
    ):
        send(inquiry, smtp_section(server.port), Hook(server.inbox))
    assert (failure.value.temporary, failure.value.after_write_ahead, failure.value.code) == (
        False,
        True,
        554,
    )
    assert server.inbox.received == []


def test_a_connection_dropped_during_data_is_uncertain() -> None:
    inquiry = make_inquiry()
    with smtp_server(Inbox(drop_after_message=True)) as server:
        hook = Hook(server.inbox)
        with pytest.raises(SendUncertainError) as failure:
            send(inquiry, smtp_section(server.port), hook)
    assert not isinstance(failure.value, NotSentError)
    assert failure.value.stage is SmtpStage.DATA and "it may have been accepted" in str(failure.value)
    assert hook.calls == 1 and len(server.inbox.received) == 1  # it did arrive: only a person can tell


def test_a_server_that_never_answers_data_is_uncertain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbound, "DATA_REPLY_TIMEOUT", timedelta(seconds=1))
    inquiry = make_inquiry()
    with (
        smtp_server(Inbox(data_delay=3)) as server,
        pytest.raises(SendUncertainError, match=r"timed out\); it may have been accepted"),
    ):
        send(inquiry, smtp_section(server.port, timeout=1), Hook(server.inbox))


def test_an_unreachable_server_is_temporary_and_nothing_is_called() -> None:
    hook = Hook(Inbox())
    with pytest.raises(NotSentError, match=r"cannot reach the SMTP server 127\.0\.0\.1:\d+") as failure:
        send(make_inquiry(), smtp_section(free_port()), hook)
    assert (failure.value.temporary, failure.value.stage, hook.calls) == (True, SmtpStage.CONNECT, 0)


# ---------------------------------------------------------------------------------------------------------
# The login and its password


def test_the_login_uses_the_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with auth_server(Inbox()) as server:
        smtp = smtp_section(server.port, username="dana", password_env=PASSWORD_ENV)
        send(make_inquiry(), smtp, Hook(server.inbox))
    assert server.inbox.logins == [("dana", PASSWORD)] and len(server.inbox.received) == 1


def test_the_password_never_appears_in_an_error_even_when_the_server_echoes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with auth_server(Inbox(echo_password_on_login_failure=True)) as server:
        monkeypatch.setenv(PASSWORD_ENV, "wrong-" + PASSWORD)
        smtp = smtp_section(server.port, username="dana", password_env=PASSWORD_ENV)
        with pytest.raises(NotSentError) as refused_login:
            send(make_inquiry(), smtp, Hook(server.inbox))
        server.inbox.rcpt_reply = "550 5.1.1 no such user (you logged in with {password})"
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
        with pytest.raises(NotSentError) as refused_rcpt:
            send(make_inquiry(), smtp, Hook(server.inbox))
    login_error, rcpt_error = str(refused_login.value), str(refused_rcpt.value)
    assert login_error.startswith(f"the SMTP server 127.0.0.1:{server.port} refused the login for dana")
    assert login_error.endswith("535 5.7.8 bad password ***") and f"${PASSWORD_ENV}" in login_error
    assert (refused_login.value.stage, refused_login.value.temporary) == (SmtpStage.LOGIN, False)
    assert rcpt_error.endswith("no such user (you logged in with ***)")
    assert PASSWORD not in login_error + rcpt_error


def test_a_missing_password_variable_names_the_mailbox_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    smtp = smtp_section(free_port(), username="dana", password_env=PASSWORD_ENV)
    with pytest.raises(
        NotSentError, match=rf"^mailbox\.smtp\.password_env names \${PASSWORD_ENV}, which is not"
    ):
        send(make_inquiry(), smtp, Hook(Inbox()))


# ---------------------------------------------------------------------------------------------------------
# STARTTLS with a private CA (tests/tls_certs.py)


@contextmanager
def starttls_server(pki: Pki) -> Iterator[Server]:
    with smtp_server(tls_context=pki.server_context(), require_starttls=True) as server:
        yield server


def test_starttls_trusting_only_mailbox_smtp_ca_file(tls_pkis: TestPkis) -> None:
    with starttls_server(tls_pkis.trusted) as server:
        smtp = smtp_section(server.port, security="starttls", ca_file=str(tls_pkis.trusted.ca_file))
        send(make_inquiry(), smtp, Hook(server.inbox))
    assert len(server.inbox.received) == 1


def test_a_certificate_from_another_ca_is_permanent_and_names_mailbox_smtp(tls_pkis: TestPkis) -> None:
    with starttls_server(tls_pkis.stranger) as server:
        smtp = smtp_section(server.port, security="starttls", ca_file=str(tls_pkis.trusted.ca_file))
        hook = Hook(server.inbox)
        with pytest.raises(NotSentError) as failure:
            send(make_inquiry(), smtp, hook)
    assert (failure.value.stage, failure.value.temporary, hook.calls) == (SmtpStage.TLS, False, 0)
    assert f"(is it signed by a CA in mailbox.smtp.ca_file {tls_pkis.trusted.ca_file}" in str(failure.value)
    assert server.inbox.events == []


# ---------------------------------------------------------------------------------------------------------
# The pure parts


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("2.0.0 Ok: queued as 4F1XyZ3Abc", "4F1XyZ3Abc"),
        ("OK id=1rAbCd-000123-Ef", "1rAbCd-000123-Ef"),
        ("2.0.0 s9DGWs0q012345 Message accepted for delivery", "s9DGWs0q012345"),
        ("2.0.0 OK  1712345678 a1si123456abc.12 - gsmtp", "a1si123456abc.12"),
        ("Message accepted", None),
    ],
)
def test_the_queue_id_is_read_from_the_common_servers_replies(reply: str, expected: str | None) -> None:
    assert queue_id(" ".join(reply.split())) == expected


def test_the_direction_follows_the_letters_not_the_digits_or_brand_names() -> None:
    assert is_mostly_rtl('שלום, יש לכם חבילה של iPhone 15 ב-99 ש"ח?')
    assert not is_mostly_rtl("Hello, do you have a plan for 99 NIS? תודה")
    assert not is_mostly_rtl("12345")
    page = inquiry_html("Line one\nline <two>\n\n\nSecond")
    assert "<p>Line one<br>\nline &lt;two&gt;</p>\n<p>Second</p>" in page
