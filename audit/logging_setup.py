"""Logging for `audit serve`: plain text or one JSON object a line, and no secret in any line.

Secrets are kept out at the handler, so every logger (ours, uvicorn's access log, APScheduler, SQLAlchemy)
goes through the same filter: the values of the secrets the config names (IMAP password, webhook secrets,
SMTP password) and the web UI's, `Authorization:` headers, `password=`-style pairs and the password part of
URLs (`postgresql://user:secret@host`) become `[redacted]`. A value known to be secret is replaced wherever it
appears, even inside an exception's message or a traceback.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
REDACTED = "[redacted]"
MIN_SECRET_CHARS = 4  # shorter values would redact ordinary words
_PATTERNS = (
    # Authorization: Basic xxx / Bearer xxx (header lines, or reprs of header lists)
    re.compile(
        r"(?i)(authorization['\"]?\s*[:=,]\s*\(?['\"]?(?:b['\"])?)(?:basic|bearer|digest)?\s*[^\s'\",)]+"
    ),
    # password=..., "password": "...", passwd, secret, token, api_key ...
    re.compile(
        r"(?i)((?:password|passwd|pwd|secret|token|api[_-]?key|signing[_-]?key)['\"]?\s*[:=]\s*['\"]?)"
        r"[^\s'\",&;}]+"
    ),
    # scheme://user:password@host
    re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s/]+(@)", re.IGNORECASE),
    # An IMAP LOGIN command echoed back by a server (`a001 LOGIN dana "secret"`): as imaplib sends it, in
    # capitals, so "login refused" in our own words is left alone, and not imaplib's own "LOGIN command
    # error:". What follows a quoted password up to the next space goes too: inside a bytes repr its
    # escaped quotes are doubled backslashes, and the quoted string seems to end early.
    re.compile(r'(\bLOGIN\s+(?!command error)(?:"(?:[^"\\]|\\.)*"|\S+)\s+)(?:"(?:[^"\\]|\\.)*"\S*|\S+)'),
)
# Record attributes every LogRecord has; anything else was passed with `extra=` and goes into the JSON.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def printed_forms(secret: str) -> set[str]:
    """A secret as it may appear in a message: as is; quoted as imaplib sends it in LOGIN (what a server
    that echoes the command shows); and each of those inside a `bytes` repr, as imaplib's errors quote
    the server's words (backslashes doubled, a `'` escaped or not, by the quotes around it)."""
    quoted = secret.replace("\\", "\\\\").replace('"', '\\"')
    forms = {secret, quoted}
    for form in (secret, quoted):
        shown = repr(form.encode("utf-8"))[2:-1]
        forms |= {shown, shown.replace("\\'", "'"), shown.replace("'", "\\'")}
    return forms


class SecretRedactor(logging.Filter):
    """Rewrites each record's message (and exception text) with every secret replaced."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        forms = {form for value in secrets if len(value) >= MIN_SECRET_CHARS for form in printed_forms(value)}
        with self._lock:
            known = set(self._secrets) | forms
            self._secrets = tuple(sorted(known, key=len, reverse=True))  # longest first: no partial leftovers

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(
                lambda match: match.group(1) + REDACTED + (match.group(2) if match.lastindex == 2 else ""),
                text,
            )
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log what there is rather than lose the line
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = self.redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


# Every secret this process has read (audit.settings.read_secret tells us each one), for what is printed
# outside logging: the CLI's error lines (audit/cli/__init__.py).
_PROCESS_SECRETS = SecretRedactor()


def remember_secret(value: str) -> None:
    """A secret this process now holds: `redact` replaces it from here on."""
    _PROCESS_SECRETS.add([value])


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """`text` without any secret this process has read, nor `extra`, nor password-like pairs and URLs."""
    redactor = _PROCESS_SECRETS
    extra = [value for value in extra if value]
    if extra:
        redactor = SecretRedactor([*redactor.secrets, *extra])
    return redactor.redact(text)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = (
                    value if isinstance(value, str | int | float | bool | type(None)) else repr(value)
                )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

# Loud at INFO about every run of every job (each second in tests), and flufl.bounce about each of its ~20
# detectors for every message classified: their warnings and errors still show.
_QUIET = {
    "apscheduler.executors": logging.WARNING,
    "apscheduler.scheduler": logging.WARNING,
    "flufl.bounce": logging.WARNING,
}


def configure_logging(
    log_format: LogFormat = "text", *, secrets: Iterable[str] = (), level: int = logging.INFO
) -> SecretRedactor:
    """Route every logger to stderr through the redactor, as text or JSON lines; returns the redactor (to
    add secrets learnt later)."""
    redactor = SecretRedactor(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(redactor)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(quiet)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()  # uvicorn's own handlers would bypass the redactor
        logger.propagate = True
        logger.setLevel(logging.NOTSET)  # a level left by an earlier uvicorn config would drop access lines
        logger.disabled = False
    return redactor
