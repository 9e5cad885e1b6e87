"""Finding a company's contact page from its home page, the way a person would (docs/probing.md, "Finding
the contact page").

The rules it keeps:

* Read, never act: links are read from the DOM, hidden ones too (a hamburger menu keeps its links there
  behind display:none), so nothing is clicked, filled or submitted.
* Stay on the site: only http(s) links of the same registrable domain are followed; mailto:, tel: and
  javascript: links, buttons with no link and other sites are listed in `refused`, never loaded. A
  main-frame navigation to another site (a redirect, a script) is aborted by a route of our own.
* Few pages, one at a time: at most `max_pages` loads (the home page is one), each awaited before the next,
  in one browser context guarded like a probe's (`probes.safety.RequestGuard` unless private targets are
  allowed), under one time budget enforced by closing the context.
* The first page whose best form group scores at least `probes.locate.MIN_GROUP_SCORE` is the contact page;
  the locator's scoring keeps newsletter, search and login boxes below it.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import tldextract
from playwright.async_api import Browser, BrowserContext, Page, Route
from playwright.async_api import Error as PlaywrightError

from probes.captcha import challenge_reason
from probes.errors import NavigationFailed, TargetRefused
from probes.locate import MIN_GROUP_SCORE, LocatedForm, scan_frames
from probes.safety import RequestGuard, check_target_url, safe_goto
from probes.scripts import page_function
from probes.session import VIEWPORT
from probes.vocab import PhraseSet, normalise, vocabulary

MAX_PAGES = 5
"""The issue's default for `audit.discovery.max_pages`: a person gives up after a handful of pages too."""
BUDGET_S = 60.0
"""The whole discovery: five pages with their settling time fit in well under a minute."""
FORM_WAIT_S = 3.0
"""How long each page is watched for a contact form and for late links (menus and forms drawn by script
appear within a second or two; the probe itself waits longer, see probes/probe.py FORM_WAIT_S)."""
POLL_S = 0.4
LOAD_WAIT_MS = 5_000.0  # the load event after DOMContentLoaded; a page that never fires it is read as it is
NAVIGATION_TIMEOUT_MS = 20_000.0
MIN_LOAD_S = 2.0
"""A page load is not started with less budget than this: it could not be judged before the budget ends."""
MAX_COMMON_PATHS = 3
"""Guessed paths cost a page load each (usually a 404), so only the likeliest few are tried."""
MAX_LINK_TEXT = 60
"""Link texts longer than this are sentences ("contact our team in Europe for ..."), not menu entries."""
MAX_LINKS = 1500
MAX_REFUSED = 50
MAX_SITEMAP_BYTES = 2_000_000
MAX_SITEMAP_ENTRIES = 5_000
MAX_CHILD_SITEMAPS = 2  # a sitemap index's children read, same origin only
SITEMAP_TIMEOUT_MS = 5_000

# How strongly each kind of evidence says "this way to the contact page" (docs/probing.md, "Finding the
# contact page"): a word in a menu beats a path, a path beats a guess, a guess beats a sitemap entry.
TEXT_IN_MENUS = 100.0  # a contact word as a link's text or label in the header, nav, footer or a menu
TEXT_ELSEWHERE = 70.0
PATH_MATCH = 50.0  # the link's last path segment is a contact word (/contact-us, /he/צור-קשר)
COMMON_PATH = 30.0
SITEMAP_ENTRY = 20.0
UNLISTED_GUESS = 15.0
"""A guessed path the site's own sitemap does not list: less likely than the pages it does list."""
SUPPORT_FACTOR = 0.6  # support and customer-service words rank below contact words of the same kind
EXACT_BONUS = 10.0  # the link's whole text is the phrase: "Contact us", not "Contact sales in Europe"
BOTH_BONUS = 5.0  # text and path agree
LABEL_ONLY_PENALTY = 5.0  # only the aria-label or title says it (icon links)
DEPTH_PENALTY = 10.0  # a link found on a followed page ranks below an equal one on the home page
MAX_DEPTH = 2  # home -> Support -> Contact us: links are followed two deep, no further

FORM_FOUND = "form found"
NO_FORM = "no contact form"

_ENGLISH_PATHS = ("/contact", "/contact-us")
_HEBREW_PATHS = ("/צור-קשר", "/he/צור-קשר")
_LANGUAGE_SEGMENT = re.compile(r"^[a-z]{2}(?:[-_][a-z]{2,4})?$", re.I)
_PAGE_EXTENSION = re.compile(r"\.(?:html?|php\d?|aspx?|jsp|cfm|shtml)$", re.I)
_SEGMENT_SEPARATORS = re.compile(r"[-_+.\s]+")
_LOC = re.compile(r"<loc>\s*([^<\s]+)\s*</loc>", re.I)
_URL_SAFE = "/:@!$&'()*+,;=-._~%"


@dataclass(frozen=True, slots=True)
class DiscoveryStep:
    """One page the discovery chose, why, and what it found there."""

    url: str
    reason_chosen: str  # "header link 'צור קשר'", "common path /contact", "sitemap entry /reach-us"
    score: float
    outcome: str  # form found | no contact form | refused: <why> | failed: <error>
    form: str | None = None  # the best form candidate's summary, when the page had any
    final_url: str | None = None  # after redirects, when it loaded
    depth: int = 0  # 0 the home page, 1 linked from it (or guessed), 2 linked from a page of depth 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "reason_chosen": self.reason_chosen,
            "score": self.score,
            "outcome": self.outcome,
            "form": self.form,
            "final_url": self.final_url,
            "depth": self.depth,
        }


@dataclass(frozen=True, slots=True)
class DiscoveryResult:
    """The path taken from a website to its contact page (or to the conclusion that it has none)."""

    website: str
    contact_url: str | None
    steps: list[DiscoveryStep]
    refused: list[str]  # candidates seen but not loaded or refused, each with why
    pages_loaded: int
    max_pages: int = MAX_PAGES
    timed_out: bool = False
    notes: list[str] = field(default_factory=list)  # what else was read (the sitemap) or went wrong

    def as_dict(self) -> dict[str, Any]:
        """For the evidence JSON."""
        return {
            "website": self.website,
            "contact_url": self.contact_url,
            "pages_loaded": self.pages_loaded,
            "max_pages": self.max_pages,
            "timed_out": self.timed_out,
            "steps": [step.as_dict() for step in self.steps],
            "refused": list(self.refused),
            "notes": list(self.notes),
        }


# --- URLs and the site ---------------------------------------------------------------------------------


@cache
def _extractor() -> tldextract.TLDExtract:
    # The bundled public-suffix snapshot only: discovery never fetches the list (as audit/domains.py does).
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def site_of(url: str) -> str:
    """The registrable domain of a URL's host (`www.bank.co.il` -> `bank.co.il`); an IP address or a host
    without a public suffix is its own site."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    parts = _extractor()(host)
    if parts.suffix and parts.domain:
        return f"{parts.domain}.{parts.suffix}"
    return host


def url_key(url: str) -> str:
    """A URL normalised for deduplication: no fragment, lower-case host, no default port, one spelling of
    the path (percent-encoded or not), no trailing slash."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    path = quote(unquote(parts.path), safe=_URL_SAFE).rstrip("/") or "/"
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def _readable_path(url: str) -> str:
    parts = urlsplit(url)
    path = unquote(parts.path) or "/"
    return f"{path}?{parts.query}" if parts.query else path


def _phrase_of(phrases: PhraseSet, text: str) -> str | None:
    """The phrase a path segment spells, whole: `contact-us`, `contactus`, `contact.html`, `צור-קשר`."""
    compact = normalise(_SEGMENT_SEPARATORS.sub(" ", text)).replace(" ", "")
    if not compact:
        return None
    for phrase in phrases.phrases:
        spelled = phrase.replace(" ", "")
        if compact in (spelled, f"{spelled}s"):
            return phrase
    return None


def path_phrase(url: str) -> tuple[str, bool] | None:
    """The contact word the URL's last path segment spells, and whether it is a strong one (contact rather
    than support); language prefixes (/he/, /en-us/) and page extensions are not part of it."""
    segments = [s for s in unquote(urlsplit(url).path).split("/") if s]
    if not segments or _LANGUAGE_SEGMENT.match(segments[-1]):
        return None
    last = _PAGE_EXTENSION.sub("", segments[-1])
    vocab = vocabulary()
    strong = _phrase_of(vocab.contact_link, last)
    if strong is not None:
        return strong, True
    weak = _phrase_of(vocab.support_link, last)
    return (weak, False) if weak is not None else None


def text_phrase(text: str) -> tuple[str, bool, bool] | None:
    """The contact word in a link's text or label: (phrase, strong, the whole text is the phrase)."""
    words = normalise(text)
    if not words or len(words) > MAX_LINK_TEXT:
        return None
    vocab = vocabulary()
    for phrases, strong in ((vocab.contact_link, True), (vocab.support_link, False)):
        found = phrases.search(words, normalised=True)
        if found is not None:
            return found, strong, len(words) <= len(found) + 2
    return None


def common_paths(website: str, *, hebrew: bool) -> list[str]:
    """The few guessed contact paths for a site, Hebrew first on a Hebrew page, under the website's own
    language prefix (/en/) when it has one."""
    parts = urlsplit(website)
    origin = f"{parts.scheme}://{parts.netloc}"
    ordered = [*_HEBREW_PATHS, *_ENGLISH_PATHS] if hebrew else [*_ENGLISH_PATHS, *_HEBREW_PATHS]
    first = next((s for s in parts.path.split("/") if s), "")
    if _LANGUAGE_SEGMENT.match(first) and first.lower() != "he":
        ordered.insert(0, f"/{first}/contact")
    return [origin + quote(path, safe=_URL_SAFE) for path in ordered[:MAX_COMMON_PATHS]]


def sitemap_locations(text: str) -> tuple[list[str], bool]:
    """The `<loc>` URLs of a sitemap, and whether it is a sitemap index (its locations are sitemaps)."""
    locations = [html.unescape(m.group(1)) for m in _LOC.finditer(text)]
    return locations[:MAX_SITEMAP_ENTRIES], "<sitemapindex" in text[:2000].lower()


# --- candidates ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Candidate:
    url: str
    key: str
    score: float
    reason: str
    depth: int
    kind: str  # home | link | common | sitemap | loaded (a page reached by a redirect)
    order: int
    visited: bool = False


@dataclass(frozen=True, slots=True)
class PageLink:
    href: str
    raw: str
    text: str
    label: str
    region: str
    shown: bool
    tag: str

    @classmethod
    def from_js(cls, raw: dict[str, Any]) -> PageLink:
        def text(key: str) -> str:
            value = raw.get(key)
            return value if isinstance(value, str) else ""

        return cls(
            text("href"),
            text("raw"),
            text("text"),
            text("label"),
            text("region") or "body",
            bool(raw.get("shown")),
            text("tag"),
        )

    @property
    def shown_text(self) -> str:
        return (self.text or self.label)[:80]


@dataclass(frozen=True, slots=True)
class _LinkVerdict:
    score: float
    reason: str


def judge_link(link: PageLink) -> _LinkVerdict | None:
    """How strongly a link points to the contact page, or None when nothing in it says contact."""
    by_text = text_phrase(link.text)
    by_label = None if by_text is not None else text_phrase(link.label)
    by_path = path_phrase(link.href) if link.href.lower().startswith(("http:", "https:")) else None
    shown = "" if link.shown else " (hidden until opened)"
    where = "link" if link.tag in ("a", "area") else "button"
    said = by_text or by_label
    if said is not None:
        _, strong, exact = said
        score = TEXT_IN_MENUS if link.region != "body" else TEXT_ELSEWHERE
        score *= 1.0 if strong else SUPPORT_FACTOR
        score += EXACT_BONUS if exact else 0.0
        score += BOTH_BONUS if by_path is not None else 0.0
        score -= LABEL_ONLY_PENALTY if by_text is None else 0.0
        region = "page" if link.region == "body" else link.region
        return _LinkVerdict(score, f"{region} {where} {link.shown_text!r}{shown}")
    if by_path is not None:
        _, strong = by_path
        score = PATH_MATCH * (1.0 if strong else SUPPORT_FACTOR)
        return _LinkVerdict(score, f"{where} to the path {_readable_path(link.href)}{shown}")
    return None


# --- the browser context -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Session:
    context: BrowserContext
    page: Page
    timed_out: bool = False
    offsite: list[str] = field(default_factory=list)  # main-frame navigations to other sites, aborted

    async def fresh_page(self) -> Page:
        """Replace the page after a failed load: Chromium commits its error page for the failure later, and
        that commit would interrupt the next navigation ("interrupted by another navigation")."""
        old = self.page
        self.page = await self.context.new_page()
        with suppress(PlaywrightError):
            await old.close()
        return self.page


async def _watchdog(session: _Session, budget_s: float) -> None:
    # As in probes/session.py: cancelling a task inside a Playwright call is unsafe, so the budget closes the
    # context and every pending call fails.
    await asyncio.sleep(budget_s)
    session.timed_out = True
    with suppress(PlaywrightError):
        await session.context.close()


@asynccontextmanager
async def _discovery_session(
    browser: Browser, site: str, *, locale: str, timezone: str, allow_private: bool, budget_s: float
) -> AsyncIterator[_Session]:
    """One context for the whole discovery, guarded like a probe's (probes/session.py), closed in finally."""
    context = await browser.new_context(
        locale=locale,
        timezone_id=timezone,
        service_workers="block",
        viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]},
    )
    guard = None if allow_private else RequestGuard()
    session: _Session | None = None
    watchdog: asyncio.Task[None] | None = None
    offsite: list[str] = []

    async def same_site_only(route: Route) -> None:
        # Registered after the guard, so it runs first (Playwright runs routes in reverse order) and hands
        # everything it does not refuse to the guard with fallback().
        request = route.request
        try:
            main_frame = request.is_navigation_request() and request.frame.parent_frame is None
        except PlaywrightError:
            main_frame = False  # a worker's request has no frame
        with suppress(PlaywrightError):  # the context closed while we answered
            if main_frame and request.url.startswith(("http:", "https:")) and site_of(request.url) != site:
                offsite.append(request.url)
                await route.abort("blockedbyclient")
            else:
                await route.fallback()

    try:
        if guard is not None:
            await guard.install(context)  # before the first page exists, so that no request escapes it
        await context.route("**/*", same_site_only)
        session = _Session(context, await context.new_page(), offsite=offsite)
        context.set_default_timeout(min(10_000.0, budget_s * 1000 / 2))

        async def close_popup(opened: Page) -> None:
            # A page opened by a script (window.open) is not ours to read; one page at a time. Our own pages
            # have no opener.
            with suppress(PlaywrightError):
                if await opened.opener() is not None:
                    await opened.close()

        context.on("page", close_popup)
        watchdog = asyncio.create_task(_watchdog(session, budget_s))
        try:
            yield session
        finally:
            if session.timed_out:
                await watchdog
            else:
                watchdog.cancel()
                with suppress(asyncio.CancelledError):
                    await watchdog
    finally:
        if session is not None:
            with suppress(PlaywrightError):
                await session.page.close()
        with suppress(PlaywrightError):
            await context.close()
        if guard is not None:
            await guard.close(context)


# --- the discovery -------------------------------------------------------------------------------------


def _first_line(ex: BaseException) -> str:
    return (str(ex).strip().splitlines() or [type(ex).__name__])[0][:300]


def _form_summary(form: LocatedForm) -> str:
    reasons = ", ".join(form.reasons) or "-"
    return f"{form.group.kind} {form.group.selector} in {form.frame_url}: {form.score:g} ({reasons})"


class _Discovery:
    def __init__(
        self,
        website: str,
        *,
        max_pages: int,
        allow_private: bool,
        budget_s: float,
        form_wait_s: float,
    ) -> None:
        self.website = website
        self.site = site_of(website)
        self.max_pages = max_pages
        self.allow_private = allow_private
        self.budget_s = budget_s
        self.form_wait_s = form_wait_s
        self.started = time.monotonic()
        self.candidates: dict[str, _Candidate] = {}
        self.steps: list[DiscoveryStep] = []
        self.refused: list[str] = []
        self.notes: list[str] = []
        self.pages_loaded = 0
        self.contact_url: str | None = None
        self.sitemap_read = False
        self.hebrew = False

    def left_s(self) -> float:
        return self.budget_s - (time.monotonic() - self.started)

    def refuse(self, target: str, why: str) -> None:
        entry = f"{target[:200]} ({why})"
        if entry not in self.refused and len(self.refused) < MAX_REFUSED:
            self.refused.append(entry)

    def add(self, url: str, score: float, reason: str, depth: int, kind: str) -> None:
        key = url_key(url)
        known = self.candidates.get(key)
        if known is None:
            self.candidates[key] = _Candidate(url, key, score, reason, depth, kind, len(self.candidates))
        elif not known.visited and score > known.score:
            known.score, known.reason, known.depth, known.kind = score, reason, depth, kind

    def loaded(self, url: str) -> None:
        """A page loaded under this URL (after redirects): links to it are not followed again."""
        key = url_key(url)
        if key in self.candidates:
            self.candidates[key].visited = True
        else:
            order = len(self.candidates)
            self.candidates[key] = _Candidate(url, key, 0.0, "loaded", 0, "loaded", order, visited=True)

    def next_candidate(self) -> _Candidate | None:
        waiting = [c for c in self.candidates.values() if not c.visited]
        return min(waiting, key=lambda c: (-c.score, c.order), default=None)

    # --- the loop -----------------------------------------------------------------------------------

    async def run(self, session: _Session) -> None:
        self.add(self.website, 0.0, "the website's home page", 0, "home")
        while True:
            candidate = self.next_candidate()
            can_load = self.pages_loaded < self.max_pages and self.left_s() >= MIN_LOAD_S
            if (candidate is None or candidate.kind == "common") and not self.sitemap_read and can_load:
                # Links are used up: the sitemap may list the contact page, and tells which guesses exist.
                await self.read_sitemap(session.page)
                continue
            if candidate is None:
                return
            if self.pages_loaded >= self.max_pages:
                self.leave_the_rest(f"not loaded: the limit of {self.max_pages} pages was reached")
                return
            if self.left_s() < MIN_LOAD_S:
                self.leave_the_rest(f"not loaded: the {self.budget_s:g} s time budget ran out")
                return
            candidate.visited = True
            step = await self.visit(session, candidate)
            self.steps.append(step)
            if step.outcome == FORM_FOUND:
                self.contact_url = step.final_url or candidate.url
                return
            if candidate.kind == "home":
                if step.outcome.startswith("refused:"):
                    return  # the site itself may not be reached: its other pages may not be either
                for url in common_paths(self.website, hebrew=self.hebrew):
                    self.add(url, COMMON_PATH, f"common path {_readable_path(url)}", 1, "common")

    def leave_the_rest(self, why: str) -> None:
        for candidate in self.candidates.values():
            if not candidate.visited:
                self.refuse(candidate.url, f"{why}; chosen as {candidate.reason}")

    async def visit(self, session: _Session, candidate: _Candidate) -> DiscoveryStep:
        def step(outcome: str, *, form: str | None = None, final_url: str | None = None) -> DiscoveryStep:
            return DiscoveryStep(
                candidate.url, candidate.reason, candidate.score, outcome, form, final_url, candidate.depth
            )

        page = session.page
        try:
            await check_target_url(candidate.url, allow_private=self.allow_private)
        except (TargetRefused, NavigationFailed) as ex:
            self.refuse(candidate.url, f"refused: {ex}")
            return step(f"refused: {ex}")
        self.pages_loaded += 1
        offsite_before = len(session.offsite)
        try:
            response = await safe_goto(
                page,
                candidate.url,
                allow_private=self.allow_private,
                timeout_ms=min(NAVIGATION_TIMEOUT_MS, max(1.0, self.left_s()) * 1000),
            )
        except TargetRefused as ex:
            await session.fresh_page()  # a hop of a redirect was refused: the load failed like any other
            self.refuse(candidate.url, f"refused: {ex}")
            return step(f"refused: {ex}")
        except NavigationFailed as ex:
            await session.fresh_page()
            if session.timed_out:
                return step(f"failed: the {self.budget_s:g} s time budget ran out while loading it")
            if len(session.offsite) > offsite_before:
                away = session.offsite[-1]
                self.refuse(candidate.url, f"refused: it leads off the site, to {away[:200]}")
                return step(f"refused: it leads off the site, to {away[:200]}")
            return step(f"failed: {ex}")
        final_url = page.url
        self.loaded(final_url)
        if site_of(final_url) != self.site:
            # Without the guard Chromium follows redirects itself: the other site answered, but is not read.
            self.refuse(candidate.url, f"refused: it redirected off the site, to {final_url[:200]}")
            return step(f"refused: it redirected off the site, to {final_url[:200]}", final_url=final_url)
        challenge = await challenge_reason(page, response)
        if challenge:
            return step(f"refused: {challenge}", final_url=final_url)
        if response is not None and response.status >= 400:
            return step(f"failed: the page answered {response.status}", final_url=final_url)
        with suppress(PlaywrightError):  # a page whose load event never comes is read as it is
            await page.wait_for_load_state("load", timeout=min(LOAD_WAIT_MS, max(1.0, self.left_s()) * 1000))
        form, best, links, language = await self.watch(page)
        final_url = page.url
        if session.timed_out:
            return step(f"failed: the {self.budget_s:g} s time budget ran out while reading it", form=best)
        if candidate.kind == "home":
            self.hebrew = language
        if form is not None:
            return step(FORM_FOUND, form=_form_summary(form), final_url=final_url)
        if candidate.depth < MAX_DEPTH:
            self.take_links(links, candidate, final_url)
        return step(NO_FORM, form=best, final_url=final_url)

    async def watch(self, page: Page) -> tuple[LocatedForm | None, str | None, list[PageLink], bool]:
        """Poll the page for a contact form and for its links (menus and forms drawn late by script)."""
        deadline = time.monotonic() + min(self.form_wait_s, max(0.0, self.left_s() - 1.0))
        links: dict[tuple[str, str, str], PageLink] = {}
        best: str | None = None
        hebrew = False
        while True:
            located = await scan_frames(page, None)
            if located:
                best = _form_summary(located[0])
                if located[0].score >= MIN_GROUP_SCORE:
                    return located[0], best, list(links.values()), hebrew
            try:
                found: dict[str, Any] = await page.main_frame.evaluate(
                    page_function("links"), {"max": MAX_LINKS}
                )
            except PlaywrightError:
                found = {}  # the page is navigating (a script redirect): the next poll reads the new one
            language = str(found.get("lang") or "").lower()
            hebrew = hebrew or language.startswith(("he", "iw")) or found.get("dir") == "rtl"
            for raw in found.get("links") or ():
                if isinstance(raw, dict):
                    link = PageLink.from_js(raw)
                    links.setdefault((link.href, link.text, link.label), link)
            if time.monotonic() >= deadline:
                return None, best, list(links.values()), hebrew
            await asyncio.sleep(POLL_S)

    def take_links(self, links: list[PageLink], source: _Candidate, page_url: str) -> None:
        depth = source.depth + 1
        for link in links:
            verdict = judge_link(link)
            if verdict is None:
                continue
            target = link.href or link.raw
            scheme = target.split(":", 1)[0].lower() if ":" in target else ""
            if not link.href or link.href.startswith("#"):
                if not link.href and link.tag not in ("a", "area"):
                    self.refuse(
                        f"{link.tag} {link.shown_text!r}",
                        "not followed: a button with no link (buttons are never clicked)",
                    )
                continue  # a same-page anchor: the page itself was just read
            if scheme not in ("http", "https"):
                self.refuse(target, f"not followed: a {scheme or 'relative'}: link, {link.shown_text!r}")
                continue
            if site_of(link.href) != self.site:
                self.refuse(link.href, f"not followed: another site, {link.shown_text!r}")
                continue
            reason = verdict.reason
            if depth > 1:
                reason = f"{reason} on {_readable_path(page_url)}"
            self.add(link.href, verdict.score - DEPTH_PENALTY * (depth - 1), reason, depth, "link")

    async def read_sitemap(self, page: Page) -> None:
        self.sitemap_read = True
        # Fetched by the page, so that it goes through the guard: the page must be one of the site's.
        parts = urlsplit(page.url)
        if parts.scheme not in ("http", "https") or site_of(page.url) != self.site:
            self.notes.append("sitemap not read: the last page of the site did not load")
            return
        first = f"{parts.scheme}://{parts.netloc}/sitemap.xml"
        queue, entries, read = [first], [], 0
        while queue and read <= MAX_CHILD_SITEMAPS:
            url = queue.pop(0)
            read += 1
            try:
                answer: dict[str, Any] = await page.main_frame.evaluate(
                    page_function("sitemap"),
                    {"url": url, "max_bytes": MAX_SITEMAP_BYTES, "timeout_ms": SITEMAP_TIMEOUT_MS},
                )
            except PlaywrightError as ex:
                self.notes.append(f"sitemap {url} not read: {_first_line(ex)}")
                continue
            status = int(answer.get("status") or 0)
            if status != 200:
                why = answer.get("error") or f"it answered {status}"
                self.notes.append(f"sitemap {url} not read: {why}")
                continue
            locations, is_index = sitemap_locations(str(answer.get("text") or ""))
            self.notes.append(f"sitemap {url}: {len(locations)} {'sitemaps' if is_index else 'entries'}")
            if is_index:
                same_origin = [u for u in locations if urlsplit(u).netloc == parts.netloc]
                queue.extend(same_origin[:MAX_CHILD_SITEMAPS])
            else:
                entries.extend(locations)
        listed = {url_key(u) for u in entries}
        for url in entries:
            if not url.startswith(("http:", "https:")) or site_of(url) != self.site:
                continue
            said = path_phrase(url)
            if said is not None:
                score = SITEMAP_ENTRY * (1.0 if said[1] else SUPPORT_FACTOR)
                self.add(url, score, f"sitemap entry {_readable_path(url)}", 1, "sitemap")
        if entries:
            for candidate in self.candidates.values():
                if candidate.kind == "common" and not candidate.visited:
                    if candidate.key in listed:
                        candidate.reason += ", listed in the sitemap"
                    else:
                        candidate.score = UNLISTED_GUESS
                        candidate.reason += ", not in the sitemap"


async def discover_contact_page(
    browser: Browser,
    website: str,
    *,
    allow_private: bool,
    max_pages: int = MAX_PAGES,
    locale: str = "en-US",
    timezone: str = "UTC",
    budget_s: float = BUDGET_S,
    form_wait_s: float = FORM_WAIT_S,
) -> DiscoveryResult:
    """Find the contact page of a website from its home page; never raises for a problem of the site.

    `allow_private` lets tests and the demo reach 127.0.0.1; otherwise every request of the discovery's
    context goes through the request guard. Nothing is clicked, filled or submitted.
    """
    if max_pages < 1:
        raise ValueError(f"max_pages must be at least 1, not {max_pages}")
    if budget_s <= 0:
        raise ValueError(f"budget_s must be positive, not {budget_s:g}")
    discovery = _Discovery(
        website, max_pages=max_pages, allow_private=allow_private, budget_s=budget_s, form_wait_s=form_wait_s
    )
    timed_out = False
    async with _discovery_session(
        browser,
        discovery.site,
        locale=locale,
        timezone=timezone,
        allow_private=allow_private,
        budget_s=budget_s,
    ) as session:
        try:
            await discovery.run(session)
        except PlaywrightError as ex:
            # The watchdog closed the context (the budget), or the browser went away: what was found so far
            # is the result, and the reason is a note.
            why = f"the {budget_s:g} s time budget ran out" if session.timed_out else _first_line(ex)
            discovery.notes.append(f"discovery stopped: {why}")
            discovery.leave_the_rest(f"not loaded: {why}")
        timed_out = session.timed_out
    return DiscoveryResult(
        website=website,
        contact_url=discovery.contact_url,
        steps=discovery.steps,
        refused=discovery.refused,
        pages_loaded=discovery.pages_loaded,
        max_pages=max_pages,
        timed_out=timed_out,
        notes=discovery.notes,
    )
