"""Deciding what the click did, from all the signals at once (docs/probing.md, "Deciding the outcome").

Strongest first: the form's response (status, vendor JSON), vendor DOM state and events, a URL change to a
thank-you page, new success text (including vanished toasts caught by the init script's observer), then
validation errors. "Success shown" is not "delivered": the reply to the unique address is the ground truth.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
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


# --- vendor signals, as data: adding a form vendor is adding an entry here (and a page in tests) -----------

Kind = Literal["success", "error", "spam"]

# Values of `status` in a form's JSON response (Contact Form 7's REST answer).
RESPONSE_STATUS: dict[str, Kind] = {
    "mail_sent": "success",
    "validation_failed": "error",
    "acceptance_missing": "error",
    "spam": "spam",
    "mail_failed": "spam",
    "aborted": "spam",
}
# Boolean flags in a form's JSON response that mean "sent" (WPForms' `success`, many hand-made APIs' `ok`).
RESPONSE_SUCCESS_FLAGS = ("success", "ok")
RESPONSE_ERROR_KEYS = ("errors",)  # a non-empty value means the form refused the input

# Contact Form 7's `data-status` on the form after the click.
CF7_STATUS: dict[str, Kind] = {
    "sent": "success",
    "invalid": "error",
    "spam": "spam",
    "failed": "spam",
    "aborted": "spam",
}

# DOM events the init script saw after the click (`type`), by vendor; any `*:success` counts as success too.
VENDOR_EVENTS: dict[str, Kind] = {
    "wpcf7mailsent": "success",  # Contact Form 7
    "gform_confirmation_loaded": "success",  # Gravity Forms
    "wpformsAjaxSubmitSuccess": "success",  # WPForms
    "submit_success": "success",  # Elementor Pro forms
    "wpcf7invalid": "error",
    "wpcf7spam": "spam",
    "wpcf7mailfailed": "spam",
}
_EVENT_SUCCESS_SUFFIX = ":success"  # namespaced events (`hsForm:success`, `nf:success`...)


@dataclass(slots=True)
class _Signals:
    """What the extractors found: (signal, text) pairs, and the first reason to call it spam-rejected."""

    success: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    spam: str | None = None

    def add(self, kind: Kind, signal: str, text: str, spam_reason: str) -> None:
        if kind == "success":
            self.success.append((signal, text))
        elif kind == "error":
            self.errors.append((signal, text))
        else:
            self.spam = self.spam or spam_reason


def _response_json(obs: Observation, found: _Signals) -> None:
    body = obs.submission.json_body() if obs.submission else None
    if body is None:
        return
    status = str(body.get("status") or "")
    message = str(body.get("message") or "")
    kind = RESPONSE_STATUS.get(status)
    if kind == "success" or any(body.get(flag) is True for flag in RESPONSE_SUCCESS_FLAGS):
        found.success.append(("response json " + (status or "success"), message))
    elif kind == "error" or any(body.get(key) for key in RESPONSE_ERROR_KEYS):
        found.errors.append((f"response json {status or 'errors'}", message))
    elif kind == "spam":
        # Set here, not kept if already set: the response is read first, so nothing was set before it.
        found.spam = f"the form's response says {status!r}" + (f": {message}" if message else "")


def _vendor_dom(obs: Observation, found: _Signals) -> None:
    for state in obs.after:
        for value in state.cf7_status:
            if (kind := CF7_STATUS.get(value)) is not None:
                text = " ".join(state.cf7_output)
                found.add(kind, f"cf7 data-status={value}", text, f"Contact Form 7 set data-status={value!r}")
        found.success += [("vendor confirmation", text) for text in state.vendor_success]
        found.errors += [("vendor error", text) for text in state.vendor_errors]


def _events(obs: Observation, found: _Signals) -> None:
    vocab = vocabulary()
    for event in _events_after(obs):
        kind, detail = str(event.get("type") or ""), str(event.get("detail") or "")
        if kind == "live":  # an aria-live region's new text: read by its words
            if vocab.success.search(detail):
                found.success.append(("live region", detail))
            elif vocab.error.search(detail):
                found.errors.append(("live region", detail))
            continue
        vendor = VENDOR_EVENTS.get(kind)
        if vendor is None and kind.endswith(_EVENT_SUCCESS_SUFFIX):
            vendor = "success"
        if vendor is not None:
            found.add(vendor, f"event {kind}", detail, f"the page fired {kind}")


def _thank_you_url(obs: Observation, found: _Signals) -> None:
    for before, after in zip(obs.before, obs.after, strict=False):
        if after.url and after.url != before.url:
            decoded = unquote(after.url)
            if (obs.success_url and obs.success_url in decoded) or _THANKS_URL.search(decoded):
                found.success.append(("url", decoded))


def _new_text(obs: Observation, found: _Signals) -> None:
    vocab = vocabulary()
    for line in _new_lines(obs):
        if any(t and normalise(t) in normalise(line) for t in obs.success_text) or vocab.success.search(line):
            found.success.append(("new text", line))
        elif vocab.error.search(line):
            found.errors.append(("new text", line))
    for text in obs.dialogs_after:  # an alert() after the click: a confirmation if it says so, else an error
        (found.success if vocab.success.search(text) else found.errors).append(("dialog", text))
    invalid_before = max((s.invalid_count for s in obs.before), default=0)
    invalid_after = max((s.invalid_count for s in obs.after), default=0)
    if invalid_after > invalid_before:
        found.errors.append(("invalid fields", f"{invalid_after} fields marked invalid"))


# Strongest first; the order is the order of `signals` in the evidence and of the texts chosen from them.
EXTRACTORS: tuple[Callable[[Observation, _Signals], None], ...] = (
    _response_json,
    _vendor_dom,
    _events,
    _thank_you_url,
    _new_text,
)


def decide(obs: Observation) -> Verdict:
    """The outcome of the click: the signals gathered by EXTRACTORS, then weighed by `_weigh`."""
    sub = obs.submission
    status = sub.status if sub else None
    if status is not None and status >= 500:
        return Verdict(
            Detail.SERVER_ERROR,
            f"The form's request to {sub.url if sub else '?'} was answered {status}.",
            error_text=_trim(sub.body if sub else None),
            signals=(f"response {status}",),
        )
    found = _Signals()
    for extract in EXTRACTORS:
        extract(obs, found)
    return _weigh(obs, found)


def _weigh(obs: Observation, found: _Signals) -> Verdict:
    """Spam refusal first; a page that confirmed beats errors; errors beat a bare "sent" in the response."""
    sub = obs.submission
    status = sub.status if sub else None
    success, errors = found.success, found.errors
    signals = tuple(f"{name}: {_trim(text) or ''}".strip() for name, text in success + errors)
    if found.spam is not None:
        return Verdict(
            Detail.REJECTED_SPAM, f"Rejected: {found.spam}.", error_text=_trim(found.spam), signals=signals
        )
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
