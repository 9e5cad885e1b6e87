"""The one click, and watching what it does.

The caller has already awaited `before_submit` (the runner's write-ahead record). Here we click exactly once
(never also Enter), then collect signals until the outcome is clear or the settle time runs out. Nothing in
this module retries: after the click, doubt becomes UNKNOWN and a person decides.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, Page

from probes.dialogs import DialogPolicy
from probes.dom import ControlInfo
from probes.locate import LocatedForm
from probes.network import NetworkLog, RequestRecord
from probes.outcome import Observation, PageState, Verdict, decide
from probes.safety import guard_of
from probes.scripts import page_function
from probes.types import Detail, ProbeResult, ProbeTarget

POLL_S = 0.1
MIN_WATCH_S = 2.0  # even a decisive early signal gets this long (errors render after success toasts, etc.)
# ...except a confirmed one: the form's request answered 2xx/3xx *and* the page showed success. Waiting the
# full two seconds there would add no information and double the cost of every probe.
MIN_WATCH_CONFIRMED_S = 0.3


async def read_states(page: Page, form_frame: Frame) -> list[PageState]:
    """State of the main frame and (if different) the form's frame; unreadable frames give empty states."""
    frames = [page.main_frame] if form_frame is page.main_frame else [page.main_frame, form_frame]
    states: list[PageState] = []
    for frame in frames:
        try:
            raw: dict[str, Any] = await frame.evaluate(page_function("state"), None)
            states.append(PageState.from_js(raw))
        except PlaywrightError:
            # Navigating (the page is between documents) or detached: nothing to read this tick.
            states.append(PageState(url=frame.url if not frame.is_detached() else ""))
    return states


def _submission(net: NetworkLog, form: LocatedForm, target: ProbeTarget) -> RequestRecord | None:
    return net.submission(
        action_url=form.group.action_url,
        frame_url=form.frame_url,
        response_url=target.form.response_url if target.form else None,
    )


async def click_and_observe(
    page: Page,
    form: LocatedForm,
    submit: ControlInfo,
    *,
    target: ProbeTarget,
    result: ProbeResult,
    net: NetworkLog,
    dialogs: DialogPolicy,
    settle_s: float,
) -> Verdict:
    """Click the send button once and decide what happened; sets timing and request fields."""
    before = await read_states(page, form.frame)
    net.arm()
    dialogs.clicked = True
    result.clicked_at = datetime.now(UTC)
    click_ms = result.clicked_at.timestamp() * 1000
    click_error: str | None = None
    clicked_mono = time.monotonic()
    try:
        await form.frame.locator(submit.selector).click(timeout=15_000)
    except PlaywrightError as ex:
        # Did the click land? Unknowable (it may have navigated the page away mid-action): never click again.
        click_error = (str(ex).strip().splitlines() or ["click failed"])[0][:200]
    started = time.monotonic()
    deadline = started + settle_s
    verdict = decide(_observation(before, before, click_ms, None, dialogs, target, click_error))
    while not page.is_closed():  # the watchdog closes the context when the budget runs out
        await asyncio.sleep(POLL_S)
        after = await read_states(page, form.frame)
        await net.settle()
        sub = _submission(net, form, target)
        verdict = decide(_observation(before, after, click_ms, sub, dialogs, target, click_error))
        waited = time.monotonic() - started
        answered = sub is None or sub.status is not None or sub.failure is not None
        decisive = verdict.detail is not Detail.UNKNOWN
        min_watch = MIN_WATCH_CONFIRMED_S if verdict.detail is Detail.SUBMITTED_CONFIRMED else MIN_WATCH_S
        if decisive and answered and waited >= min_watch:
            break
        # No request at all after a while and nothing on the page: nothing more will come.
        if time.monotonic() >= deadline:
            break
    sub = _submission(net, form, target)
    guard = guard_of(page) if not page.is_closed() else None
    refused = guard.refused_since(clicked_mono, methods_other_than="GET") if guard is not None else None
    if refused is not None and (sub is None or sub.status is None):
        # The guard stopped the form's own request (a POST to a non-public address): nothing reached it.
        verdict = Verdict(Detail.TARGET_REFUSED, f"The form's request was refused: {refused.reason}")
    if sub is not None:
        result.post_url = sub.url
        result.post_status = sub.status
    started_at = sub.started_at if sub else None
    result.submitted_at = started_at or result.clicked_at
    result.submitted_at_source = "request" if started_at else "click"
    result.final_url = page.url
    return verdict


def _observation(
    before: list[PageState],
    after: list[PageState],
    click_ms: float,
    sub: RequestRecord | None,
    dialogs: DialogPolicy,
    target: ProbeTarget,
    click_error: str | None,
) -> Observation:
    spec = target.form
    return Observation(
        before=before,
        after=after,
        click_ms=click_ms,
        submission=sub,
        dialogs_after=list(dialogs.alerts_after_click),
        success_text=spec.success_text if spec else (),
        success_url=spec.success_url if spec else None,
        click_error=click_error,
    )
