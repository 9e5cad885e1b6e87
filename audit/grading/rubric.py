"""The reply-quality rubric (docs/method.md, "Rubric"): criteria A, P1, P2, Q, V, E, M from a human reply's
text.

Each criterion is scored by detectors that quote the words that fired (English and Hebrew); a reviewer
confirms or overrides (`audit grade set`). Quality is sum(score) / sum(max) over the criteria, 0 to 1.
T (prompt) and F (follow-up) are timing facts, measured in latency.py, not text.

Every word list is a module-level tuple below: extend them there. Patterns are compiled once at import; the
persona- and inquiry-specific ones once per wave (`RubricContext.from_config`), so a wave of thousands of
replies is graded in a second or two.

Staff names (docs/method.md, "Ethics"): `find_staff_names` reads names from signature lines,
self-introductions ("my name is", "שמי") and greeting lines; `mask_staff_names` replaces them with "[staff]"
everywhere in a text, keeping the persona's own name. Quotes in evidence and excerpts are masked when
`audit.mask_staff_names` is on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from audit.collect.quotes import QUOTE_BLOCK_FIRST, QUOTE_HEADER_LINES, without_ticket_wrapper
from audit.config import AnswerPart, AuditConfig
from audit.grading.types import CriterionScore, Evidence
from audit.grading.wordlists import (
    ALTERNATIVES,
    AVAILABILITY,
    BLAME,
    CLOSING_PATTERNS,
    CLOSINGS,
    CURRENCY_WORDS,
    EMOJI,
    GENERIC_GREETINGS,
    GREETING_WORDS,
    HEBREW_PREFIX,
    HEBREW_PREFIXES,
    LOGIN,
    NEGATIVE_WORDS,
    NEGATIVES,
    NEXT_STEPS,
    NOTE_BY_NAME,
    NOTE_CLOSED,
    NOTE_GREETED,
    NOTE_NEGATIONS,
    NOTE_POLITE,
    NOTE_THANKS,
    NOTE_WARM,
    NUMBER_WORDS,
    RE_ASKS,
    REDIRECTS,
    STAFF_STOP_WORDS,
    TEMPLATE_FIELDS,
    THANKS,
    WARMTH,
    YES_NO,
)

STAFF = "[staff]"


@dataclass(frozen=True)
class CriterionSpec:
    id: str
    max_score: int
    title: str
    earns: str  # what earns points, for the report's method box and the README


RUBRIC: tuple[CriterionSpec, ...] = (
    CriterionSpec("A", 2, "Answered", "2: every declared answer part found; 1: some; 0: none"),
    CriterionSpec(
        "P1", 2, "Personal", "1: greets the persona by name; 1: signed by (or introduces) a person"
    ),
    CriterionSpec(
        "P2", 2, "Polite", "1: thanks; 1: a greeting and a closing; minus 1 for blaming the customer"
    ),
    CriterionSpec(
        "Q",
        2,
        "Professional",
        "1: clean (no unfilled template fields) and in the inquiry's language; "
        "1: a direct contact (a person's name plus a phone or email)",
    ),
    CriterionSpec("V", 2, "Adds value", "1 each (at most 2): a next step, a relevant link, an alternative"),
    CriterionSpec(
        "E",
        1,
        "Low effort",
        "1 unless it sends the customer elsewhere without answering, asks again for "
        "details already given, or requires a login",
    ),
    CriterionSpec("M", 2, "Warmth", "1 each (at most 2): empathy or warmth, in different words"),
)
MAX_SCORES: dict[str, int] = {spec.id: spec.max_score for spec in RUBRIC}

# -------------------------------------------------------------------------------------- compiled patterns


_ESCAPE = re.compile(r"\\.|\[\^?|\(\?[:!=<]+")
_FIRST_LETTER = re.compile(r"[A-Za-z\u05d0-\u05ea]")


def _starts_hebrew(pattern: str) -> bool:
    letter = _FIRST_LETTER.search(_ESCAPE.sub("", pattern))
    return letter is not None and "\u05d0" <= letter[0] <= "\u05ea"


def _any(patterns: Iterable[str], *, bounded: bool = True, prefixed: bool = True) -> re.Pattern[str]:
    """One pattern for a word list; entries starting with a Hebrew letter take the one-letter prefixes."""
    body = "|".join(
        f"(?:{HEBREW_PREFIX}(?:{pattern}))" if prefixed and _starts_hebrew(pattern) else f"(?:{pattern})"
        for pattern in patterns
    )
    return re.compile(rf"(?<!\w)(?:{body})" if bounded else body, re.IGNORECASE)


def _words(words: Iterable[str]) -> str:
    return "|".join(re.escape(word).replace(r"\ ", r"\s+") for word in sorted(words, key=len, reverse=True))


_GREETING = re.compile(
    rf"^\W*(?:{_words(GREETING_WORDS)}|{'|'.join(GENERIC_GREETINGS)})(?!\w)", re.IGNORECASE
)
_GENERIC_GREETING = _any(GENERIC_GREETINGS)
_CLOSING_WORDS = "|".join((_words(CLOSINGS), *CLOSING_PATTERNS))
# A closing line is the valediction alone, or with a short name after a comma ("Best, Michael"); "Thanks for
# your question" opens a sentence and closes nothing.
_CLOSING = re.compile(
    rf"^\W*(?:{_CLOSING_WORDS})\s*[.!]*\s*(?:{EMOJI}\s*)*(?:[,–—-]\s*(?P<rest>\S+(?:\s+\S+){{0,3}})?)?\s*[.!]*"
    rf"(?:\s*{EMOJI})*$",
    re.IGNORECASE,
)
# A closing inside a line ("... a monthly plan. Best regards, Ruth"): text flattened into one paragraph, as
# web forms and phone notes often are, must not leak the signer's name.
_INLINE_CLOSING = re.compile(
    rf"(?:^|[.!?]\s+)(?:{_CLOSING_WORDS})\s*,\s*(?P<rest>[^\n,.;!?|]+)",
    re.IGNORECASE,
)
_THANKS = _any(THANKS)
_BLAME = _any(BLAME)
_TEMPLATE = _any(TEMPLATE_FIELDS, bounded=False, prefixed=False)
_NEXT_STEP = _any(NEXT_STEPS)
_ALTERNATIVE = _any(ALTERNATIVES)
_REDIRECT = _any(REDIRECTS)
_RE_ASK = _any(RE_ASKS)
_LOGIN = _any(LOGIN)
_WARMTH = _any(WARMTH)
_NOTE_POLITE = _any(NOTE_POLITE, bounded=False)
_NOTE_WARM = _any(NOTE_WARM, bounded=False)
_NOTE_THANKS = _any(NOTE_THANKS)
_NOTE_GREETED = _any(NOTE_GREETED)
_NOTE_BY_NAME = _any(NOTE_BY_NAME)
# A number given as the general line, not the one asked for ("our head office number", "call *2580").
_GENERAL_LINE = _any(
    (r"head\s+office", r"call\s+cent(?:re|er)", r"service\s+cent(?:re|er)", r"contact\s+cent(?:re|er)",
     r"hotline", r"national\s+(?:line|number)", r"customer\s+service\s+(?:line|number)", r"switchboard",
     r"מוקד", r"המשרד\s+הראשי", r"הנהלה", r"מרכזי(?:י)?ה", r"מרכז\s+(?:ה)?שירות", r"קו\s+ארצי"),
)  # fmt: skip
_NOTE_CLOSED = _any(NOTE_CLOSED)
_NOTE_NEGATED = re.compile(rf"{NOTE_NEGATIONS}(?:\s+[^\s.!?;]+){{0,4}}\s*$", re.IGNORECASE)
# A bare answer opens a sentence: "Yes,", "כן.", "Absolutely!", "Unfortunately not." ("No problem" is none).
_BARE_ANSWER = re.compile(
    rf"(?:^|^[^\n]{{0,40}}?(?:[:\"״“]|\s[–—-]))\W*(?:{'|'.join(YES_NO)}|{'|'.join(NEGATIVE_WORDS)})(?:\s*(?:[,.!:;–—-]|$)|\s+(?:we|there|it|יש|אין|זה|ניתן))"
    r"(?!\s*(?:problem|worries|בעיה))",
    re.IGNORECASE,
)
_BARE_NEGATIVE = re.compile(
    rf"^\W*(?:{'|'.join(NEGATIVE_WORDS)}|unfortunately|sadly|לצערנו|לצערי)(?!\w)", re.IGNORECASE
)
_AFFIRMATIVE = _any(
    (r"of\s+course", r"certainly", r"absolutely", r"definitely", r"indeed", r"we\s+sure\s+do", r"yes",
     r"בהחלט", r"אכן", r"בוודאי", r"ודאי", r"כמובן", r"בטח"),
    prefixed=False,
)  # fmt: skip
_AVAILABILITY = _any(AVAILABILITY)
_NEGATIVE = _any(NEGATIVES)
_QUESTION = re.compile(r"\?\s*[\"'״”)]*$|(?<!\w)(?:whether|האם|אם\s+יש|אם\s+קיימ)(?!\w)", re.IGNORECASE)
_PHONE = re.compile(
    # Israeli landline and mobile
    r"(?<![\w+])(?:\+?972[-\s]?\(?0?|\(?0)[2-9]\d?\)?[-\s]?\d{3}[-\s]?\d{4}(?!\d)"
    r"|(?<![\w*])\*\d{4}(?!\d)|(?<!\d)\d{4}\*(?![\w*])"  # Israeli star numbers (*2323, written 2323* too)
    r"|(?<!\d)1[-\s]?(?:[78]00|599|700)[-\s]?\d{2,3}[-\s]?\d{3,4}(?!\d)"  # 1-800, 1-700, 1-599 numbers
    r"|\+\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4}(?!\d)"  # international
    r"|(?<![\w(])\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?!\d)"  # North American
)
# Not a relevant page: a login page, or the ticket system's own page.
_LOGIN_PAGE = re.compile(
    r"^(?:my|login|signin|portal|auth)\.|/(?:log-?in|sign-?in|my-?account|auth|tickets?|requests?|cases?)(?:/|\b)",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>()\"'\]]+", re.IGNORECASE)
_NUMBER_WORD = rf"(?:ו)?(?:{'|'.join(NUMBER_WORDS)})(?:-\w+)?"
_CURRENCY = "|".join(CURRENCY_WORDS)
_PRICE = re.compile(
    r"[$€£₪]\s?\d[\d,.]*"
    r"|(?<!\w)(?:NIS|ILS|USD|EUR|GBP)\s?\d[\d,.]*"
    rf"|\d[\d,.]*\s?-?\s?(?:{_CURRENCY})(?!\w)|\d[\d,.]*\$"
    rf"|(?<!\w){_NUMBER_WORD}(?:[\s-]+(?:and\s+)?{_NUMBER_WORD})*\s+(?:{_CURRENCY})(?!\w)",
    re.IGNORECASE,
)
_HEBREW_LETTER = re.compile(r"[\u05d0-\u05ea]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_QUOTE_START = re.compile(
    "|".join(f"(?:{pattern})" for pattern in (*QUOTE_HEADER_LINES, QUOTE_BLOCK_FIRST)), re.IGNORECASE
)
_EN_TOKEN = r"[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)*"
_EN_NAME = re.compile(rf"(?:[A-Z]\.\s*)?{_EN_TOKEN}(?:\s+[A-Z]\.)?(?:\s+{_EN_TOKEN}){{0,2}}")
_HE_TOKEN = r"[\u05d0-\u05ea][\u05d0-\u05ea'\"׳״-]*"
_HE_NAME = re.compile(rf"(?:[\u05d0-\u05ea]['׳.]\s*)?{_HE_TOKEN}(?:\s+{_HE_TOKEN}){{0,2}}")
_NAME_LINE_CUT = re.compile(
    r"\s*(?:[|,–—/(•·]|\s-\s|\s+from\s+|\s+at\s+|\s+with\s+|\s+מ(?=צוות|חברת|מחלקת|מוקד|סניף|שירות|מכירות|ה))\s*"
)
_TITLE = re.compile(
    r"^(?:(?:dr|mr|mrs|ms|adv|prof)\.?\s+|(?:עו\"ד|עו״ד|ד\"ר|ד״ר|רו\"ח|רו״ח|פרופ['׳]|מר|גב['׳])\s+)", re.I
)
_SENTENCE_INSIDE = re.compile(r"[.!?]\s+\S")
_SEPARATOR_LINE = re.compile(r"[-—–_]{2,3}")
SIGNOFF_LINES = 6  # a signature sits in the last lines of what the person wrote
SIGNATURE_LINE_CHARS = 60
WRAPPED_LINE_CHARS = 60  # mail wrapped at 72 to 100 characters leaves lines this long mid-sentence
# The lead-in in any case, the name capitalised: "my name is Michael", "This is Michael from Acme".
_INTRODUCTIONS = (
    re.compile(rf"\b(?i:my\s+name\s+is)\s+(?P<name>{_EN_TOKEN}(?:\s+{_EN_TOKEN})?)"),
    re.compile(
        rf"\b(?:I\s+am|I'm|(?i:this\s+is))\s+(?P<name>{_EN_TOKEN}(?:\s+{_EN_TOKEN})?)"
        r"(?=\s+(?:from|at|with|of|here)\b|\s*[,.!]|\s*$)",
        re.MULTILINE,
    ),
    re.compile(rf"^\W*(?:\w+\s+\w+,\s*)?(?P<name>{_EN_TOKEN})\s+here(?=\s*[,.!]|\s+from\b)", re.MULTILINE),
    # A person's note of a call: "Michael called back", "יוסי התקשר".
    re.compile(
        rf"^\W*(?P<name>{_EN_TOKEN}(?:\s+{_EN_TOKEN})?)\s+(?i:called|phoned|rang|texted)\b", re.MULTILINE
    ),
    re.compile(
        rf"(?:^|[.!?]\s+)\W*(?P<name>{_EN_TOKEN})\s+(?:from|at|of)\s+[^.\n]{{0,60}}?\s+"
        r"(?i:called|phoned|rang|returned|texted)\b",
        re.MULTILINE,
    ),
    re.compile(rf"(?<!\w)(?P<name>{_HE_TOKEN})\s+(?:התקשר|התקשרה|חזר|חזרה|צלצל|צלצלה)(?!\w)"),
    re.compile(rf"(?:שמי|קוראים\s+לי)(?:\s+הוא)?\s+(?P<name>{_HE_TOKEN}(?:\s+{_HE_TOKEN})?)"),
    # A note of a call: "introduced herself as Ruth", "הציגה את עצמה כשירן", "her name was Ruth".
    re.compile(
        rf"\b(?i:introduced\s+(?:herself|himself|themselves)\s+as|(?:his|her)\s+name\s+(?:is|was)|"
        rf"(?:spoke|talked)\s+(?:with|to))\s+(?P<name>{_EN_TOKEN}(?:\s+{_EN_TOKEN})?)"
    ),
    re.compile(rf"הציג(?:ה)?\s+את\s+עצמ(?:ה|ו)\s+(?:כ|בתור\s+)(?P<name>{_HE_TOKEN})"),
    re.compile(rf"(?:שמה|שמו)\s+(?:היה\s+|הוא\s+|היא\s+)?(?P<name>{_HE_TOKEN})"),
    re.compile(rf"(?:דיברתי|שוחחתי)\s+עם\s+(?P<name>{_HE_TOKEN})\s+מ(?:צוות|מחלקת|מוקד|שירות|המכירות)"),
    re.compile(
        rf"(?<!\w)(?:אני|כאן|מדבר|מדברת)\s+(?P<name>{_HE_TOKEN}(?:\s+{_HE_TOKEN})?)"
        r"\s+מ(?:צוות|חברת|מחלקת|מוקד|שירות|טעם)"
    ),
)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")  # not the dots inside a URL or a price
_SPACES = re.compile(r"\s+")
_STAFF_RUN = re.compile(r"\[staff\](?:[\s.]+\[staff\])+")
QUOTE_CHARS = 160
EXCERPT_CHARS = 220

# ----------------------------------------------------------------------------------------------- context


@dataclass(frozen=True)
class RubricContext:
    """What the rubric needs to know about the inquiry and the persona, with its patterns compiled once."""

    language: str  # the inquiry's language: en | he
    answer_parts: tuple[AnswerPart, ...]
    persona_names: tuple[str, ...]  # never masked; the greeting check looks for these
    own_phone_digits: str
    own_mail_domain: str
    mask: bool
    greeting_by_name: re.Pattern[str]
    greeting_anywhere: re.Pattern[str]
    part_words: tuple[re.Pattern[str] | None, ...]

    @classmethod
    def from_config(cls, config: AuditConfig) -> RubricContext:
        persona = config.persona
        names = [
            persona.first_name,
            persona.last_name,
            *persona.aliases,
            *(word for alias in persona.aliases for word in alias.split()),
            *_signature_names(config.inquiry.message),
        ]
        names = list(dict.fromkeys(name for name in names if name))
        alternatives = _words(names)
        titles = r"(?:(?:ms|mrs|miss|mr)\.?\s+|גב['׳]\s*|גברת\s+|הגב['׳]\s*)?"
        to_you = r"(?:(?:לך|לכם|ולך)\s+)?"
        greeting = re.compile(
            rf"^\W*(?:(?:{_words(GREETING_WORDS)})\s*[,!]?\s*{to_you}{titles}(?:{alternatives})(?!\w)"
            rf"|{titles}(?:{alternatives})(?:\s+[^\s,!:]+)?\s*(?:[,!:]|שלום|היקרה|היקר|יקרה|יקר|הי|היי|בוקר|ערב|צהריים)(?!\w)"
            rf"|{titles}(?:{alternatives})\s*$)",
            re.IGNORECASE | re.MULTILINE,
        )
        # A note of a call reports the greeting inside the text ('she said "hello Dana"').
        anywhere = re.compile(
            rf"(?<!\w)(?:{_words(GREETING_WORDS)})\s*[,!]?\s*{to_you}{titles}(?:{alternatives})(?!\w)",
            re.IGNORECASE,
        )
        return cls(
            language=config.inquiry.language or config.audit.language,
            answer_parts=config.inquiry.answer_parts,
            persona_names=tuple(names),
            own_phone_digits=re.sub(r"\D", "", persona.phone)[-9:],
            own_mail_domain=config.mailbox.address.rpartition("@")[2].lower(),
            mask=config.audit.mask_staff_names,
            greeting_by_name=greeting,
            greeting_anywhere=anywhere,
            part_words=tuple(
                _word_pattern(part.words) if part.words else None for part in config.inquiry.answer_parts
            ),
        )


def _signature_names(message: str) -> list[str]:
    """The persona's name as the inquiry signs it ("דנה לוי" under a Hebrew inquiry), so a Hebrew greeting
    "שלום דנה" counts even when persona.first_name is written in Latin letters."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines or "{" in lines[-1]:
        return []
    name = _name_in_line(lines[-1], frozenset())  # "Thanks!" or "Ref: ..." is no name
    return name.split()[:1] if name else []


def _word_pattern(words: Sequence[str]) -> re.Pattern[str]:
    # Hebrew words take one-letter prefixes (ו, ה, ב, ל...) and suffixes; English ones plural endings.
    forms = []
    for word in words:
        escaped = re.escape(word.strip()).replace(r"\ ", r"\s+")
        if _HEBREW_LETTER.search(word):
            forms.append(rf"(?<!\w)[{HEBREW_PREFIXES}]{{0,3}}{escaped}\w{{0,3}}(?!\w)")
        else:
            forms.append(rf"\b{escaped}(?:s|es)?\b")
    return re.compile("|".join(forms), re.IGNORECASE)


# ----------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ReplyText:
    """A human reply split the way the rubric reads it."""

    body: str  # what the sender wrote now: no quoted history, no signature
    signature: str  # the lines below the body, down to the quoted history
    channel: str  # email | phone | sms | ...

    @property
    def whole(self) -> str:
        return f"{self.body}\n{self.signature}" if self.signature else self.body


def reply_text_of(text: str | None, reply_text: str | None, channel: str) -> ReplyText:
    """Body from the collector's `reply_text`; the signature is what follows it in `text`, above quotes.
    A ticket system's wrapper is no part of either (replies stored before it was cut lose it here)."""
    full = without_ticket_wrapper((text or "").replace("\r\n", "\n"))
    body = without_ticket_wrapper(reply_text).strip() if reply_text is not None else full.strip()
    if not full or not body:
        return ReplyText(body=body or full.strip(), signature="", channel=channel)
    last = body.splitlines()[-1].strip()
    position = full.find(last) if last else -1
    if position < 0:
        return ReplyText(body=body, signature="", channel=channel)
    tail: list[str] = []
    for line in full[position + len(last) :].split("\n")[1:]:
        stripped = line.strip()
        if stripped.startswith(">") or _QUOTE_START.match(stripped):
            break
        tail.append(stripped)
        if sum(1 for kept in tail if kept) >= 10:
            break
    return ReplyText(body=body, signature="\n".join(tail).strip(), channel=channel)


def detect_language(text: str) -> str | None:
    """en | he | other by letters; None without any letters."""
    return _letters(text)[0]


def _letters(text: str) -> tuple[str | None, float, int]:
    """The language by the share of Hebrew-script letters (links and addresses, Latin in any language, left
    out), that share, and the number of letters counted."""
    cleaned = _URL.sub(" ", _EMAIL.sub(" ", text))
    hebrew = len(_HEBREW_LETTER.findall(cleaned))
    latin = len(_LATIN_LETTER.findall(cleaned))
    total = hebrew + latin
    if total == 0:
        return ("other" if text.strip() else None), 0.0, 0
    return ("he" if hebrew >= latin else "en"), hebrew / total, total


def _quote(text: str, start: int, end: int) -> str:
    """The sentence around text[start:end], shortened to QUOTE_CHARS around the match."""
    # The last sentence end before the match: searched backwards, a window at a time (replies can be long).
    left = 0
    for window in range(start, 0, -400):
        ends = [m.end() for m in _SENTENCE_END.finditer(text, max(0, window - 400), window)]
        ends = [position for position in ends if position <= start]
        if ends:
            left = ends[-1]
            break
    right_match = _SENTENCE_END.search(text, end)
    right = right_match.end() if right_match else len(text)
    sentence = _SPACES.sub(" ", text[left:right]).strip()
    if len(sentence) <= QUOTE_CHARS:
        return sentence
    middle = _SPACES.sub(" ", text[max(left, start - 60) : min(right, end + 80)]).strip()
    return f"…{middle}…"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# ------------------------------------------------------------------------------------------- staff names


def _is_stop(token: str) -> bool:
    lowered = token.lower().strip("'\"׳״.-")
    if lowered in STAFF_STOP_WORDS:
        return True
    return (
        bool(_HEBREW_LETTER.match(lowered))
        and lowered[0] in HEBREW_PREFIXES
        and lowered[1:] in STAFF_STOP_WORDS
    )


def _name_in_line(line: str, keep: frozenset[str]) -> str | None:
    """A person's name when the line is one ("Michael Levi", "יוסי כהן | מכירות"), else None."""
    candidate = _NAME_LINE_CUT.split(_TITLE.sub("", line.strip(" -—*_\t")), maxsplit=1)[0].strip()
    if not candidate or len(candidate) > 40:
        return None
    tokens = candidate.split()
    # The persona signing ("Thanks, Dana Levi") is no staff; a signer who shares her surname is.
    if any(_is_stop(token) for token in tokens) or tokens[0].lower() in keep:
        return None
    if _EN_NAME.fullmatch(candidate) or _HE_NAME.fullmatch(candidate):
        return candidate
    return None


def _signoff_names(lines: Sequence[str], kept: frozenset[str]) -> list[str]:
    """A name in the sign-off block, by its layout: under a closing, a "--" separator or a line ending in
    "!"; "Name | Title", "Name, Title", "רותי מצוות המכירות"; a name above a title, phone or email line; a
    short name as the last line. Only the last lines: in Hebrew any two words may look like a name."""
    found: list[str] = []
    for index in range(max(1, len(lines) - SIGNOFF_LINES), len(lines)):
        line, above = lines[index], lines[index - 1]
        if len(line) > SIGNATURE_LINE_CHARS:
            continue
        name = _name_in_line(line, kept)
        if name is None or _not_a_name(name):
            continue
        below = lines[index + 1] if index + 1 < len(lines) else None
        rest = line.strip(" -—*_\t")[len(_TITLE.sub("", line.strip(" -—*_\t")).split(name, 1)[0]) :]
        rest = rest.split(name, 1)[-1].strip(" ,|–—-/(•·)")
        if rest:  # "Name | Title", "Name, Sales", "רותי מצוות המכירות": the rest is a role, not a sentence
            if not _SENTENCE_INSIDE.search(rest) and _details(rest):
                found.append(name)
            continue
        under_signoff = bool(_CLOSING.match(above) or _SEPARATOR_LINE.fullmatch(above)) or above.endswith(
            ("!", ",", ".", ":", ")")
        )
        above_details = below is not None and _details(below)
        last_and_short = below is None and len(name.split()) <= 2
        if under_signoff or above_details or last_and_short:
            found.append(name)
    return found


def _details(line: str) -> bool:
    """A signature's detail line: a role, team or company, a phone number or an email address."""
    return (
        any(_is_stop(token) for token in line.split())
        or bool(_PHONE.search(line) or _EMAIL.search(line))
        or line.lstrip().startswith(("מ", "from ", "at "))
    )


def _not_a_name(candidate: str) -> bool:
    """Sign-off words, wishes and thanks are not names ("בהצלחה", "מחכים לך", "Thanks again")."""
    return bool(
        _CLOSING.match(candidate)
        or _WARMTH.search(candidate)
        or _THANKS.search(candidate)
        or _GREETING.match(candidate)
        or _NEXT_STEP.search(candidate)
    )


def find_staff_names(text: str, *, keep: Iterable[str] = ()) -> tuple[str, ...]:
    """Names of the people who wrote or signed the text (never those in `keep`: the persona, the company)."""
    kept = frozenset(word.lower() for name in keep for word in name.split())
    found: list[str] = []
    lines = _lines(text)
    for index, line in enumerate(lines):
        closing = _CLOSING.match(line)
        if closing is None:
            continue
        # Only the closing's own tail and the line below it: in Hebrew any two words may look like a name.
        following = [closing["rest"]] if closing["rest"] else []
        following += lines[index + 1 : index + 2]
        for candidate in following:
            name = _name_in_line(candidate, kept)
            if name is not None:
                found.append(name)
                break
    for line in lines:
        for inline in _INLINE_CLOSING.finditer(line):
            name = _name_in_line(inline["rest"], kept)
            if name is not None:
                found.append(name)
    found += _signoff_names(lines, kept)
    for pattern in _INTRODUCTIONS:
        for match in pattern.finditer(text):
            name = match["name"]
            tokens = name.split()
            while tokens and (_is_stop(tokens[-1]) or tokens[-1].lower() in kept):
                tokens.pop()
            if tokens and not any(_is_stop(token) or token.lower() in kept for token in tokens):
                found.append(" ".join(tokens))
    return tuple(dict.fromkeys(found))


def mask_staff_names(text: str, *, keep: Iterable[str] = (), names: Iterable[str] | None = None) -> str:
    """Replace staff names with "[staff]" wherever they occur; the persona's names (`keep`) stay.

    `names`: the names to mask (as `find_staff_names` gives them); by default those found in the text itself.
    """
    keep = tuple(keep)
    targets = find_staff_names(text, keep=keep) if names is None else tuple(names)
    return _apply_mask(_mask_pattern(targets, keep), text)


def _mask_pattern(names: Sequence[str], keep: Sequence[str]) -> re.Pattern[str] | None:
    kept = frozenset(word.lower() for name in keep for word in name.split())
    words = {*names, *(token for name in names for token in name.split() if len(token) > 1)}
    words = {word for word in words if word.lower() not in kept}
    if not words:
        return None
    return re.compile(rf"(?<!\w)([{HEBREW_PREFIXES}]?)(?:{_words(words)})(?!\w)", re.IGNORECASE)


def _staff_replacement(match: re.Match[str]) -> str:
    # A Hebrew one-letter prefix ("ליוסי": to Yossi) stays; before a Latin name no letter may stand.
    return f"{match[1]}{STAFF}"


def _apply_mask(pattern: re.Pattern[str] | None, text: str) -> str:
    if pattern is None:
        return text
    return _STAFF_RUN.sub(STAFF, pattern.sub(_staff_replacement, text))


# ------------------------------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class ReplyScore:
    criteria: tuple[CriterionScore, ...]
    quality: float
    complete: bool  # every declared answer part found
    language: str | None
    excerpt: str | None
    staff_names: tuple[str, ...]


@dataclass(frozen=True)
class _Company:
    domain: str
    name: str


class _Scorer:
    """One reply's detectors; evidence quotes are masked as they are made."""

    def __init__(
        self, reply: ReplyText, context: RubricContext, company: _Company, *, names: bool = True
    ) -> None:
        self.reply, self.context, self.company = reply, context, company
        self.keep = (*context.persona_names, company.name)
        self.staff = find_staff_names(reply.whole, keep=self.keep) if names else ()
        self.masking = _mask_pattern(self.staff, self.keep) if context.mask else None
        self.spoken = reply.channel not in ("email", "sms")  # a logged call: the text is a person's note
        self._phones: list[re.Match[str]] | None = None
        self.answered_parts = 0
        self.said_no = False  # a clear "no" to the yes/no part: the rest of the inquiry is moot

    def quote(self, text: str, match: re.Match[str], rule: str) -> Evidence:
        return Evidence(quote=self.mask(_quote(text, match.start(), match.end())), rule=rule)

    def mask(self, text: str) -> str:
        return _apply_mask(self.masking, text)

    def phones(self) -> list[re.Match[str]]:
        """Phone numbers in the whole reply, other than the persona's own (quoted back), found once."""
        if self._phones is None:
            self._phones = [m for m in _PHONE.finditer(self.reply.whole) if not self.own_phone(m[0])]
        return self._phones

    def first(self, pattern: re.Pattern[str], text: str, rule: str) -> Evidence | None:
        match = self.search(pattern, text)
        return self.quote(text, match, rule) if match else None

    def search(self, pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
        """The first match; in a note of a call, not one the note negates ("did not thank", "לא הודה")."""
        for match in pattern.finditer(text):
            if not (self.spoken and _NOTE_NEGATED.search(text, max(0, match.start() - 30), match.start())):
                return match
        return None

    # -- A
    def answered(self) -> tuple[CriterionScore, bool]:
        text = _unwrap(self.reply.whole)
        parts = self.context.answer_parts
        if not parts:
            return self.substance()
        evidence: list[Evidence] = []
        missing: list[str] = []
        for part, pattern in zip(parts, self.context.part_words, strict=True):
            found = self.answer_part(part, pattern, text)
            if found is None:
                missing.append(part.label or part.kind)
            else:
                evidence.append(found)
        note = None
        if missing and self.said_no:
            # "No, we have no monthly plan": the plan's price (or the branch's phone) is moot.
            note = f"answered no: {', '.join(missing)} moot"
            missing = []
        self.answered_parts = len(parts) - len(missing)
        score = 2 if not missing else (1 if len(missing) < len(parts) else 0)
        note = f"missing: {', '.join(missing)}" if missing else note
        return CriterionScore("A", score, 2, tuple(evidence), note=note), not missing

    def substance(self) -> tuple[CriterionScore, bool]:
        """Without declared answer parts: a reply of some length that does not just redirect answers."""
        redirect = _REDIRECT.search(self.reply.body)
        score = 0 if len(self.reply.body.split()) < 8 else (1 if redirect else 2)
        evidence = (self.quote(self.reply.body, redirect, "sends_elsewhere"),) if redirect else ()
        note = "no inquiry.answer_parts declared: judged on substance only"
        self.answered_parts = 1 if score == 2 else 0
        return CriterionScore("A", score, 2, evidence, note=note), score == 2

    def answer_part(self, part: AnswerPart, words: re.Pattern[str] | None, text: str) -> Evidence | None:
        rule = f"part_{part.kind}" + (f": {part.label}" if part.label else "")
        if part.kind == "phone":
            for phone in self.phones():
                # "The branch: 04-825..., and if nobody answers, our centre on *2580": what leads up to each
                # number decides.
                clause = _clause_at(text, phone.start(), phone.end())
                if not (_GENERAL_LINE.search(clause) or _REDIRECT.search(clause)):
                    return self.quote(text, phone, rule)
            return None
        if part.kind == "price":
            return self.first(_PRICE, text, rule)
        if part.kind == "url":
            for match in _URL.finditer(text):
                if self.company_url(match[0]) and (words is None or words.search(match[0])):
                    return self.quote(text, match, rule)
            return None
        if part.kind == "words":
            return self.first(words, text, rule) if words is not None else None
        return self.yes_no(words, text, rule)

    def yes_no(self, words: re.Pattern[str] | None, text: str, rule: str) -> Evidence | None:
        """An explicit answer: a sentence naming what was asked with a yes, a no, what exists or its price or
        phone; or a bare "Yes," / "לא." opening a sentence next to what was asked (or short on its own)."""
        # A question answers nothing, nor does a sentence with an unfilled field ("יש לנו סניף ב{city}").
        sentences = [
            sentence
            for sentence in _sentences(text)
            if not (_QUESTION.search(sentence) or _TEMPLATE.search(sentence))
        ]
        for index, sentence in enumerate(sentences):
            names = words is None or bool(words.search(sentence))
            negative = _NEGATIVE.search(sentence)
            explicit = negative or _AFFIRMATIVE.search(sentence)
            # "Please visit your nearest branch" names the branch and answers nothing.
            if (
                names
                and words is not None
                and (
                    explicit
                    or (
                        not _REDIRECT.search(sentence)
                        and (_AVAILABILITY.search(sentence) or self.details(sentence))
                    )
                )
            ):
                self.said_no = self.said_no or bool(negative)
                return Evidence(self.mask(_clip(sentence)), rule)
            bare = _BARE_ANSWER.match(sentence)
            if bare is None:
                continue
            nearby = " ".join(sentences[index : index + 2])
            if words is None or len(sentence.split()) <= 4 or words.search(nearby) or self.details(nearby):
                self.said_no = self.said_no or bool(_BARE_NEGATIVE.match(sentence))
                return Evidence(self.mask(_clip(sentence)), rule)
        return None

    def next_step(self, text: str) -> Evidence | None:
        """An offered next step, not one inside a redirect ("please call our centre to set up a meeting")."""
        for match in _NEXT_STEP.finditer(text):
            sentence = _sentence_at(text, match.start())
            if _REDIRECT.search(sentence) or (
                self.spoken and _NOTE_NEGATED.search(text, max(0, match.start() - 30), match.start())
            ):
                continue
            return self.quote(text, match, "next_step")
        return None

    def details(self, sentence: str) -> bool:
        """The sentence gives what else was asked: a price or a phone number."""
        kinds = {part.kind for part in self.context.answer_parts}
        return ("price" in kinds and bool(_PRICE.search(sentence))) or (
            "phone" in kinds and any(not self.own_phone(m[0]) for m in _PHONE.finditer(sentence))
        )

    def own_phone(self, number: str) -> bool:
        digits = re.sub(r"\D", "", number)
        return bool(self.context.own_phone_digits) and digits[-9:] == self.context.own_phone_digits

    def company_url(self, url: str) -> bool:
        host = (urlsplit(url if "://" in url else f"http://{url}").hostname or "").lower()
        domain = self.company.domain.lower().removeprefix("www.")
        return bool(domain) and (host == domain or host.endswith(f".{domain}"))

    # -- P1
    def personal(self) -> CriterionScore:
        evidence: list[Evidence] = []
        score = 0
        opening = "\n".join(_lines(self.reply.body)[:3])
        by_name = self.context.greeting_by_name.search(opening)
        if by_name is None and self.spoken:
            by_name = self.search(self.context.greeting_anywhere, self.reply.body) or self.search(
                _NOTE_BY_NAME, self.reply.body
            )
        if by_name:
            score += 1
            evidence.append(Evidence(self.mask(_clip(by_name[0].strip())), "greeting_by_name"))
        elif (generic := _GENERIC_GREETING.search(opening)) is not None:
            evidence.append(self.quote(opening, generic, "generic_greeting"))
        if self.staff:
            score += 1
            named = STAFF if self.context.mask else self.staff[0]
            evidence.append(Evidence(f"signed or introduced by a person: {named}", "signed_by_person"))
        elif (team := self.team_signature()) is not None:
            evidence.append(Evidence(self.mask(team), "signed_by_team"))
        return CriterionScore("P1", score, 2, tuple(evidence))

    def team_signature(self) -> str | None:
        lines = _lines(self.reply.signature)[:4] + _lines(self.reply.body)[-1:]
        for line in lines:
            if _CLOSING.match(line):
                continue
            if any(_is_stop(token) for token in line.split()):
                return _clip(line)
        return None

    # -- P2
    def polite(self) -> CriterionScore:
        evidence: list[Evidence] = []
        text = self.reply.whole
        # A note reports thanks ("she thanked me") or quotes them; either may be negated ("did not thank").
        thanks = self.search(_NOTE_THANKS if self.spoken else _THANKS, text)
        if thanks is None and self.spoken:
            thanks = self.search(_THANKS, text)
        score = 0
        if thanks:
            score += 1
            evidence.append(self.quote(text, thanks, "thanks"))
        if self.spoken:
            greeting = self.search(_NOTE_GREETED, text) or self.search(self.context.greeting_anywhere, text)
            closing = self.search(_NOTE_CLOSED, text)
            if greeting and closing:
                score += 1
                evidence.append(self.quote(text, closing, "note_says_greeting_and_goodbye"))
            if (said := self.search(_NOTE_POLITE, text)) is not None:
                score = 2
                evidence.append(self.quote(text, said, "note_says_polite"))
        else:
            lines = _lines(self.reply.body)
            opener = next((line for line in lines[:3] if _GREETING.match(line)), None)
            if opener is None and self.context.greeting_by_name.search("\n".join(lines[:3])):
                opener = lines[0]
            closing_lines = _lines(self.reply.signature)[:4] + lines[-SIGNOFF_LINES:]
            closer = next(
                (line for line in closing_lines if _CLOSING.match(line)), None
            ) or self.signoff_line(lines)
            if opener and closer:
                score += 1
                evidence.append(Evidence(self.mask(_clip(f"{opener} … {closer}")), "greeting_and_closing"))
        blame = _BLAME.search(text)
        if blame:
            score = max(0, score - 1)
            evidence.append(self.quote(text, blame, "blames_customer"))
        return CriterionScore("P2", score, 2, tuple(evidence))

    def signoff_line(self, lines: Sequence[str]) -> str | None:
        """A courteous last line standing where the sign-off goes ("Happy to help!", "Thanks for choosing
        us!", "... Have a nice day."): the closing, when no valediction is there."""
        for line in reversed(lines[-4:]):
            last = (_sentences(line) or [line])[-1]
            short = len(last.split()) <= 10
            if _CLOSING.match(last) or (short and (_THANKS.search(last) or _WARMTH.search(last))):
                return line if len(lines) > 1 and line != lines[0] else None
            if len(line) <= 40 and (_details(line) or any(name in line for name in self.staff)):
                continue  # the signer's name and details, below the sign-off
            return None
        return None

    # -- Q
    def professional(self, language: Evidence, code: str | None) -> CriterionScore:
        evidence: list[Evidence] = [language]
        text = self.reply.whole
        template = _TEMPLATE.search(text)
        same_language = self.spoken or code in (None, self.context.language)
        score = 0
        if template:
            evidence.append(self.quote(text, template, "unfilled_template_field"))
        elif not same_language:
            evidence.append(
                Evidence(f"answered in {code}, asked in {self.context.language}", "other_language")
            )
        else:
            score += 1
            clean = f"in the inquiry's language ({self.context.language}), no template fields"
            evidence.append(Evidence(clean, "clean_and_same_language"))
        contact = self.direct_contact(text) if self.staff else None
        if contact is not None:
            score += 1
            evidence.append(contact)
        return CriterionScore("Q", score, 2, tuple(evidence))

    def language(self) -> tuple[str | None, Evidence]:
        """The reply's language from its own new text (no quotes, signature or ticket wrapper), with the
        share of Hebrew letters and the text it was read from."""
        code, share, letters = _letters(self.reply.body)
        span = self.mask(_clip(self.reply.body))
        said = f"{code}: Hebrew letters {share:.0%} of {letters} in the reply's own text: {span}"
        return code, Evidence(said, "reply_language")

    def direct_contact(self, text: str) -> Evidence | None:
        phones = self.phones()
        if phones:
            return self.quote(text, phones[0], "direct_contact_phone")
        for match in _EMAIL.finditer(text):
            if not match[0].lower().endswith(f"@{self.context.own_mail_domain}"):
                return self.quote(text, match, "direct_contact_email")
        return None

    # -- V
    def value(self, asks_again: bool) -> CriterionScore:
        text = self.reply.whole
        # A call back that waits for details already given is no next step (it is the re-ask's price).
        step = None if asks_again else self.next_step(text)
        evidence = [
            found
            for found in (step, self.relevant_link(self.reply.body), self.alternative(text))
            if found is not None
        ]
        return CriterionScore("V", min(2, len(evidence)), 2, tuple(evidence))

    def alternative(self, text: str) -> Evidence | None:
        """Something else offered after a "no" ("no monthly plan, but a quarterly one")."""
        if not self.said_no:
            return None
        return self.first(_ALTERNATIVE, text, "alternative")

    def relevant_link(self, text: str) -> Evidence | None:
        """A page on the company's site in the body: not the home page, not a login page."""
        for match in _URL.finditer(text):
            url = match[0].rstrip(".,;:!?")
            parts = urlsplit(url if "://" in url else f"http://{url}")
            page = f"{parts.hostname or ''}{parts.path}".lower()
            if not self.company_url(url) or parts.path.strip("/") == "" or _LOGIN_PAGE.search(page):
                continue
            return self.quote(text, match, "relevant_link")
        return None

    # -- E
    def effort(self, asks_again: Evidence | None) -> CriterionScore:
        text = self.reply.whole
        # A redirect costs only when nothing was answered: "49 NIS; call *2323 to join" answers.
        against = [
            found
            for found in (
                None if self.answered_parts else self.first(_REDIRECT, self.reply.body, "sends_elsewhere"),
                asks_again,
                self.first(_LOGIN, text, "requires_login"),
            )
            if found is not None
        ]
        return CriterionScore("E", 0 if against else 1, 1, tuple(against))

    # -- M
    def warmth(self) -> CriterionScore:
        text = self.reply.whole
        evidence: list[Evidence] = []
        seen: set[str] = set()
        patterns = (_WARMTH, _NOTE_WARM) if self.spoken else (_WARMTH,)
        for pattern in patterns:
            for match in pattern.finditer(text):
                if self.spoken and _NOTE_NEGATED.search(text, max(0, match.start() - 30), match.start()):
                    continue
                # Each expression counts once, however often it is said ("Happy to help! Happy to help.").
                said = _SPACES.sub(" ", match[0].lower()).lstrip(HEBREW_PREFIXES) or match[0]
                if said in seen:
                    continue
                seen.add(said)
                evidence.append(self.quote(text, match, "warmth"))
        return CriterionScore("M", min(2, len(evidence)), 2, tuple(evidence[:2]))

    def excerpt(self) -> str | None:
        lines = _lines(self.reply.body)
        while (
            len(lines) > 1
            and len(lines[0].split()) <= 4
            and (_GREETING.match(lines[0]) or self.context.greeting_by_name.match(lines[0]))
        ):
            lines = lines[1:]
        text = _SPACES.sub(" ", " ".join(lines)).strip()
        if not text:
            return None
        if len(text) > EXCERPT_CHARS:
            cut = text[:EXCERPT_CHARS]
            end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
            text = cut[: end + 1] if end > EXCERPT_CHARS // 2 else cut.rsplit(" ", 1)[0] + " …"
        return self.mask(text)


def _unwrap(text: str) -> str:
    """Hard-wrapped lines joined (a long line that does not end a sentence runs on); same length, so
    positions stay."""
    lines = text.split("\n")
    joined = [
        f"{line} "
        if len(line) >= WRAPPED_LINE_CHARS and not line.rstrip().endswith((".", "!", "?", ":", ";"))
        else f"{line}\n"
        for line in lines[:-1]
    ]
    return "".join(joined) + lines[-1]


def _sentence_at(text: str, position: int) -> str:
    """The sentence (or line) around text[position]."""
    starts = [m.end() for m in _SENTENCE_END.finditer(text, max(0, position - 300), position)]
    end = _SENTENCE_END.search(text, position)
    return text[starts[-1] if starts else max(0, position - 300) : end.end() if end else len(text)]


_CLAUSE_BREAK = re.compile(r",\s+|;\s*|\s+[-–—]\s+")


def _clause_at(text: str, start: int, end: int) -> str:
    """The sentence around text[start:end] up to the end of its clause (the next comma, semicolon or dash):
    what leads up to a phone number says what it is for; what follows it may be about another number."""
    sentence_start = max(0, start - 300)
    starts = [m.end() for m in _SENTENCE_END.finditer(text, sentence_start, start)]
    sentence_start = starts[-1] if starts else sentence_start
    sentence_end_match = _SENTENCE_END.search(text, end)
    sentence_end = sentence_end_match.end() if sentence_end_match else len(text)
    after = _CLAUSE_BREAK.search(text, end, sentence_end)
    return text[sentence_start : after.start() if after else sentence_end]


def _sentences(text: str) -> list[str]:
    return [piece.strip() for piece in re.split(r"(?<=[.!?])\s+|\n+", text) if piece.strip()]


def _clip(text: str) -> str:
    cleaned = _SPACES.sub(" ", text).strip()
    return cleaned if len(cleaned) <= QUOTE_CHARS else cleaned[: QUOTE_CHARS - 1] + "…"


def quality_of(criteria: Iterable[CriterionScore]) -> float:
    """sum(score) / sum(max), 0 to 1, in proportion to how much of the inquiry was answered (A / its max).

    Why the proportion: courtesy does not make up for a missing answer. TACK's middle tier is "correct, but
    left us indifferent"; a polite reply that answers half the question, or none of it, is "answered
    poorly". Points alone put such replies level with correct ones (tests/data/rubric/README.md).
    """
    items = list(criteria)
    maximum = sum(item.max_score for item in items)
    if not maximum:
        return 0.0
    answered = next((item for item in items if item.criterion == "A" and item.max_score), None)
    share = answered.score / answered.max_score if answered is not None else 1.0
    return round(sum(item.score for item in items) / maximum * share, 4)


def score_reply(
    reply: ReplyText, context: RubricContext, *, company_domain: str, company_name: str
) -> ReplyScore:
    """Every text criterion for one human reply, with evidence."""
    scorer = _Scorer(reply, context, _Company(domain=company_domain, name=company_name))
    language, language_evidence = scorer.language()
    answered, complete = scorer.answered()
    asks_again = scorer.first(_RE_ASK, reply.body, "asks_again_for_details")
    criteria = (
        answered,
        scorer.personal(),
        scorer.polite(),
        scorer.professional(language_evidence, language),
        scorer.value(asks_again is not None),
        scorer.effort(asks_again),
        scorer.warmth(),
    )
    return ReplyScore(
        criteria=criteria,
        quality=quality_of(criteria),
        complete=complete,
        language=language,
        excerpt=scorer.excerpt(),
        staff_names=scorer.staff,
    )


def answers_completely(
    reply: ReplyText, context: RubricContext, *, company_domain: str, company_name: str
) -> bool:
    """Only criterion A: does this reply answer every declared part (for `first_complete_at`)."""
    scorer = _Scorer(reply, context, _Company(domain=company_domain, name=company_name), names=False)
    return scorer.answered()[1]
