"""Turning what a provider posted into the RFC 5322 bytes we store.

Raw MIME is kept byte for byte; we only prepend `X-Original-To:` lines carrying the envelope recipients
(docs/collection.md, "Webhooks"), the one record of the true recipient that survives Bcc. When a provider sent
parsed parts instead of raw MIME (Postmark without `RawEmail`, a Mailgun route not ending in `mime`, SendGrid
without "POST the raw, full MIME message"), `rebuild_message` makes a minimal message from them, marked with
`X-Audit-Rebuilt:` so nobody mistakes it for the original bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.parser import HeaderParser
from email.utils import formataddr, getaddresses

MAX_ADDRESS_CHARS = 320
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FOLD = re.compile(r"\r?\n[ \t]*")
_HEADER_NAME_JUNK = re.compile(r"[^\x21-\x39\x3b-\x7e]")  # printable ASCII except ":"
_ZONE_WITH_COLON = re.compile(r"([+-]\d\d):(\d\d)\s*$")  # Postmark writes "-04:00", RFC 5322 wants "-0400"
# The body is built here; these would describe the original's structure, which we no longer have.
_STRUCTURAL = frozenset({"content-type", "content-transfer-encoding", "mime-version", "content-disposition"})
_LEAF_TYPES = frozenset({"application", "audio", "font", "image", "model", "text", "video"})
_TOKEN = re.compile(r"[a-z0-9!#$&^_.+-]{1,100}")
_ADDRESS_HEADERS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender", "resent-from", "resent-to"})


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str | None
    content_type: str | None
    data: bytes


def clean_recipients(values: Iterable[str]) -> tuple[str, ...]:
    """Envelope addresses fit for a header: no control characters (no header injection), no duplicates."""
    seen: dict[str, None] = {}
    for _name, address in getaddresses([_CONTROL.sub(" ", value) for value in values]):
        if address and len(address) <= MAX_ADDRESS_CHARS and not any(c.isspace() for c in address):
            seen.setdefault(address, None)
    return tuple(seen)


def with_envelope(raw: bytes, recipients: Sequence[str]) -> bytes:
    """Prepend one `X-Original-To:` per envelope recipient, in the message's own line ending."""
    if not recipients:
        return raw
    end = raw.find(b"\n")
    newline = b"\n" if end >= 0 and not raw[:end].endswith(b"\r") else b"\r\n"
    lines = b"".join(b"X-Original-To: " + address.encode("utf-8") + newline for address in recipients)
    return lines + raw


def fix_date(value: str) -> str:
    return _ZONE_WITH_COLON.sub(r"\1\2", value.strip())


def header_line(name: str, value: str) -> bytes:
    """One header field, unfolded and sanitised; non-ASCII values as RFC 2047 encoded words."""
    name = _HEADER_NAME_JUNK.sub("", name)
    value = _CONTROL.sub("", _FOLD.sub(" ", value)).strip()
    if not name:
        return b""
    if value.isascii():
        return f"{name}: {value}\r\n".encode("ascii")
    value = value.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from JSON
    if name.lower() in _ADDRESS_HEADERS:
        try:
            value = ", ".join(formataddr(pair, charset="utf-8") for pair in getaddresses([value]))
        except UnicodeEncodeError:  # an internationalised address: encode the whole field instead
            value = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    else:
        value = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {value}\r\n".encode("ascii", "replace")


def header_block(text: str) -> list[tuple[str, str]]:
    """A raw header block (SendGrid's `headers` field) as (name, value) pairs; `header_line` unfolds them."""
    parsed = HeaderParser(policy=policy.compat32).parsestr(text.strip("\r\n") + "\r\n\r\n")
    return [(name, str(value)) for name, value in parsed.items()]


def rebuild_message(
    headers: Sequence[tuple[str, str]],
    *,
    text: str | None,
    html: str | None,
    attachments: Sequence[Attachment] = (),
    rebuilt_from: str,
) -> bytes:
    """A minimal RFC 5322 message from a provider's parsed parts: its headers, text and HTML, attachments."""
    body = EmailMessage(policy=policy.SMTP)
    text = None if text is None else text.encode("utf-8", "replace").decode("utf-8")
    html = None if html is None else html.encode("utf-8", "replace").decode("utf-8")
    if text is not None:
        body.set_content(text)
        if html is not None:
            body.add_alternative(html, subtype="html")
    elif html is not None:
        body.set_content(html, subtype="html")
    else:
        body.set_content("")
    for attachment in attachments:
        media_type = (attachment.content_type or "").partition(";")[0].strip().lower()
        maintype, _, subtype = media_type.partition("/")
        if maintype not in _LEAF_TYPES or not _TOKEN.fullmatch(subtype):
            maintype, subtype = "application", "octet-stream"
        filename = _CONTROL.sub("", attachment.filename or "").strip() or "attachment"
        body.add_attachment(attachment.data, maintype, subtype, filename=filename)
    lines = [f"X-Audit-Rebuilt: {rebuilt_from}\r\n".encode("ascii")]
    for name, value in headers:
        if name.strip().lower() not in _STRUCTURAL:
            lines.append(header_line(name, fix_date(value) if name.strip().lower() == "date" else value))
    return b"".join(lines) + body.as_bytes()
