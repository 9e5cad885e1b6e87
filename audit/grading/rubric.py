"""The reply-quality rubric (method.md §6): criteria A, P1, P2, Q, V, E, M from a human reply's text.

Each criterion is scored by detectors that quote the words that fired (English and Hebrew); a reviewer
confirms or overrides (`audit grade set`). Quality is sum(score) / sum(max) over the criteria, 0 to 1.
T (prompt) and F (follow-up) are timing facts, measured in latency.py, not text.

Every word list is a module-level tuple below: extend them there. Patterns are compiled once at import; the
persona- and inquiry-specific ones once per wave (`RubricContext.from_config`), so a wave of thousands of
replies is graded in a second or two.

Staff names (ethics, method.md §8): `find_staff_names` reads names from signature lines, self-introductions
("my name is", "שמי") and greeting lines; `mask_staff_names` replaces them with "[staff]" everywhere in a
text, keeping the persona's own name. Quotes in evidence and excerpts are masked when `audit.mask_staff_names`
is on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from audit.collect.quotes import QUOTE_BLOCK_FIRST, QUOTE_HEADER_LINES
from audit.config import AnswerPart, AuditConfig
from audit.grading.types import CriterionScore, Evidence
from audit.grading.wordlists import (
    ALTERNATIVES,
    AVAILABILITY,
    BLAME,
    CLOSINGS,
    GENERIC_GREETINGS,
    GREETING_WORDS,
    HEBREW_PREFIXES,
    LOGIN,
    NEXT_STEPS,
    NOTE_POLITE,
    NOTE_WARM,
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


def _any(patterns: Iterable[str], *, bounded: bool = True) -> re.Pattern[str]:
    body = "|".join(f"(?:{pattern})" for pattern in patterns)
    return re.compile(rf"(?<!\w)(?:{body})" if bounded else body, re.IGNORECASE)


def _words(words: Iterable[str]) -> str:
    return "|".join(re.escape(word).replace(r"\ ", r"\s+") for word in sorted(words, key=len, reverse=True))


_GREETING = re.compile(rf"^\W*(?:{_words(GREETING_WORDS)})(?!\w)", re.IGNORECASE)
_GENERIC_GREETING = _any(GENERIC_GREETINGS)
# A closing line is the valediction alone, or with a short name after a comma ("Best, Michael"); "Thanks for
# your question" opens a sentence and closes nothing.
_CLOSING = re.compile(
    rf"^\W*(?:{_words(CLOSINGS)})\s*[.!]*\s*(?:[,–—-]\s*(?P<rest>\S+(?:\s+\S+){{0,3}})?)?\s*[.!]*$",
    re.IGNORECASE,
)
# A closing inside a line ("... a monthly plan. Best regards, Ruth"): text flattened into one paragraph, as
# web forms and phone notes often are, must not leak the signer's name.
_INLINE_CLOSING = re.compile(
    rf"(?:^|[.!?]\s+)(?:{_words(CLOSINGS)})\s*,\s*(?P<rest>[^\n,.;!?|]+)",
    re.IGNORECASE,
)
_THANKS = _any(THANKS)
_BLAME = _any(BLAME)
_TEMPLATE = _any(TEMPLATE_FIELDS, bounded=False)
_NEXT_STEP = _any(NEXT_STEPS)
_ALTERNATIVE = _any(ALTERNATIVES)
_REDIRECT = _any(REDIRECTS)
_RE_ASK = _any(RE_ASKS)
_LOGIN = _any(LOGIN)
_WARMTH = _any(WARMTH)
_NOTE_POLITE = _any(NOTE_POLITE, bounded=False)
_NOTE_WARM = _any(NOTE_WARM, bounded=False)
_YES_NO_START = re.compile(rf"^\W*(?:{'|'.join(YES_NO)})(?!\w)", re.IGNORECASE)
_YES_NO_ANY = _any(YES_NO)
_AVAILABILITY = _any(AVAILABILITY)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+?972[-\s]?|0)[2-9]\d?[-\s]?\d{3}[-\s]?\d{4}(?!\d)"  # Israeli landline and mobile
    r"|(?<![\w*])\*\d{4}(?!\d)"  # Israeli star numbers (*2323)
    r"|(?<!\d)1[-\s]?[78]00[-\s]?\d{2,3}[-\s]?\d{3,4}(?!\d)"  # 1-800 numbers
    r"|\+\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4}(?!\d)"  # international
    r"|(?<![\w(])\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?!\d)"  # North American
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>()\"'\]]+", re.IGNORECASE)
_PRICE = re.compile(
    r"[$€£₪]\s?\d[\d,.]*"
    r"|(?:NIS|ILS|USD|EUR|GBP)\s?\d[\d,.]*"
    r"|\d[\d,.]*\s?(?:₪|ש\"ח|ש״ח|ש''ח|שקלים|שקל|NIS|ILS|USD|EUR|GBP|dollars?|euros?|shekels?)(?!\w)",
    re.IGNORECASE,
)
_HEBREW_LETTER = re.compile(r"[\u05d0-\u05ea]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_QUOTE_START = re.compile(
    "|".join(f"(?:{pattern})" for pattern in (*QUOTE_HEADER_LINES, QUOTE_BLOCK_FIRST)), re.IGNORECASE
)
_EN_TOKEN = r"[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)*"
_EN_NAME = re.compile(rf"{_EN_TOKEN}(?:\s+[A-Z]\.)?(?:\s+{_EN_TOKEN}){{0,2}}")
_HE_TOKEN = r"[\u05d0-\u05ea][\u05d0-\u05ea'\"׳״-]*"
_HE_NAME = re.compile(rf"{_HE_TOKEN}(?:\s+{_HE_TOKEN}){{0,2}}")
_NAME_LINE_CUT = re.compile(r"\s*(?:[|,–—/(]|\s-\s|\s+from\s+|\s+at\s+|\s+מ(?=צוות|חברת|מחלקת))\s*")
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
    re.compile(rf"(?<!\w)(?P<name>{_HE_TOKEN})\s+(?:התקשר|התקשרה|חזר|חזרה|צלצל|צלצלה)(?!\w)"),
    re.compile(rf"(?:שמי|קוראים\s+לי)(?:\s+הוא)?\s+(?P<name>{_HE_TOKEN}(?:\s+{_HE_TOKEN})?)"),
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
    part_words: tuple[re.Pattern[str] | None, ...]

    @classmethod
    def from_config(cls, config: AuditConfig) -> RubricContext:
        persona = config.persona
        names = [
            persona.first_name,
            persona.last_name,
            *persona.aliases,
            *_signature_names(config.inquiry.message),
        ]
        names = list(dict.fromkeys(name for name in names if name))
        alternatives = _words(names)
        titles = r"(?:(?:ms|mrs|miss|mr)\.?\s+|גב['׳]\s*|גברת\s+)?"
        greeting = re.compile(
            rf"^\W*(?:(?:{_words(GREETING_WORDS)})\s*,?\s*{titles}(?:{alternatives})(?!\w)"
            rf"|(?:{alternatives})\s*(?:[,!]|שלום|היקרה|היקר|יקרה|יקר)(?!\w)"
            rf"|(?:{alternatives})\s*$)",
            re.IGNORECASE | re.MULTILINE,
        )
        return cls(
            language=config.inquiry.language or config.audit.language,
            answer_parts=config.inquiry.answer_parts,
            persona_names=tuple(names),
            own_phone_digits=re.sub(r"\D", "", persona.phone)[-9:],
            own_mail_domain=config.mailbox.address.rpartition("@")[2].lower(),
            mask=config.audit.mask_staff_names,
            greeting_by_name=greeting,
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
    """Body from the collector's `reply_text`; the signature is what follows it in `text`, above quotes."""
    full = (text or "").replace("\r\n", "\n")
    body = (reply_text if reply_text is not None else full).strip()
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
    hebrew = len(_HEBREW_LETTER.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    if hebrew + latin == 0:
        return "other" if text.strip() else None
    return "he" if hebrew >= latin else "en"


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
    candidate = _NAME_LINE_CUT.split(line.strip(" -—*_\t"), maxsplit=1)[0].strip()
    if not candidate or len(candidate) > 40:
        return None
    tokens = candidate.split()
    if any(_is_stop(token) or token.lower() in keep for token in tokens):
        return None
    if _EN_NAME.fullmatch(candidate) or _HE_NAME.fullmatch(candidate):
        return candidate
    return None


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
    if lines and lines[-1] and not found:  # a bare name as the last line ("-- \nMichael")
        name = _name_in_line(lines[-1], kept) if len(lines) > 1 and len(lines[-1].split()) <= 3 else None
        if name is not None and _EN_NAME.fullmatch(name):
            found.append(name)
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
        match = pattern.search(text)
        return self.quote(text, match, rule) if match else None

    # -- A
    def answered(self) -> tuple[CriterionScore, bool]:
        text = self.reply.whole
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
        score = 2 if not missing else (1 if len(missing) < len(parts) else 0)
        note = f"missing: {', '.join(missing)}" if missing else None
        return CriterionScore("A", score, 2, tuple(evidence), note=note), not missing

    def substance(self) -> tuple[CriterionScore, bool]:
        """Without declared answer parts: a reply of some length that does not just redirect answers."""
        redirect = _REDIRECT.search(self.reply.body)
        score = 0 if len(self.reply.body.split()) < 8 else (1 if redirect else 2)
        evidence = (self.quote(self.reply.body, redirect, "sends_elsewhere"),) if redirect else ()
        note = "no inquiry.answer_parts declared: judged on substance only"
        return CriterionScore("A", score, 2, evidence, note=note), score == 2

    def answer_part(self, part: AnswerPart, words: re.Pattern[str] | None, text: str) -> Evidence | None:
        rule = f"part_{part.kind}" + (f": {part.label}" if part.label else "")
        if part.kind == "phone":
            phones = self.phones()
            return self.quote(text, phones[0], rule) if phones else None
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
        for sentence in _sentences(text):
            if words is not None:
                if words.search(sentence) and (
                    _YES_NO_ANY.search(sentence) or _AVAILABILITY.search(sentence)
                ):
                    return Evidence(self.mask(_clip(sentence)), rule)
            elif _YES_NO_START.search(sentence) or _AVAILABILITY.search(sentence):
                return Evidence(self.mask(_clip(sentence)), rule)
        return None

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
        if by_name:
            score += 1
            evidence.append(Evidence(self.mask(_clip(by_name[0].strip())), "greeting_by_name"))
        elif (generic := _GENERIC_GREETING.search(opening)) is not None:
            evidence.append(self.quote(opening, generic, "generic_greeting"))
        if self.staff:
            score += 1
            named = STAFF if self.context.mask else self.staff[0]
            evidence.append(Evidence(f"signed or introduced by a person: {named}", "signed_by_person"))
        elif self.spoken:
            score += 1
            evidence.append(Evidence("a person called back (logged by hand)", "call_by_person"))
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
        thanks = _THANKS.search(text)
        score = 0
        if thanks:
            score += 1
            evidence.append(self.quote(text, thanks, "thanks"))
        lines = _lines(self.reply.body)
        greeting = next((line for line in lines[:3] if _GREETING.match(line)), None)
        if greeting is None and self.context.greeting_by_name.search("\n".join(lines[:3])):
            greeting = lines[0]
        closing_lines = _lines(self.reply.signature)[:4] + lines[-3:]
        closing = next((line for line in closing_lines if _CLOSING.match(line)), None)
        if greeting and closing:
            score += 1
            evidence.append(Evidence(self.mask(_clip(f"{greeting} … {closing}")), "greeting_and_closing"))
        if self.spoken and (said := _NOTE_POLITE.search(text)) is not None:
            score = 2
            evidence.append(self.quote(text, said, "note_says_polite"))
        blame = _BLAME.search(text)
        if blame:
            score = max(0, score - 1)
            evidence.append(self.quote(text, blame, "blames_customer"))
        return CriterionScore("P2", score, 2, tuple(evidence))

    # -- Q
    def professional(self, language: str | None) -> CriterionScore:
        evidence: list[Evidence] = []
        text = self.reply.whole
        template = _TEMPLATE.search(text)
        same_language = self.spoken or language in (None, self.context.language)
        score = 0
        if template:
            evidence.append(self.quote(text, template, "unfilled_template_field"))
        elif not same_language:
            evidence.append(
                Evidence(f"answered in {language}, asked in {self.context.language}", "other_language")
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

    def direct_contact(self, text: str) -> Evidence | None:
        phones = self.phones()
        if phones:
            return self.quote(text, phones[0], "direct_contact_phone")
        for match in _EMAIL.finditer(text):
            if not match[0].lower().endswith(f"@{self.context.own_mail_domain}"):
                return self.quote(text, match, "direct_contact_email")
        return None

    # -- V
    def value(self) -> CriterionScore:
        text = self.reply.whole
        evidence = [
            found
            for found in (
                self.first(_NEXT_STEP, text, "next_step"),
                self.relevant_link(text),
                self.first(_ALTERNATIVE, text, "alternative"),
            )
            if found is not None
        ]
        return CriterionScore("V", min(2, len(evidence)), 2, tuple(evidence))

    def relevant_link(self, text: str) -> Evidence | None:
        for match in _URL.finditer(text):
            if self.company_url(match[0]):
                return self.quote(text, match, "relevant_link")
        return None

    # -- E
    def effort(self, complete: bool) -> CriterionScore:
        text = self.reply.whole
        against = [
            found
            for found in (
                None if complete else self.first(_REDIRECT, self.reply.body, "sends_elsewhere"),
                self.first(_RE_ASK, self.reply.body, "asks_again_for_details"),
                self.first(_LOGIN, text, "requires_login"),
            )
            if found is not None
        ]
        return CriterionScore("E", 0 if against else 1, 1, tuple(against))

    # -- M
    def warmth(self) -> CriterionScore:
        text = self.reply.whole
        evidence: list[Evidence] = []
        patterns = (_WARMTH, _NOTE_WARM) if self.spoken else (_WARMTH,)
        for pattern in patterns:
            for match in pattern.finditer(text):
                found = self.quote(text, match, "warmth")
                if found not in evidence:  # one warm sentence counts once, however many warm words it has
                    evidence.append(found)
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


def _sentences(text: str) -> list[str]:
    return [piece.strip() for piece in re.split(r"(?<=[.!?])\s+|\n+", text) if piece.strip()]


def _clip(text: str) -> str:
    cleaned = _SPACES.sub(" ", text).strip()
    return cleaned if len(cleaned) <= QUOTE_CHARS else cleaned[: QUOTE_CHARS - 1] + "…"


def quality_of(criteria: Iterable[CriterionScore]) -> float:
    """sum(score) / sum(max), 0 to 1."""
    items = list(criteria)
    maximum = sum(item.max_score for item in items)
    return round(sum(item.score for item in items) / maximum, 4) if maximum else 0.0


def score_reply(
    reply: ReplyText, context: RubricContext, *, company_domain: str, company_name: str
) -> ReplyScore:
    """Every text criterion for one human reply, with evidence."""
    scorer = _Scorer(reply, context, _Company(domain=company_domain, name=company_name))
    language = detect_language(reply.body)
    answered, complete = scorer.answered()
    criteria = (
        answered,
        scorer.personal(),
        scorer.polite(),
        scorer.professional(language),
        scorer.value(),
        scorer.effort(complete),
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
