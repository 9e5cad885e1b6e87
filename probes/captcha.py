"""Detecting CAPTCHAs and bot-challenge pages. Detect and stop; never solve, evade or spoof."""

from __future__ import annotations

import re

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, Page, Response

from probes.scripts import page_function

_CAPTCHA_FRAME = re.compile(
    r"/recaptcha/(api2|enterprise)/(anchor|bframe)|hcaptcha\.com|challenges\.cloudflare\.com|friendlycaptcha"
)


async def challenge_reason(page: Page, response: Response | None) -> str | None:
    """Why the landing page is a bot challenge (Cloudflare and the like), or None."""
    if response is not None:
        headers = await response.all_headers()
        if headers.get("cf-mitigated", "").lower() == "challenge":
            return f"the site answered {response.status} with the header cf-mitigated: challenge"
    try:
        title = await page.title()
        content_marker = await page.evaluate(
            '() => !!document.querySelector(\'script[src*="/cdn-cgi/challenge-platform/"], '
            'form[action*="/cdn-cgi/challenge-platform/"]\') || '
            "[...document.scripts].some(s => (s.textContent || '').includes('/cdn-cgi/challenge-platform/'))"
        )
    except PlaywrightError:
        return None
    if title.strip().lower().startswith("just a moment"):
        return f"the page title is {title.strip()!r}, a Cloudflare challenge"
    if content_marker:
        return "the page loads /cdn-cgi/challenge-platform/, a Cloudflare challenge"
    return None


async def find_captcha(page: Page, form_frame: Frame | None) -> str | None:
    """The kind of CAPTCHA on the form (its frame, its child frames, and the page), or None."""
    for frame in page.frames:
        if _CAPTCHA_FRAME.search(frame.url):
            if "recaptcha" in frame.url:
                return "recaptcha-enterprise" if "enterprise" in frame.url else "recaptcha-v2"
            if "hcaptcha" in frame.url:
                return "hcaptcha"
            return "turnstile" if "cloudflare" in frame.url else "friendly-captcha"
    scopes = [form_frame] if form_frame is not None else []
    if page.main_frame not in scopes:
        scopes.append(page.main_frame)
    for frame in scopes:
        try:
            kind = await frame.evaluate(page_function("captcha"), None)
        except PlaywrightError:
            continue
        if isinstance(kind, str) and kind:
            return kind
    return None
