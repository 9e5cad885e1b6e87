"""The report languages: English, and every language whose catalogue ships with the package.

The one list of language codes that companies.yaml, the CLI's `--lang` and the report accept. It is read
from the catalogues themselves, audit/reporting/locale/<code>/LC_MESSAGES/report.po, so a third language is
a new .po file and nothing else (docs/architecture.md, "Report languages"). A bottom-layer module: it looks at
the files through importlib.resources (as in an installed wheel) without importing audit.reporting, which
config may not import and which would load Babel.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

SOURCE_LANGUAGE = "en"
"""The language the report's messages are written in: its words are the msgids, so it has no catalogue."""
DOMAIN = "report"
"""The gettext domain: the catalogue's file name without `.po`."""


def locale_root() -> Traversable:
    """audit/reporting/locale, wherever the package is installed."""
    return resources.files("audit").joinpath("reporting", "locale")


def discover_languages(root: Traversable) -> tuple[str, ...]:
    """The source language, then every `<code>/LC_MESSAGES/report.po` under `root`, in alphabetical order."""
    if not root.is_dir():
        return (SOURCE_LANGUAGE,)
    found = sorted(
        entry.name
        for entry in root.iterdir()
        if entry.is_dir()
        and entry.name != SOURCE_LANGUAGE
        and entry.joinpath("LC_MESSAGES", f"{DOMAIN}.po").is_file()
    )
    return (SOURCE_LANGUAGE, *found)


LANGUAGES: tuple[str, ...] = discover_languages(locale_root())
"""Every report language, the source language first. Read once at import: a directory listing, and the
catalogues cannot change under a running process."""


def choices_text(languages: tuple[str, ...] = LANGUAGES) -> str:
    """The languages as an error message lists them: "en or he", "en, fr or he"."""
    if len(languages) == 1:
        return languages[0]
    return f"{', '.join(languages[:-1])} or {languages[-1]}"
