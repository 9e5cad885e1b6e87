"""run_probe against the fixture-site farm, with a real Chromium: assert on what the servers received.

The sites that should end in one submission run concurrently in one batch (fresh context each, as in
production), then each is checked on its own; the special cases (dry run, explicit selectors, a failing
write-ahead record, a slow endpoint, a refused target) run one by one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from audit.demo.farm import RunningFarm, Submission
from probes import (
    Detail,
    FormSpec,
    Inquiry,
    Outcome,
    Persona,
    ProbeResult,
    ProbeTarget,
    Slot,
    Step,
    run_probe,
)
from tests.conftest import BrowserHost

pytestmark = pytest.mark.browser

REF = "Ref: K7Q2-9F"
INQUIRY = Inquiry(
    subject="Question about an appointment",
    message=f"Hello, could someone come next week to look at a dripping kitchen tap?\nThanks, Dana\n{REF}",
)
SUBMITTING = (
    "plain", "cf7", "gravity", "iframe", "hebrew",
    "react", "multistep", "cookie", "select-consent", "confirm",
)  # fmt: skip
NOT_SENDING = {
    "captcha": (Outcome.BLOCKED_CAPTCHA, Detail.BLOCKED_CAPTCHA),
    "challenge": (Outcome.BLOCKED_CAPTCHA, Detail.BLOCKED_CHALLENGE),
    "noform": (Outcome.NO_FORM, Detail.NO_FORM_FOUND),
}


def persona(site: str) -> Persona:
    email = f"dana.{site}.k7q29f@replies.example.org"  # one reply address per inquiry
    return Persona("Dana", "Levi", email, "+972 50 123 4567", "Levi Design")


def target(farm: RunningFarm, site: str, evidence: Path, **changes: object) -> ProbeTarget:
    base = ProbeTarget(
        key=site,
        url=farm.url(site),
        persona=persona(site),
        inquiry=INQUIRY,
        evidence_dir=evidence / site,
        allow_private=True,
        timeout_s=45.0,
        locale="he-IL" if site == "hebrew" else "en-US",
        timezone="Asia/Jerusalem",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@dataclass
class Run:
    result: ProbeResult
    submissions: list[Submission]
    before_submit_calls: int


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1


async def _probe_all(host: BrowserHost, targets: list[ProbeTarget]) -> list[tuple[ProbeResult, int]]:
    gate = asyncio.Semaphore(4)

    async def one(t: ProbeTarget) -> tuple[ProbeResult, int]:
        counter = Counter()
        async with gate:
            return await run_probe(host.browser, t, counter), counter.calls

    return list(await asyncio.gather(*(one(t) for t in targets)))


@pytest.fixture(scope="module")
def batch(
    farm: RunningFarm, browser_host: BrowserHost, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Run]:
    evidence = tmp_path_factory.mktemp("evidence")
    farm.clear()
    sites = [*SUBMITTING, *NOT_SENDING, "broken"]
    targets = [target(farm, site, evidence) for site in sites]
    outcomes = browser_host.run(_probe_all, browser_host, targets)
    return {
        site: Run(result, farm.submissions_for(site), calls)
        for site, (result, calls) in zip(sites, outcomes, strict=True)
    }


@pytest.mark.parametrize("site", SUBMITTING)
def test_submits_once_and_the_server_accepts(batch: dict[str, Run], site: str) -> None:
    run = batch[site]
    result = run.result
    assert (result.outcome, result.detail) == (Outcome.SUBMITTED, Detail.SUBMITTED_CONFIRMED), result.reason
    assert run.before_submit_calls == 1 and result.submit_started
    assert len(run.submissions) == 1, "exactly one submission reached the server"
    sub = run.submissions[0]
    assert sub.accepted and sub.violations == (), sub.violations
    values = list(sub.fields.values())
    assert persona(site).email in values
    assert any(REF in v and "dripping kitchen tap" in v for v in values), "the message and its reference"
    assert result.clicked_at is not None and result.submitted_at is not None
    assert result.submitted_at_source == "request" and result.post_status is not None
    assert result.confirmation_text
    assert result.evidence_path is not None and result.evidence_path.exists()
    assert (result.evidence_path.parent / "before-submit.png").exists()
    assert (result.evidence_path.parent / "after-submit.png").exists()
    assert result.trace_path is None  # traces are kept only for errors and uncertain outcomes


def test_honeypots_left_empty_and_reported(batch: dict[str, Run]) -> None:
    gravity = batch["gravity"]
    assert "honeypot_filled" not in gravity.submissions[0].violations
    fields = gravity.submissions[0].fields
    assert all(fields.get(name, "") == "" for name in ("input_4", "email_confirm", "website"))
    assert len(gravity.result.skipped_honeypots) == 3
    skipped = " ".join(gravity.result.skipped_honeypots)
    assert "LinkedIn" in skipped and "Website" in skipped and "Email" in skipped
    assert batch["cf7"].submissions[0].fields.get("honeypot-781") == ""
    assert batch["gravity"].result.form_layer == "vendor:gravity"
    assert batch["cf7"].result.form_layer == "vendor:cf7"


def test_required_consent_ticked_marketing_never(batch: dict[str, Run]) -> None:
    hebrew = batch["hebrew"]
    assert "f7" not in hebrew.submissions[0].fields and hebrew.submissions[0].fields.get("f6")
    assert any("דיוור" in o for o in hebrew.result.unticked_optins)
    select = batch["select-consent"]
    assert "newsletter" not in select.submissions[0].fields and select.submissions[0].fields.get("terms")
    assert select.result.unticked_optins
    assert select.submissions[0].fields.get("topic")
    assert batch["cf7"].submissions[0].fields.get("acceptance-terms")


def test_cookie_banner_rejected(batch: dict[str, Run]) -> None:
    cookie = batch["cookie"]
    assert cookie.result.cookie_action is not None and cookie.result.cookie_action.startswith("reject")
    assert cookie.submissions[0].cookie_consent == "rejected"
    assert (cookie.result.evidence_path.parent / "cookie-before.png").exists()  # type: ignore[union-attr]


def test_cross_origin_iframe_and_confirm_dialog(batch: dict[str, Run], farm: RunningFarm) -> None:
    iframe = batch["iframe"].result
    assert iframe.form_frame_url is not None and iframe.form_frame_url.startswith(farm.frame_base_url)
    confirm = batch["confirm"].result
    assert any(d.startswith("confirm:") and d.endswith("accepted") for d in confirm.dialogs)


@pytest.mark.parametrize("site", sorted(NOT_SENDING))
def test_blocked_or_formless_sites_send_nothing(batch: dict[str, Run], site: str) -> None:
    run = batch[site]
    assert (run.result.outcome, run.result.detail) == NOT_SENDING[site], run.result.reason
    assert run.submissions == [] and run.before_submit_calls == 0 and not run.result.submit_started
    assert run.result.fields == []
    if site == "captcha":
        assert run.result.captcha == "recaptcha-v2"
        assert (run.result.evidence_path.parent / "captcha.png").exists()  # type: ignore[union-attr]


def test_server_error_is_an_error_after_one_post(batch: dict[str, Run]) -> None:
    run = batch["broken"]
    assert (run.result.outcome, run.result.detail) == (Outcome.ERROR, Detail.SERVER_ERROR)
    assert run.result.post_status == 500 and run.before_submit_calls == 1
    assert len(run.submissions) == 1
    assert run.result.trace_path is not None and run.result.trace_path.exists()


# --- one by one --------------------------------------------------------------------------------------


def test_dry_run_fills_and_screenshots_but_sends_nothing(
    farm: RunningFarm, browser_host: BrowserHost, tmp_path: Path
) -> None:
    counter = Counter()
    t = target(farm, "cf7", tmp_path, dry_run=True)
    result = browser_host.run(run_probe, browser_host.browser, t, counter)
    assert (result.outcome, result.detail) == (Outcome.DRY_RUN, Detail.DRY_RUN_OK), result.reason
    assert counter.calls == 0 and not result.submit_started and result.clicked_at is None
    assert farm.submissions_for("cf7") == []
    assert (tmp_path / "cf7" / "before-submit.png").exists()
    assert {f.slot for f in result.fields} >= {"full_name", "email", "message", "consent"}


def test_explicit_form_spec_wins_and_the_rest_is_automatic(
    farm: RunningFarm, browser_host: BrowserHost, tmp_path: Path
) -> None:
    # The company's name goes into "Subject" only because the config says so; phone is still found.
    spec = FormSpec(
        fields={
            Slot.EMAIL: "#email",
            Slot.MESSAGE: "#message",
            Slot.FULL_NAME: "#name",
            Slot.COMPANY: "#subject",
        },
        submit="form button[type=submit]",
        steps=(Step("wait", value="0.1"), Step("click_if_exists", selector="#no-such-banner")),
        success_text=("Thank you!",),
        response_url="/plain/submit",
    )
    counter = Counter()
    t = target(farm, "plain", tmp_path, form=spec)
    result = browser_host.run(run_probe, browser_host.browser, t, counter)
    assert result.outcome is Outcome.SUBMITTED, result.reason
    assert result.form_layer == "explicit"
    assert {f.slot: f.layer for f in result.fields}["company"] == "explicit"
    (sub,) = farm.submissions_for("plain")
    assert sub.fields["subject"] == "Levi Design" and sub.fields["phone"]
    assert result.post_url is not None and result.post_url.endswith("/plain/submit")


def test_failing_write_ahead_record_means_no_click(
    farm: RunningFarm, browser_host: BrowserHost, tmp_path: Path
) -> None:
    class DatabaseDown(Exception):
        pass

    async def before_submit() -> None:
        raise DatabaseDown("disk full")

    with pytest.raises(DatabaseDown):
        browser_host.run(run_probe, browser_host.browser, target(farm, "plain", tmp_path), before_submit)
    assert farm.submissions_for("plain") == []


def test_budget_running_out_after_the_click_is_uncertain_never_retried(
    farm: RunningFarm, browser_host: BrowserHost, tmp_path: Path
) -> None:
    previous = farm.slow_seconds
    farm.slow_seconds = 12.0  # longer than the probe's budget, short enough to end before the farm stops
    try:
        counter = Counter()
        t = target(farm, "slow", tmp_path, timeout_s=7.0)
        result = browser_host.run(run_probe, browser_host.browser, t, counter)
    finally:
        farm.slow_seconds = previous
    assert (result.outcome, result.detail) == (Outcome.UNCERTAIN, Detail.UNKNOWN), result.reason
    assert result.submit_started and counter.calls == 1
    assert result.submitted_at is not None and result.submitted_at_source in ("request", "click")
    assert len(farm.submissions_for("slow")) == 1
    assert result.trace_path is not None and result.trace_path.exists()


def test_private_target_refused_without_permission(
    farm: RunningFarm, browser_host: BrowserHost, tmp_path: Path
) -> None:
    counter = Counter()
    t = target(farm, "plain", tmp_path, allow_private=False)
    result = browser_host.run(run_probe, browser_host.browser, t, counter)
    assert (result.outcome, result.detail) == (Outcome.ERROR, Detail.TARGET_REFUSED)
    assert counter.calls == 0 and farm.submissions_for("plain") == []
