"""Field roles from everything the markup says, on forms written by others (real Chromium), and the scoring
behind them without a browser.

Pages in tests/data/sites/forms/ (sources and versions in its README.md) are served by `static_site`, which
records every POST. Each probe really submits; the test then reads what the server received and the
evidence the probe wrote: the subject sits in the subject-like field, nothing is "N/A", every value passes the
field's own pattern/minlength/maxlength/type (checked again here in Python from the page's HTML), and every
field has a role, a confidence and the signals that decided it.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import re
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser

from probes import Detail, Inquiry, Outcome, Persona, ProbeResult, ProbeTarget, run_probe
from probes.classify import assign_slots, confidence, decide_roles
from probes.dom import ControlInfo
from probes.types import Slot
from probes.values import (
    company_candidates,
    date_candidates,
    neutral_candidates,
    number_candidates,
    spellings,
    subject_candidates,
)
from tests.conftest import BrowserHost
from tests.static_site import SITES, Post, StaticSite

FORMS = SITES / "forms"
SUBJECT_EN = "Question about booking an appointment next week for two?"
MESSAGE_EN = "Hello, could someone come to look at our boiler next week?\nRef: K7Q2-9F"
SUBJECT_HE = "שאלה לגבי קביעת תור לשבוע הבא עבור שני אנשים"
MESSAGE_HE = "שלום, אפשר לקבוע תור לשבוע הבא?\nRef: K7Q2-9F"
NEVER = re.compile(r"^\s*(n/?a|n\.a\.)\s*$", re.IGNORECASE)


# --- scoring without a browser --------------------------------------------------------------------------


def control(index: int = 0, **raw: object) -> ControlInfo:
    """A control as extract.js would describe a plain visible one, with overrides."""
    base: dict[str, object] = {
        "index": index, "group": 0, "kind": "field", "selector": f"#c{index}", "tag": "input", "type": "text",
        "shown": True, "labels": [], "top": index * 40,
    }  # fmt: skip
    return ControlInfo.from_js(base | raw)


def message_box(index: int, **raw: object) -> ControlInfo:
    return control(index, tag="textarea", type="", name="msg", **raw)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("ticket[subject]", "name=ticket[subject]"),
        ("helpdesk_ticket[subject]", "name=helpdesk_ticket[subject]"),
        ("request[subject]", "name=request[subject]"),
        ("z_subject", "name=z_subject"),
        ("summary", "name=summary"),
        ("issue_title", "name=issue_title"),
    ],
)
def test_ticket_system_names_make_the_subject(name: str, why: str) -> None:
    # A label no vocabulary knows: the name attribute decides.
    controls = [control(0, name=name, labels=["Tell us in a line"]), message_box(1)]
    chosen = assign_slots(controls)
    assert chosen[Slot.SUBJECT].control.index == 0
    assert why in chosen[Slot.SUBJECT].evidence
    roles = decide_roles(controls, chosen)
    assert roles[0].slot is Slot.SUBJECT and roles[0].level in ("high", "medium")


def test_ticket_words_in_english_and_hebrew_are_subjects() -> None:
    subjects = (
        "Title",
        "Summary",
        "Issue summary",
        "Regarding",
        "What is your enquiry about?",
        "כותרת",
        "תקציר הפנייה",
    )
    for label in (*subjects, "בנושא", "נושא"):
        chosen = assign_slots([control(0, labels=[label]), message_box(1)])
        assert chosen[Slot.SUBJECT].control.index == 0, label
    for label in ("תיאור", "Description", "Issue details"):
        chosen = assign_slots([control(0, labels=["Email"], type="email"), message_box(1, labels=[label])])
        assert "label" in " ".join(chosen[Slot.MESSAGE].evidence), label


def test_job_title_and_salutation_are_not_the_subject() -> None:
    assert Slot.SUBJECT not in assign_slots([control(0, labels=["Job title"]), control(1, labels=["Email"])])
    salutation = control(
        0,
        tag="select",
        type="",
        labels=["Title"],
        options=[
            {"label": "Mr", "value": "mr"},
            {"label": "Mrs", "value": "mrs"},
            {"label": "Dr", "value": "dr"},
        ],
    )
    assert Slot.SUBJECT not in assign_slots([salutation, message_box(1)])


def test_required_unknown_field_above_the_message_gets_the_subject() -> None:
    controls = [
        control(0, labels=["Email"], type="email"),
        control(1, labels=["Was möchten Sie wissen?"], required=True),
        message_box(2, labels=["Message"]),
    ]
    chosen = assign_slots(controls)
    assert chosen[Slot.SUBJECT].control.index == 1
    assert "single-line field above the message (required)" in chosen[Slot.SUBJECT].evidence
    # Position alone is weak evidence: the confidence says so.
    assert decide_roles(controls, chosen)[1].level == "low"


def test_optional_unknown_field_above_the_message_stays_empty() -> None:
    controls = [control(0, labels=["Website"]), message_box(1)]
    assert Slot.SUBJECT not in assign_slots(controls)
    role = decide_roles(controls, assign_slots(controls))[0]
    assert role.slot is None and role.confidence == 0.0 and "not assigned" in role.why[-1]


def test_position_does_not_outvote_words() -> None:
    controls = [control(0, labels=["Company"], name="company", required=True), message_box(1)]
    chosen = assign_slots(controls)
    assert chosen[Slot.COMPANY].control.index == 0 and Slot.SUBJECT not in chosen


def test_legend_is_evidence_when_nothing_else_is() -> None:
    chosen = assign_slots([control(0, heading="Subject", name="f_81723"), message_box(1)])
    assert "heading 'subject'" in chosen[Slot.SUBJECT].evidence


def test_confidence_grows_with_evidence_and_margin() -> None:
    strong = confidence(21.0, 0.0)
    medium = confidence(8.0, 0.0)
    contested = confidence(8.0, 7.0)
    weak = confidence(5.0, 0.0)
    assert strong == (1.0, "high")
    assert medium[1] == "medium" and contested[0] < medium[0]
    assert weak[1] == "low"
    assert confidence(100.0, 50.0) == (1.0, "high")


def test_autocomplete_token_decides_a_field_with_odd_words() -> None:
    controls = [control(0, labels=["How should we reply?"], autocomplete="email"), message_box(1)]
    chosen = assign_slots(controls)
    assert "autocomplete=email" in chosen[Slot.EMAIL].evidence
    assert decide_roles(controls, chosen)[0].level == "medium"


def test_numbers_respect_min_max_and_step() -> None:
    assert number_candidates(control(type="number", min="2", max="8", step="2"))[0] == "2"
    assert number_candidates(control(type="number", min="0.5", step="0.25"))[0] == "1"
    assert number_candidates(control(type="number", max="0"))[0] == "0"
    assert number_candidates(control(type="number", min="10", max="20", step="3"))[0] == "10"
    assert number_candidates(control(type="number", min="1", max="5", step="any"))[0] == "1"


def test_dates_stay_inside_min_and_max() -> None:
    today = date(2026, 5, 4)
    assert date_candidates(control(type="date"), today) == ["2026-05-04"]
    assert date_candidates(control(type="date", min="2031-01-01"), today) == ["2031-01-01"]
    assert date_candidates(control(type="date", max="2020-12-31"), today) == ["2020-12-31"]


def test_neutral_answers_speak_the_forms_language_and_never_say_na() -> None:
    english = neutral_candidates(control(labels=["How did you find us?"]))
    hebrew = neutral_candidates(control(labels=["איך הגעתם אלינו?"]))
    by_page = neutral_candidates(control(lang="he-il"))
    assert english[0] == "Not applicable" and hebrew[0] == "לא רלוונטי" and by_page[0] == "לא רלוונטי"
    short = neutral_candidates(control(labels=["Postcode"], maxlength=8, minlength=3))
    assert "Not appl" not in short and "None" in short  # phrases are never cut into nonsense
    assert neutral_candidates(control(type="url")) == []
    for values in (english, hebrew, short, company_candidates(control(labels=["Company"]))):
        assert values and not any(NEVER.match(v) for v in values)
    assert company_candidates(control(labels=["שם החברה"]))[0] == "לקוח פרטי"


def test_subject_spellings_fit_length_limits() -> None:
    cut = subject_candidates(SUBJECT_EN, MESSAGE_EN, control(maxlength=30))
    assert all(len(v) <= 30 for v in cut) and cut[0] == "Question about booking an"
    longer = subject_candidates("Hi", MESSAGE_EN, control(minlength=20))
    assert longer[0].startswith("Hi: Hello, could someone") and len(longer[0]) >= 20
    patterned = spellings([SUBJECT_EN], control(pattern="[A-Za-z ]{5,30}"))
    assert any(re.fullmatch("[A-Za-z ]{5,30}", v) for v in patterned)


# --- real forms in real Chromium -------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    roles: dict[str, str]  # POST field name (or control name) -> role in the evidence
    subject: str | None = None  # the field that must carry (a spelling of) the subject
    values: dict[str, str] = field(default_factory=dict)  # exact values the POST must carry
    empty: tuple[str, ...] = ()  # fields that must go out empty
    why: dict[str, str] = field(default_factory=dict)  # a signal the role's reasons must name
    hebrew: bool = False
    multipart: bool = False
    outcome: Outcome = Outcome.SUBMITTED


EMAIL = "dana.{page}@replies.example.org"
PAGES: dict[str, Expect] = {
    # npm packages (tests/data/sites/forms/README.md)
    "sb-agency": Expect(
        {"name": "full_name", "email": "email", "phone": "phone", "message": "message"},
        values={"name": "Dana Levi"},
        why={"name": "placeholder/title 'your name'"},
    ),
    "sb-creative": Expect(
        {"name": "full_name", "email": "email", "phone": "phone", "message": "message"},
        values={"name": "Dana Levi"},
    ),
    "sb-freelancer": Expect({"name": "full_name", "email": "email", "phone": "phone", "message": "message"}),
    "material-kit-landing": Expect(
        {"your-email": "email", "message": "message", "your-name": "unknown"}, empty=("your-name",)
    ),
    "adminlte-compose": Expect(
        {"subject-line": "subject", "body": "message", "to": "unknown"},
        subject="subject-line",
        empty=("to",),
        why={"subject-line": "placeholder/title 'subject'"},
    ),
    "spectre-horizontal": Expect(
        {"name": "full_name", "email": "email", "message": "message", "news": "optin"},
        values={"gender": "female"},
        empty=(),
    ),
    "govuk-contact": Expect(
        {"fullName": "full_name", "contactEmail": "email", "more-detail": "message", "postcode": "unknown"},
        empty=("postcode",),
        why={"contactEmail": "autocomplete=email", "fullName": "autocomplete=name"},
    ),
    "govuk-pattern": Expect(
        {"test-name": "subject", "more-detail": "message", "numbers-only": "neutral", "email": "email"},
        subject="test-name",
        values={"numbers-only": "1"},
        empty=("amount",),
        why={"test-name": "single-line field above the message (required)"},
    ),
    # ticket systems, written from their documented field names
    "zendesk-request": Expect(
        {
            "request[anonymous_requester_email]": "email",
            "request[subject]": "subject",
            "request[description]": "message",
            "request[custom_fields][360001234567]": "unknown",
        },
        subject="request[subject]",
        empty=("request[custom_fields][360001234567]",),
        why={"request[subject]": "name=request[subject]"},
    ),
    "freshdesk-ticket": Expect(
        {
            "helpdesk_ticket[email]": "email",
            "helpdesk_ticket[subject]": "subject",
            "helpdesk_ticket[ticket_body_attributes][description_html]": "message",
        },
        subject="helpdesk_ticket[subject]",
        why={"helpdesk_ticket[subject]": "name=helpdesk_ticket[subject]"},
        multipart=True,
    ),
    "osticket-open": Expect(
        {
            "a3f1c2e9b8d7e6f5": "email",
            "b4e2d3c1a9f8e7d6": "full_name",
            "c5d3e4f2b1a0c9d8": "phone",
            "f9e8d7c6b5a4f3e2": "subject",
            "d1c2b3a4e5f60718": "message",
            "topicId": "topic",
        },
        subject="f9e8d7c6b5a4f3e2",
        values={"topicId": "1", "f9e8d7c6b5a4f3e2": "Question about booking an appointment next week"},
        empty=("c5d3e4f2b1a0c9d8-ext",),
        why={"f9e8d7c6b5a4f3e2": "label 'issue summary'"},
    ),
    "rt-selfservice": Expect(
        {"Requestors": "email", "Subject": "subject", "Content": "message", "Cc": "unknown"},
        subject="Subject",
        empty=("Cc",),
        why={"Subject": "name=Subject", "Requestors": "nearby 'requestors'"},
        multipart=True,
    ),
    "he-ticket": Expect(
        {
            "fld_1": "full_name",
            "fld_2": "email",
            "fld_3": "phone",
            "fld_4": "subject",
            "fld_5": "neutral",
            "fld_6": "message",
        },
        subject="fld_4",
        values={"fld_5": "לא רלוונטי", "fld_4": "שאלה לגבי קביעת תור לשבוע הבא"},
        why={"fld_4": "label 'כותרת הפנייה'", "fld_5": "required, no role: a neutral answer (Hebrew)"},
        hebrew=True,
    ),
    "constraints": Expect(
        {
            "n": "full_name",
            "e": "email",
            "p": "phone",
            "g": "neutral",
            "d": "neutral",
            "z": "neutral",
            "t": "subject",
        },
        subject="t",
        values={"g": "2", "d": "2031-01-01", "z": "None", "t": "Question about booking an"},
        empty=("p",),
    ),
    "constraints-nofit": Expect({"s": "subject", "e": "email"}, outcome=Outcome.ERROR),
}


@dataclass
class Run:
    result: ProbeResult
    calls: int
    evidence: dict[str, Any]

    def role(self, name: str) -> dict[str, Any]:
        roles = [r for r in self.evidence["result"]["roles"] if r["name"] == name]
        assert len(roles) == 1, (name, [r["name"] for r in self.evidence["result"]["roles"]])
        return roles[0]


def _target(site: StaticSite, page: str, evidence: Path) -> ProbeTarget:
    hebrew = PAGES[page].hebrew
    return ProbeTarget(
        key=page,
        url=site.url(f"forms/{page}.html"),
        persona=Persona("Dana", "Levi", EMAIL.format(page=page), "+972 50 123 4567"),
        inquiry=Inquiry(SUBJECT_HE if hebrew else SUBJECT_EN, MESSAGE_HE if hebrew else MESSAGE_EN),
        evidence_dir=evidence / page,
        allow_private=True,
        timeout_s=40.0,
        locale="he-IL" if hebrew else "en-US",
        keep_trace=False,
    )


async def _probe_all(browser: Browser, targets: list[ProbeTarget]) -> list[tuple[ProbeResult, int]]:
    gate = asyncio.Semaphore(4)

    async def one(target: ProbeTarget) -> tuple[ProbeResult, int]:
        calls = 0

        async def before_submit() -> None:
            nonlocal calls
            calls += 1

        async with gate:
            return await run_probe(browser, target, before_submit), calls

    return list(await asyncio.gather(*(one(t) for t in targets)))


@pytest.fixture(scope="module")
def runs(
    browser_host: BrowserHost, static_site: StaticSite, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Run]:
    evidence = tmp_path_factory.mktemp("fields-evidence")
    targets = [_target(static_site, page, evidence) for page in PAGES]
    outcomes = browser_host.run(_probe_all, browser_host.browser, targets, timeout=300)
    out: dict[str, Run] = {}
    for page, (result, calls) in zip(PAGES, outcomes, strict=True):
        assert result.evidence_path is not None
        out[page] = Run(result, calls, json.loads(result.evidence_path.read_text(encoding="utf-8")))
    return out


def _fields(post: Post) -> dict[str, str]:
    """Urlencoded or multipart/form-data fields (the standard library's MIME parser reads the latter)."""
    if "multipart/form-data" not in post.content_type:
        return post.fields()
    head = f"Content-Type: {post.content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + post.body)
    out: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str) and part.get_filename() is None:
            payload = part.get_payload(decode=True)
            out[name] = payload.decode("utf-8") if isinstance(payload, bytes) else ""
    return out


class _Constraints(HTMLParser):
    """Each named input's and textarea's constraint attributes, from the page as served."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        name = values.get("name")
        if tag in ("input", "textarea") and name:
            self.found[name] = values | {"tag": tag}


def _constraints(page: str) -> dict[str, dict[str, str | None]]:
    parser = _Constraints()
    parser.feed((FORMS / f"{page}.html").read_text(encoding="utf-8"))
    return parser.found


def _check_value(name: str, value: str, attrs: dict[str, str | None]) -> None:
    """What the browser would check, redone in Python from the page's HTML (the patterns here are plain)."""
    if value == "":
        assert "required" not in attrs, f"{name}: a required field went out empty"
        return
    pattern = attrs.get("pattern")
    if pattern:
        assert re.fullmatch(pattern, value), f"{name}: {value!r} does not match {pattern!r}"
    if attrs.get("maxlength"):
        assert len(value) <= int(attrs["maxlength"] or 0), f"{name}: {value!r} is over maxlength"
    if attrs.get("minlength"):
        assert len(value) >= int(attrs["minlength"] or 0), f"{name}: {value!r} is under minlength"
    kind = attrs.get("type") if attrs["tag"] == "input" else None  # a textarea's type= means nothing
    if kind == "email":
        assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value), f"{name}: {value!r} is no email"
    if kind == "number":
        number = float(value)
        low, high, step = attrs.get("min"), attrs.get("max"), attrs.get("step")
        assert low is None or number >= float(low)
        assert high is None or number <= float(high)
        if step:
            assert ((number - float(low or 0)) / float(step)).is_integer(), f"{name}: {value} is off step"
    if kind == "date":
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)
        assert attrs.get("min") is None or value >= str(attrs["min"])
        assert attrs.get("max") is None or value <= str(attrs["max"])


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text)).strip()


@pytest.mark.browser
@pytest.mark.parametrize("page", sorted(p for p, e in PAGES.items() if e.outcome is Outcome.SUBMITTED))
def test_form_is_sent_with_the_right_value_in_each_field(
    runs: dict[str, Run], static_site: StaticSite, page: str
) -> None:
    expect, run = PAGES[page], runs[page]
    assert run.result.outcome is Outcome.SUBMITTED, (run.result.reason, run.evidence["log"])
    posts = static_site.posts_to(f"/forms/sent/{page}")
    assert len(posts) == 1 and run.calls == 1, "sent exactly once"
    sent = _fields(posts[0])
    if expect.multipart:
        assert "multipart/form-data" in posts[0].content_type
    subject = SUBJECT_HE if expect.hebrew else SUBJECT_EN
    message = MESSAGE_HE if expect.hebrew else MESSAGE_EN
    for name, role in expect.roles.items():
        if name in expect.empty:
            continue
        if role == "email":
            assert sent[name] == EMAIL.format(page=page)
        elif role == "message":
            assert sent[name].replace("\r\n", "\n") == message
        elif role == "full_name":
            assert sent[name] == "Dana Levi"
        elif role == "phone":
            assert re.sub(r"\D", "", sent[name]).endswith("501234567")
    if expect.subject is not None:
        typed = sent[expect.subject]
        assert typed and _words(subject).startswith(_words(typed)), (typed, subject)
    for name, value in expect.values.items():
        assert sent[name] == value, (name, sent)
    for name in expect.empty:
        assert sent.get(name, "") == "", (name, sent[name])
    constraints = _constraints(page)
    for name, value in sent.items():
        assert not NEVER.match(value), f"{name} went out as {value!r}"
        if name in constraints:
            _check_value(name, value, constraints[name])


@pytest.mark.browser
@pytest.mark.parametrize("page", sorted(PAGES))
def test_evidence_names_each_fields_role_confidence_and_why(runs: dict[str, Run], page: str) -> None:
    expect, run = PAGES[page], runs[page]
    roles = run.evidence["result"]["roles"]
    assert roles, "the evidence lists the fields"
    for entry in roles:
        assert 0.0 <= entry["confidence"] <= 1.0 and entry["level"] in ("high", "medium", "low"), entry
        assert entry["why"], entry
        assert entry["value"] is None or not NEVER.match(entry["value"]), entry
    for name, role in expect.roles.items():
        entry = run.role(name)
        assert entry["role"] == role, entry
        if role in ("email", "message", "full_name"):
            assert entry["level"] in ("high", "medium"), entry
    for name, signal in expect.why.items():
        assert signal in run.role(name)["why"], run.role(name)
    # Whatever was typed is recorded with the role that chose it.
    filled = {f["selector"]: f["value"] for f in run.evidence["result"]["fields"]}
    for entry in roles:
        if entry["action"] == "filled" and entry["role"] not in ("consent", "select"):
            assert filled.get(entry["selector"]) in (entry["value"], "checked"), entry


@pytest.mark.browser
def test_a_phone_no_spelling_fits_is_left_empty_and_said_why(runs: dict[str, Run]) -> None:
    entry = runs["constraints"].role("p")
    assert entry["action"] == "no fitting value" and entry["value"] is None
    assert "does not match pattern" in entry["note"], entry


@pytest.mark.browser
def test_a_required_field_no_value_fits_stops_the_probe_before_sending(
    runs: dict[str, Run], static_site: StaticSite
) -> None:
    run = runs["constraints-nofit"]
    assert (run.result.outcome, run.result.detail) == (Outcome.ERROR, Detail.NEEDS_HUMAN), run.result.reason
    assert "No value the persona can give fits the required field" in run.result.reason
    assert static_site.posts_to("/forms/sent/constraints-nofit") == [] and run.calls == 0
    entry = run.role("s")
    assert entry["action"] == "no fitting value"
    assert "does not match pattern [0-9]{4}-[0-9]{4}" in entry["note"], entry


def test_every_page_is_described_in_the_readme() -> None:
    readme = (FORMS / "README.md").read_text(encoding="utf-8")
    pages = sorted(p.stem for p in FORMS.glob("*.html"))
    assert pages == sorted(PAGES)
    for page in pages:
        assert f"`{page}`" in readme, page
    npm = re.findall(r"^\| `[^`]+` \| npm `([^`@]+)@([0-9][^`]*)`", readme, re.MULTILINE)
    assert len(npm) >= 8 and len({name for name, _ in npm}) >= 5, npm
