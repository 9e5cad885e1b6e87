"""Cutting a reply down to what its sender wrote now: no quoted history, no signature.

Quote headers ("On ... wrote:", "From: ... Sent: ...", "-----Original Message-----" and their German, French,
Spanish, Italian and Dutch forms) come from mail-parser-reply. It knows no Hebrew, so the Hebrew headers below
are ours, as is the signature rule: mail-parser-reply cuts at "Thanks," anywhere in the text and at every
"- item" line, where we cut only at "-- ", "Sent from my ..." or a valediction followed by a short name block.
Its patterns take quadratic time on long lines that begin with "On", so they only ever see lines cut short.

Ticket systems (Zendesk, Freshdesk, Request Tracker, the Hebrew ones) wrap a reply in their own lines: "##-
Please type your reply above this line -##" and "Ticket #4821" above it, "Delivered by Zendesk" below it, and
the older comments of the ticket (each under its author and a date line) after it. Those wrappers are cut
first, so what remains is what the person wrote now (`without_ticket_wrapper`).
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

# Ticket-system lines above the reply: dropped wherever they stand in the first lines.
TICKET_HEADER_LINES = (
    r"#{1,3}\s*-?\s*(?:please\s+)?(?:type|write|enter)\s+your\s+(?:reply|response)\s+above\s+this\s+line.*",
    r"[-=#\s]*(?:please\s+)?(?:reply|respond|write)\s+above\s+this\s+line.*",
    r"\[?(?:ticket|case|request|incident|support\s+request)\s*(?:#|no\.?|number|id)\s*:?\s*\[?#?[\w-]*\d[\w-]*\]?.*",
    r"your\s+(?:request|ticket|case)\s*\(?#?[\w-]*\d[\w-]*\)?\s+(?:has\s+been|was|is)\b.*",
    r"\[[\w.-]+\s+#\d+\].*",  # Request Tracker's subject tag: "[rt.acme.test #1234]"
    # The subject echoed on top: "[Acme Support] Re: your question (Case 00417729)".
    r"\[[^\]\n]{2,60}\].{0,120}\((?:case|ticket|request|incident)\s*(?:#|no\.?)?\s*[\w-]*\d[\w-]*\)",
    r"(?:a\s+)?(?:new\s+)?(?:reply|response|comment|update|answer)\s+(?:to|on|for)\s+your\s+"
    r"(?:case|ticket|request|inquiry|enquiry)\s+(?:has\s+been|was)\s+(?:posted|added|made|sent)\b.*",
    r"(?:subject|status|priority|assignee|requester)\s*:.*",
    r"(?:מספר\s+(?:פנייה|פניה|כרטיס|קריאה)|פנייה\s+מס['׳]?|קריאה\s+מס['׳]?|כרטיס\s+מס['׳]?)\s*:?.*",
    r"(?:נושא|סטטוס|סטאטוס)\s*:.*",
    r"#{2,}.*#{2,}",
)
# A date line under a ticket comment's author ("12 Mar 2024, 10:31 IST", "Mar 12, 2024, 10:31 AM").
_CLOCK = (
    r"\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp]\.?[Mm]\.?)?(?:\s+\(?[A-Z]{2,5}(?:[+-]\d{1,2}(?::?\d{2})?)?\)?)?"
)
TICKET_DATE_LINE = (
    rf"(?:\w+,?\s+)?\d{{1,2}}\s+\w{{3,9}}\.?,?\s+\d{{4}},?\s+(?:at\s+|בשעה\s+)?{_CLOCK}"
    rf"|(?:\w+,?\s+)?\w{{3,9}}\.?\s+\d{{1,2}},?\s+\d{{4}},?\s+(?:at\s+)?{_CLOCK}"
    rf"|\d{{1,4}}[./-]\d{{1,2}}[./-]\d{{2,4}},?\s+{_CLOCK}"
)
# Ticket-system footers: the reply ends above the first of these (or above the rule line just before it).
TICKET_FOOTER_LINES = (
    r".{0,80}\b(?:delivered|powered|sent)\s+(?:by|via|with)\s+(?:zendesk|freshdesk|freshservice|help\s*scout|"
    r"request\s+tracker|rt|hubspot|zoho|jira|servicenow|intercom|front)\b.*",
    r"this\s+(?:e-?mail|message)\s+is\s+a\s+service\s+from\b.*",
    r"(?:to\s+add\s+(?:additional\s+)?comments|you\s+(?:can|may)\s+(?:reply|respond)\s+to\s+this).{0,120}",
    r"you\s+are\s+receiving\s+this\b.*",
    r"to\s+(?:view|see|track|update)\s+(?:or\s+\w+\s+)?(?:your|this|the)\s+(?:case|ticket|request)\b.*",
    r"this\s+(?:ticket|request|case)\s+(?:has\s+been|was|is)\b.*",
    r"\[[A-Z0-9]{4,8}-[A-Z0-9]{4,8}\]",
    r"ref(?:erence)?\s*:\s*[\w:.-]{6,}",
    r"(?:נא|אנא|יש)\s+לא\s+(?:להשיב|לענות|לכתוב)\s+מתחת\s+ל?שורה\s+זו.*",
    r"הודעה\s+זו\s+נשלחה\s+(?:באמצעות|ע\"י|על\s+ידי)\b.*",
    r"מערכת\s+(?:ה)?פניות\s+של\b.*",
    r"לפתיחה\s+מחדש\s+של\s+ה?פנייה\b.*",
)
_TICKET_HEAD_LINES = 8  # wrapper headers sit in the first lines of the message

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
_TICKET_HEADER = re.compile("|".join(f"(?:{pattern})" for pattern in TICKET_HEADER_LINES), re.IGNORECASE)
_TICKET_DATE = re.compile(TICKET_DATE_LINE, re.IGNORECASE)
_TICKET_FOOTER = re.compile("|".join(f"(?:{pattern})" for pattern in TICKET_FOOTER_LINES), re.IGNORECASE)
_RULE_LINE = re.compile(r"[-_=*~]{5,}")
_VALEDICTION = re.compile(
    r"(?:" + "|".join(re.escape(word) for word in sorted(VALEDICTIONS, key=len, reverse=True)) + r")"
    r"\s*[.!]*\s*(?:[,–—-]\s*(?:\S+(?:\s+\S+){0,3})?)?",
    re.IGNORECASE,
)


def without_ticket_wrapper(text: str) -> str:
    """The text without a ticket system's lines: its headers on top, its footer and older comments below."""
    lines = text[:_MAX_CHARS].replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(_unwrapped(lines))


def _unwrapped(lines: list[str]) -> list[str]:
    plain = [_BIDI.sub("", line).strip()[:_MAX_LINE] for line in lines]
    content = [index for index, line in enumerate(plain) if line]
    head = set(content[:_TICKET_HEAD_LINES])
    drop: set[int] = set()
    wrapped = False
    for position, index in enumerate(content):
        line = plain[index]
        if index in head and _TICKET_HEADER.fullmatch(line):
            drop.add(index)
            wrapped = True
        elif _TICKET_DATE.fullmatch(line) and (wrapped or index in head):
            # A comment's date line, under its author ("Ruth (Acme Support)"): the newest comment's on top,
            # an older one (history) once the reply's own text has come.
            above = content[position - 1] if position else None
            author = above if above is not None and len(plain[above]) <= 60 else None
            if any(other not in drop and other != author for other in content[:position]):
                if wrapped:
                    return _cut(lines, drop, index if author is None else author)
                continue
            drop.update({index} if author is None else {index, author})
            wrapped = True
        elif index in head and position and content[position - 1] in drop and _RULE_LINE.fullmatch(line):
            # The wrapper's own lines ("Hello Dana Levi,", "A reply ... has been posted:") end at a rule line
            # right under one of its headers; the reply is below it.
            drop.update(content[: position + 1])
        elif _TICKET_FOOTER.fullmatch(line):
            previous = content[position - 1] if position else None
            rule = previous is not None and bool(_RULE_LINE.fullmatch(plain[previous]))
            return _cut(lines, drop, previous if rule and previous is not None else index)
    return _cut(lines, drop, len(lines))


def _cut(lines: list[str], drop: set[int], end: int) -> list[str]:
    return [line for index, line in enumerate(lines[:end]) if index not in drop]


def reply_part(text: str) -> str:
    """The newest part of a reply: above the quoted history (or around '>' lines), without signature or a
    ticket system's wrapper."""
    lines = _unwrapped(text[:_MAX_CHARS].replace("\r\n", "\n").replace("\r", "\n").split("\n"))
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
