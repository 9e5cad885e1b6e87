"""Deciding what the click did, from all the signals at once (form-probing.md section 10).

Strongest first: the form's response (status, vendor JSON), vendor DOM state and events, a URL change to a
thank-you page, new success text (including vanished toasts caught by the init script's observer), then
validation errors. "Success shown" is not "delivered": the reply to the unique address is the ground truth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from probes.network import RequestRecord
from probes.types import Detail
from probes.vocab import normalise, vocabulary

_THANKS_URL = re.compile(
    r"thank|success|submitted|confirmation|/sent\b|/תודה|[?&](sent|submitted|success)=", re.I
)
_TEXT_LIMIT = 500
_HEAD = re.compile(r"<(head|script|style)\b.*?</\1>", re.S | re.I)
_TAGS = re.compile(r"<[^>]+>")


@dataclass(slots=True)
class PageState:
    """What `state.js` reports for one frame."""

    url: str = ""
    text: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    cf7_status: list[str] = field(default_factory=list)
    cf7_output: list[str] = field(default_factory=list)
    vendor_success: list[str] = field(default_factory=list)
    vendor_errors: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    invalid_count: int = 0

    @classmethod
    def from_js(cls, raw: dict[str, Any]) -> PageState:
        def texts(key: str) -> list[str]:
            return [str(x) for x in raw.get(key) or () if str(x).strip()]

        return cls(
            url=str(raw.get("url") or ""),
            text=str(raw.get("text") or ""),
            events=[e for e in raw.get("events") or () if isinstance(e, dict)],
            cf7_status=texts("cf7_status"),
            cf7_output=texts("cf7_output"),
            vendor_success=texts("vendor_success"),
            vendor_errors=texts("vendor_errors"),
            alerts=texts("alerts"),
            invalid_count=int(raw.get("invalid_count") or 0),
        )

    def lines(self) -> set[str]:
        return {normalise(line) for line in self.text.splitlines() if line.strip()}


@dataclass(slots=True)
class Observation:
    """Everything seen around the click, for one decision."""

    before: list[PageState]
    after: list[PageState]
    click_ms: float  # epoch ms of the click, to pick events that came after it
    submission: RequestRecord | None
    dialogs_after: list[str] = field(default_factory=list)
    success_text: tuple[str, ...] = ()  # FormSpec.success_text
    success_url: str | None = None
    click_error: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    detail: Detail
    reason: str
    confirmation_text: str | None = None
    error_text: str | None = None
    signals: tuple[str, ...] = ()


def _trim(text: str | None) -> str | None:
    if not text:
        return None
    if "<" in text and ">" in text:
        # An HTML error page as a response body: keep its words, not its markup.
        text = _TAGS.sub(" ", _HEAD.sub(" ", text))
    text = " ".join(text.split())
    return text[:_TEXT_LIMIT]


def _new_lines(obs: Observation) -> list[str]:
    """Lines of text that appeared after the click, in any watched frame, in page order."""
    seen: set[str] = set()
    for state in obs.before:
        seen |= state.lines()
    out: list[str] = []
    for state in obs.after:
        for raw in state.text.splitlines():
            line = raw.strip()
            if line and normalise(line) not in seen and line not in out:
                out.append(line)
    return out


def _events_after(obs: Observation) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for state in obs.after:
        out += [e for e in state.events if float(e.get("t") or 0) >= obs.click_ms - 100]
    return out


def decide(obs: Observation) -> Verdict:
    vocab = vocabulary()
    sub = obs.submission
    status = sub.status if sub else None
    body = sub.json_body() if sub else None
    success: list[tuple[str, str]] = []  # (signal, text)
    errors: list[tuple[str, str]] = []
    spam: str | None = None

    if status is not None and status >= 500:
        return Verdict(
            Detail.SERVER_ERROR,
            f"The form's request to {sub.url if sub else '?'} was answered {status}.",
            error_text=_trim(sub.body if sub else None),
            signals=(f"response {status}",),
        )

    # 1. Vendor JSON in the response (Contact Form 7's REST answer, WPForms' success flag).
    if body is not None:
        cf7 = str(body.get("status") or "")
        message = str(body.get("message") or "")
        if cf7 == "mail_sent" or body.get("success") is True or body.get("ok") is True:
            success.append(("response json " + (cf7 or "success"), message))
        elif cf7 in ("validation_failed", "acceptance_missing") or body.get("errors"):
            errors.append((f"response json {cf7 or 'errors'}", message))
        elif cf7 in ("spam", "mail_failed", "aborted"):
            spam = f"the form's response says {cf7!r}" + (f": {message}" if message else "")

    # 2. Vendor DOM state and events.
    for state in obs.after:
        for value in state.cf7_status:
            if value == "sent":
                success.append(("cf7 data-status=sent", " ".join(state.cf7_output)))
            elif value == "invalid":
                errors.append(("cf7 data-status=invalid", " ".join(state.cf7_output)))
            elif value in ("spam", "failed", "aborted"):
                spam = spam or f"Contact Form 7 set data-status={value!r}"
        for text in state.vendor_success:
            success.append(("vendor confirmation", text))
        for text in state.vendor_errors:
            errors.append(("vendor error", text))
    for event in _events_after(obs):
        kind, detail = str(event.get("type") or ""), str(event.get("detail") or "")
        if kind in (
            "wpcf7mailsent",
            "gform_confirmation_loaded",
            "wpformsAjaxSubmitSuccess",
            "submit_success",
        ) or kind.endswith(":success"):
            success.append((f"event {kind}", detail))
        elif kind in ("wpcf7invalid",):
            errors.append((f"event {kind}", detail))
        elif kind in ("wpcf7spam", "wpcf7mailfailed"):
            spam = spam or f"the page fired {kind}"
        elif kind == "live":
            if vocab.success.search(detail):
                success.append(("live region", detail))
            elif vocab.error.search(detail):
                errors.append(("live region", detail))

    # 3. URL change to a thank-you page.
    for before, after in zip(obs.before, obs.after, strict=False):
        if after.url and after.url != before.url:
            decoded = unquote(after.url)
            if (obs.success_url and obs.success_url in decoded) or _THANKS_URL.search(decoded):
                success.append(("url", decoded))

    # 4. New text that says thank you (or shows errors).
    for line in _new_lines(obs):
        if any(t and normalise(t) in normalise(line) for t in obs.success_text) or vocab.success.search(line):
            success.append(("new text", line))
        elif vocab.error.search(line):
            errors.append(("new text", line))
    for text in obs.dialogs_after:
        if vocab.success.search(text):
            success.append(("dialog", text))
        else:
            errors.append(("dialog", text))
    invalid_before = max((s.invalid_count for s in obs.before), default=0)
    invalid_after = max((s.invalid_count for s in obs.after), default=0)
    if invalid_after > invalid_before:
        errors.append(("invalid fields", f"{invalid_after} fields marked invalid"))

    signals = tuple(f"{name}: {_trim(text) or ''}".strip() for name, text in success + errors)
    if spam is not None:
        return Verdict(Detail.REJECTED_SPAM, f"Rejected: {spam}.", error_text=_trim(spam), signals=signals)
    ok_response = status is not None and 200 <= status < 400
    page_success = [s for s in success if not s[0].startswith("response json")]
    best_text = next((t for _, t in page_success if t), None) or next((t for _, t in success if t), None)
    if page_success and not (status is not None and status >= 400):
        if ok_response:
            return Verdict(
                Detail.SUBMITTED_CONFIRMED,
                f"The form's request was answered {status} and the page confirmed ({page_success[0][0]}).",
                confirmation_text=_trim(best_text),
                signals=signals,
            )
        return Verdict(
            Detail.SUBMITTED_LIKELY,
            f"The page confirmed ({page_success[0][0]}) but the form's request was not seen.",
            confirmation_text=_trim(best_text),
            signals=signals,
        )
    if errors:
        name, text = errors[0]
        return Verdict(
            Detail.VALIDATION_ERROR,
            f"The form showed errors after the click ({name}).",
            error_text=_trim(text or name),
            signals=signals,
        )
    if success and ok_response:
        return Verdict(
            Detail.SUBMITTED_LIKELY,
            f"The form's response says it was sent ({success[0][0]}), but the page showed no confirmation.",
            confirmation_text=_trim(best_text),
            signals=signals,
        )
    if obs.click_error:
        return Verdict(
            Detail.UNKNOWN, f"The click may not have completed ({obs.click_error}).", signals=signals
        )
    if sub is None:
        reason = "No request from the form and no confirmation or error was seen after the click."
    elif sub.status is None:
        reason = f"The form's request to {sub.url} got no answer in time ({sub.failure or 'still pending'})."
    else:
        reason = (
            f"The form's request was answered {sub.status}, but the page showed no confirmation or error."
        )
    return Verdict(Detail.UNKNOWN, reason, signals=signals)
