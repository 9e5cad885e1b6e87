"""Reply-time promises in auto-acknowledgements: "within 2 business days", "תוך 48 שעות".

A promise is a term (an amount, a unit, wall or business clock); its due time is counted from the moment the
acknowledgement arrived, on the audit's calendar. Vague promises ("as soon as possible", "בהקדם") name no due
time and are not promises here. A range ("3-5 business days") is held to its upper bound, as a customer reads
it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from audit.grading.calendar import BusinessCalendar

NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "twelve": 12, "fourteen": 14, "twenty-four": 24, "twenty four": 24,
    "forty-eight": 48, "forty eight": 48, "seventy-two": 72, "seventy two": 72,
    "אחד": 1, "אחת": 1, "שני": 2, "שתי": 2, "שניים": 2, "שתיים": 2, "שלושה": 3, "שלוש": 3, "שלושת": 3,
    "ארבעה": 4, "ארבע": 4, "ארבעת": 4, "חמישה": 5, "חמש": 5, "חמשת": 5, "שישה": 6, "שש": 6, "ששת": 6,
    "שבעה": 7, "שבע": 7, "שבעת": 7, "עשרה": 10, "עשר": 10, "עשרת": 10,
}  # fmt: skip
_NUMBER = r"(?:\d{1,3}|" + "|".join(sorted((re.escape(w) for w in NUMBER_WORDS), key=len, reverse=True)) + ")"

_ENGLISH = re.compile(
    r"\b(?:within|in|in\s+the\s+next|in\s+the\s+coming|during\s+the\s+next|no\s+later\s+than|up\s+to)\s+"
    r"(?:the\s+next\s+)?(?P<n>" + _NUMBER + r")(?:\s*(?:-|–|to|or)\s*(?P<n2>" + _NUMBER + r"))?"
    r"\s*(?P<biz>business|working|work)?\s*(?P<unit>hours?|hrs?|h|days?|weeks?)\b",
    re.IGNORECASE,
)
_ENGLISH_END_OF_DAY = re.compile(
    r"\bby\s+(?:the\s+)?end\s+of\s+(?:the\s+)?(?P<next>next\s+)?(?:business\s+|working\s+)?day\b",
    re.IGNORECASE,
)
_HEBREW = re.compile(
    r"(?<!\w)(?P<within>תוך|בתוך|עד|בטווח\s+של|במהלך|לא\s+יאוחר\s+מ-?)\s*"
    r"(?P<n>" + _NUMBER + r")?(?:\s*[-–]\s*(?P<n2>" + _NUMBER + r"))?\s*"
    r"(?P<unit>ימי\s+עסקים|ימי\s+עבודה|יום\s+עסקים|יום\s+עבודה|שעות\s+עבודה|שעות\s+פעילות|"
    r"יומיים|שעתיים|שבועיים|שעות|שעה|ימים|יום|שבועות|שבוע)(?!\w)"
    r"(?:\s+(?P<one>אחד|אחת)(?!\w))?"
)
Unit = Literal["hours", "days"]
_HEBREW_DUAL: dict[str, tuple[Unit, int]] = {
    "יומיים": ("days", 2),
    "שעתיים": ("hours", 2),
    "שבועיים": ("days", 14),
}


@dataclass(frozen=True)
class PromiseTerm:
    text: str  # the words as written, for the report
    amount: int
    unit: Unit
    business: bool

    def due_at(self, start: datetime, calendar: BusinessCalendar) -> datetime:
        if not self.business:
            return start + (
                timedelta(hours=self.amount) if self.unit == "hours" else timedelta(days=self.amount)
            )
        if self.unit == "hours":
            return calendar.add_business_hours(start, self.amount)
        return calendar.add_business_days(start, self.amount)


def _number(word: str | None) -> int | None:
    if word is None:
        return None
    cleaned = " ".join(word.lower().split())
    return int(cleaned) if cleaned.isdigit() else NUMBER_WORDS.get(cleaned)


def find_promise(text: str) -> PromiseTerm | None:
    """The first reply-time promise in the text, or None (no promise, or only a vague one)."""
    found: list[tuple[int, PromiseTerm]] = []
    match = _ENGLISH.search(text)
    if match:
        amount = _number(match["n2"]) or _number(match["n"])
        unit_word = match["unit"].lower()
        if amount:
            unit: Unit = "hours" if unit_word.startswith("h") else "days"
            if unit_word.startswith("week"):
                amount *= 7
            found.append(
                (match.start(), PromiseTerm(match[0].strip(), amount, unit, match["biz"] is not None))
            )
    match = _ENGLISH_END_OF_DAY.search(text)
    if match:
        found.append((match.start(), PromiseTerm(match[0].strip(), 1 if match["next"] else 0, "days", True)))
    for match in _HEBREW.finditer(text):
        term = _hebrew_term(match)
        if term is not None:
            found.append((match.start(), term))
            break
    return min(found, key=lambda item: item[0])[1] if found else None


def _hebrew_term(match: re.Match[str]) -> PromiseTerm | None:
    unit_word = " ".join(match["unit"].split())
    written = _number(match["n2"]) or _number(match["n"])
    if unit_word in _HEBREW_DUAL:
        dual_unit, dual_amount = _HEBREW_DUAL[unit_word]
        return PromiseTerm(match[0].strip(), (written or 1) * dual_amount, dual_unit, False)
    # "תוך יום" is a promise of a day; "עד יום חמישי" ("by Thursday") names a weekday, not a term.
    bare = match["n"] is None and match["within"] in ("תוך", "בתוך")
    amount = written or (1 if bare or match["one"] else 0)
    if not amount:
        return None
    business = "עסקים" in unit_word or "עבודה" in unit_word or "פעילות" in unit_word
    if unit_word.startswith("שבוע"):
        return PromiseTerm(match[0].strip(), amount * 7, "days", False)
    unit: Unit = "hours" if unit_word.startswith("שע") else "days"
    return PromiseTerm(match[0].strip(), amount, unit, business)
