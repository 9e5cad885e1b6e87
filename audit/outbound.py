"""The email channel's sending side: an inquiry written as a person writes one, sent once by SMTP.

`build_inquiry_email` makes the message: From the persona at the per-inquiry reply address, To the address
the company publishes, a Message-ID of our reply domain, the text (which holds the reference code) first
and a minimal HTML copy of it second (escaped, paragraphs as <p>, right-to-left when the text mostly is).
Nothing is added that a person's mail would not carry: no Auto-Submitted (replies are wanted), no links,
no tracking. `send_inquiry` sends it with smtplib's single steps, the envelope sender being the reply
address too, so bounces come back to our mailbox and match the probe.

The never-twice rule (docs/probing.md, "Submitting at most once"), step by step:

1. connect, TLS, login (audit/smtp_transport.py), EHLO, MAIL FROM, RCPT TO. Any failure here is
   `NotSentError`: nothing left us, so it may be retried; `temporary` for a 4xx reply or a connection that
   failed or broke, permanent for a 5xx, a refused certificate or a setting to fix.
2. `before_data()`: the caller commits its write-ahead record. From here on the message may have been
   accepted, so it is never resent automatically. If `before_data` itself raises, DATA is never sent and
   its exception propagates unchanged.
3. DATA. The server's 250 makes a `SentInquiry`, timed right after that reply. A definite 4xx or 5xx reply
   (to the DATA command or to the message) means the server did not take it: `NotSentError` with
   `after_write_ahead=True`, so the caller knows its record needs undoing. Anything else (the connection
   broke or timed out, a reply that cannot be read) is `SendUncertainError`: a person must check.

    MailError (audit/errors.py)
      + InquirySendError      one line for the user; `stage` (audit.smtp_transport.SmtpStage), `code`
          + NotSentError      the server did not take the inquiry; `temporary`, `after_write_ahead`
          + SendUncertainError  after the write-ahead, without a definite answer: it may have arrived
"""

from __future__ import annotations

import html
import re
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, make_msgid

from audit.config import SmtpSection
from audit.errors import MailError
from audit.smtp_transport import (
    SmtpFailure,
    SmtpStage,
    close_quietly,
    failure,
    open_session,
    password_for,
    scrub,
    server_said,
    where,
)

DATA_REPLY_TIMEOUT = timedelta(minutes=10)
"""How long to wait for the server's answer to DATA. RFC 5321 (4.5.3.2.6) has clients wait 10 minutes for
the reply to the end of the message, since servers scan it before answering; giving up sooner would turn a
slow acceptance into an uncertain send."""

MESSAGE_POLICY = default_policy.clone(cte_type="7bit")
"""The email package then encodes non-ASCII text as base64 or quoted-printable (whichever is shorter), so
the message passes any server, with or without 8BITMIME."""

_RTL_LETTERS = re.compile(r"[\u0590-\u05ff\u0600-\u06ff\ufb1d-\ufdff\ufe70-\ufeff]")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_ADDRESS_FORBIDDEN = re.compile(r"[\s<>,;\"()\[\]\\\x00-\x1f\x7f]")
_DOMAIN = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)

_QUEUE_ID_PATTERNS = (
    re.compile(r"\bqueued as ([A-Za-z0-9]+)", re.I),  # Postfix: "250 2.0.0 Ok: queued as 4F1XyZ3Abc"
    re.compile(r"\bid=([A-Za-z0-9-]+)"),  # Exim: "250 OK id=1rAbCd-000123-Ef"
    re.compile(r"^\d\.\d\.\d+ ([A-Za-z0-9]+) Message accepted for delivery", re.I),  # sendmail
    re.compile(r"^\d\.\d\.\d+ OK \d+ ([A-Za-z0-9.-]+) - gsmtp"),  # Gmail
)


class InquirySendError(MailError):
    def __init__(self, message: str, *, stage: SmtpStage, code: int | None = None) -> None:
        super().__init__(message)
        self.stage = stage
        self.code = code


class NotSentError(InquirySendError):
    """The server did not take the inquiry (or we never reached it): it may be sent again."""

    def __init__(
        self,
        message: str,
        *,
        stage: SmtpStage,
        temporary: bool,
        after_write_ahead: bool = False,
        code: int | None = None,
    ) -> None:
        super().__init__(message, stage=stage, code=code)
        self.temporary = temporary
        self.after_write_ahead = after_write_ahead


class SendUncertainError(InquirySendError):
    """The write-ahead record is committed and the server never said yes or no: a person must check."""


@dataclass(frozen=True, slots=True)
class SentInquiry:
    accepted_at: datetime
    """UTC, taken right after the server's 250 reply to DATA: the inquiry's send time."""
    server_reply: str
    """That reply as one line, e.g. '250 2.0.0 Ok: queued as 4F1XyZ3Abc'."""
    message_id: str
    queue_id: str | None
    """The server's own id for the message when its reply names one (Postfix, Exim, sendmail, Gmail), to
    find it in the server's logs."""


def smtp_address(address: str, *, what: str) -> str:
    """`address` as it can go into an envelope and a header: the domain in IDNA (xn--) form; one line
    naming `what` if it is not an address we can send to."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain or _ADDRESS_FORBIDDEN.search(local + domain):
        raise NotSentError(
            f"{what} '{address}' is not an email address", stage=SmtpStage.SETUP, temporary=False
        )
    if not local.isascii():
        raise NotSentError(
            f"{what} '{address}' has a non-ASCII local part, which needs SMTPUTF8; it is not supported",
            stage=SmtpStage.SETUP,
            temporary=False,
        )
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_domain = ""
    if not _DOMAIN.match(ascii_domain):
        raise NotSentError(
            f"{what} '{address}' does not end in a valid domain", stage=SmtpStage.SETUP, temporary=False
        )
    return f"{local}@{ascii_domain}"


def _one_line(text: str) -> str:
    # A header value must not contain a line break (header injection).
    return " ".join(text.split())


def is_mostly_rtl(text: str) -> bool:
    """True when most letters are of a right-to-left script (Hebrew, Arabic); digits and Latin brand names
    inside a Hebrew sentence do not outweigh it."""
    letters = [char for char in text if char.isalpha()]
    rtl = sum(1 for char in letters if _RTL_LETTERS.match(char))
    return rtl * 2 > len(letters)


def inquiry_html(body_text: str) -> str:
    """The text as minimal HTML: escaped, blank-line paragraphs as <p>, line breaks as <br>, nothing else."""
    paragraphs = [p.strip("\n") for p in _PARAGRAPH_BREAK.split(body_text.replace("\r\n", "\n")) if p.strip()]
    inner = "\n".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in paragraph.split("\n")) + "</p>"
        for paragraph in paragraphs
    )
    direction = "rtl" if is_mostly_rtl(body_text) else "ltr"
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        f'<body><div dir="{direction}">\n{inner}\n</div></body></html>\n'
    )


def build_inquiry_email(
    *,
    persona_name: str,
    from_address: str,
    to_address: str,
    subject: str,
    body_text: str,
    ref_code: str,
    message_id_domain: str,
) -> EmailMessage:
    """multipart/alternative: text/plain first, then the same words as minimal HTML."""
    sender = smtp_address(from_address, what="the reply address")
    recipient = smtp_address(to_address, what="the company's email")
    domain = smtp_address(f"x@{message_id_domain}", what="the Message-ID domain").partition("@")[2]
    if ref_code not in body_text:  # compose_message places it; a hand-built body must carry it too
        body_text = f"{body_text.rstrip()}\n\nRef: {ref_code}"
    message = EmailMessage(policy=MESSAGE_POLICY)
    local, _, sender_domain = sender.partition("@")
    message["From"] = Address(display_name=_one_line(persona_name), username=local, domain=sender_domain)
    message["To"] = recipient
    message["Subject"] = _one_line(subject)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(body_text, subtype="plain", charset="utf-8")
    message.add_alternative(inquiry_html(body_text), subtype="html", charset="utf-8")
    return message


def queue_id(reply_text: str) -> str | None:
    """The server's id for an accepted message, from its reply to DATA (without the 250)."""
    for pattern in _QUEUE_ID_PATTERNS:
        found = pattern.search(reply_text)
        if found:
            return found.group(1)
    return None


def send_inquiry(
    message: EmailMessage,
    smtp: SmtpSection,
    *,
    envelope_from: str,
    recipient: str,
    before_data: Callable[[], None],
    setting: str = "mailbox.smtp",
) -> SentInquiry:
    """Send `message` once to `recipient`, calling `before_data()` just before DATA (see the module's
    rules); NotSentError or SendUncertainError on failure."""
    message_id = message["Message-ID"]
    if not message_id:
        raise ValueError("the inquiry has no Message-ID; build it with build_inquiry_email")
    sender = smtp_address(envelope_from, what="the envelope sender")
    to = smtp_address(recipient, what="the recipient")
    payload = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    try:
        password = password_for(smtp, setting=setting)
        client = open_session(smtp, password=password, setting=setting)
    except SmtpFailure as ex:
        raise NotSentError(str(ex), stage=ex.stage, temporary=ex.temporary, code=ex.code) from None
    try:
        _envelope(client, smtp, sender=sender, recipient=to, password=password, setting=setting)
        before_data()
    except BaseException:
        close_quietly(client)  # RSET is implied: without DATA the server delivers nothing
        raise
    try:
        code, reply = _data(client, smtp, payload, recipient=to, password=password)
    except NotSentError:
        close_quietly(client)
        raise
    except BaseException:
        client.close()  # no QUIT: after a broken or timed-out DATA, waiting for the server helps nobody
        raise
    accepted_at = datetime.now(UTC)
    close_quietly(client)
    said = server_said(code, reply, password)
    return SentInquiry(
        accepted_at=accepted_at,
        server_reply=said,
        message_id=str(message_id),
        queue_id=queue_id(said.partition(" ")[2]),
    )


def _envelope(
    client: smtplib.SMTP,
    smtp: SmtpSection,
    *,
    sender: str,
    recipient: str,
    password: str | None,
    setting: str,
) -> None:
    """EHLO, MAIL FROM and RCPT TO; NotSentError unless the server accepted both addresses."""
    at = where(smtp)
    stage = SmtpStage.CONNECT
    try:
        client.ehlo_or_helo_if_needed()
        stage = SmtpStage.MAIL
        code, reply = client.mail(sender)
        if code != 250:
            raise NotSentError(
                f"the SMTP server {at} refused the sender {sender}: {server_said(code, reply, password)}",
                stage=stage,
                temporary=not 500 <= code < 600,  # only a 5xx is a definite no; an unreadable reply is not
                code=code,
            )
        stage = SmtpStage.RCPT
        code, reply = client.rcpt(recipient)
        if code not in (250, 251):
            raise NotSentError(
                f"the SMTP server {at} refused the recipient {recipient}: "
                f"{server_said(code, reply, password)}",
                stage=stage,
                temporary=not 500 <= code < 600,
                code=code,
            )
    except OSError as ex:  # smtplib's errors included: the connection broke before DATA
        done = failure(ex, smtp, stage=stage, password=password, setting=setting, sender=sender)
        raise NotSentError(str(done), stage=done.stage, temporary=done.temporary, code=done.code) from None


def _data(
    client: smtplib.SMTP, smtp: SmtpSection, payload: bytes, *, recipient: str, password: str | None
) -> tuple[int, bytes | str]:
    """DATA and the message; the server's 250 reply, or NotSentError for a definite refusal, or
    SendUncertainError for anything else."""
    if client.sock is not None:
        client.sock.settimeout(max(DATA_REPLY_TIMEOUT, smtp.timeout).total_seconds())
    reply: bytes | str
    try:
        # smtplib raises SMTPDataError when DATA itself is refused, but returns the reply to the message.
        code, reply = client.data(payload)
    except smtplib.SMTPDataError as ex:
        code, reply = ex.smtp_code, ex.smtp_error
    except Exception as ex:  # after the write-ahead record every other failure leaves the outcome unknown
        reason = scrub(str(ex) or type(ex).__name__, password)
        raise SendUncertainError(
            f"the connection to the SMTP server {where(smtp)} failed while it was given the inquiry to "
            f"{recipient} ({reason}); it may have been accepted",
            stage=SmtpStage.DATA,
        ) from None
    if code == 250:
        return code, reply
    said = server_said(code, reply, password)
    if 400 <= code < 600:
        raise NotSentError(
            f"the SMTP server {where(smtp)} did not take the inquiry to {recipient}: {said}",
            stage=SmtpStage.DATA,
            temporary=code < 500,
            after_write_ahead=True,
            code=code,
        )
    raise SendUncertainError(  # a 2xx other than 250, or a reply smtplib could not read (code -1)
        f"the SMTP server {where(smtp)} gave no clear answer to the inquiry to {recipient}: {said}",
        stage=SmtpStage.DATA,
        code=code,
    )
