"""ReportData -> HTML (web or email) and plain text, through one Jinja environment.

The environment escapes every value (autoescape) and refuses a missing one (StrictUndefined), so a company
called `<script>` is shown as text and a template typo fails loudly instead of printing nothing. The
templates word their headings with `_("...")` and `ngettext(...)` (extracted by pybabel, see babel.cfg):
those come with each render, in the report's language, so one environment serves every language at once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import css_inline
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from audit.errors import AuditError
from audit.reporting.i18n import translator
from audit.reporting.types import ReportData

Variant = Literal["web", "email"]
TEMPLATES_PACKAGE = "reports"  # the top-level reports/ folder, shipped in the wheel as package data


@dataclass(frozen=True)
class Limits:
    """How much of a long list each variant shows; an email of 5,000 paragraphs helps no one."""

    entries: int  # company paragraphs per tier
    rows: int  # ranked table rows and tier movers
    points: int  # speed-and-quality rows


WEB_LIMITS = Limits(entries=10**9, rows=10**9, points=10**9)
EMAIL_LIMITS = Limits(entries=40, rows=150, points=60)


def template_file(name: str) -> resources.abc.Traversable:
    """A file of the reports package (a template or a stylesheet), wherever the package is installed."""
    return resources.files(TEMPLATES_PACKAGE).joinpath(*name.split("/"))


@functools.cache
def environment() -> Environment:
    """The one environment for every report template (built on first use, not at import)."""
    if not template_file("report.html.j2").is_file():
        raise AuditError(f"the report templates are missing from the installed package {TEMPLATES_PACKAGE!r}")
    return Environment(
        loader=PackageLoader(TEMPLATES_PACKAGE, ""),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _words(report: ReportData) -> dict[str, object]:
    """gettext for the templates, in the report's language, by the names pybabel's Jinja extractor knows."""
    t = translator(report.lang)
    return {"_": t.gettext, "gettext": t.gettext, "ngettext": t.ngettext, "pgettext": t.pgettext}


@functools.cache
def _stylesheet() -> Markup:
    # Our own file, not user input: marked safe so quotes in font names survive inside <style>.
    return Markup(template_file("style.css").read_text(encoding="utf-8"))


@functools.cache
def _inliner() -> css_inline.CSSInliner:
    # Nothing is fetched: the report must not reach out to the network, in the renderer or the mail client.
    return css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


def render_html(report: ReportData, variant: Variant = "web") -> str:
    """The report as one self-contained HTML document; "email" has its CSS in style attributes."""
    if variant not in ("web", "email"):
        raise ValueError(f"unknown report variant {variant!r}")
    html = (
        environment()
        .get_template("report.html.j2")
        .render(
            r=report,
            web=variant == "web",
            css=_stylesheet(),
            limit=WEB_LIMITS if variant == "web" else EMAIL_LIMITS,
            **_words(report),
        )
    )
    return _inliner().inline(html) if variant == "email" else html


# Look-alike brackets: a text/plain part is sometimes shown through an HTML view (webmail previews, forwards
# pasted into rich editors); with these a company named "<script>" still reads as itself and stays inert.
_INERT = str.maketrans({"<": "‹", ">": "›"})


def render_text(report: ReportData) -> str:
    text = environment().get_template("report.txt.j2").render(r=report, limit=EMAIL_LIMITS, **_words(report))
    return text.translate(_INERT)
