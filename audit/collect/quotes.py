"""Cutting a reply down to what its sender wrote now: no quoted history, no signature.

Quote headers ("On ... wrote:", "From: ... Sent: ...", "-----Original Message-----" and their German, French,
Spanish, Italian and Dutch forms) come from mail-parser-reply. It knows no Hebrew, so the Hebrew headers below
are ours, as is the signature rule: mail-parser-reply cuts at "Thanks," anywhere in the text and at every
"- item" line, where we cut only at "-- ", "Sent from my ..." or a valediction followed by a short name block.
Its patterns take quadratic time on long lines that begin with "On", so they only ever see lines cut short.
"""

from __future__ import annotations

import re
from functools import cache

from mailparser_reply.parser import EmailMessage  # type: ignore[import-untyped]

REPLY_LANGUAGES = ("en", "de", "fr", "es", "it", "nl")  # mail-parser-reply's quote headers we use

# One quote-header line (matched on a line with bidi marks removed and surrounding blanks stripped).
QUOTE_HEADER_LINES = (
    r"On\s.{1,250}\swrote\s?:",  # Gmail, Apple Mail
    r"-{2,}\s*(?:Original Message|Forwarded message)\s*-{2,}",
    # Apple Mail and Outlook mobile in Hebrew: "ב-3 במרץ 2025, בשעה 10:12, דנה <...> כתב/ה:"
    r"(?:ב|בתאריך|ביום)[-־\s]?.{1,250}(?:כתב/ה|כתב\(ה\)|כתבה|כתב)\s?:",
    # Gmail in Hebrew: "בתאריך יום ב׳, 3 במרץ 2025 ב-10:12 מאת דנה <...>:"
    r"בתאריך\s.{1,250}\sמאת\s.{1,250}:",
    r"-{2,}\s*(?:הודעה מקורית|הודעה שהועברה|הודעה מועברת)\s*-{2,}",
    r"_{10,}",  # Outlook's rule above its From/Sent block
)
# An Outlook-style block: a From line followed within four lines by Sent, Date, To or Subject.
QUOTE_BLOCK_FIRST = r"\*?(?:From|מאת)\s?:"
QUOTE_BLOCK_NEXT = r"\*?(?:Sent|Date|To|Subject|נשלח|תאריך|אל|נושא|עותק)\s?:"

SIGNATURE_SEPARATORS = (r"--", r"—")  # "-- " after stripping
MOBILE_FOOTERS = (
    r"Sent from my\b.*",
    r"Get Outlook for\b.*",
    r"Sent from (?:Mail|Outlook|Yahoo Mail)\b.*",
    r"נשלח מ.{0,40}",  # "נשלח מה-iPhone שלי", "נשלח מהטלפון הנייד"
)
VALEDICTIONS = (
    "best regards", "kind regards", "warm regards", "warmest regards", "regards", "best wishes", "best",
    "all the best", "many thanks", "thanks", "thank you", "thanks again", "thanks and regards", "cheers",
    "sincerely", "yours sincerely", "yours truly", "yours faithfully", "respectfully", "with thanks",
    "בברכה", "בברכת", "בברכה רבה", "בכבוד רב", "בכבוד", "תודה רבה", "תודה", "בתודה", "שלך", "שלכם",
)  # fmt: skip
SIGNATURE_BLOCK_LINES = 8  # a valediction counts when at most this many short lines follow it
SIGNATURE_LINE_CHARS = 100

_MAX_CHARS = 200_000
_MAX_LINE = 200
_MAX_LEADING_HEADERS = 4  # quote headers skipped at the top ("Forwarded message", then From/Sent...)
_LIBRARY_LINES = 1000  # quote headers sit near the top; the library's patterns are slow on long texts
_BIDI = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_ONE_LINE = re.compile("|".join(f"(?:{pattern})" for pattern in QUOTE_HEADER_LINES), re.IGNORECASE)
_BLOCK_FIRST = re.compile(QUOTE_BLOCK_FIRST, re.IGNORECASE)
_BLOCK_NEXT = re.compile(QUOTE_BLOCK_NEXT, re.IGNORECASE)
_SEPARATOR = re.compile("|".join(SIGNATURE_SEPARATORS))
_MOBILE = re.compile("|".join(MOBILE_FOOTERS), re.IGNORECASE)
_VALEDICTION = re.compile(
    r"(?:" + "|".join(re.escape(word) for word in sorted(VALEDICTIONS, key=len, reverse=True)) + r")"
    r"\s*[.!]*\s*(?:[,–—-]\s*(?:\S+(?:\s+\S+){0,3})?)?",
    re.IGNORECASE,
)


def reply_part(text: str) -> str:
    """The newest part of a reply: above the quoted history (or around '>' lines), without signature."""
    lines = text[:_MAX_CHARS].replace("\r\n", "\n").replace("\r", "\n").split("\n")
    plain = [_BIDI.sub("", line).strip()[:_MAX_LINE] for line in lines]
    start = 0
    for _attempt in range(_MAX_LEADING_HEADERS):
        first = next((index for index in range(start, len(plain)) if plain[index]), len(plain))
        header = _quote_header(plain[start:])
        if header is None:
            keep = range(start, len(lines))
        elif start + header[0] > first:  # top-posted: the history follows the header
            keep = range(start, start + header[0])
        else:  # the text opens with a quote header: answers come below it or between quoted lines
            start += header[1]
            continue
        break
    else:
        keep = range(start, len(lines))
    kept = [index for index in keep if not plain[index].startswith(">")]
    end = _signature_start([plain[index] for index in kept])
    if end is not None:
        kept = kept[:end]
    return "\n".join(lines[index].rstrip() for index in kept).strip()


def _quote_header(plain: list[str]) -> tuple[int, int] | None:
    """First and past-last line of the earliest quote header, by our patterns or mail-parser-reply's."""
    found: list[tuple[int, int]] = []
    for index, line in enumerate(plain):
        if _ONE_LINE.fullmatch(line):
            found.append((index, index + 1))
            break
        wrapped = index + 1 < len(plain) and bool(line) and not line.endswith(":")
        if wrapped and _ONE_LINE.fullmatch(f"{line} {plain[index + 1]}"):  # a header over two lines
            found.append((index, index + 2))
            break
        if _BLOCK_FIRST.match(line):
            following = [
                i for i in range(index + 1, min(index + 5, len(plain))) if _BLOCK_NEXT.match(plain[i])
            ]
            if following:
                found.append((index, following[-1] + 1))
                break
    skeleton = "\n".join(plain[:_LIBRARY_LINES])
    match = _library_headers().search(skeleton)
    if match is not None:
        start = match.start()
        while start < match.end() and skeleton[start] == "\n":
            start += 1
        found.append((skeleton.count("\n", 0, start), skeleton.count("\n", 0, match.end()) + 1))
    return min(found) if found else None


@cache
def _library_headers() -> re.Pattern[str]:
    pattern: re.Pattern[str] = EmailMessage(text="", languages=list(REPLY_LANGUAGES)).HEADER_REGEX
    return pattern


def _signature_start(plain: list[str]) -> int | None:
    content = [index for index, line in enumerate(plain) if line]
    for position, index in enumerate(content[1:], start=1):
        line = plain[index]
        remaining = len(content) - position - 1
        if _SEPARATOR.fullmatch(line):
            return index
        if remaining <= 2 and _MOBILE.fullmatch(line):
            return index
        if (
            remaining <= SIGNATURE_BLOCK_LINES
            and _VALEDICTION.fullmatch(line)
            and all(len(plain[other]) <= SIGNATURE_LINE_CHARS for other in content[position + 1 :])
        ):
            return index
    return None
