"""The browser layer's own small types: what to submit, and what happened.

`probes/` never imports `audit`; the runner translates its database rows and config into these values and
translates a `ProbeResult` back into rows. Keeping these types here keeps the arrow one way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path


class Outcome(StrEnum):
    """The outcome keys the CLI, the database and exports use."""

    SUBMITTED = "submitted"
    VALIDATION_ERROR = "validation_error"
    BLOCKED_CAPTCHA = "blocked_captcha"
    NO_FORM = "no_form"
    ERROR = "error"
    UNCERTAIN = "uncertain"
    DRY_RUN = "dry_run"


class Detail(StrEnum):
    """The finer state behind an outcome (docs/probing.md, "Deciding the outcome"); kept in evidence and the
    database."""

    SUBMITTED_CONFIRMED = "SUBMITTED_CONFIRMED"  # network 2xx/3xx plus a page signal
    SUBMITTED_LIKELY = "SUBMITTED_LIKELY"  # one strong signal only
    VALIDATION_ERROR = "VALIDATION_ERROR"
    REJECTED_SPAM = "REJECTED_SPAM"
    SERVER_ERROR = "SERVER_ERROR"  # the form's endpoint answered 5xx
    BLOCKED_CAPTCHA = "BLOCKED_CAPTCHA"
    BLOCKED_CHALLENGE = "BLOCKED_CHALLENGE"
    NO_FORM_FOUND = "NO_FORM_FOUND"
    NEEDS_HUMAN = "NEEDS_HUMAN"  # a required field the persona cannot answer
    FILL_FAILED = "FILL_FAILED"
    NAVIGATION_FAILED = "NAVIGATION_FAILED"
    TARGET_REFUSED = "TARGET_REFUSED"  # the URL failed the safety check (scheme, private address)
    EMAIL_REFUSED = "EMAIL_REFUSED"  # email channel: the mail server refused the message, or was not reached
    DRY_RUN_OK = "DRY_RUN_OK"
    UNKNOWN = "UNKNOWN"  # clicked, outcome unclear: a person decides, never retried


OUTCOME_OF_DETAIL: dict[Detail, Outcome] = {
    Detail.SUBMITTED_CONFIRMED: Outcome.SUBMITTED,
    Detail.SUBMITTED_LIKELY: Outcome.SUBMITTED,
    Detail.VALIDATION_ERROR: Outcome.VALIDATION_ERROR,
    Detail.REJECTED_SPAM: Outcome.ERROR,
    Detail.SERVER_ERROR: Outcome.ERROR,
    Detail.BLOCKED_CAPTCHA: Outcome.BLOCKED_CAPTCHA,
    Detail.BLOCKED_CHALLENGE: Outcome.BLOCKED_CAPTCHA,
    Detail.NO_FORM_FOUND: Outcome.NO_FORM,
    Detail.NEEDS_HUMAN: Outcome.ERROR,
    Detail.FILL_FAILED: Outcome.ERROR,
    Detail.NAVIGATION_FAILED: Outcome.ERROR,
    Detail.TARGET_REFUSED: Outcome.ERROR,
    Detail.EMAIL_REFUSED: Outcome.ERROR,
    Detail.DRY_RUN_OK: Outcome.DRY_RUN,
    Detail.UNKNOWN: Outcome.UNCERTAIN,
}


class Slot(StrEnum):
    """What a form control asks for."""

    FULL_NAME = "full_name"
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    EMAIL = "email"
    PHONE = "phone"
    COMPANY = "company"
    SUBJECT = "subject"
    MESSAGE = "message"
    TOPIC = "topic"


@dataclass(frozen=True, slots=True)
class Persona:
    """The fictional customer. `email` is the per-probe reply address."""

    first_name: str
    last_name: str
    email: str
    phone: str
    company: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True, slots=True)
class Inquiry:
    """What we ask. `message` already carries the reference line ("Ref: K7Q2-9F")."""

    subject: str
    message: str
    topic: str | None = None  # preferred option label for a topic/department select, if any


@dataclass(frozen=True, slots=True)
class Step:
    """One explicit browser step, in the spirit of changedetection.io's Browser Steps.

    action: goto | click | click_if_exists | fill | select | check | wait_for_text | wait
    `value` is the text to type (may name a slot as "{email}"), the option label, the text to wait for,
    or the number of seconds for `wait`.
    """

    action: str
    selector: str | None = None
    value: str | None = None


@dataclass(frozen=True, slots=True)
class FormSpec:
    """Explicit selectors from the config (layer 1). Anything left empty falls back to auto-detection."""

    frame: str | None = None  # CSS selector of the iframe holding the form
    fields: dict[Slot, str] = field(default_factory=dict)
    consent: tuple[str, ...] = ()  # checkboxes to tick (required consent only)
    submit: str | None = None
    steps: tuple[Step, ...] = ()  # run before filling
    success_text: tuple[str, ...] = ()
    success_url: str | None = None  # substring of the URL after success
    response_url: str | None = None  # substring of the URL of the form's POST/XHR


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """Everything one probe needs. `key` is the company id; evidence goes under `evidence_dir`."""

    key: str
    url: str
    persona: Persona
    inquiry: Inquiry
    evidence_dir: Path
    form: FormSpec | None = None
    locale: str = "en-US"
    timezone: str = "UTC"
    dry_run: bool = False
    allow_private: bool = False  # let tests and the demo reach 127.0.0.1
    timeout_s: float = 60.0  # whole-probe budget, enforced by a watchdog that closes the context
    keep_trace: bool = True  # keep a Playwright trace when the probe ends in error or uncertain


@dataclass(slots=True)
class FieldFill:
    """One control we filled or ticked, with the evidence for the decision."""

    slot: str  # a Slot value, "consent", "select" or "fallback"
    selector: str
    label: str
    value: str
    read_back: str | None
    score: float
    frame_url: str
    layer: str  # explicit | vendor | heuristic


@dataclass(slots=True)
class FieldRole:
    """What the probe took one form field to be, how sure it was and why (kept for every field seen)."""

    selector: str
    name: str
    label: str
    role: str  # a Slot value, consent, optin, select, neutral, honeypot or unknown
    confidence: float  # 0..1
    level: str  # high | medium | low
    why: list[str]
    required: bool
    action: str  # filled | left empty | left as served | skipped | no fitting value
    value: str | None = None
    note: str | None = None  # e.g. why no value could fit the field's constraints


@dataclass(slots=True)
class ProbeResult:
    outcome: Outcome
    detail: Detail
    reason: str  # one human sentence: why this outcome
    submit_started: bool = False  # before_submit was awaited: from here on, never retry
    clicked_at: datetime | None = None  # UTC, just before click()
    submitted_at: datetime | None = None  # UTC, request sent (falls back to clicked_at)
    submitted_at_source: str | None = None  # "request" | "click"
    post_url: str | None = None
    post_status: int | None = None
    confirmation_text: str | None = None
    error_text: str | None = None
    final_url: str | None = None
    form_layer: str | None = None  # explicit | vendor:<name> | heuristic
    form_frame_url: str | None = None
    captcha: str | None = None  # the kind detected, e.g. "recaptcha"
    cookie_action: str | None = None  # what we clicked on a consent banner, e.g. "reject: Reject all"
    fields: list[FieldFill] = field(default_factory=list)
    roles: list[FieldRole] = field(default_factory=list)  # every field of the form, filled or not
    skipped_honeypots: list[str] = field(default_factory=list)
    unticked_optins: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    trace_path: Path | None = None
    evidence_path: Path | None = None  # evidence.json, written by the probe


BeforeSubmit = Callable[[], Awaitable[None]]
"""Awaited immediately before the click: the runner commits its write-ahead record here.

If it raises, the probe does not click and the error propagates."""
