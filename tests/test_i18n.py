"""The report's catalogues: complete, in step with the code, with matching placeholders and CLDR's plurals.

The messages are extracted from the code and the templates the way `pybabel extract -F babel.cfg` does, and
compared with each language's report.po; then the reports are rendered to see the translations in them.
"""

from __future__ import annotations

import gettext
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.checkers import num_plurals
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from audit import languages
from audit.reporting import i18n
from audit.reporting.data import WaveFacts, build_report_data
from audit.reporting.render import render_html, render_text
from tests.report_fixtures import make_config, make_previous_wave, make_wave

REPO = Path(__file__).resolve().parents[1]
LOCALE = REPO / "audit" / "reporting" / i18n.LOCALE_DIR
TRANSLATED = [lang for lang in i18n.LANGUAGES if lang != i18n.SOURCE_LANGUAGE]
# Enough integers to meet every plural category CLDR has for whole numbers (Arabic's "many" starts at 11).
COUNTS = range(0, 1001)
CLDR_ORDER = ("zero", "one", "two", "few", "many", "other")
GENERATED = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

MessageKey = tuple[str | None, str | tuple[str, ...]]  # (context, msgid or (msgid, msgid_plural))


def catalogue(lang: str) -> Catalog:
    with (LOCALE / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.po").open("rb") as po:
        return read_po(po, locale=lang, domain=i18n.DOMAIN)


def messages(catalog: Catalog) -> Iterator[Message]:
    return (message for message in catalog if message.id)  # the header is the message with an empty id


def ids(message: Message) -> tuple[str, ...]:
    """(msgid,) or (msgid, msgid_plural)."""
    return (message.id,) if isinstance(message.id, str) else tuple(message.id)


def forms(message: Message) -> tuple[str, ...]:
    """The translation: (msgstr,), or one msgstr per plural form; "" where none is written."""
    if isinstance(message.string, str) or message.string is None:
        return (message.string or "",)
    return tuple(message.string)


def key(message: Message) -> MessageKey:
    found = ids(message)
    return message.context, found[0] if len(found) == 1 else found


def extracted() -> set[MessageKey]:
    """Every message in the code and templates, by babel.cfg and the keywords pybabel uses by default."""
    with (REPO / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config, "babel.cfg")  # type: ignore[no-untyped-call]
    found: set[MessageKey] = set()
    for _path, _line, text, _comments, context in extract_from_dir(
        str(REPO), method_map, options_map, keywords=DEFAULT_KEYWORDS, comment_tags=("Translators:",)
    ):
        found.add((context, text if isinstance(text, str) else tuple(text)))
    return found


def fields(text: str) -> set[tuple[str, str, str]]:
    """The `str.format` fields of a message: (name, conversion, format spec)."""
    return {
        (name, conversion or "", spec or "")
        for _literal, name, spec, conversion in string.Formatter().parse(text)
        if name is not None
    }


def plural_index(catalog: Catalog) -> dict[int, int]:
    """The msgstr index gettext picks for each count, by the catalogue's own Plural-Forms."""
    rule = gettext.c2py(catalog.plural_expr)
    return {n: rule(n) for n in COUNTS}


def cldr_category(lang: str) -> dict[int, str]:
    rule = Locale.parse(lang).plural_form
    return {n: rule(n) for n in COUNTS}


# ---------------------------------------------------------------------------------------------------------
# The catalogues against the code


def test_every_report_language_has_a_catalogue_and_every_catalogue_a_language() -> None:
    on_disk = sorted(path.parent.parent.name for path in LOCALE.glob(f"*/LC_MESSAGES/{i18n.DOMAIN}.po"))
    assert i18n.LANGUAGES[0] == i18n.SOURCE_LANGUAGE
    assert sorted(TRANSLATED) == on_disk, "audit.languages should find every catalogue (importlib.resources)"
    for lang in TRANSLATED:
        assert i18n.catalogue_file(lang).is_file()  # found through importlib.resources, as in the wheel


def test_a_new_catalogue_directory_is_a_new_language(tmp_path: Path) -> None:
    hebrew = (LOCALE / "he" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po").read_bytes()
    for lang in ("fr", "he"):
        (tmp_path / lang / "LC_MESSAGES").mkdir(parents=True)
        (tmp_path / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.po").write_bytes(hebrew)
    (tmp_path / "de" / "LC_MESSAGES").mkdir(parents=True)  # begun, but no report.po yet
    (tmp_path / "en" / "LC_MESSAGES").mkdir(parents=True)  # the source language is there once however
    (tmp_path / "en" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po").write_text("", encoding="utf-8")
    (tmp_path / "README.md").write_text("not a language", encoding="utf-8")
    found = languages.discover_languages(tmp_path)
    assert found == ("en", "fr", "he")
    assert languages.choices_text(found) == "en, fr or he"
    assert languages.discover_languages(tmp_path / "missing") == ("en",)


def test_the_report_command_offers_exactly_the_report_languages() -> None:
    from audit.cli.report import report

    (lang,) = [param for param in report.params if param.name == "lang"]
    assert isinstance(lang.type, click.Choice) and tuple(lang.type.choices) == i18n.LANGUAGES == ("en", "he")


def test_the_catalogues_hold_exactly_the_messages_in_the_code() -> None:
    in_code = extracted()
    assert len(in_code) > 200  # the extraction found the builders and the templates
    for lang in TRANSLATED:
        in_po = {key(message) for message in messages(catalogue(lang))}
        missing, stale = sorted(in_code - in_po, key=str), sorted(in_po - in_code, key=str)
        assert (missing, stale) == ([], []), f"{lang}: run pybabel extract and update (README, 'Reports')"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_is_translated(lang: str) -> None:
    catalog = catalogue(lang)
    assert not catalog.obsolete, "drop the obsolete (#~) entries"
    for message in messages(catalog):
        assert all(form.strip() for form in forms(message)), f"untranslated: {message.id!r}"
        assert not message.fuzzy, f"fuzzy, to be checked by a translator: {message.id!r}"
        msgid = ids(message)[0]
        for form in forms(message):
            # The plain-text report must not carry markup (render.py), and a leading or trailing space
            # is part of how the message is joined to its neighbours (" of business time").
            assert "<" not in form and ">" not in form, form
            assert form[:1].isspace() == msgid[:1].isspace(), form
            assert form[-1:].isspace() == msgid[-1:].isspace(), form


@pytest.mark.parametrize("lang", TRANSLATED)
def test_placeholders_match_between_message_and_translation(lang: str) -> None:
    catalog = catalogue(lang)
    index = plural_index(catalog)
    for message in messages(catalog):
        if len(ids(message)) == 1:
            assert fields(forms(message)[0]) == fields(ids(message)[0]), message.id
            continue
        singular, plural = ids(message)
        allowed = fields(singular) | fields(plural)
        count = {field for field in fields(plural) if field[0] == "n"}
        for form_index, form in enumerate(forms(message)):
            assert fields(form) <= allowed, f"{form!r} has a placeholder its message has not"
            assert fields(plural) - count <= fields(form), f"{form!r} lost a placeholder"
            # A form may spell its count out ("חברה אחת") only when it stands for a single number.
            numbers = [n for n, i in index.items() if i == form_index]
            if len(numbers) > 1:
                assert count <= fields(form), f"{form!r} is used for {numbers[:5]}... but does not show {{n}}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_plural_forms_follow_the_cldr_rule_of_the_language(lang: str) -> None:
    catalog = catalogue(lang)
    index, category = plural_index(catalog), cldr_category(lang)
    # Plural-Forms picks the same form for two counts exactly when CLDR puts them in the same category.
    pairs = {(category[n], index[n]) for n in COUNTS}
    assert len(pairs) == len({c for c, _ in pairs}) == len({i for _, i in pairs}), pairs
    assert catalog.num_plurals == len(pairs)
    # Forms in CLDR's order (one before two before other), as Babel's `pybabel init` numbers them.
    ordered = sorted(pairs, key=lambda pair: CLDR_ORDER.index(pair[0]))
    assert [i for _, i in ordered] == list(range(catalog.num_plurals))
    for message in messages(catalog):
        num_plurals(catalog, message)  # Babel's own check (raises): as many msgstr as the catalogue has forms
        if len(ids(message)) == 2:
            assert len(forms(message)) == catalog.num_plurals, message.id


def test_hebrew_plurals_are_one_two_other() -> None:
    assert Locale.parse("he").plural_form.tags | {"other"} == {"one", "two", "other"}
    t = i18n.translator("he")
    phrase = ("{n} never answered", "{n} never answered")
    assert [t.ngettext(*phrase, n) for n in (1, 2, 3, 11)] == [
        "חברה אחת לא ענתה כלל",
        "2 לא ענו כלל",
        "3 לא ענו כלל",
        "11 לא ענו כלל",
    ]


def test_english_needs_no_catalogue_because_its_rule_is_one_and_other() -> None:
    # English is the msgids themselves, through NullTranslations, whose rule is n == 1: CLDR's for English.
    category = cldr_category("en")
    assert all((category[n] == "one") == (n == 1) for n in COUNTS)
    t = i18n.translator("en")
    assert t.ngettext("one company", "{n} companies", 1) == "one company"
    assert t.ngettext("one company", "{n} companies", 2) == "2 companies"


def test_hebrew_drops_the_hyphen_of_a_prefix_before_hebrew_only() -> None:
    t = i18n.translator("he")
    assert t.gettext("more than {duration}", duration="7 ימים") == "יותר מ-7 ימים"
    assert t.gettext("more than {duration}", duration="יומיים") == "יותר מיומיים"


# ---------------------------------------------------------------------------------------------------------
# The translations in the rendered reports


def rendered(lang: i18n.Lang) -> tuple[str, str]:
    report = build_report_data(
        make_wave(),
        make_previous_wave(),
        WaveFacts(generated_at=GENERATED),
        make_config(language=lang),
        lang=lang,
    )
    return render_html(report, "web"), render_text(report)


# Headings and sentences that every full report shows, from the templates and from the builders.
SHOWN = (
    "Summary",
    "Results by tier",
    "All companies, ranked",
    "The numbers",
    "By sector",
    "Change from the previous wave",
    "How we measured",
    "Other studies, for context",
    "Fast, personal and courteous",
    "no contact form on the page",
    "It met every quality criterion.",
)


def test_the_hebrew_report_shows_the_catalogue_and_no_english_heading() -> None:
    html, text = rendered("he")
    body = html.split("</style>", 1)[1]  # the stylesheet's comments are English
    t = i18n.translator("he")
    for message in SHOWN:
        hebrew = t.gettext(message)
        assert hebrew != message
        assert hebrew in body and hebrew in text, message
        assert message not in body and message not in text
    assert "מתוך 41 חברות שפנינו אליהן דרך אתר האינטרנט שלהן, 4 ענו מהר, באופן אישי ובאדיבות" in html
    assert "לעוד 2 חברות לא הצלחנו לשלוח פנייה" in text
    assert '<html lang="he" dir="rtl">' in html


def test_the_english_report_shows_the_msgids_themselves() -> None:
    html, text = rendered("en")
    for message in SHOWN:
        assert message in html, message
        assert message.upper() in text or message in text, message  # the text report's headings are upper
    assert "Of 41 companies we contacted through their websites, 4 answered fast" in html
    assert "On 2 more we could not send an inquiry" in text
    assert '<html lang="en" dir="ltr">' in html
