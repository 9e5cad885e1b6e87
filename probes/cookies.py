"""Cookie-consent banners: reject where possible, else close, else accept; always say which.

Overlays make clicks fail Playwright's "receives events" check, and consent changes which scripts load, so
the choice is part of the evidence. Known CMP rule sets (DuckDuckGo autoconsent) would be stronger; this is
the generic fallback: a visible fixed/modal/consent-marked element whose text speaks of cookies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, Page

from probes.scripts import page_function
from probes.vocab import normalise, vocabulary

_CLOSE_GLYPHS = frozenset({"×", "✕", "✖", "x", "╳", "close"})
# "Cookie" itself is decisive; softer words (privacy, consent) count only on an element marked as a CMP.
_COOKIE_WORD = re.compile(r"cookie|עוגי|קוקיז", re.I)


@dataclass(frozen=True, slots=True)
class BannerChoice:
    frame: Frame
    button_selector: str
    action: str  # reject | close | accept
    label: str

    def describe(self) -> str:
        return f"{self.action}: {self.label}"


def _pick(banner: dict[str, Any]) -> tuple[str, str, str] | None:
    """(action, selector, label) of the best button in one banner: reject, else close, else accept."""
    vocab = vocabulary()
    ranked: list[tuple[int, str, str, str]] = []
    for button in banner.get("buttons") or ():
        text = str(button.get("text") or "")
        aria = str(button.get("aria") or "")
        words = normalise(f"{text} {aria}")
        label = text or aria
        if vocab.cookie_reject.search(words, normalised=True):
            ranked.append((0, "reject", str(button["selector"]), label))
        elif text.strip().lower() in _CLOSE_GLYPHS or vocab.cookie_close.search(words, normalised=True):
            ranked.append((1, "close", str(button["selector"]), label or "close"))
        elif vocab.cookie_accept.search(words, normalised=True):
            ranked.append((2, "accept", str(button["selector"]), label))
    if not ranked:
        return None
    ranked.sort(key=lambda r: r[0])
    _, action, selector, label = ranked[0]
    return action, selector, label


async def find_banner(page: Page) -> BannerChoice | None:
    """The cookie banner's best button, in any frame (some CMPs live in iframes), or None."""
    vocab = vocabulary()
    for frame in page.frames:
        try:
            banners: list[dict[str, Any]] = await frame.evaluate(page_function("banners"), None)
        except PlaywrightError:
            continue
        # Most specific first: marked as consent/modal, then the smallest text.
        banners.sort(key=lambda b: (not b.get("marked"), len(str(b.get("text") or ""))))
        for banner in banners:
            text = str(banner.get("text") or "")
            if not (_COOKIE_WORD.search(text) or (banner.get("marked") and vocab.cookie.search(text))):
                continue
            picked = _pick(banner)
            if picked is not None:
                action, selector, label = picked
                return BannerChoice(frame, selector, action, label.strip()[:80])
    return None
