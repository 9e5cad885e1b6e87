"""What the click did, decided from the vendor tables and the weighing rules (probes/outcome.py).

Each table entry is a vendor's signal: adding a vendor is adding an entry, and these tests give every entry its
verdict without a browser. The browser tests (tests/test_probe_sites.py) give the same signals from real
vendor markup and scripts.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from probes.network import RequestRecord
from probes.outcome import CF7_STATUS, RESPONSE_STATUS, VENDOR_EVENTS, Kind, Observation, PageState, decide
from probes.types import Detail

CLICK_MS = 1_000_000.0
VERDICT_OF: dict[Kind, Detail] = {
    "success": Detail.SUBMITTED_CONFIRMED,
    "error": Detail.VALIDATION_ERROR,
    "spam": Detail.REJECTED_SPAM,
}


def response(status: int | None = 200, body: dict[str, Any] | str | None = None) -> RequestRecord:
    text = json.dumps(body) if isinstance(body, dict) else body
    return RequestRecord(
        "POST", "https://acme.example/submit", "fetch", "", 0.0, True, status=status, body=text
    )


def observe(
    after: PageState | None = None, submission: RequestRecord | None = None, **extra: Any
) -> Observation:
    before = PageState(url="https://acme.example/contact", text="Contact us\nSend")
    return Observation(
        before=[before],
        after=[after or PageState(url=before.url, text=before.text)],
        click_ms=CLICK_MS,
        submission=submission,
        **extra,
    )


@pytest.mark.parametrize(("event", "kind"), sorted(VENDOR_EVENTS.items()))
def test_every_vendor_event_gives_its_verdict(event: str, kind: Kind) -> None:
    after = PageState(
        url="https://acme.example/contact", text="Contact us\nSend", events=[{"type": event, "t": CLICK_MS}]
    )
    verdict = decide(observe(after, response(200)))
    assert verdict.detail == VERDICT_OF[kind], verdict.reason
    assert any(signal.startswith(f"event {event}") for signal in verdict.signals) or kind == "spam"


def test_an_event_from_before_the_click_does_not_count() -> None:
    after = PageState(
        url="https://acme.example/contact", events=[{"type": "wpcf7mailsent", "t": CLICK_MS - 5000}]
    )
    assert decide(observe(after, response(200))).detail == Detail.UNKNOWN


def test_a_namespaced_success_event_counts_as_success() -> None:
    after = PageState(url="https://acme.example/contact", events=[{"type": "hsForm:success", "t": CLICK_MS}])
    assert decide(observe(after, response(200))).detail == Detail.SUBMITTED_CONFIRMED


@pytest.mark.parametrize(("status", "kind"), sorted(CF7_STATUS.items()))
def test_every_contact_form_7_status_gives_its_verdict(status: str, kind: Kind) -> None:
    after = PageState(url="https://acme.example/contact", cf7_status=[status], cf7_output=["Thank you."])
    assert decide(observe(after, response(200))).detail == VERDICT_OF[kind]


@pytest.mark.parametrize(("status", "kind"), sorted(RESPONSE_STATUS.items()))
def test_every_response_status_gives_its_verdict(status: str, kind: Kind) -> None:
    verdict = decide(observe(submission=response(200, {"status": status, "message": "m"})))
    # A "sent" in the response alone, with no confirmation on the page, is likely, not confirmed.
    expected = Detail.SUBMITTED_LIKELY if kind == "success" else VERDICT_OF[kind]
    assert verdict.detail == expected, verdict.reason


@pytest.mark.parametrize("flag", ["success", "ok"])
def test_a_success_flag_in_the_response_is_a_likely_submission(flag: str) -> None:
    assert decide(observe(submission=response(200, {flag: True}))).detail == Detail.SUBMITTED_LIKELY


def test_a_server_error_is_decided_before_any_page_signal() -> None:
    after = PageState(url="https://acme.example/thank-you", cf7_status=["sent"])
    verdict = decide(observe(after, response(503, "<html><body>Service down</body></html>")))
    assert verdict.detail == Detail.SERVER_ERROR and verdict.error_text == "Service down"


def test_spam_beats_a_confirmation_and_a_confirmation_beats_errors() -> None:
    both = PageState(url="https://acme.example/contact", cf7_status=["sent", "spam"])
    assert decide(observe(both, response(200))).detail == Detail.REJECTED_SPAM
    mixed = PageState(url="https://acme.example/thank-you", vendor_errors=["Phone looks odd"])
    assert decide(observe(mixed, response(200))).detail == Detail.SUBMITTED_CONFIRMED


def test_a_thank_you_url_without_a_seen_request_is_likely_and_a_4xx_is_not_confirmed() -> None:
    moved = PageState(url="https://acme.example/thank-you", text="Contact us")
    assert decide(observe(moved)).detail == Detail.SUBMITTED_LIKELY
    assert decide(observe(moved, response(403))).detail != Detail.SUBMITTED_CONFIRMED


def test_nothing_seen_is_unknown_with_the_reason() -> None:
    assert decide(observe()).reason.startswith("No request from the form")
    assert "got no answer in time" in decide(observe(submission=response(None))).reason
    assert "may not have completed" in decide(observe(click_error="Timeout 15000ms")).reason
