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
)
# Record attributes every LogRecord has; anything else was passed with `extra=` and goes into the JSON.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class SecretRedactor(logging.Filter):
    """Rewrites each record's message (and exception text) with every secret replaced."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            known = set(self._secrets) | {value for value in secrets if len(value) >= MIN_SECRET_CHARS}
            self._secrets = tuple(sorted(known, key=len, reverse=True))  # longest first: no partial leftovers

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
