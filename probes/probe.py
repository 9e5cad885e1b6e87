"""`run_probe`: one company, one inquiry, at most one click.

Order (docs/probing.md, "One probe, step by step"): fresh context; navigate through the safety check; stop on
a bot challenge; cookie banner; locate the form; CAPTCHA check; fill; CAPTCHA check again; native validation;
screenshot; dry run stops here; `before_submit`; one click; classify; evidence. Company-level problems become
a `ProbeResult`; only `before_submit`'s own exceptions (the runner's database) propagate.
"""

from __future__ import annotations

import re
import time
from contextlib import suppress
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page
from playwright.async_api import Error as PlaywrightError

from probes.captcha import challenge_reason, find_captcha
from probes.cookies import BannerChoice, find_banner
from probes.dialogs import DialogPolicy
from probes.dom import ControlInfo
from probes.errors import NavigationFailed, TargetRefused
from probes.evidence import screenshot, write_evidence
from probes.fill import fill_form
from probes.locate import LocatedForm, find_form
from probes.network import NetworkLog
from probes.safety import safe_goto
from probes.scripts import page_function
from probes.session import ProbeSession, probe_session
from probes.steps import StepFailed, run_steps
from probes.submit import click_and_observe
from probes.types import OUTCOME_OF_DETAIL, BeforeSubmit, Detail, Outcome, ProbeResult, ProbeTarget
from probes.vocab import vocabulary

FORM_WAIT_S = 6.0  # JS-rendered forms appear late; poll this long before declaring NO_FORM
SETTLE_S = 12.0  # how long to watch after the click for a confirmation, an error or the response
_COOKIE_OVERLAY = (
    "[role=dialog], [role=alertdialog], [aria-modal=true], [id*=cookie i], [class*=cookie i], "
    "[id*=consent i], [class*=consent i]"
)


class _Done(Exception):
    """Internal: the probe reached its outcome early (set on the result before raising)."""


def _set(result: ProbeResult, detail: Detail, reason: str) -> None:
    result.detail = detail
    result.outcome = OUTCOME_OF_DETAIL[detail]
    result.reason = reason


def _first_line(ex: BaseException) -> str:
    return (str(ex).strip().splitlines() or [type(ex).__name__])[0][:300]


class _Probe:
    def __init__(self, browser: Browser, target: ProbeTarget, before_submit: BeforeSubmit) -> None:
        self.browser = browser
        self.target = target
        self.before_submit = before_submit
        self.result = ProbeResult(Outcome.UNCERTAIN, Detail.UNKNOWN, "The probe did not finish.")
        self.dialogs = DialogPolicy()
        self.log: list[str] = []
        self.candidates: list[str] = []
        self.times: dict[str, str] = {}
        self.net: NetworkLog | None = None
        self.started = time.monotonic()
        self.form: LocatedForm | None = None
        self.submit: ControlInfo | None = None

    def mark(self, stage: str) -> None:
        self.times[stage] = datetime.now(UTC).isoformat()

    def shot_path(self, name: str) -> Path:
        return self.target.evidence_dir / f"{name}.png"

    def budget_left(self) -> float:
        return self.target.timeout_s - (time.monotonic() - self.started)

    # --- the run ----------------------------------------------------------------------------------------

    async def run(self) -> ProbeResult:
        self.target.evidence_dir.mkdir(parents=True, exist_ok=True)
        self.mark("started")
        async with probe_session(self.browser, self.target) as session:
            self.net = NetworkLog(session.context)
            session.page.on("dialog", self.dialogs.handle)
            try:
                await self._before_click(session)
                if self.target.dry_run:
                    _set(self.result, Detail.DRY_RUN_OK, "Dry run: the form was found and filled, not sent.")
                    raise _Done
            except _Done:
                pass
            except PlaywrightError as ex:
                self._crashed(session, ex)
            else:
                # The runner commits its write-ahead record here; if that fails we must not click, and its
                # error propagates untouched (this is outside every except clause of the probe).
                await self.before_submit()
                self.result.submit_started = True
                self.mark("submit_started")
                await self._click(session)
            self.result.dialogs = list(self.dialogs.log)
            if session.guard is not None:
                self.log += session.guard.note(self.result)
            if not session.page.is_closed():
                self.result.final_url = session.page.url
            session.save_trace = self.target.keep_trace and self.result.outcome in (
                Outcome.ERROR,
                Outcome.UNCERTAIN,
            )
        if session.trace_saved is not None:
            self.result.trace_path = session.trace_saved
        self._write_evidence(session)
        return self.result

    def _crashed(self, session: ProbeSession, ex: PlaywrightError) -> None:
        """A Playwright failure outside the click phase (which handles its own)."""
        why = (
            f"the probe ran out of its {self.target.timeout_s:g} s budget"
            if session.timed_out
            else f"the browser failed: {_first_line(ex)}"
        )
        if self.result.submit_started:
            _set(self.result, Detail.UNKNOWN, f"After the click, {why}; the inquiry may have been sent.")
        elif "navigated" not in self.times:
            _set(self.result, Detail.NAVIGATION_FAILED, f"Before the page loaded, {why}.")
        else:
            _set(self.result, Detail.FILL_FAILED, f"Before anything was sent, {why}.")

    async def _before_click(self, session: ProbeSession) -> None:
        page = session.page
        await self._navigate(session)
        await self._cookies(page)
        if self.target.form and self.target.form.steps:
            try:
                self.log += await run_steps(
                    page,
                    self.target.form.steps,
                    persona=self.target.persona,
                    inquiry=self.target.inquiry,
                    allow_private=self.target.allow_private,
                    timeout_ms=session.action_timeout_ms,
                )
            except (StepFailed, TargetRefused, NavigationFailed) as ex:
                _set(self.result, Detail.FILL_FAILED, f"A configured step failed: {ex}")
                raise _Done from ex
        form = await self._locate(page)
        await self._check_captcha(page, form, "before filling")
        report = await fill_form(form, self.target, self.result)
        self.log += report.notes
        self.mark("filled")
        if report.failure is not None:
            _set(self.result, *report.failure)
            await screenshot(page, self.shot_path("fill-failed"), self.result)
            raise _Done
        assert report.submit is not None
        self.submit = report.submit
        self.form = form = report.form
        await self._check_captcha(page, form, "after filling")
        invalid = await form.frame.evaluate(page_function("validity"), {"selector": form.group.selector})
        await screenshot(page, self.shot_path("before-submit"), self.result)
        if invalid:
            names = "; ".join(f"{i.get('name')}: {i.get('message')}" for i in invalid[:5])
            _set(
                self.result,
                Detail.FILL_FAILED,
                f"The browser reports invalid fields after filling ({names}).",
            )
            raise _Done

    async def _navigate(self, session: ProbeSession) -> None:
        page = session.page
        try:
            response = await safe_goto(
                page,
                self.target.url,
                allow_private=self.target.allow_private,
                timeout_ms=session.navigation_timeout_ms,
            )
        except TargetRefused as ex:
            _set(self.result, Detail.TARGET_REFUSED, str(ex))
            raise _Done from ex
        except NavigationFailed as ex:
            _set(self.result, Detail.NAVIGATION_FAILED, str(ex))
            raise _Done from ex
        self.mark("navigated")
        challenge = await challenge_reason(page, response)
        if challenge:
            self.result.captcha = "challenge"
            _set(self.result, Detail.BLOCKED_CHALLENGE, f"Blocked by a bot challenge: {challenge}.")
            await screenshot(page, self.shot_path("challenge"), self.result)
            raise _Done
        if response is not None and response.status >= 400:
            _set(self.result, Detail.NAVIGATION_FAILED, f"The contact page answered {response.status}.")
            await screenshot(page, self.shot_path("loaded"), self.result)
            raise _Done
        try:
            await page.wait_for_load_state("load", timeout=min(10_000.0, session.navigation_timeout_ms))
        except PlaywrightError:
            self.log.append("the load event did not come in time; going on with the DOM as it is")

    async def _cookies(self, page: Page) -> None:
        choice = await find_banner(page)
        if choice is not None:
            await self._click_banner(page, choice)

        async def later() -> None:
            # A banner that shows up after the first look (delayed CMPs) would block later clicks.
            late = await find_banner(page)
            if late is not None:
                await self._click_banner(page, late)

        overlay = page.locator(_COOKIE_OVERLAY).filter(has_text=re.compile(r"cookie|עוגיות|קוקיז", re.I))
        await page.add_locator_handler(overlay, later, no_wait_after=True, times=2)

    async def _click_banner(self, page: Page, choice: BannerChoice) -> None:
        await screenshot(page, self.shot_path("cookie-before"), self.result)
        try:
            await choice.frame.locator(choice.button_selector).click(timeout=5000)
        except PlaywrightError as ex:
            self.log.append(f"cookie banner: could not click {choice.describe()} ({_first_line(ex)})")
            return
        self.result.cookie_action = choice.describe()
        self.log.append(f"cookie banner: {choice.describe()}")
        with suppress(PlaywrightError):  # some CMPs reload the page after a choice
            await page.wait_for_load_state("domcontentloaded", timeout=5000)
        await page.wait_for_timeout(400)  # banners fade out
        await screenshot(page, self.shot_path("cookie-after"), self.result)

    async def _locate(self, page: Page) -> LocatedForm:
        form, self.candidates = await find_form(
            page, self.target.form, wait_s=min(FORM_WAIT_S, self.budget_left() / 4)
        )
        if form is None:
            _set(
                self.result, Detail.NO_FORM_FOUND, "No contact form was found on the page (or in its frames)."
            )
            await screenshot(page, self.shot_path("no-form"), self.result)
            raise _Done
        spec = self.target.form
        if spec is not None and (spec.fields or spec.submit) and form.layer != "explicit":
            self.log.append("the configured selectors matched no form control; fell back to detection")
        self.result.form_layer = form.layer
        self.result.form_frame_url = form.frame_url
        self.log.append(f"form: {form.group.kind} {form.group.selector} ({form.layer}, score {form.score:g})")
        return form

    async def _check_captcha(self, page: Page, form: LocatedForm, when: str) -> None:
        kind = await find_captcha(page, form.frame, form.group.selector, record=self.result, notes=self.log)
        if kind is None:
            return
        self.result.captcha = kind
        if kind == "challenge":
            _set(self.result, Detail.BLOCKED_CHALLENGE, f"A bot challenge appeared {when}; nothing was sent.")
        else:
            _set(
                self.result,
                Detail.BLOCKED_CAPTCHA,
                f"The form has a CAPTCHA ({kind}), found {when}; nothing was sent.",
            )
        await screenshot(page, self.shot_path("captcha"), self.result)
        raise _Done

    async def _click(self, session: ProbeSession) -> None:
        assert self.net is not None and self.form is not None and self.submit is not None
        page = session.page
        try:
            settle = max(2.0, min(SETTLE_S, self.budget_left() - 3.0))
            verdict = await click_and_observe(
                page,
                self.form,
                self.submit,
                target=self.target,
                result=self.result,
                net=self.net,
                dialogs=self.dialogs,
                settle_s=settle,
            )
            reason = verdict.reason
            if session.timed_out and verdict.detail is Detail.UNKNOWN:
                reason = (
                    f"After the click, the probe ran out of its {self.target.timeout_s:g} s budget: {reason}"
                )
            _set(self.result, verdict.detail, reason)
            self.result.confirmation_text = verdict.confirmation_text
            self.result.error_text = verdict.error_text
            self.log += [f"signal {s}" for s in verdict.signals]
            self.mark("outcome")
            await screenshot(page, self.shot_path("after-submit"), self.result)
        except Exception as ex:
            # Whatever broke here (a closed context, a bug), the inquiry may have gone out: a person decides.
            if self.result.submitted_at is None:
                self.result.submitted_at = self.result.clicked_at
                self.result.submitted_at_source = "click" if self.result.clicked_at else None
            why = (
                f"the probe ran out of its {self.target.timeout_s:g} s budget"
                if session.timed_out
                else _first_line(ex)
            )
            _set(self.result, Detail.UNKNOWN, f"After the click, {why}; the inquiry may have been sent.")

    # --- evidence -------------------------------------------------------------------------------------

    def _write_evidence(self, session: ProbeSession) -> None:
        net_log = (
            [r.as_dict() for r in self.net.records if r.after_click or r.method != "GET"] if self.net else []
        )
        extra: dict[str, Any] = {
            "target": {
                "key": self.target.key,
                "url": self.target.url,
                "locale": self.target.locale,
                "timezone": self.target.timezone,
                "dry_run": self.target.dry_run,
                "timeout_s": self.target.timeout_s,
            },
            "versions": {
                "playwright": version("playwright"),
                "browser": self.browser.version,
                "keywords": vocabulary().versions,
            },
            "times": self.times,
            "timed_out": session.timed_out,
            "form_candidates": self.candidates,
            "log": self.log,
            "requests": net_log[:200],
            "refused_requests": [r.as_dict() for r in session.guard.refused] if session.guard else [],
        }
        write_evidence(self.result, self.target.evidence_dir / "evidence.json", extra)


async def run_probe(browser: Browser, target: ProbeTarget, before_submit: BeforeSubmit) -> ProbeResult:
    """Probe one company's contact form; never raises for a problem of the company's site."""
    return await _Probe(browser, target, before_submit).run()
