"""Keyword matching in English and Hebrew.

Text from labels, names, buttons and pages is normalised first (lowercase, NFKC, gershayim to '"', geresh to
"'", niqqud dropped, `*` and `:` removed, gendered slash forms reduced to the stem), then keyword phrases are
matched as whole words. A Hebrew phrase may carry a one- or two-letter prefix (ה, ו, ב, ל, מ, ש, כ: "לתקנון"
contains "תקנון"); an English phrase may end in "s".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from probes.types import Slot

_KEYWORD_DIR = Path(__file__).parent / "keywords"
LANGUAGES = ("en", "he")

_HEBREW_LETTER = "\u05d0-\u05ea"
# Cantillation and niqqud marks; the maqaf (U+05BE) is a hyphen and is kept as one.
_NIQQUD = re.compile("[\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7]")
# שלח/י, מסכים/ה, מאשר/ת and the parenthesised מסכים(ה): keep the stem.
_SLASH_FORM = re.compile(
    rf"([{_HEBREW_LETTER}]{{2,}})(?:/[{_HEBREW_LETTER}]{{1,2}}|\([{_HEBREW_LETTER}]{{1,2}}\))(?![{_HEBREW_LETTER}])"
)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Fold text so that spelling variants of one keyword compare equal."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u05f4", '"').replace("\u05f3", "'").replace("\u05be", "-")
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'").replace("''", '"')
    text = _NIQQUD.sub("", text)
    text = text.replace("*", " ").replace(":", " ")
    text = _SLASH_FORM.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


def split_identifier(identifier: str) -> str:
    """`your-email`, `first_name`, `contactPhone`, `input_3` -> words, so names match like labels."""
    spaced = _CAMEL.sub(" ", identifier)
    spaced = re.sub(r"[\[\]_\-.]+", " ", spaced)
    spaced = re.sub(r"(?<=[a-zA-Z])(?=\d)|(?<=\d)(?=[a-zA-Z])", " ", spaced)
    return normalise(spaced)


def _phrase_pattern(phrase: str) -> str:
    body = re.escape(phrase)
    if re.match(rf"[{_HEBREW_LETTER}]", phrase):
        body = f"(?:[והבלמשכ]{{1,2}})?{body}"
    elif re.search(r"[a-z]$", phrase):
        body = f"{body}s?"
    # Word boundaries that treat Hebrew letters, Latin letters and digits alike as word characters.
    return rf"(?<![^\W_]){body}(?![^\W_])"


@dataclass(frozen=True)
class PhraseSet:
    """A compiled list of keyword phrases; `search` returns the first phrase found in a text."""

    phrases: tuple[str, ...]
    pattern: re.Pattern[str] | None

    @classmethod
    def of(cls, phrases: Iterable[str]) -> PhraseSet:
        norm = tuple(dict.fromkeys(p for p in (normalise(str(x)) for x in phrases) if p))
        # Longest first, so "full name" is reported rather than "name".
        ordered = sorted(norm, key=len, reverse=True)
        pattern = re.compile("|".join(f"(?:{_phrase_pattern(p)})" for p in ordered)) if ordered else None
        return cls(norm, pattern)

    def search(self, text: str, *, normalised: bool = False) -> str | None:
        if self.pattern is None or not text:
            return None
        match = self.pattern.search(text if normalised else normalise(text))
        return match.group(0) if match else None

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and self.search(text) is not None


@dataclass(frozen=True)
class Vocabulary:
    """All keyword lists, English and Hebrew merged (sites mix languages)."""

    versions: dict[str, int]
    slots: dict[Slot, PhraseSet]
    negative: dict[Slot, PhraseSet]
    submit: PhraseSet
    next: PhraseSet
    consent: PhraseSet
    marketing: PhraseSet
    error: PhraseSet
    success: PhraseSet
    honeypot: PhraseSet
    search: PhraseSet
    subscribe: PhraseSet
    cookie: PhraseSet
    cookie_reject: PhraseSet
    cookie_close: PhraseSet
    cookie_accept: PhraseSet
    confirm_send: PhraseSet
    topic_fallback: PhraseSet
    needs_human: PhraseSet
    contact_link: PhraseSet  # link texts and path segments that lead to a contact page
    support_link: PhraseSet  # weaker: support and customer service pages often hold the form or link to it


_LIST_KEYS = (
    "submit", "next", "consent", "marketing", "error", "success", "honeypot", "search", "subscribe", "cookie",
    "cookie_reject", "cookie_close", "cookie_accept", "confirm_send", "topic_fallback", "needs_human",
    "contact_link", "support_link",
)  # fmt: skip


def _load_file(language: str) -> dict[str, Any]:
    path = _KEYWORD_DIR / f"{language}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("version"), int):
        raise ValueError(f"{path}: expected a mapping with an integer `version`")
    return data


@cache
def vocabulary() -> Vocabulary:
    """Load and compile the keyword files once per process (on first use, not at import)."""
    files = {language: _load_file(language) for language in LANGUAGES}

    def merged(section: str, key: str | None = None) -> list[str]:
        out: list[str] = []
        for data in files.values():
            value = data.get(section) or {}
            if key is not None:
                value = value.get(key) or [] if isinstance(value, dict) else []
            if not isinstance(value, list):
                raise ValueError(f"keywords: `{section}` must be a list")
            out.extend(str(v) for v in value)
        return out

    lists = {key: PhraseSet.of(merged(key)) for key in _LIST_KEYS}
    return Vocabulary(
        versions={language: int(data["version"]) for language, data in files.items()},
        slots={slot: PhraseSet.of(merged("slots", slot.value)) for slot in Slot},
        negative={slot: PhraseSet.of(merged("negative", slot.value)) for slot in Slot},
        **lists,
    )
