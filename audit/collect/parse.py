"""Parsing one raw RFC 5322 message into the facts the collector stores. Never raises on bad input.

The MIME tree comes from the stdlib parser with the lenient compat32 policy, and every header is read by
our code from its raw value: encoded words and addresses go through `policy.default`'s header classes one at
a time, because in Python 3.11 those classes raise (IndexError, ValueError, AttributeError, TypeError) on some
malformed address headers and Message-IDs, and 8-bit bytes arrive as surrogate escapes. (Parsing the whole
tree with `policy.default` would also cost ten times as long, for header objects we would not use.)
Whatever cannot be read becomes a short string in `defects` and sets `malformed`; the one catch-all is
`_guarded`, so a broken part costs that part, not the message, and never the collector.
"""

from __future__ import annotations

import codecs
import email
import email.errors
import email.header
import email.parser
import email.policy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from functools import cache
from types import MappingProxyType
from typing import Any, TypeVar

import nh3
from inscriptis import get_text  # type: ignore[import-untyped]

from audit.collect.quotes import reply_part


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    message_id: str | None  # normalised: stripped of <> and whitespace, lower-cased
    subject: str | None  # decoded (RFC 2047)
    from_address: str | None  # lower-cased addr-spec
    from_domain: str | None
    reply_to: str | None
    return_path: str | None  # "" for the null path "<>"
    envelope_recipients: tuple[
        str, ...
    ]  # Delivered-To, X-Original-To, Envelope-To, X-Envelope-To, X-Delivered-To
    header_recipients: tuple[str, ...]  # To, then Cc
    date_header: datetime | None  # UTC-aware
    date_zone_missing: bool  # the Date had no zone or "-0000": treated as UTC but suspicious
    top_received_at: datetime | None  # time after the last ";" of the topmost Received header, UTC-aware
    headers: Mapping[str, tuple[str, ...]]  # lower-cased name -> decoded values, in order
    content_type: str  # of the whole message, e.g. "multipart/report"
    report_type: str | None  # the report-type parameter of a multipart/report
    text: str  # plain text: text/plain part, else the HTML part through inscriptis
    reply_text: str  # text without quoted history and signature (English and Hebrew markers)
    html_sanitized: str | None  # nh3-cleaned HTML, no scripts, no remote images
    malformed: bool = False
    defects: tuple[str, ...] = field(default_factory=tuple)


ENVELOPE_HEADERS = ("delivered-to", "x-original-to", "envelope-to", "x-envelope-to", "x-delivered-to")

# Labels seen in real mail that Python does not know, or knows only as a subset of what senders mean
# (the WHATWG encoding standard reads ISO-8859-1 as windows-1252, GB2312 as GB18030, and so on).
_CHARSET_ALIASES = {
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-8-e": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "unicode-1-1-utf-7": "utf-7",
    "x-mac-roman": "mac_roman",
}
# Python text codecs that are no mail charset and would interpret the text ("\\N{...}" escapes and such).
_NOT_CHARSETS = frozenset({"unicode-escape", "raw-unicode-escape", "undefined", "idna", "punycode"})
_MAX_TEXT = 2_000_000  # characters of body text kept; the raw bytes are stored whole anyway

_SURROGATES = re.compile("[\ud800-\udfff]+")
_ESCAPED_BYTES = re.compile("[\udc80-\udcff]+")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_ADDR_SPEC = re.compile(r"[^\s<>()\[\],;:\"@]+@[^\s<>()\[\],;:\"@]+")
_ANGLE = re.compile(r"<([^<>]*)>")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

T = TypeVar("T")


def parse_message(raw: bytes) -> ParsedMessage:
    defects: list[str] = []
    parsed = _guarded(defects, "parser failure", lambda: _parse(bytes(raw), defects))
    if parsed is not None:
        return parsed
    return ParsedMessage(
        message_id=None, subject=None, from_address=None, from_domain=None, reply_to=None,
        return_path=None, envelope_recipients=(), header_recipients=(), date_header=None,
        date_zone_missing=False, top_received_at=None, headers=MappingProxyType({}),
        content_type="text/plain", report_type=None, text="", reply_text="", html_sanitized=None,
        malformed=True, defects=_finish_defects(defects),
    )  # fmt: skip


def _guarded(defects: list[str], what: str, attempt: Callable[[], T]) -> T | None:
    """The module's only catch-all: parse_message promises to return whatever the input bytes are."""
    try:
        return attempt()
    except Exception as ex:
        defects.append(f"{what}: {type(ex).__name__}: {str(ex)[:120]}")
        return None


def _parse(raw: bytes, defects: list[str]) -> ParsedMessage:
    msg = _read_mime(raw, defects)
    parts = list(_walk(msg))
    plains, htmls, hint = _body_parts(parts)
    headers = _HeaderReader(msg, hint, defects)

    html_source = _CONTROL.sub("", "\n".join(_part_text(part, defects) for part in htmls)) if htmls else None
    text = "\n\n".join(_part_text(part, defects) for part in plains)
    for part, _inside in parts:  # after decoding, which records bad base64 and the like on the part
        for defect in getattr(part, "defects", ()):
            defects.append(_CAMEL.sub(" ", type(defect).__name__.removesuffix("Defect")).lower())
    if not text.strip() and html_source:
        text = _guarded(defects, "HTML to text failed", lambda: _html_to_text(html_source)) or ""
    html_sanitized = None
    if html_source is not None:
        html_sanitized = _guarded(
            defects, "HTML sanitizing failed", lambda: _cleaner().clean(html_source).strip()
        )
    reply_text = _guarded(defects, "reply extraction failed", lambda: reply_part(text)) or ""

    from_address = headers.first_address("from")
    if headers.first("from") is None:
        defects.append("missing From header")
    elif from_address is None:
        defects.append(f"unreadable From header: {headers.first('from')!s:.60}")
    date_header, zone_missing = headers.date(defects)
    content_type, report_type = _content_type(msg)
    return ParsedMessage(
        message_id=_message_id(headers.first("message-id")),
        subject=headers.first("subject"),
        from_address=from_address,
        from_domain=_domain(from_address),
        reply_to=headers.first_address("reply-to"),
        return_path=_return_path(headers.first_raw("return-path")),
        envelope_recipients=headers.addresses(ENVELOPE_HEADERS),
        header_recipients=headers.addresses(("to", "cc")),
        date_header=date_header,
        date_zone_missing=zone_missing,
        top_received_at=_received_time(headers.first_raw("received")),
        headers=MappingProxyType(headers.decoded),
        content_type=content_type,
        report_type=report_type,
        text=text,
        reply_text=_clean(reply_text),
        html_sanitized=_clean(html_sanitized) if html_sanitized is not None else None,
        malformed=bool(defects),
        defects=_finish_defects(defects),
    )


def _read_mime(raw: bytes, defects: list[str]) -> Message:
    parser = email.parser.BytesParser(policy=email.policy.compat32)
    parsed = _guarded(defects, "MIME unreadable", lambda: parser.parsebytes(raw))
    if parsed is None:  # e.g. nesting deep enough to exhaust the recursive parser: keep the headers at least
        parsed = _guarded(defects, "headers unreadable", lambda: parser.parsebytes(raw, headersonly=True))
    return parsed if parsed is not None else Message(policy=email.policy.compat32)


def _finish_defects(defects: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_clean(defect) for defect in defects))


def _clean(value: str) -> str:
    """No NUL (PostgreSQL text refuses it) and no lone surrogates (UTF-8 encoders refuse them)."""
    value = value.replace("\x00", "")
    if _SURROGATES.search(value):
        value = _SURROGATES.sub("\ufffd", _decode_escaped(value, None))
    return value


# --- MIME structure and bodies ---------------------------------------------------------------------------


def _walk(msg: Message) -> Iterator[tuple[Message, bool]]:
    """Every part depth-first, without recursion; the flag says it sits inside an attached message."""
    stack: list[tuple[Message, bool]] = [(msg, False)]
    while stack:
        part, inside = stack.pop()
        yield part, inside
        if part.is_multipart():
            children = part.get_payload()
            if isinstance(children, list):
                nested = inside or (part is not msg and part.get_content_maintype() == "message")
                stack.extend((child, nested) for child in reversed(children) if isinstance(child, Message))


def _body_parts(parts: list[tuple[Message, bool]]) -> tuple[list[Message], list[Message], str | None]:
    """The message's own inline text/plain and text/html parts, and a charset hint for 8-bit headers."""
    plains: list[Message] = []
    htmls: list[Message] = []
    hint: str | None = None
    for part, inside in parts:
        if inside or part.is_multipart():
            continue
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html") or part.get_content_disposition() == "attachment":
            continue
        (plains if ctype == "text/plain" else htmls).append(part)
        charset = part.get_content_charset()
        if hint is None and charset and charset not in ("us-ascii", "ascii", "utf-8"):
            hint = charset
    return plains, htmls, hint


def _content_type(msg: Message) -> tuple[str, str | None]:
    ctype = msg.get_content_type()
    report_type = msg.get_param("report-type") if ctype == "multipart/report" else None
    if not isinstance(report_type, str):
        report_type = None
    return _clean(ctype), _clean(report_type.strip().lower()) if report_type else None


def _part_text(part: Message, defects: list[str]) -> str:
    payload = _guarded(defects, "undecodable part", lambda: part.get_payload(decode=True))
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogateescape")
    if not isinstance(payload, bytes):
        return ""
    text = _decode_body(payload, part.get_content_charset(), defects)[:_MAX_TEXT]
    return _clean(text.replace("\r\n", "\n").replace("\r", "\n"))


def _decode_body(data: bytes, declared: str | None, defects: list[str]) -> str:
    """Declared charset, then UTF-8, then windows-1252, then Latin-1 (which reads any bytes)."""
    trusted = _codecs(declared)
    for candidate in dict.fromkeys((*trusted, "utf-8", "cp1252")):
        try:
            text = data.decode(candidate)
        except (LookupError, UnicodeError, ValueError):
            continue
        if declared and candidate not in trusted:
            defects.append(f"text declared as {declared[:40]} read as {candidate}")
        elif not declared and candidate != "utf-8":
            defects.append(f"undeclared 8-bit text read as {candidate}")
        return text
    defects.append(f"text in no known charset (declared {(declared or 'none')[:40]}) read as latin-1")
    return data.decode("latin-1")


def _codecs(label: str | None) -> tuple[str, ...]:
    """Python codecs for a declared charset: its usual superset first (ISO-8859-1: windows-1252), then it."""
    if not label:
        return ()
    label = label.strip().strip("\"'").lower()
    found: list[str] = []
    for candidate in (_CHARSET_ALIASES.get(label, label), label):
        try:
            name = codecs.lookup(candidate).name
        except (LookupError, ValueError, TypeError):
            continue
        if name not in _NOT_CHARSETS:
            found.append(name)
    return tuple(dict.fromkeys(found))


def _decode_escaped(value: str, hint: str | None) -> str:
    """Surrogate-escaped raw bytes back to text: UTF-8 where it is, else the hint, else windows-1252."""
    data = value.encode("utf-8", "surrogateescape") if _ESCAPED_BYTES.search(value) else b""
    if not data:
        return value
    decoded = data.decode("utf-8", "surrogateescape")
    fallback = next(iter(_codecs(hint)), "cp1252")

    def run(match: re.Match[str]) -> str:
        chunk = match.group().encode("utf-8", "surrogateescape")
        try:
            return chunk.decode(fallback)
        except (LookupError, UnicodeError):
            return chunk.decode("latin-1")

    return _ESCAPED_BYTES.sub(run, decoded)


def _html_to_text(html: str) -> str:
    return _clean(str(get_text(html)))


@cache
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        clean_content_tags={"script", "style", "title"},
        url_schemes=nh3.ALLOWED_URL_SCHEMES | {"cid", "data"},
        attribute_filter=_keep_attribute,
    )


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    """Only inline images survive (cid:, data:image): a remote one is a tracking pixel telling on us."""
    lowered = value.strip().lower()
    if attribute in ("src", "srcset", "background", "poster", "lowsrc", "dynsrc"):
        return value if lowered.startswith(("cid:", "data:image/")) else None
    if attribute == "href" and lowered.startswith("data:"):
        return None
    return value


# --- headers ---------------------------------------------------------------------------------------------


class _HeaderReader:
    """Every header once, from its raw value: unfolded, 8-bit bytes decoded, RFC 2047 words decoded."""

    def __init__(self, msg: Message, hint: str | None, defects: list[str]) -> None:
        self.raw: dict[str, list[str]] = {}
        decoded: dict[str, list[str]] = {}
        for name, value in msg.raw_items():
            key = _clean(_decode_escaped(str(name), hint)).strip().lower()
            unfolded = _FOLD.sub("", str(value)).replace("\r", " ").replace("\n", " ")
            if _ESCAPED_BYTES.search(unfolded):
                try:
                    unfolded.encode("utf-8", "surrogateescape").decode("utf-8")
                except UnicodeError:
                    defects.append(f"8-bit bytes in {key} header are not UTF-8")
                unfolded = _decode_escaped(unfolded, hint)
            unfolded = _clean(unfolded)
            self.raw.setdefault(key, []).append(unfolded)
            decoded.setdefault(key, []).append(_clean(_decode_words(unfolded)).strip())
        self.decoded = {key: tuple(values) for key, values in decoded.items()}

    def first(self, name: str) -> str | None:
        values = self.decoded.get(name)
        return values[0] if values else None

    def first_raw(self, name: str) -> str | None:
        values = self.raw.get(name)
        return values[0] if values else None

    def first_address(self, name: str) -> str | None:
        found = [address for value in self.raw.get(name, ()) for address in _addresses(value)]
        with_domain = [address for address in found if "@" in address]
        best = with_domain or found
        return best[0] if best else None

    def addresses(self, names: tuple[str, ...]) -> tuple[str, ...]:
        found = [
            address for name in names for value in self.raw.get(name, ()) for address in _addresses(value)
        ]
        return tuple(dict.fromkeys(address for address in found if "@" in address))

    def date(self, defects: list[str]) -> tuple[datetime | None, bool]:
        value = self.first_raw("date")
        if value is None:
            defects.append("missing Date header")
            return None, False
        parsed, zone_missing = _parse_date(value)
        if parsed is None:
            defects.append(f"unparseable Date header: {value[:60]}")
        return parsed, zone_missing


def _decode_words(value: str) -> str:
    if "=?" not in value:
        return value
    try:
        return str(email.policy.default.header_factory("x-decode", value))  # unstructured: no address parser
    except (ValueError, IndexError, AttributeError, TypeError, LookupError, email.errors.HeaderParseError):
        pass
    try:
        pieces = email.header.decode_header(value)
    except (ValueError, IndexError, AttributeError, TypeError, LookupError, email.errors.HeaderParseError):
        return value
    out: list[str] = []
    for chunk, charset in pieces:
        if isinstance(chunk, bytes):
            out.append(_decode_body(chunk, charset, []))
        else:
            out.append(chunk)
    return "".join(out)


def _addresses(value: str) -> list[str]:
    found: list[str] = []
    try:
        header: Any = email.policy.default.header_factory("to", value)
        found = [str(address.addr_spec) for address in header.addresses]
    except (ValueError, IndexError, AttributeError, TypeError, LookupError, email.errors.HeaderParseError):
        pass
    if not any("@" in address for address in found):
        found = [address for _name, address in getaddresses([value])] or found
    if not any("@" in address for address in found):
        found = _ADDR_SPEC.findall(value) or found
    return [_clean(address.strip().strip("<>").lower()) for address in found if address.strip().strip("<>")]


def _domain(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return address.rsplit("@", 1)[1].strip().rstrip(".") or None


def _message_id(value: str | None) -> str | None:
    if value is None:
        return None
    match = _ANGLE.search(value)
    normalised = re.sub(r"\s+", "", match.group(1) if match else value).strip("<>").lower()
    return normalised or None


def _return_path(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = value.strip()
    match = _ANGLE.search(stripped)
    inner = (match.group(1) if match else stripped).strip()
    return inner.lower()


def _parse_date(value: str) -> tuple[datetime | None, bool]:
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (ValueError, TypeError, IndexError, OverflowError):
        return None, False
    if parsed.tzinfo is None:  # no zone, or "-0000": Python 3.11 gives a naive datetime
        return parsed.replace(tzinfo=UTC), True
    try:
        return parsed.astimezone(UTC), False
    except (OverflowError, ValueError):
        return None, False


def _received_time(value: str | None) -> datetime | None:
    if not value or ";" not in value:
        return None
    return _parse_date(value.rsplit(";", 1)[1])[0]
