"""Detecting CAPTCHAs and bot-challenge pages. Detect and stop; never solve, evade or spoof.

`probes/js/captcha.js` reads each frame's markup: widget placeholders count even when the widget's script was
blocked or has not loaded yet (a hosting platform's `data-netlify-recaptcha`, Webflow's
`.w-form-formrecaptcha`, a bare `.g-recaptcha`), because the challenge appears the moment the script arrives.
This module adds what only the browser knows (the widget frames and whether they are shown), decides
blocking versus score-only, and writes the signal that fired into the evidence.

Score-only checks (reCAPTCHA v3 / Enterprise scores, Turnstile in interaction-only, execute or invisible mode)
ask nothing of a person, so the form is sent and the result carries `score_only: <kind>`: a silent drop is
then not blamed on the company (README.md, "Outcomes").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, Page, Response

from probes.scripts import page_function
from probes.types import ProbeResult

# Widget frames by the origin that serves them (the frame's URL, so cross-origin and shadow-DOM frames too).
_FRAME_KINDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"/recaptcha/(api2|enterprise)/bframe"), "recaptcha-challenge"),
    (re.compile(r"/recaptcha/(api2|enterprise)/anchor"), "recaptcha-anchor"),
    (re.compile(r"(^|[/.])hcaptcha\.com/"), "hcaptcha"),
    (re.compile(r"challenges\.cloudflare\.com/"), "turnstile"),
    (re.compile(r"friendlycaptcha|frcapi\.com"), "friendly-captcha"),
    (re.compile(r"arkoselabs\.com|funcaptcha\.com"), "arkose"),
    (re.compile(r"captcha-delivery\.com"), "challenge"),
)
_SHOWN_MIN_PX = 20  # a frame smaller than this (or off-screen, or hidden) shows nothing to answer


@dataclass(frozen=True, slots=True)
class CaptchaFinding:
    """One signal: what it is, what fired (selector, attribute or URL), and whether it stops the probe."""

    kind: str
    signal: str
    blocking: bool
    weak: bool = False  # a generic hint (an attribute naming a captcha) that a score-only finding outranks

    def note(self) -> str:
        mode = "blocking" if self.blocking else "score_only"
        return f"captcha {mode}: {self.kind} (signal: {self.signal})"


def _findings_from_js(raw: object) -> list[CaptchaFinding]:
    out: list[CaptchaFinding] = []
    if not isinstance(raw, list):
        return out
    for item in raw:
        if isinstance(item, dict) and item.get("kind"):
            out.append(
                CaptchaFinding(
                    kind=str(item["kind"]),
                    signal=str(item.get("signal") or ""),
                    blocking=bool(item.get("blocking")),
                    weak=bool(item.get("weak")),
                )
            )
    return out


async def _frame_shown(frame: Frame) -> bool:
    """Whether the frame element is shown on the page with a real size (something a person must answer)."""
    try:
        element = await frame.frame_element()
        if not await element.is_visible():
            return False
        box = await element.bounding_box()
    except PlaywrightError:
        return False
    return (
        box is not None
        and box["width"] >= _SHOWN_MIN_PX
        and box["height"] >= _SHOWN_MIN_PX
        and (box["y"] + box["height"] > 0 and box["x"] + box["width"] > 0)
    )


async def _frame_findings(page: Page, score_only_recaptcha: bool) -> list[CaptchaFinding]:
    out: list[CaptchaFinding] = []
    for frame in page.frames:
        url = frame.url
        kind = next((k for pattern, k in _FRAME_KINDS if pattern.search(url)), None)
        if kind is None or frame is page.main_frame:
            continue
        where = url.split("?", 1)[0][:160]
        if kind == "recaptcha-challenge":
            # The challenge frame exists hidden from the start; it counts once it is shown.
            if await _frame_shown(frame):
                out.append(CaptchaFinding("recaptcha-v2", f"challenge frame shown {where}", True))
        elif kind == "recaptcha-anchor":
            if "size=invisible" not in url:
                out.append(CaptchaFinding("recaptcha-v2", f"frame {where}", True))
            elif score_only_recaptcha:
                out.append(CaptchaFinding("recaptcha_v3", f"invisible frame {where}", False))
            else:
                out.append(CaptchaFinding("recaptcha-v2-invisible", f"invisible frame {where}", True))
        elif kind == "turnstile":
            # Turnstile draws into a closed shadow root; only its frame tells whether it asks for a click.
            if await _frame_shown(frame):
                out.append(CaptchaFinding("turnstile", f"widget frame shown {where}", True))
            else:
                out.append(CaptchaFinding("turnstile", f"hidden widget frame {where}", False))
        else:
            out.append(CaptchaFinding(kind, f"frame {where}", True))
    return out


async def detect_captchas(
    page: Page, form_frame: Frame | None, form_selector: str | None = None
) -> list[CaptchaFinding]:
    """Every CAPTCHA signal on the form's frame, the page and the widget frames, blocking or not."""
    scopes: list[tuple[Frame, str | None]] = [(form_frame, form_selector)] if form_frame is not None else []
    if page.main_frame is not form_frame:
        scopes.append((page.main_frame, None))
    found: list[CaptchaFinding] = []
    for frame, selector in scopes:
        try:
            raw = await frame.evaluate(page_function("captcha"), {"scope": selector})
        except PlaywrightError:
            continue
        found += [f for f in _findings_from_js(raw) if f not in found]
    score_only_recaptcha = any(not f.blocking and f.kind.startswith("recaptcha") for f in found)
    found += [f for f in await _frame_findings(page, score_only_recaptcha) if f not in found]
    return found


def decide(findings: list[CaptchaFinding]) -> tuple[CaptchaFinding | None, list[CaptchaFinding]]:
    """The finding that blocks (challenge pages first, generic hints last), and the score-only ones."""
    score_only = [f for f in findings if not f.blocking]
    blocking = [f for f in findings if f.blocking and not (f.weak and score_only)]
    blocking.sort(key=lambda f: (f.kind != "challenge", f.weak))
    return (blocking[0] if blocking else None), score_only


async def find_captcha(
    page: Page,
    form_frame: Frame | None,
    form_selector: str | None = None,
    *,
    record: ProbeResult | None = None,
    notes: list[str] | None = None,
) -> str | None:
    """The kind of a CAPTCHA that blocks the form (or "challenge" for a challenge page), else None.

    Every signal found goes into `notes` (the evidence log), the deciding one first; a score-only check
    that nothing blocks is recorded as `record.captcha = "score_only: <kind>"` and the form is sent.
    """
    findings = await detect_captchas(page, form_frame, form_selector)
    blocker, score_only = decide(findings)
    if notes is not None:
        # The deciding signal first, then every other one, so the evidence shows what else was there.
        ordered = ([blocker] if blocker else []) + [f for f in findings if f is not blocker]
        for finding in ordered:
            if finding.note() not in notes:
                notes.append(finding.note())
    if blocker is not None:
        return blocker.kind
    if score_only and record is not None:
        record.captcha = f"score_only: {score_only[0].kind.replace('-', '_')}"
    return None


# Response headers that mark a bot challenge or a bot block rather than the page itself.
def _header_reason(status: int, headers: dict[str, str]) -> str | None:
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return f"the site answered {status} with the header cf-mitigated: challenge"
    waf = headers.get("x-amzn-waf-action", "").lower()
    if waf in ("captcha", "challenge"):
        return f"the site answered {status} with the header x-amzn-waf-action: {waf} (AWS WAF)"
    if status >= 400 and ("x-datadome" in headers or "x-datadome-cid" in headers or "x-dd-b" in headers):
        return f"the site answered {status} with DataDome's x-datadome header"
    if status == 403 and "x-iinfo" in headers:
        return "the site answered 403 with Imperva's x-iinfo header"
    return None


async def challenge_reason(page: Page, response: Response | None) -> str | None:
    """Why the landing page is a bot challenge (Cloudflare, AWS WAF, Akamai, PerimeterX, ...), or None."""
    if response is not None:
        try:
            headers: dict[str, Any] = await response.all_headers()
        except PlaywrightError:
            headers = {}
        reason = _header_reason(response.status, {k.lower(): str(v) for k, v in headers.items()})
        if reason:
            return reason
    try:
        raw = await page.main_frame.evaluate(page_function("captcha"), {"scope": None})
    except PlaywrightError:
        return None
    for finding in _findings_from_js(raw):
        if finding.kind == "challenge":
            return f"the page is a bot challenge ({finding.signal})"
    return None
