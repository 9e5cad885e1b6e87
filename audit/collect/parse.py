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

# --- limits (issue 11): mail is untrusted input, so every step that could grow with it is bounded. A message
# over a limit is still stored raw and whole (store.ingest_raw keeps the bytes before parsing); its parse
# reads what fits, says what it cut in `defects`, and is classified from that.
MAX_PARSED_BYTES = 5 * 1024 * 1024
"""Bytes of a message given to the MIME parser, which takes about ten times its input in memory. Text and
delivery reports come first in real mail; what lies past this is attachments, never decoded anyway."""
MAX_HEADER_BYTES = 256 * 1024
"""The header section read (the rest of it is skipped, the body still read)."""
MAX_HEADERS = 1_000
"""Header fields read (a long-travelled message has some 50)."""
MAX_HEADER_CHARS = 64 * 1024
"""One header's value (a To of a thousand recipients fits)."""
MAX_ADDRESS_CHARS = 16 * 1024
"""Of one address header given to the address parsers, which slow down on long lists."""
MAX_ENCODED_WORDS = 100
"""RFC 2047 encoded words decoded in one header: the stdlib decoders take time and memory that grow faster
than the header (a Subject of 20,000 took 10 s and 5.9 GB); a real long Subject has a dozen."""
MAX_MIME_PARTS = 1_000
"""MIME parts read (counted by boundary lines before parsing)."""
MAX_MIME_DEPTH = 32
"""Nesting of multiparts and attached messages read (a forward of a forward of a bounce is 6 deep)."""
MAX_TEXT_CHARS = 2_000_000
"""Characters of body text kept (all text parts together)."""
MAX_HTML_CHARS = 1_000_000
"""Characters of HTML given to the sanitiser and to HTML-to-text."""
MAX_HTML_TO_TEXT_CHARS = 300_000
"""Of those, the characters inscriptis turns into text when there is no text/plain part: it is pure Python
and lays out tables cell by cell (a 20,000-row table took seconds); a reply is rarely a tenth of this."""
MAX_HTML_DEPTH = 100
"""Element nesting given to the sanitiser: html5ever's tree building (nh3) costs the depth for every tag
(1 MB of nested <div>s took over 100 s) and lxml (under inscriptis) reads nothing past 255 levels."""
MAX_HTML_FORMATTING = 8
"""Formatting elements (<b>, <font>, <a>...) open at once, or left open: HTML re-opens every one of them in
each new block, so 20,000 of them took 44 s in nh3 (and each kept one is copied into every later block)."""
_MAX_TEXT = MAX_TEXT_CHARS  # per part, before the total cut

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
    msg = bounded_mime(raw, defects)
    parts = list(_walk(msg, defects))
    plains, htmls, hint = _body_parts(parts)
    headers = _HeaderReader(msg, hint, defects)

    html_source = None
    if htmls:
        html_source = _bounded_html(
            _CONTROL.sub("", "\n".join(_part_text(part, defects) for part in htmls)), defects
        )
    text = "\n\n".join(_part_text(part, defects) for part in plains)
    if len(text) > MAX_TEXT_CHARS:
        defects.append(f"limit: body text of {len(text):,} characters cut to {MAX_TEXT_CHARS:,}")
        text = text[:MAX_TEXT_CHARS]
    for part, _inside in parts:  # after decoding, which records bad base64 and the like on the part
        for defect in getattr(part, "defects", ()):
            defects.append(_CAMEL.sub(" ", type(defect).__name__.removesuffix("Defect")).lower())
    html_sanitized = None
    if html_source is not None:
        html_sanitized = _guarded(
            defects, "HTML sanitizing failed", lambda: _cleaner().clean(html_source).strip()
        )
        if html_sanitized is not None and len(html_sanitized) > MAX_HTML_CHARS:  # re-opened elements add up
            cut = html_sanitized.rfind("<", 0, MAX_HTML_CHARS)
            defects.append(f"limit: sanitised HTML of {len(html_sanitized):,} characters; kept the first")
            html_sanitized = html_sanitized[: cut if cut > 0 else MAX_HTML_CHARS]
    # The text of an HTML-only reply is read from the sanitised HTML, parsed as a browser parses it
    # (html5ever, inside nh3): the raw markup read by lxml's parser loses everything after an unclosed
    # <style> inside <math> or <svg>, which a browser shows as text (no raw-text elements in foreign content).
    if not text.strip() and html_sanitized:
        source = html_sanitized
        if len(source) > MAX_HTML_TO_TEXT_CHARS:
            cut = source.rfind("<", 0, MAX_HTML_TO_TEXT_CHARS)
            source = source[: cut if cut > 0 else MAX_HTML_TO_TEXT_CHARS]
            defects.append(f"limit: HTML to text read the first {len(source):,} characters")
        text = _guarded(defects, "HTML to text failed", lambda: _html_to_text(source)) or ""
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


def bounded_mime(raw: bytes, defects: list[str]) -> Message:
    """The MIME tree of what fits the limits (MAX_PARSED_BYTES, MAX_HEADER_BYTES, MAX_HEADERS,
    MAX_MIME_PARTS, MAX_MIME_DEPTH); every cut is added to `defects`. Never raises.

    The bounce check (bounces.mime_tree) reads the same tree, so no parse of a message is unbounded.
    """
    data = _bounded_source(raw, defects)
    parser = email.parser.BytesParser(policy=email.policy.compat32)
    try:
        return parser.parsebytes(data)
    except RecursionError:  # the stdlib parser recurses once per nesting level
        cut = _nth_match(_BOUNDARY_PARAM, data, MAX_MIME_DEPTH)
        defects.append(f"limit: MIME nested too deep to parse; read up to nested part {MAX_MIME_DEPTH}")
        data = data[: data.rfind(b"\n", 0, cut) + 1] if cut is not None else data
    except Exception as ex:
        defects.append(f"MIME unreadable: {type(ex).__name__}: {str(ex)[:120]}")
    parsed = _guarded(defects, "MIME unreadable", lambda: parser.parsebytes(data))
    if parsed is None:  # keep the headers at least
        parsed = _guarded(defects, "headers unreadable", lambda: parser.parsebytes(data, headersonly=True))
    return parsed if parsed is not None else Message(policy=email.policy.compat32)


_BOUNDARY_PARAM = re.compile(rb"boundary\s*=", re.IGNORECASE)
_BOUNDARY_LINE = re.compile(rb"^--", re.MULTILINE)
_BLANK_LINE = re.compile(rb"\n\r?\n")


def _nth_match(pattern: re.Pattern[bytes], data: bytes, n: int) -> int | None:
    """Where the n-th (1-based) match of `pattern` starts, or None if there are fewer."""
    for count, match in enumerate(pattern.finditer(data), start=1):
        if count == n:
            return match.start()
    return None


def _bounded_source(raw: bytes, defects: list[str]) -> bytes:
    """The bytes the MIME parser may see: cut at MAX_PARSED_BYTES, the header section at MAX_HEADER_BYTES and
    MAX_HEADERS fields, the body before boundary line MAX_MIME_PARTS + 1. Cuts fall at line ends."""
    data = raw
    if len(data) > MAX_PARSED_BYTES:
        end = data.rfind(b"\n", 0, MAX_PARSED_BYTES) + 1 or MAX_PARSED_BYTES
        defects.append(f"limit: message of {len(raw):,} bytes; parsed the first {end:,}")
        data = data[:end]
    data = _bounded_header_section(data, defects)
    cut = _nth_match(_BOUNDARY_LINE, data, MAX_MIME_PARTS + 1)
    if cut is not None:
        defects.append(f"limit: more than {MAX_MIME_PARTS:,} MIME boundary lines; read the parts before")
        data = data[:cut]
    return data


def _bounded_header_section(data: bytes, defects: list[str]) -> bytes:
    """`data` with its header section cut to MAX_HEADERS fields and MAX_HEADER_BYTES; the body kept."""
    position = 0
    fields = 0
    while position < len(data):
        end = data.find(b"\n", position)
        end = len(data) if end < 0 else end + 1
        line = data[position:end]
        if line in (b"\n", b"\r\n"):  # the blank line: the header section is within the limits
            return data
        if line[:1] not in (b" ", b"\t"):
            fields += 1
            if fields > MAX_HEADERS:
                defects.append(
                    f"limit: more than {MAX_HEADERS:,} header fields; read the first {MAX_HEADERS:,}"
                )
                return data[:position] + _body_after(data, position)
        if end > MAX_HEADER_BYTES:
            defects.append(f"limit: header section over {MAX_HEADER_BYTES:,} bytes; read the first")
            return data[:MAX_HEADER_BYTES] + b"\r\n" + _body_after(data, position)
        position = end
    return data


def _body_after(data: bytes, position: int) -> bytes:
    """The blank line ending the header section that `position` is in, and the body after it."""
    blank = _BLANK_LINE.search(data, max(position - 1, 0))
    return data[blank.start() + 1 :] if blank is not None else b"\r\n"


def _finish_defects(defects: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_clean(defect) for defect in defects))


def _clean(value: str) -> str:
    """No NUL (PostgreSQL text refuses it) and no lone surrogates (UTF-8 encoders refuse them)."""
    value = value.replace("\x00", "")
    if _SURROGATES.search(value):
        value = _SURROGATES.sub("\ufffd", _decode_escaped(value, None))
    return value


# --- MIME structure and bodies ---------------------------------------------------------------------------


def _walk(msg: Message, defects: list[str]) -> Iterator[tuple[Message, bool]]:
    """Every part depth-first, without recursion, to MAX_MIME_DEPTH and MAX_MIME_PARTS; the flag says it sits
    inside an attached message."""
    stack: list[tuple[Message, bool, int]] = [(msg, False, 0)]
    count = 0
    while stack:
        part, inside, depth = stack.pop()
        count += 1
        if count > MAX_MIME_PARTS + 1:  # the parts and the message itself
            defects.append(f"limit: more than {MAX_MIME_PARTS:,} MIME parts; read the first")
            return
        yield part, inside
        if part.is_multipart():
            children = part.get_payload()
            if isinstance(children, list):
                if depth >= MAX_MIME_DEPTH:
                    defects.append(f"limit: MIME nested deeper than {MAX_MIME_DEPTH}; deeper parts not read")
                    continue
                nested = inside or (part is not msg and part.get_content_maintype() == "message")
                stack.extend(
                    (child, nested, depth + 1) for child in reversed(children) if isinstance(child, Message)
                )


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


# Elements the HTML parsing algorithm never leaves open (void), keeps re-opening (formatting), or closes when
# a sibling of the same name opens. A hand-written approximation on purpose: it only decides which start
# tags to drop past the limits, and html5ever (nh3) still does the real parsing of whatever is kept.
_VOID_TAGS = frozenset(
    {
        "area",
        "base",
        "basefont",
        "bgsound",
        "br",
        "col",
        "embed",
        "frame",
        "hr",
        "img",
        "input",
        "keygen",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
_FORMATTING_TAGS = frozenset(
    {"a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u"}
)
_SIBLING_CLOSED_TAGS = frozenset(
    {
        "p",
        "li",
        "dt",
        "dd",
        "option",
        "optgroup",
        "tr",
        "td",
        "th",
        "thead",
        "tbody",
        "tfoot",
        "rb",
        "rt",
        "rp",
    }
)
# Elements whose content is text, not markup: never dropped, so a <script> or <style> stays one for nh3.
_RAW_TEXT_TAGS = frozenset(
    {"script", "style", "title", "textarea", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext"}
)
_SCOPE_TAGS = frozenset({"td", "th", "caption", "applet", "object", "marquee", "template"})
_END_TAG_SEARCH = 64  # open elements an end tag is matched against (deeper: treated as stray)
# A start or end tag; bounded everywhere, so a "<" that opens no tag costs a short scan, never the whole text.
_TAG = re.compile(
    r"<(/?)([A-Za-z][^\t\n\f\r />]{0,63})(?:[^<>\"']|\"[^\"]{0,2048}\"|'[^']{0,2048}'){0,4096}>"
)


def _bounded_html(html: str, defects: list[str]) -> str:
    """HTML within MAX_HTML_CHARS, without the start (and matching end) tags past MAX_HTML_DEPTH nested
    elements or MAX_HTML_FORMATTING open formatting elements; the text inside them stays."""
    if len(html) > MAX_HTML_CHARS:
        cut = html.rfind("<", 0, MAX_HTML_CHARS)
        cut = cut if cut > 0 else MAX_HTML_CHARS
        defects.append(f"limit: HTML of {len(html):,} characters; read the first {cut:,}")
        html = html[:cut]
    # Open elements: (name, start tag kept, open formatting elements when it opened). A cell (td, th,
    # caption...) is a scope: the formatting elements left open in it end with it, as in HTML parsing.
    stack: list[tuple[str, bool, int]] = []
    formatting = 0
    dropped: list[tuple[int, int]] = []
    lowered = html.lower()
    position = 0
    while (match := _TAG.search(html, position)) is not None:
        position = match.end()
        name = match.group(2).lower()
        if name in _RAW_TEXT_TAGS and not match.group(1):  # kept whatever the depth; its text is no markup
            end = lowered.find(f"</{name}", position)
            position = len(html) if end < 0 else end
            continue
        if match.group(1):  # an end tag closes its element and everything opened inside it
            for index in range(len(stack) - 1, max(len(stack) - 1 - _END_TAG_SEARCH, -1), -1):
                if stack[index][0] == name:
                    if not stack[index][1]:
                        dropped.append(match.span())
                    elif name in _FORMATTING_TAGS:
                        formatting -= 1
                    formatting = _close(stack, index, formatting)
                    break
            continue
        if name in _VOID_TAGS:
            continue
        if name in _SIBLING_CLOSED_TAGS and stack and stack[-1][0] == name:
            formatting = _close(stack, len(stack) - 1, formatting)
        is_formatting = name in _FORMATTING_TAGS
        keep = len(stack) < MAX_HTML_DEPTH and not (is_formatting and formatting >= MAX_HTML_FORMATTING)
        stack.append((name, keep, formatting))
        if keep and is_formatting:
            formatting += 1
        if not keep:
            dropped.append(match.span())
    if not dropped:
        return html
    defects.append(
        f"limit: HTML nested over {MAX_HTML_DEPTH} elements or {MAX_HTML_FORMATTING} open formatting "
        f"elements; {len(dropped):,} tags dropped, their text kept"
    )
    pieces: list[str] = []
    start = 0
    for begin, end in dropped:
        pieces.append(html[start:begin])
        start = end
    pieces.append(html[start:])
    return "".join(pieces)


def _close(stack: list[tuple[str, bool, int]], index: int, formatting: int) -> int:
    """Pop the elements from `index` up; the open-formatting count, reset by the outermost cell closed."""
    cell = next((entry for entry in stack[index:] if entry[0] in _SCOPE_TAGS), None)
    del stack[index:]
    return min(formatting, cell[2]) if cell is not None else formatting


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
            if len(unfolded) > MAX_HEADER_CHARS:
                defects.append(f"limit: {key[:40]} header of {len(unfolded):,} characters; read the first")
                unfolded = unfolded[:MAX_HEADER_CHARS]
            self.raw.setdefault(key, []).append(unfolded)
            decoded.setdefault(key, []).append(
                _clean(_decode_words(_few_words(key, unfolded, defects))).strip()
            )
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


_ENCODED_WORD = re.compile(r"=\?[^?\s]{1,80}\?[BbQq]\?")


def _few_words(key: str, value: str, defects: list[str]) -> str:
    """The value cut before its encoded word MAX_ENCODED_WORDS + 1."""
    if "=?" not in value:
        return value
    for count, match in enumerate(_ENCODED_WORD.finditer(value), start=1):
        if count > MAX_ENCODED_WORDS:
            defects.append(f"limit: {key[:40]} header has over {MAX_ENCODED_WORDS} encoded words; read those")
            return value[: match.start()]
    return value


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
    value = value[:MAX_ADDRESS_CHARS]  # the cut is recorded where the header was read, if over its own limit
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
