"""Sending the report by email: plain text first, then the HTML with its CSS inlined, over SMTP.

The connection (STARTTLS, SSL or plain per `report.smtp.security`, the login with the password from the
variable `password_env` names) is audit/smtp_transport.py's, shared with the email-channel inquiries. Every
failure is one MailError line for the user; the password never appears in a message or a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from audit.config import SmtpSection
from audit.errors import MailError
from audit.reporting.render import render_html, render_text
from audit.reporting.types import ReportData
from audit.smtp_transport import (
    SmtpStage,
    close_quietly,
    failure,
    open_session,
    password_for,
    where,
)

log = logging.getLogger("audit.mailer")

SETTING = "report.smtp"
"""The key prefix the error lines name."""


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


def send_message(message: EmailMessage, smtp: SmtpSection, recipients: Sequence[str]) -> None:
    password = password_for(smtp, setting=SETTING)
    try:
        client = open_session(smtp, password=password, setting=SETTING)
        try:
            refused = client.send_message(message, from_addr=smtp.from_address, to_addrs=list(recipients))
        finally:
            close_quietly(client)
    except OSError as ex:  # smtplib's and ssl's errors are OSErrors too; SmtpFailure passes as it is
        raise failure(
            ex, smtp, stage=SmtpStage.SEND, password=password, setting=SETTING, sender=smtp.from_address
        ) from None
    if refused:
        raise MailError(
            f"the report went out, but the SMTP server {where(smtp)} refused {', '.join(sorted(refused))}"
        )
    log.info("report email sent to %d recipient(s) through %s", len(recipients), where(smtp))
