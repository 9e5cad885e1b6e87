"""How the report speaks a language: gettext catalogues for its words, Babel for its numbers, times and dates.

The words are English msgids where they are used: `ctx.gettext("Summary")` in the builders, `{{ _("Summary")
}}` in the templates. English is the source language and needs no catalogue; every other language has one,
audit/reporting/locale/<lang>/LC_MESSAGES/report.po, compiled in memory the first time a report needs it; a
language is a report language because its catalogue ships (audit/languages.py), so a third one is a new .po.
Messages are `str.format` templates, filled after the lookup so a translation can move `{placeholders}`
around. Plurals go through `ngettext` and the catalogue's Plural-Forms, which Babel writes from CLDR's rule
(Hebrew: one, two, other). The tables below are the vocabularies looked up by a key (a tier, a criterion,
an outcome); each entry is marked with `N_` so that `pybabel extract` finds it (README, "Reports").
Dates, numbers and percentages go through Babel in the report's locale; times in the audit's time zone.
No message contains `<` or `>`: the plain-text report keeps them out of its output (see render.py).
"""

from __future__ import annotations

import functools
import gettext
import io
import itertools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_timedelta, get_day_names
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from audit import languages

Lang = str
"""A report language's code, one of LANGUAGES: a str, because the list is read from the catalogues."""
# The source language first: its words are the msgids themselves. Every other one is there because its
# catalogue is in LOCALE_DIR (audit/languages.py finds them; config and the CLI check against the same list).
LANGUAGES: tuple[Lang, ...] = languages.LANGUAGES
SOURCE_LANGUAGE: Lang = languages.SOURCE_LANGUAGE
DOMAIN = languages.DOMAIN
LOCALE_DIR = "locale"

_Unit = Literal["day", "hour", "minute"]

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def N_(message: str) -> str:
    """Marks a message for extraction where a table defines it; it is translated where it is used."""
    return message


# ---------------------------------------------------------------------------------------------------------
# Catalogues


def catalogue_file(lang: str) -> resources.abc.Traversable:
    """The language's .po file, wherever the package is installed (it ships in the wheel)."""
    return languages.locale_root().joinpath(lang, "LC_MESSAGES", f"{DOMAIN}.po")


@functools.cache
def translations(lang: Lang) -> gettext.NullTranslations:
    """The language's catalogue, compiled from its .po in memory on first use (about 15 ms).

    Compiling here instead of at build time means no generated .mo to commit or to go stale, no custom
    build step for setuptools, and the same behaviour in a checkout and in the wheel. Fuzzy entries are
    left out, as msgfmt does; tests/test_i18n.py keeps the catalogues free of them.
    """
    if lang == SOURCE_LANGUAGE:
        # English plurals are one/other, which NullTranslations' own n == 1 rule already is.
        return gettext.NullTranslations()
    source = catalogue_file(lang)
    if not source.is_file():
        raise LookupError(f"no catalogue for report language {lang!r} in the installed package")
    with source.open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


# Hebrew joins a one-letter preposition to the next word, with a hyphen only before a digit or a Latin
# letter: "יותר מ-7 ימים" but "יותר מיומיים". Messages write the hyphen; it is dropped before Hebrew.
_HEBREW_PREFIX = re.compile(r"(?<![\u05d0-\u05ea])([מלבש])-(?=[\u05d0-\u05ea])")

# What a language does to a message once its placeholders are filled.
_AFTER_FILLING: dict[str, Callable[[str], str]] = {"he": lambda text: _HEBREW_PREFIX.sub(r"\1", text)}


@dataclass(frozen=True)
class Translator:
    """gettext for one language, "new style": look the message up, then fill its `{placeholders}`.

    The builders reach it through BuildContext, the templates as `_`, `gettext`, `ngettext` and `pgettext`.
    """

    lang: Lang
    catalogue: gettext.NullTranslations

    def gettext(self, message: str, /, **values: object) -> str:
        return self._fill(self.catalogue.gettext(message), values)

    def ngettext(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        """The form for n under the language's plural rule; `{n}` is n unless `values` say otherwise."""
        return self._fill(self.catalogue.ngettext(singular, plural, n), {"n": n, **values})

    def pgettext(self, context: str, message: str, /, **values: object) -> str:
        return self._fill(self.catalogue.pgettext(context, message), values)

    def _fill(self, template: str, values: Mapping[str, object]) -> str:
        text = template.format(**values)
        after = _AFTER_FILLING.get(self.lang)
        return after(text) if after else text


@functools.cache
def translator(lang: Lang) -> Translator:
    return Translator(lang, translations(lang))


# ---------------------------------------------------------------------------------------------------------
# Vocabularies looked up by a key

# By tier: the section title, and the short name for tables, pills and the legend.
TIER_NAMES: dict[str, str] = {
    "fast_courteous": N_("Fast, personal and courteous"),
    "reasonable": N_("Reasonable and correct, room to improve"),
    "slow_or_lacking": N_("Slow, poor or lacking"),
    "no_reply": N_("Did not bother to reply"),
    "pending": N_("Still waiting for a reply"),
    "not_reached": N_("Could not be contacted"),
}

TIER_SHORT: dict[str, str] = {
    "fast_courteous": N_("Fast"),
    "reasonable": N_("Reasonable"),
    "slow_or_lacking": N_("Slow or lacking"),
    "no_reply": N_("No reply"),
    "pending": N_("Pending"),
    "not_reached": N_("Not reached"),
}


def tier_name(lang: Lang, tier: str) -> str:
    return translator(lang).gettext(TIER_NAMES[tier])


def tier_short(lang: Lang, tier: str) -> str:
    return translator(lang).gettext(TIER_SHORT[tier])


class Criterion(NamedTuple):
    name: str  # in the rubric's bars and in "Partly: ..."
    met: str  # in "Good: ..."
    unmet: str  # in "Fell short: ..."
    checks: str  # what it checks, in "How we measured"


CRITERIA: dict[str, Criterion] = {
    "A": Criterion(
        N_("answer"),
        N_("answered the question"),
        N_("did not answer the question"),
        N_("Answers every part of the question (a phone number, a price, a yes or no)."),
    ),
    "P1": Criterion(
        N_("personal touch"),
        N_("personal"),
        N_("impersonal (no name, no signature)"),
        N_("Greets the customer by name and is signed by a named person."),
    ),
    "P2": Criterion(
        N_("politeness"),
        N_("polite"),
        N_("no thanks, greeting or closing"),
        N_("Thanks the customer, with a greeting and a closing; no blame."),
    ),
    "Q": Criterion(
        N_("professionalism"),
        N_("professional"),
        N_("unprofessional (template text, wrong language or no contact)"),
        N_("No unfilled template fields, the inquiry's language, a direct contact, the right product."),
    ),
    "V": Criterion(
        N_("added value"),
        N_("offered a next step"),
        N_("no next step or alternative"),
        N_("Offers alternatives or a next step: a call, the right page, another product."),
    ),
    "E": Criterion(
        N_("low effort"),
        N_("asked no extra effort"),
        N_("sent us elsewhere"),
        N_("Does not send the customer elsewhere or ask again for details already given."),
    ),
    "M": Criterion(
        N_("warmth"),
        N_("warm"),
        N_("left us indifferent"),
        N_("Warmth and empathy; reflects the customer's own words."),
    ),
}


@functools.cache
def criteria(lang: Lang) -> Mapping[str, Criterion]:
    """Every criterion's words in the language, in the rubric's order (A, P1, P2, Q, V, E, M)."""
    t = translator(lang)
    return {key: Criterion(*(t.gettext(text) for text in words)) for key, words in CRITERIA.items()}


# Why no inquiry could be sent, by the probe's outcome (tier 0).
REASONS: dict[str, str] = {
    "no_form": N_("no contact form on the page"),
    "blocked_captcha": N_("a CAPTCHA or a bot challenge"),
    "validation_error": N_("the form refused valid details"),
    "error": N_("the page or the form failed"),
    "uncertain": N_("unclear whether the form was sent"),
    "dry_run": N_("a dry run: nothing was sent"),
    "login_required": N_("a login was required"),
}

# The links to a probe's evidence, by kind (EvidenceLink.kind).
EVIDENCE_LINKS: dict[str, str] = {
    # Translators: a link to the screenshot of the filled form.
    "form": N_("form"),
    # Translators: a link to the screenshot of the page after sending.
    "confirmation": N_("confirmation"),
    # Translators: a link to the company's reply, as a raw email file.
    "reply": N_("reply"),
}

# docs/method.md, "Published studies", one line each: (study, what it found).
STUDIES: tuple[tuple[str, str], ...] = (
    (
        N_("HBR, 2011 (2,241 US companies, one web-form lead each)"),
        N_("37% replied within 1 hour; 23% never."),
    ),
    (
        N_("InsideSales.com, 2014 (9,538 businesses tested)"),
        N_("47% never responded; median first call 3 h 08 min."),
    ),
    (
        N_("SuperOffice, 2018 (1,000 companies emailed)"),
        N_("62% never replied; 90% sent no acknowledgement."),
    ),
    (
        N_("Eptica, UK, yearly (100 brands)"),
        N_("2011: 27% of emails got no reply; 2017: 40% answered accurately."),
    ),
    (N_("Pied Piper PSI, 2015 (13,637 US car dealers)"), N_("8% gave no response of any kind; 3% by 2020.")),
    (
        N_("Velocify, c. 2014 (62 Fortune 100 web forms)"),
        N_("12% ignored completely; about 15% called within 1 hour."),
    ),
    (
        N_("Netomi, 2020 (973 retailers)"),
        N_("70% of those with an email channel never replied; mean 36 hours."),
    ),
)


# ---------------------------------------------------------------------------------------------------------
# Numbers, times and dates (Babel)


def direction(lang: Lang) -> str:
    """ltr or rtl, from CLDR's character order for the language."""
    return _locale(lang).text_direction


@functools.cache
def _locale(lang: Lang) -> Locale:
    # Parsed once: Babel parses a locale name on every call otherwise, a third of a big report's time.
    return Locale.parse(lang)


def moment(value: datetime | None, lang: Lang, zone: str, *, style: str = "short") -> str:
    """A time in the audit's zone: 'short' (Sun 22 Nov, 10:02), 'table' (22 Nov, 10:02), 'long'
    (22 November 2026, 10:02) or 'date'. Long dates use the locale's own pattern ("22 בנובמבר 2026")."""
    if value is None:
        return ""
    tz, locale = ZoneInfo(zone), _locale(lang)
    if style in ("long", "date"):
        day = format_date(value.astimezone(tz), "long", locale=locale)
        return (
            day if style == "date" else f"{day}, {format_datetime(value, 'HH:mm', tzinfo=tz, locale=locale)}"
        )
    pattern = {"short": "EEE d MMM, HH:mm", "table": "d MMM, HH:mm"}[style]
    return format_datetime(value, pattern, tzinfo=tz, locale=locale)


_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@functools.cache
def _unit(amount: int, unit: _Unit, lang: Lang) -> str:
    """'33 min', '2 hr', 'יומיים': few distinct values in any report, so each is formatted once."""
    # A large threshold keeps Babel in the unit asked for, instead of rounding 150 minutes to "3 hours".
    return format_timedelta(
        timedelta(seconds=amount * _UNIT_SECONDS[unit]),
        granularity=unit,
        threshold=10**6,
        format="short",
        locale=_locale(lang),
    )


def duration(seconds: float, lang: Lang) -> str:
    """33 min; 2 hr 30 min; 2 days 4 hr: two units at most, because a board reads 'about 2 days'."""
    if math.isinf(seconds):
        raise ValueError("an infinite duration has no length; say 'never' or 'more than the deadline'")
    minutes = max(0, round(seconds / 60))
    if minutes < 60:
        return _unit(minutes, "minute", lang)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        text = _unit(hours, "hour", lang)
        return f"{text} {_unit(minutes, 'minute', lang)}" if minutes and hours < 10 else text
    days, hours = divmod(hours, 24)
    text = _unit(days, "day", lang)
    return f"{text} {_unit(hours, 'hour', lang)}" if hours and days < 5 else text


def percent(fraction: float | None, lang: Lang) -> str:
    """Whole percentages: a board does not need 48.7%, and 101 values are formatted once each."""
    if fraction is None:
        # Translators: in place of a figure that cannot be computed (no inquiry, no reply).
        return translator(lang).gettext("–")
    return _whole_percent(round(fraction * 100), lang)


@functools.cache
def _whole_percent(value: int, lang: Lang) -> str:
    return format_percent(value / 100, "#,##0%", locale=_locale(lang))


def number(value: float, lang: Lang, pattern: str = "#,##0") -> str:
    text = format_decimal(value, pattern, locale=_locale(lang))
    if value < 0 and direction(lang) == "rtl":
        # In a right-to-left sentence the bidi algorithm moves the minus sign to the number's right
        # ("0.88-"); a left-to-right isolate (LRI ... PDI) keeps "-0.88" whole, in HTML, email and text.
        return f"\u2066{text}\u2069"
    return text


def weekdays(days: tuple[str, ...], lang: Lang) -> str:
    """sun..thu as 'Sun–Thu' when consecutive, else a list."""
    names = get_day_names("abbreviated", locale=_locale(lang))
    # Babel numbers days from Monday = 0, the same as our tuple.
    indexes = [_WEEKDAYS.index(day) for day in days]
    labels = [names[index] for index in indexes]
    consecutive = all((b - a) % 7 == 1 for a, b in itertools.pairwise(indexes))
    if len(labels) > 2 and consecutive:
        return f"{labels[0]}–{labels[-1]}"
    return ", ".join(labels)
