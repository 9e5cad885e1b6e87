"""Reply classification (email-collection.md section 8): rules in order, the first that fires wins.

1. bounce: a delivery-status report, MAILER-DAEMON/postmaster, X-Failed-Recipients, or a null return path
   with a non-delivery subject (a null path alone is also how RFC 3834 auto-replies and Exchange
   out-of-office notes are sent, so it is not enough).
2. auto_reply: Auto-Submitted other than "no", the vendor auto-reply headers, Precedence: auto_reply, a
   read receipt; subclass ticket_ack when an acknowledgement phrase is present. An auto-reply header with an
   out-of-office subject is an out_of_office (Gmail's vacation responder sends Auto-Submitted). A phrase
   without a header counts only with a no-reply sender (phrases that state receipt) or arrival within
   two minutes of submission (any phrase). X-Auto-Response-Suppress asks others not to auto-reply: no marker.
3. out_of_office: the subject (Exchange sets no header).
4. marketing: list and bulk headers, unless the message quotes our reference code.
   Then: a null return path alone is automatic mail (auto_reply); a malformed message with no sender and
   no text is unknown.
5. templated: the reply, with names, numbers, dates, addresses, links and reference codes removed, is
   near-identical to another reply to this company, or it arrived within a minute of submission.
6. human.

Every keyword list, English and Hebrew, is a module-level tuple below: extend them there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from difflib import SequenceMatcher
from functools import lru_cache

from audit.collect.parse import ParsedMessage
from audit.models import MessageKind

# --- keyword lists (compared case-insensitively as substrings unless noted) --------------------------------

BOUNCE_LOCAL_PARTS = ("mailer-daemon", "postmaster")  # the whole local part of From
BOUNCE_SUBJECTS = (
    "undeliverable", "undelivered mail", "delivery status notification", "delivery failure",
    "mail delivery failed", "delivery has failed", "returned mail", "failure notice",
    "could not be delivered", "non-delivery", "לא ניתן למסור", "לא נמסר", "החזרת דואר", "כשל במסירה",
)  # fmt: skip
AUTO_REPLY_HEADERS = (
    "X-Autoreply",
    "X-Autorespond",
    "X-Autoresponder",
    "X-AutoReply-From",
    "X-Mail-Autoreply",
)
NEGATIVE_HEADER_VALUES = ("no", "false", "0", "off")
# Phrases stating that a message was received or sent by a machine: with a no-reply sender, enough.
ACK_PHRASES = (
    "we have received", "we've received", "we received your", "has been received", "have been received",
    "this is an automated", "this is an automatic", "automatically generated", "automated response",
    "פנייתך התקבלה", "פנייתכם התקבלה", "פניתך התקבלה", "פנייתך נקלטה", "קיבלנו את פנייתך", "קבלנו את פנייתך",
    "קיבלנו את פנייתכם", "זוהי הודעה אוטומטית", "הודעה זו נשלחה באופן אוטומטי", "הודעה אוטומטית",
)  # fmt: skip
# Ticket vocabulary that agents' own replies through a help desk carry too: enough only with fast arrival.
TICKET_PHRASES = (
    "ticket #", "ticket number", "ticket id", "case number", "case #", "request #", "do not reply",
    "please do not reply", "מספר פנייה", "מספר הפנייה", "מספר פניה", "מספר קריאה", "אין להשיב", "נא לא להשיב",
    "אין להגיב",
)  # fmt: skip
NOREPLY_LOCAL_PARTS = ("noreply", "donotreply", "autoreply", "autoresponder")  # after removing - _ . +
OUT_OF_OFFICE_SUBJECTS = (
    "out of office", "out of the office", "automatic reply", "autoreply", "auto-reply", "auto reply",
    "abwesenheitsnotiz", "automatische antwort", "réponse automatique", "respuesta automática",
    "risposta automatica", "תשובה אוטומטית", "מענה אוטומטי", "מחוץ למשרד", "היעדרות",
)  # fmt: skip
OUT_OF_OFFICE_PREFIXES = ("auto:",)  # must open the subject
MARKETING_HEADERS = ("List-Id", "List-Unsubscribe", "Feedback-ID")
BULK_PRECEDENCE = ("bulk", "list", "junk")
GREETINGS = (
    "hi", "hello", "hey", "dear", "good morning", "good afternoon", "good evening", "greetings",
    "שלום", "היי", "הי", "בוקר טוב", "צהריים טובים", "ערב טוב", "לכבוד", "שלום רב",
)  # fmt: skip
DATE_WORDS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "am", "pm",
    "ינואר", "פברואר", "מרץ", "מרס", "אפריל", "מאי", "יוני", "יולי", "אוגוסט", "ספטמבר", "אוקטובר", "נובמבר",
    "דצמבר", "ראשון", "שני", "שלישי", "רביעי", "חמישי", "שישי", "שבת",
)  # fmt: skip

ACK_WINDOW = timedelta(minutes=2)
TEMPLATED_WINDOW = timedelta(seconds=60)
CLOCK_SKEW = timedelta(seconds=60)  # a reply "before" submission by up to this much is clock skew
SIMILARITY = 0.9
MIN_WORDS = 12  # shorter replies are too alike by nature to call templated
MAX_WORDS = 1500

_BIDI = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u0591-\u05c7]")  # and Hebrew points
_SPACE = re.compile(r"\s+")
_EMAIL = re.compile(r"\S+@\S+")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_REF_SHAPED = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{4}[-‐‑–—][0-9A-HJKMNP-TV-Z]{2}\b")  # other probes' codes
_WORD = re.compile(r"[^\W\d_]+")
_READABLE = re.compile(r"[^\W_]")
# A greeting line with up to three words of name: "Hi Dana,", "Dear Mr. Cohen,", "שלום דנה,".
_GREETING = re.compile(
    "(?:" + "|".join(re.escape(word) for word in GREETINGS) + r")\b(?:\s+[^\s,!.:]+\.?){0,3}\s*[,!.:]?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Classification:
    kind: MessageKind
    rule: str  # which rule fired, with its evidence, e.g. "auto_reply: Auto-Submitted: auto-replied"


def classify(
    parsed: ParsedMessage,
    *,
    ref_code: str | None,
    submitted_at: datetime | None,
    received_at: datetime,
    sibling_texts: Sequence[str],
) -> Classification:
    delay = _utc(received_at) - _utc(submitted_at) if submitted_at is not None else None
    body = parsed.reply_text if parsed.reply_text.strip() else parsed.text
    searchable = _fold(f"{parsed.subject or ''}\n{body}")
    ack = _find(searchable, ACK_PHRASES)
    phrase = ack or _find(searchable, TICKET_PHRASES)

    bounce = _bounce_evidence(parsed)
    if bounce:
        return Classification(MessageKind.BOUNCE, f"bounce: {bounce}")

    marker = _auto_reply_header(parsed)
    out_of_office = _out_of_office_subject(parsed.subject)
    if marker and phrase:
        return Classification(MessageKind.AUTO_REPLY, f"auto_reply/ticket_ack: {marker}; '{phrase}'")
    if marker and out_of_office:
        return Classification(MessageKind.OUT_OF_OFFICE, f"out_of_office: {out_of_office} ({marker})")
    if marker:
        return Classification(MessageKind.AUTO_REPLY, f"auto_reply: {marker}")
    if ack and _is_noreply(parsed.from_address):
        return Classification(
            MessageKind.AUTO_REPLY, f"auto_reply/ticket_ack: '{ack}' from {parsed.from_address}"
        )
    if phrase and delay is not None and -CLOCK_SKEW <= delay < ACK_WINDOW:
        return Classification(MessageKind.AUTO_REPLY, f"auto_reply/ticket_ack: '{phrase}', {_arrival(delay)}")

    if out_of_office:
        return Classification(MessageKind.OUT_OF_OFFICE, f"out_of_office: {out_of_office}")

    bulk = _marketing_header(parsed)
    if bulk and not _quotes_ref(parsed, ref_code):
        return Classification(MessageKind.MARKETING, f"marketing: {bulk}")

    if parsed.return_path == "":
        rule = (
            f"auto_reply/ticket_ack: null Return-Path <>; '{phrase}'"
            if phrase
            else "auto_reply: null Return-Path <>"
        )
        return Classification(MessageKind.AUTO_REPLY, rule)
    if parsed.malformed and not parsed.from_address and not _READABLE.search(parsed.text):
        first = parsed.defects[0] if parsed.defects else "no defect recorded"
        return Classification(MessageKind.UNKNOWN, f"unknown: malformed, nothing readable ({first[:80]})")

    similarity = _best_similarity(body, ref_code, sibling_texts)
    if similarity >= SIMILARITY:
        return Classification(
            MessageKind.TEMPLATED, f"templated: {similarity:.2f} similar to another reply to this company"
        )
    if delay is not None and -CLOCK_SKEW <= delay < TEMPLATED_WINDOW:
        return Classification(MessageKind.TEMPLATED, f"templated: {_arrival(delay)}")
    return Classification(MessageKind.HUMAN, "human: no automatic marker")


# --- rule evidence ---------------------------------------------------------------------------------------


def _header(parsed: ParsedMessage, name: str) -> str | None:
    values = parsed.headers.get(name.lower())
    return values[0].strip() if values else None


def _bounce_evidence(parsed: ParsedMessage) -> str | None:
    if parsed.content_type == "multipart/report" and parsed.report_type == "delivery-status":
        return "multipart/report delivery-status"
    failed = _header(parsed, "X-Failed-Recipients")
    if failed is not None:
        return f"X-Failed-Recipients: {_clip(failed)}"
    local = (parsed.from_address or "").split("@", 1)[0]
    if local in BOUNCE_LOCAL_PARTS:
        return f"From {parsed.from_address}"
    subject = _find(_fold(parsed.subject or ""), BOUNCE_SUBJECTS)
    if parsed.return_path == "" and subject:
        return f"null Return-Path <> and subject '{_clip(parsed.subject or '')}'"
    return None


def _auto_reply_header(parsed: ParsedMessage) -> str | None:
    submitted = _header(parsed, "Auto-Submitted")
    if submitted and submitted.split(";", 1)[0].strip().lower() != "no":
        return f"Auto-Submitted: {_clip(submitted)}"
    for name in AUTO_REPLY_HEADERS:
        value = _header(parsed, name)
        if value is not None and value.lower() not in NEGATIVE_HEADER_VALUES:
            return f"{name}: {_clip(value)}" if value else name
    if (_header(parsed, "Precedence") or "").lower() == "auto_reply":
        return "Precedence: auto_reply"
    if parsed.content_type == "multipart/report" and parsed.report_type == "disposition-notification":
        return "read receipt (multipart/report disposition-notification)"
    return None


def _out_of_office_subject(subject: str | None) -> str | None:
    folded = _fold(subject or "")
    if _find(folded, OUT_OF_OFFICE_SUBJECTS) or folded.startswith(OUT_OF_OFFICE_PREFIXES):
        return f"subject '{_clip(subject or '')}'"
    return None


def _marketing_header(parsed: ParsedMessage) -> str | None:
    for name in MARKETING_HEADERS:
        if _header(parsed, name) is not None:
            return name
    precedence = (_header(parsed, "Precedence") or "").lower()
    if precedence in BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    return None


def _is_noreply(address: str | None) -> bool:
    local = re.sub(r"[-_.+]", "", (address or "").split("@", 1)[0])
    return any(word in local for word in NOREPLY_LOCAL_PARTS)


def _quotes_ref(parsed: ParsedMessage, ref_code: str | None) -> bool:
    pattern = _ref_pattern(ref_code) if ref_code else None
    return pattern is not None and pattern.search(f"{parsed.subject or ''}\n{parsed.text}") is not None


@lru_cache(maxsize=256)
def _ref_pattern(ref_code: str) -> re.Pattern[str] | None:
    groups = re.findall(r"[0-9A-Za-z]+", ref_code)
    if not groups:
        return None
    # The separator is required: without it "K7Q2-9F" would also match inside an address like dana.k7q29f@...
    joined = r"[\s\-‐‑–—_.]".join(re.escape(group) for group in groups)
    return re.compile(rf"(?<![0-9A-Za-z]){joined}(?![0-9A-Za-z])", re.IGNORECASE)


# --- templated replies -----------------------------------------------------------------------------------


def _best_similarity(text: str, ref_code: str | None, sibling_texts: Sequence[str]) -> float:
    mine = _normalise(text, ref_code)
    if len(mine) < MIN_WORDS:
        return 0.0
    best = 0.0
    for sibling in sibling_texts:
        theirs = _normalise(sibling, None)
        if len(theirs) < MIN_WORDS:
            continue
        if theirs == mine:
            return 1.0
        matcher = SequenceMatcher(None, mine, theirs, autojunk=False)
        if matcher.real_quick_ratio() < SIMILARITY or matcher.quick_ratio() < SIMILARITY:
            continue
        best = max(best, matcher.ratio())
    return best


def _normalise(text: str, ref_code: str | None) -> list[str]:
    """Words of a reply without what differs between two sendings of one template."""
    text = text[: MAX_WORDS * 20]
    pattern = _ref_pattern(ref_code) if ref_code else None
    if pattern is not None:
        text = pattern.sub(" ", text)
    text = _URL.sub(" ", _EMAIL.sub(" ", _REF_SHAPED.sub(" ", text)))
    lines = [line.strip() for line in _BIDI.sub("", text).splitlines() if line.strip()]
    if lines and _GREETING.fullmatch(lines[0]):  # "Hi Dana," / "שלום דנה,": the name goes with it
        lines = lines[1:]
    words = _WORD.findall(" ".join(lines).casefold())
    dates = set(DATE_WORDS)
    return [word for word in words if word not in dates and word.removeprefix("ב") not in dates][:MAX_WORDS]


# --- small helpers ---------------------------------------------------------------------------------------


def _fold(text: str) -> str:
    return _SPACE.sub(" ", _BIDI.sub("", text)).casefold().strip()


def _find(folded: str, phrases: tuple[str, ...]) -> str | None:
    return next((phrase for phrase in phrases if phrase in folded), None)


def _clip(value: str, limit: int = 80) -> str:
    value = _SPACE.sub(" ", value).strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _arrival(delay: timedelta) -> str:
    seconds = round(delay.total_seconds())
    if seconds < 0:
        return f"arrived {-seconds} s before submission (clock skew)"
    return f"arrived {seconds} s after submission"
