"""Shared, session-scoped real services: the fixture-site farm and one Chromium for all browser tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import pytest
from playwright.async_api import Browser

from audit.demo.farm import RunningFarm, serve_farm
from probes.browser import launch_browser
from tests.rt5 import rt5 as rt5  # a session fixture: RT 5 behind Postfix (tests/rt5.py)
from tests.static_site import static_site

T = TypeVar("T")
__all__ = ["static_site"]  # a session fixture for markup written by others (tests/static_site.py)


@pytest.fixture(scope="session")
def farm() -> Iterator[RunningFarm]:
    """The local fixture sites on 127.0.0.1 (two origins, for cross-origin iframes)."""
    with serve_farm() as running:
        yield running


@pytest.fixture(autouse=True)
def _clear_farm_log(request: pytest.FixtureRequest) -> None:
    # Tests assert on what the sites received, so each starts with an empty log.
    if "farm" in request.fixturenames:
        request.getfixturevalue("farm").clear()


class BrowserHost:
    """One Chromium on its own event loop in a thread, shared by every browser test.

    Playwright's async objects belong to the loop that made them, so tests hand coroutines to that loop
    (`host.run(fn, *args)`) instead of each starting a browser of its own.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="browser-host", daemon=True)
        self._thread.start()
        self._closed: asyncio.Event | None = None
        self.browser: Browser = self._submit(self._start()).result(timeout=120)

    def _submit(self, coro: Awaitable[T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]

    async def _start(self) -> Browser:
        ready: asyncio.Future[Browser] = self.loop.create_future()
        self._closed = asyncio.Event()

        async def hold() -> None:
            async with launch_browser() as browser:
                ready.set_result(browser)
                assert self._closed is not None
                await self._closed.wait()

        self._holder = self.loop.create_task(hold())
        return await ready

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any, timeout: float = 180, **kwargs: Any) -> T:
        return self._submit(fn(*args, **kwargs)).result(timeout=timeout)

    def close(self) -> None:
        async def stop() -> None:
            assert self._closed is not None
            self._closed.set()
            await self._holder

        self._submit(stop()).result(timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        # An unclosed loop leaks its self-pipe sockets; with filterwarnings=error that fails the session.
        self.loop.close()


@pytest.fixture(scope="session")
def browser_host() -> Iterator[BrowserHost]:
    host = BrowserHost()
    try:
        yield host
    finally:
        host.close()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Any]:
    """One real Dovecot for the session; each test makes its own user, hence its own empty mailbox."""
    import os

    from tests.dovecot import dovecot_binary, running_dovecot

    if dovecot_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("dovecot is not installed (apt-get install -y dovecot-imapd)")
        pytest.skip("dovecot is not installed (apt-get install -y dovecot-imapd)")
    with running_dovecot() as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """Each test that takes this runs twice: on a SQLite file and on a PostgreSQL schema of its own."""
    from tests.dbutil import postgres_schema_url, sqlite_url

    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        with postgres_schema_url() as url:
            yield url
