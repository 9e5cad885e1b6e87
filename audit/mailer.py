"""Sending the report by email: plain text first, then the HTML with its CSS inlined, over SMTP.

STARTTLS, SSL or plain per `report.smtp.security`; a login when `username` is set, with the password read
from the environment variable `password_env` names. Every failure is one MailError line for the user; the
password never appears in a message or a log line.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from audit.config import SmtpSection
from audit.errors import MailError
from audit.reporting.render import render_html, render_text
from audit.reporting.types import ReportData
from audit.settings import read_secret

log = logging.getLogger("audit.mailer")


def _one_line(text: str) -> str:
    # A header value must not contain a line break (header injection); names come from the config.
    return " ".join(text.split())


def _checked_recipients(recipients: Sequence[str]) -> list[str]:
    cleaned = [address.strip() for address in recipients if address.strip()]
    if not cleaned:
        raise MailError("no recipients: give --email ADDRESS..., or set report.recipients")
    for address in cleaned:
        local, at, domain = address.rpartition("@")
        if not at or not local or "." not in domain or any(c.isspace() or c in "<>,;" for c in address):
            raise MailError(f"'{address}' is not an email address")
    return cleaned


def build_report_message(report: ReportData, smtp: SmtpSection, recipients: Sequence[str]) -> EmailMessage:
    """multipart/alternative: text/plain first (the fallback), then text/html (what clients prefer)."""
    message = EmailMessage()
    message["Subject"] = _one_line(report.subject)
    message["From"] = smtp.from_address
    message["To"] = ", ".join(_checked_recipients(recipients))
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=smtp.from_address.rpartition("@")[2])
    # RFC 3834: the report is machine-made, so vacation responders should not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(render_text(report), subtype="plain", charset="utf-8")
    message.add_alternative(render_html(report, "email"), subtype="html", charset="utf-8")
    return message


def send_report_email(report: ReportData, smtp: SmtpSection, recipients: Sequence[str]) -> None:
    """Render the report as an email and send it to `recipients`; MailError on any failure."""
    message = build_report_message(report, smtp, recipients)
    send_message(message, smtp, _checked_recipients(recipients))


def _password(smtp: SmtpSection) -> str | None:
    if not smtp.username:
        return None
    if not smtp.password_env:
        raise MailError("report.smtp.username is set but report.smtp.password_env does not name a variable")
    secret = read_secret(smtp.password_env)
    if secret is None:
        raise MailError(f"report.smtp.password_env names ${smtp.password_env}, which is not set")
    return secret.get_secret_value()


def send_message(message: EmailMessage, smtp: SmtpSection, recipients: Sequence[str]) -> None:
    password = _password(smtp)
    context = None if smtp.security == "none" else tls_context(smtp)
    where = f"{smtp.host}:{smtp.port}"
    try:
        refused = _deliver(message, smtp, list(recipients), password, context)
    except smtplib.SMTPAuthenticationError as ex:
        raise MailError(
            f"the SMTP server {where} refused the login for {smtp.username} "
            f"(check ${smtp.password_env}): {_said(ex.smtp_code, ex.smtp_error, password)}"
        ) from None
    except smtplib.SMTPNotSupportedError:
        raise MailError(
            f"the SMTP server {where} does not offer STARTTLS; set report.smtp.security to ssl or none"
        ) from None
    except smtplib.SMTPRecipientsRefused as ex:
        raise MailError(
            f"the SMTP server {where} refused every recipient: {', '.join(ex.recipients)}"
        ) from None
    except smtplib.SMTPSenderRefused as ex:
        raise MailError(
            f"the SMTP server {where} refused the sender {smtp.from_address}: "
            f"{_said(ex.smtp_code, ex.smtp_error, password)}"
        ) from None
    except smtplib.SMTPResponseException as ex:
        raise MailError(
            f"the SMTP server {where} failed: {_said(ex.smtp_code, ex.smtp_error, password)}"
        ) from None
    except smtplib.SMTPException as ex:
        raise MailError(f"sending through {where} failed: {_scrub(str(ex), password)}") from None
    except ssl.SSLCertVerificationError as ex:
        raise MailError(
            f"the SMTP server {where} sent a certificate that does not verify: {ex.verify_message} "
            f"({_trust_hint(smtp)})"
        ) from None
    except ssl.SSLError as ex:
        raise MailError(f"TLS with the SMTP server {where} failed: {ex.reason or ex}") from None
    except OSError as ex:
        raise MailError(f"cannot reach the SMTP server {where}: {ex.strerror or ex}") from None
    if refused:
        raise MailError(
            f"the report went out, but the SMTP server {where} refused {', '.join(sorted(refused))}"
        )
    log.info("report email sent to %d recipient(s) through %s", len(recipients), where)


def _deliver(
    message: EmailMessage,
    smtp: SmtpSection,
    recipients: list[str],
    password: str | None,
    context: ssl.SSLContext | None,
) -> dict[str, tuple[int, bytes]]:
    timeout = smtp.timeout.total_seconds()
    client = (
        smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout, context=context)
        if smtp.security == "ssl"
        else smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
    )
    with client:
        if smtp.security == "starttls":
            client.starttls(context=context)
        if smtp.username and password is not None:
            client.login(smtp.username, password)
        return client.send_message(message, from_addr=smtp.from_address, to_addrs=recipients)


def tls_context(smtp: SmtpSection) -> ssl.SSLContext:
    """Certificate and host-name checks always on; `ca_file` replaces the system's CAs rather than adding to
    them, so a server on a private CA is trusted through that CA alone."""
    try:
        return ssl.create_default_context(cafile=smtp.ca_file)
    except OSError as ex:  # ssl.SSLError included: a file without a certificate in it
        reason = ex.strerror or getattr(ex, "reason", None) or str(ex)
        raise MailError(
            f"report.smtp.ca_file {smtp.ca_file}: cannot load CA certificates: {reason}"
        ) from None


def _trust_hint(smtp: SmtpSection) -> str:
    if smtp.ca_file:
        return f"is it signed by a CA in report.smtp.ca_file {smtp.ca_file}, and is it for {smtp.host}?"
    return f"is it for {smtp.host}? A server on a private CA needs report.smtp.ca_file"


def _said(code: int, text: bytes | str, password: str | None) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return _scrub(f"{code} {words}", password)


def _scrub(text: str, password: str | None) -> str:
    """A server may echo what it was sent; the password must not reach a terminal or a log that way."""
    return text.replace(password, "***") if password else text
