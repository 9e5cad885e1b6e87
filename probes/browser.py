"""Finding and launching Chromium.

Playwright's own Chromium download is preferred when it is installed; a distro Chromium works too (Playwright
calls that "at your own risk", but it is what machines without the download have).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from playwright.async_api import Browser, async_playwright
from playwright.async_api import Error as PlaywrightError

from probes.errors import BrowserUnavailable

# Without the network-quietening flags a distro Chromium phones Google at start-up and stalls offline.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)

_SYSTEM_CANDIDATES = (
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
    "/snap/bin/chromium",
)
_INSTALL_HINT = "install one with `apt-get install chromium` or `playwright install chromium`"


def _bundled_chromium() -> str | None:
    """Playwright's downloaded Chromium in its default cache, if any (newest build first)."""
    cache = Path.home() / ".cache" / "ms-playwright"
    patterns = (
        "chromium-*/chrome-linux*/chrome",
        "chromium-*/chrome-mac*/Chromium.app/Contents/MacOS/Chromium",
    )
    for pattern in patterns:
        found = sorted(cache.glob(pattern), reverse=True)
        if found:
            return str(found[0])
    return None


def find_chromium(explicit: str | None = None) -> str | None:
    """The Chromium executable to use: `explicit` if it exists, else Playwright's, else a system one."""
    if explicit:
        return explicit if Path(explicit).exists() else None
    bundled = _bundled_chromium()
    if bundled:
        return bundled
    for candidate in _SYSTEM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        which = shutil.which(name)
        if which:
            return which
    return None


@asynccontextmanager
async def launch_browser(
    executable_path: str | None = None, *, headless: bool = True
) -> AsyncIterator[Browser]:
    """Start Playwright and Chromium; close the browser, then Playwright, however the block ends."""
    async with async_playwright() as pw:
        path = executable_path
        if path is None:
            bundled = pw.chromium.executable_path
            path = bundled if bundled and Path(bundled).exists() else find_chromium()
        elif not Path(path).exists():
            raise BrowserUnavailable(f"No Chromium at {path}; {_INSTALL_HINT}.")
        if path is None:
            raise BrowserUnavailable(
                "No Chromium found (looked for Playwright's download, /usr/bin/chromium, chromium-browser "
                f"and google-chrome); {_INSTALL_HINT}."
            )
        try:
            browser = await pw.chromium.launch(
                executable_path=path, headless=headless, args=list(CHROMIUM_ARGS)
            )
        except PlaywrightError as ex:
            first_line = (str(ex).strip().splitlines() or ["unknown error"])[0]
            raise BrowserUnavailable(
                f"Chromium at {path} failed to start ({first_line}); {_INSTALL_HINT}."
            ) from ex
        try:
            yield browser
        finally:
            # Already gone if it crashed or disconnected; Playwright itself still shuts down below.
            with suppress(PlaywrightError):
                await browser.close()
