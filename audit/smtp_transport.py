"""The SMTP connection both senders share: the report email (`report.smtp`, audit/mailer.py) and the
email-channel inquiries (`mailbox.smtp`, audit/outbound.py).

One `SmtpSection` says how to connect: STARTTLS, implicit TLS (`ssl`) or plain (`none`); certificate and
host-name checks always on, with `ca_file` replacing the system's CAs; a login when `username` is set, with
the password read from the variable `password_env` names. Every failure is one `SmtpFailure` line naming the
setting it concerns (`setting` is the key prefix, "report.smtp" or "mailbox.smtp"), and the password is
scrubbed from anything a server says back.

    MailError (audit/errors.py)
      + SmtpFailure     one line for the user, plus the `stage` it failed at, the server's `code` when it
                        answered, and `temporary`: a 4xx reply or a connection that failed or broke (trying
                        again later may work), as against a 5xx, a refused certificate or a setting to fix
"""

from __future__ import annotations

import smtplib
import ssl
from enum import StrEnum

from audit.config import SmtpSection
from audit.errors import MailError
from audit.settings import read_secret


class SmtpStage(StrEnum):
    """Where an SMTP exchange failed, in the order the steps happen."""

    SETUP = "setup"  # before connecting: a setting that cannot be used
    CONNECT = "connect"
    TLS = "tls"
    LOGIN = "login"
    SEND = "send"  # smtplib's send_message, all of MAIL, RCPT and DATA at once (the report)
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"


class SmtpFailure(MailError):
    def __init__(self, message: str, *, stage: SmtpStage, temporary: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.stage = stage
        self.temporary = temporary
        self.code = code


def is_temporary_code(code: int) -> bool:
    """RFC 5321's transient negative completion replies are 4xx; 5xx are permanent."""
    return 400 <= code < 500


def where(smtp: SmtpSection) -> str:
    return f"{smtp.host}:{smtp.port}"


def password_for(smtp: SmtpSection, *, setting: str = "report.smtp") -> str | None:
    """The login password from the environment, or None when no login is configured."""
    if not smtp.username:
        return None
    if not smtp.password_env:
        raise SmtpFailure(
            f"{setting}.username is set but {setting}.password_env does not name a variable",
            stage=SmtpStage.SETUP,
            temporary=False,
        )
    secret = read_secret(smtp.password_env)
    if secret is None:
        raise SmtpFailure(
            f"{setting}.password_env names ${smtp.password_env}, which is not set",
            stage=SmtpStage.SETUP,
            temporary=False,
        )
    return secret.get_secret_value()


def tls_context(smtp: SmtpSection, *, setting: str = "report.smtp") -> ssl.SSLContext:
    """Certificate and host-name checks always on; `ca_file` replaces the system's CAs rather than adding to
    them, so a server on a private CA is trusted through that CA alone."""
    try:
        return ssl.create_default_context(cafile=smtp.ca_file)
    except OSError as ex:  # ssl.SSLError included: a file without a certificate in it
        reason = ex.strerror or getattr(ex, "reason", None) or str(ex)
        raise SmtpFailure(
            f"{setting}.ca_file {smtp.ca_file}: cannot load CA certificates: {reason}",
            stage=SmtpStage.SETUP,
            temporary=False,
        ) from None


def open_session(smtp: SmtpSection, *, password: str | None, setting: str = "report.smtp") -> smtplib.SMTP:
    """A connected client, encrypted per `security` and logged in when `username` is set; the caller closes
    it. Raises SmtpFailure (never a bare smtplib, ssl or OS error), having closed the socket."""
    context = None if smtp.security == "none" else tls_context(smtp, setting=setting)
    timeout = smtp.timeout.total_seconds()
    stage = SmtpStage.CONNECT
    try:
        client = (
            smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout, context=context)
            if smtp.security == "ssl"
            else smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
        )
        try:
            if smtp.security == "starttls":
                stage = SmtpStage.TLS
                client.starttls(context=context)
            if smtp.username and password is not None:
                stage = SmtpStage.LOGIN
                client.login(smtp.username, password)
        except BaseException:
            client.close()
            raise
    except OSError as ex:  # smtplib's and ssl's errors are OSErrors too
        raise failure(ex, smtp, stage=stage, password=password, setting=setting) from None
    return client


def close_quietly(client: smtplib.SMTP) -> None:
    """QUIT if the server still listens, then close: what happened before is already decided."""
    try:
        client.quit()
    except OSError:
        pass
    finally:
        client.close()


def failure(
    ex: OSError,
    smtp: SmtpSection,
    *,
    stage: SmtpStage,
    password: str | None,
    setting: str = "report.smtp",
    sender: str | None = None,
) -> SmtpFailure:
    """One line for an smtplib, ssl or OS error at `stage`, with whether trying again later may help."""
    at = where(smtp)
    if isinstance(ex, smtplib.SMTPAuthenticationError):
        return SmtpFailure(
            f"the SMTP server {at} refused the login for {smtp.username} "
            f"(check ${smtp.password_env}): {server_said(ex.smtp_code, ex.smtp_error, password)}",
            stage=SmtpStage.LOGIN,
            temporary=is_temporary_code(ex.smtp_code),
            code=ex.smtp_code,
        )
    if isinstance(ex, smtplib.SMTPNotSupportedError):
        if stage is SmtpStage.LOGIN:
            message = (
                f"the SMTP server {at} does not offer AUTH; remove {setting}.username or use another server"
            )
        else:
            message = f"the SMTP server {at} does not offer STARTTLS; set {setting}.security to ssl or none"
        return SmtpFailure(message, stage=stage, temporary=False)
    if isinstance(ex, smtplib.SMTPRecipientsRefused):
        return SmtpFailure(
            f"the SMTP server {at} refused every recipient: {', '.join(ex.recipients)}",
            stage=SmtpStage.RCPT if stage is SmtpStage.SEND else stage,
            temporary=all(is_temporary_code(code) for code, _ in ex.recipients.values()),
        )
    if isinstance(ex, smtplib.SMTPSenderRefused):
        return SmtpFailure(
            f"the SMTP server {at} refused the sender {sender or smtp.from_address}: "
            f"{server_said(ex.smtp_code, ex.smtp_error, password)}",
            stage=SmtpStage.MAIL if stage is SmtpStage.SEND else stage,
            temporary=is_temporary_code(ex.smtp_code),
            code=ex.smtp_code,
        )
    if isinstance(ex, smtplib.SMTPResponseException):
        return SmtpFailure(
            f"the SMTP server {at} failed: {server_said(ex.smtp_code, ex.smtp_error, password)}",
            stage=stage,
            temporary=is_temporary_code(ex.smtp_code),
            code=ex.smtp_code,
        )
    if isinstance(ex, smtplib.SMTPException):  # disconnected, or a reply smtplib could not read
        return SmtpFailure(
            f"sending through {at} failed: {scrub(str(ex), password)}", stage=stage, temporary=True
        )
    if isinstance(ex, ssl.SSLCertVerificationError):
        return SmtpFailure(
            f"the SMTP server {at} sent a certificate that does not verify: {ex.verify_message} "
            f"({_trust_hint(smtp, setting)})",
            stage=SmtpStage.TLS,
            temporary=False,
        )
    if isinstance(ex, ssl.SSLError):
        return SmtpFailure(
            f"TLS with the SMTP server {at} failed: {ex.reason or ex}", stage=SmtpStage.TLS, temporary=False
        )
    return SmtpFailure(
        f"cannot reach the SMTP server {at}: {ex.strerror or ex}"
        if stage is SmtpStage.CONNECT
        else f"the connection to the SMTP server {at} failed: {ex.strerror or ex}",
        stage=stage,
        temporary=True,
    )


def _trust_hint(smtp: SmtpSection, setting: str) -> str:
    if smtp.ca_file:
        return f"is it signed by a CA in {setting}.ca_file {smtp.ca_file}, and is it for {smtp.host}?"
    return f"is it for {smtp.host}? A server on a private CA needs {setting}.ca_file"


def server_said(code: int, text: bytes | str, password: str | None) -> str:
    """A server's reply as one line, with the password scrubbed out of it."""
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return scrub(" ".join(f"{code} {words}".split()), password)


def scrub(text: str, password: str | None) -> str:
    """A server may echo what it was sent; the password must not reach a terminal or a log that way."""
    return text.replace(password, "***") if password else text
