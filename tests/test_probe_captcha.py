"""Bot protection as it appears in the wild is detected before anything is filled (real Chromium).

Pages in tests/data/sites/captcha/ (sources in its README.md) are served by `static_site`, which records every
POST. Nothing reaches the internet: a route on each probe's context aborts every request that is not for the
local site, except the widget scripts published on npm (friendly-challenge, @friendlycaptcha/sdk, altcha,
@mcaptcha/vanilla-glue), which are answered from the npm tarballs cached in ~/.cache/contact-audit/npm so the
real widget code runs and renders its own DOM. Without the cache (registry unreachable) those are aborted
too, and every page must still end the same way.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import tarfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Route

from probes import Detail, Inquiry, Outcome, Persona, ProbeResult, ProbeTarget, run_probe
from tests.conftest import BrowserHost
from tests.static_site import StaticSite

pytestmark = pytest.mark.browser

NPM_CACHE = Path.home() / ".cache" / "contact-audit" / "npm"
# CDN URL prefix -> npm package (name, version) whose files it serves.
CDN_PACKAGES = {
    "https://cdn.jsdelivr.net/npm/friendly-challenge@0.9.20/": ("friendly-challenge", "0.9.20"),
    "https://cdn.jsdelivr.net/npm/@friendlycaptcha/sdk@1.0.2/": ("@friendlycaptcha/sdk", "1.0.2"),
    "https://cdn.jsdelivr.net/npm/altcha@3.2.2/": ("altcha", "3.2.2"),
    "https://unpkg.com/@mcaptcha/vanilla-glue@0.1.0-rc2/": ("@mcaptcha/vanilla-glue", "0.1.0-rc2"),
}
# The AWS WAF CAPTCHA page comes with its status and header, as AWS sends it.
RESPONSE_OVERRIDES = {"/captcha/aws-waf-captcha.html": (405, {"x-amzn-waf-action": "captcha"})}


@dataclass(frozen=True)
class Case:
    outcome: Outcome
    detail: Detail
    captcha: str  # result.captcha
    signal: str  # a regex the evidence (log or reason) must contain


def blocked(captcha: str, signal: str) -> Case:
    return Case(Outcome.BLOCKED_CAPTCHA, Detail.BLOCKED_CAPTCHA, captcha, signal)


def challenge(signal: str) -> Case:
    return Case(Outcome.BLOCKED_CAPTCHA, Detail.BLOCKED_CHALLENGE, "challenge", signal)


def score_only(captcha: str, signal: str) -> Case:
    return Case(Outcome.SUBMITTED, Detail.SUBMITTED_CONFIRMED, captcha, signal)


CASES: dict[str, Case] = {
    "recaptcha-v2-checkbox": blocked("recaptcha-v2", r"div\.g-recaptcha\[data-sitekey\]"),
    "recaptcha-v2-rendered": blocked("recaptcha-v2", r"iframe www\.recaptcha\.net/recaptcha/api2/anchor"),
    "react-google-recaptcha": blocked("recaptcha-v2", r"api\.js\?render=explicit"),
    "vue-recaptcha": blocked("recaptcha-v2", r"api\.js\?render=explicit"),
    "recaptcha-v2-invisible": blocked("recaptcha-v2-invisible", r"data-size=invisible"),
    "hubspot-placeholder": blocked("recaptcha-v2-invisible", r"hs_recaptcha \(HubSpot\)"),
    "webflow": blocked("recaptcha-v2", r"div\.g-recaptcha\[data-sitekey\]|w-form-formrecaptcha"),
    "netlify": blocked("recaptcha-v2", r"\[data-netlify-recaptcha\] \(Netlify\)"),
    "netlify-bare": blocked("recaptcha-v2", r"\[netlify-recaptcha\] \(Netlify\)"),
    "basin": blocked("captcha-placeholder", r"form\[data-basin-spam-protection=recaptcha\]"),
    "form-backend-data-captcha": blocked("captcha-placeholder", r"form\[data-captcha\]"),
    "hcaptcha": blocked("hcaptcha", r"div\.h-captcha\[data-sitekey\]"),
    "hcaptcha-invisible": blocked("hcaptcha-invisible", r"h-captcha\[data-size=invisible\]"),
    "hcaptcha-react": blocked("hcaptcha", r"js\.hcaptcha\.com/1/api\.js"),
    "turnstile": blocked("turnstile", r"div\.cf-turnstile\[data-sitekey\]"),
    "turnstile-react": blocked("turnstile", r"div#cf-turnstile"),
    "friendly-captcha": blocked("friendly-captcha", r"\.frc-captcha"),
    "friendly-captcha-v2": blocked("friendly-captcha", r"\.frc-captcha"),
    "altcha": blocked("altcha", r"altcha-widget"),
    "mcaptcha": blocked("mcaptcha", r"data-mcaptcha_url"),
    "geetest": blocked("geetest", r"static\.geetest\.com/v4/gt4\.js"),
    "arkose": blocked("arkose", r"client-api\.arkoselabs\.com"),
    "captcha-eu": blocked("captcha-eu", r"www\.captcha\.eu/sdk\.js"),
    "image-captcha": blocked("image-captcha", r"img crm\.zoho\.com/crm/CaptchaServlet"),
    "question-math": blocked("question-captcha", r"What is 3 \+ 4\?"),
    "question-hebrew": blocked("question-captcha", r"מה סכום 3 ועוד 4\?"),
    "question-word": blocked("question-captcha", r"Type the word shown"),
    "recaptcha-v3": score_only("score_only: recaptcha_v3", r"score_only: recaptcha_v3 .*render=<site key>"),
    "recaptcha-enterprise-score": score_only(
        "score_only: recaptcha_enterprise", r"score_only: recaptcha_enterprise .*enterprise\.execute"
    ),
    "recaptcha-v3-rendered": score_only("score_only: recaptcha_v3", r"score_only: recaptcha_v3"),
    "turnstile-interaction-only": score_only(
        "score_only: turnstile", r"score_only: turnstile .*data-appearance=interaction-only"
    ),
    "turnstile-react-invisible": score_only("score_only: turnstile", r"score_only: turnstile .*style=0x0"),
    "cloudflare-challenge": challenge(r"Cloudflare"),
    "aws-waf-captcha": challenge(r"x-amzn-waf-action: captcha"),
    "aws-waf-challenge": challenge(r"AWS WAF: .*token\.awswaf\.com/.*/challenge\.js"),
    "akamai": challenge(r"Akamai"),
    "perimeterx": challenge(r"PerimeterX"),
    "datadome": challenge(r"DataDome: ct\.captcha-delivery\.com"),
    "imperva": challenge(r"Imperva"),
}
CONTROL = "control"  # a plain form whose labels hold numbers and a "recaptcha-notice" class: sent, no captcha


def _ensure_package(name: str, version: str) -> Path | None:
    """The unpacked npm tarball (fetched once with `npm pack`), or None when the registry is unreachable."""
    root = NPM_CACHE / f"{name.replace('/', '__')}@{version}"
    if (root / "package" / "package.json").exists():
        return root / "package"
    root.mkdir(parents=True, exist_ok=True)
    try:
        out = subprocess.run(
            ["npm", "pack", f"{name}@{version}", "--silent", "--pack-destination", str(root)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    tarball = root / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as tar:
        tar.extractall(root, filter="data")
    return root / "package"


@pytest.fixture(scope="session")
def cdn_files() -> dict[str, Path]:
    """CDN URL prefix -> the unpacked package directory, for the packages that could be fetched."""
    found: dict[str, Path] = {}
    for prefix, (name, version) in CDN_PACKAGES.items():
        directory = _ensure_package(name, version)
        if directory is not None:
            found[prefix] = directory
    return found


@dataclass
class OfflineBrowser:
    """The shared Browser, with a route on every new context: the local site, cached CDN files, nothing else."""

    browser: Browser
    site: StaticSite
    cdn: dict[str, Path]
    aborted: list[str] = field(default_factory=list)
    served_from_npm: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        return self.browser.version

    async def new_context(self, **kwargs: Any) -> BrowserContext:
        context = await self.browser.new_context(**kwargs)
        await context.route(lambda url: True, self._route)
        return context

    async def _route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(self.site.base_url + "/"):
            override = RESPONSE_OVERRIDES.get(urlsplit(url).path)
            if override is None:
                await route.continue_()
                return
            response = await route.fetch()
            status, headers = override
            await route.fulfill(response=response, status=status, headers={**response.headers, **headers})
            return
        for prefix, directory in self.cdn.items():
            if url.startswith(prefix):
                relative = url[len(prefix) :].split("?", 1)[0]
                file = (directory / relative).resolve()
                if file.is_file() and file.is_relative_to(directory.resolve()):
                    self.served_from_npm.append(url)
                    await route.fulfill(path=file, content_type="text/javascript; charset=utf-8")
                    return
        self.aborted.append(url)
        await route.abort("blockedbyclient")


@dataclass
class Run:
    result: ProbeResult
    before_submit_calls: int
    evidence: dict[str, Any]

    def text(self) -> str:
        """The evidence a person reads for the decision: the reason and the probe's log."""
        return "\n".join([self.result.reason, *[str(line) for line in self.evidence.get("log", [])]])


def _target(site: StaticSite, page: str, evidence: Path) -> ProbeTarget:
    return ProbeTarget(
        key=page,
        url=site.url(f"captcha/{page}.html"),
        persona=Persona(
            "Dana", "Levi", f"dana.{page}@replies.example.org", "+972 50 123 4567", "Levi Design"
        ),
        inquiry=Inquiry(
            "Question about an appointment", "Hello, could someone come next week?\nRef: K7Q2-9F"
        ),
        evidence_dir=evidence / page,
        allow_private=True,
        timeout_s=40.0,
        locale="he-IL" if "hebrew" in page else "en-US",
        keep_trace=False,
    )


async def _probe_all(browser: OfflineBrowser, targets: list[ProbeTarget]) -> list[tuple[ProbeResult, int]]:
    gate = asyncio.Semaphore(4)

    async def one(target: ProbeTarget) -> tuple[ProbeResult, int]:
        calls = 0

        async def before_submit() -> None:
            nonlocal calls
            calls += 1

        async with gate:
            return await run_probe(cast(Browser, browser), target, before_submit), calls

    return list(await asyncio.gather(*(one(t) for t in targets)))


@pytest.fixture(scope="module")
def offline(browser_host: BrowserHost, static_site: StaticSite, cdn_files: dict[str, Path]) -> OfflineBrowser:
    return OfflineBrowser(browser_host.browser, static_site, cdn_files)


@pytest.fixture(scope="module")
def runs(
    browser_host: BrowserHost,
    offline: OfflineBrowser,
    static_site: StaticSite,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Run]:
    evidence = tmp_path_factory.mktemp("captcha-evidence")
    pages = [*CASES, CONTROL]
    targets = [_target(static_site, page, evidence) for page in pages]
    run: Callable[..., Awaitable[list[tuple[ProbeResult, int]]]] = _probe_all
    outcomes = browser_host.run(run, offline, targets, timeout=300)
    out: dict[str, Run] = {}
    for page, (result, calls) in zip(pages, outcomes, strict=True):
        assert result.evidence_path is not None
        out[page] = Run(result, calls, json.loads(result.evidence_path.read_text(encoding="utf-8")))
    return out


@pytest.mark.parametrize("page", sorted(CASES))
def test_each_widget_ends_as_expected(runs: dict[str, Run], static_site: StaticSite, page: str) -> None:
    case, run = CASES[page], runs[page]
    result = run.result
    assert (result.outcome, result.detail) == (case.outcome, case.detail), result.reason
    assert result.captcha == case.captcha, run.text()
    assert re.search(case.signal, run.text()), (
        f"the evidence does not name the signal {case.signal!r}:\n{run.text()}"
    )
    posts = [p for p in static_site.posts_to(f"/captcha/sent/{page}") if p.path == f"/captcha/sent/{page}"]
    if case.outcome is Outcome.SUBMITTED:
        assert len(posts) == 1 and run.before_submit_calls == 1, "a score-only check: sent exactly once"
        assert any("score_only:" in line for line in run.evidence["log"])
    else:
        assert posts == [] and run.before_submit_calls == 0 and not result.submit_started
        assert result.fields == [], "nothing is filled on a page with a CAPTCHA"
        assert result.clicked_at is None


def test_blocking_signal_is_found_before_filling(runs: dict[str, Run]) -> None:
    for page, case in CASES.items():
        if case.detail is Detail.BLOCKED_CAPTCHA:
            assert "before filling" in runs[page].result.reason, (page, runs[page].result.reason)
            assert runs[page].evidence["log"][-1].startswith("captcha "), (
                "the check came right after locating"
            )
            assert "filled" not in runs[page].evidence["times"], page


def test_plain_form_is_sent_and_no_captcha_recorded(runs: dict[str, Run], static_site: StaticSite) -> None:
    run = runs[CONTROL]
    assert run.result.outcome is Outcome.SUBMITTED, run.result.reason
    assert run.result.captcha is None
    assert not any(str(line).startswith("captcha ") for line in run.evidence["log"])
    (post,) = static_site.posts_to(f"/captcha/sent/{CONTROL}")
    assert post.fields().get("email") == f"dana.{CONTROL}@replies.example.org"


def test_nothing_left_the_machine_and_npm_widgets_ran(runs: dict[str, Run], offline: OfflineBrowser) -> None:
    hosts = {urlsplit(url).hostname for url in offline.aborted}
    # The widget scripts were asked for (and refused here): the pages really reference them.
    assert {"www.google.com", "js.hcaptcha.com", "challenges.cloudflare.com"} <= hosts
    assert "127.0.0.1" not in hosts
    if offline.cdn:
        served = " ".join(offline.served_from_npm)
        assert "friendly-challenge@0.9.20/widget" in served and "altcha@3.2.2" in served
