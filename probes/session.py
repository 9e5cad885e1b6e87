"""One probe's browser context: fresh, guarded, watched by a budget watchdog, traced, closed in `finally`.

Unless private targets are allowed, every request of the context goes through `probes.safety.RequestGuard`.

Cancelling a task inside a Playwright call is undefined behaviour, so the whole-probe budget is enforced by
closing the context (pending calls then fail with TargetClosedError), never by `asyncio.wait_for`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page
from playwright.async_api import Error as PlaywrightError

from probes.safety import RequestGuard
from probes.scripts import init_script
from probes.types import ProbeTarget

VIEWPORT = {"width": 1280, "height": 900}


@dataclass(slots=True)
class ProbeSession:
    context: BrowserContext
    page: Page
    budget_s: float
    trace_file: Path
    timed_out: bool = False
    save_trace: bool = False  # decided by the probe from its outcome before the session ends
    trace_saved: Path | None = None
    guard: RequestGuard | None = None  # None only when private targets are allowed (tests, the demo)
    _trace_done: bool = False

    async def stop_trace(self, *, save: bool) -> None:
        if self._trace_done:
            return
        self._trace_done = True
        try:
            if save:
                await self.context.tracing.stop(path=self.trace_file)
                self.trace_saved = self.trace_file
            else:
                await self.context.tracing.stop()
        except PlaywrightError:
            pass  # context already closed: the trace is lost, the outcome still stands

    @property
    def action_timeout_ms(self) -> float:
        return min(15_000.0, self.budget_s * 1000 / 2)

    @property
    def navigation_timeout_ms(self) -> float:
        return min(30_000.0, self.budget_s * 1000 * 0.6)


async def _watchdog(session: ProbeSession, keep_trace: bool) -> None:
    await asyncio.sleep(session.budget_s)
    session.timed_out = True
    if keep_trace:
        # Save what the trace has, but do not let a stuck save keep the context open.
        saving = asyncio.ensure_future(session.stop_trace(save=True))
        await asyncio.wait([saving], timeout=5)
    with suppress(PlaywrightError):
        await session.context.close()


@asynccontextmanager
async def probe_session(browser: Browser, target: ProbeTarget) -> AsyncIterator[ProbeSession]:
    context = await browser.new_context(
        locale=target.locale,
        timezone_id=target.timezone,
        service_workers="block",  # so the form's requests are not hidden behind a service worker
        viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]},
    )
    page: Page | None = None
    watchdog: asyncio.Task[None] | None = None
    guard = None if target.allow_private else RequestGuard()
    try:
        if guard is not None:
            # Before the first page exists, so that no request of this context escapes the check.
            await guard.install(context)
        await context.add_init_script(script=init_script())
        # DOM snapshots, not a screencast: the screencast costs a core on a small machine and the probe takes
        # its own screenshots at the moments that matter.
        await context.tracing.start(screenshots=False, snapshots=True)
        page = await context.new_page()
        session = ProbeSession(
            context, page, target.timeout_s, target.evidence_dir / "trace.zip", guard=guard
        )
        context.set_default_timeout(session.action_timeout_ms)
        context.set_default_navigation_timeout(session.navigation_timeout_ms)
        watchdog = asyncio.create_task(_watchdog(session, target.keep_trace))
        try:
            yield session
        finally:
            if session.timed_out:
                await watchdog  # it is closing the context: let it finish rather than cancel mid-call
            else:
                watchdog.cancel()
                with suppress(asyncio.CancelledError):
                    await watchdog
            await session.stop_trace(save=session.save_trace)
    finally:
        if page is not None:
            with suppress(PlaywrightError):
                await page.close()
        with suppress(PlaywrightError):
            await context.close()
        if guard is not None:
            await guard.close(context)
