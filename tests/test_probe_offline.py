"""Probe logic that needs no browser: keyword normalisation, classification, the safety check, the
one-navigation rule."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from probes import BrowserUnavailable, TargetRefused, check_target_url, find_chromium, launch_browser
from probes.classify import assign_slots, button_role, checkbox_kind
from probes.dom import ControlInfo
from probes.outcome import Observation, PageState, decide
from probes.types import Detail, Slot
from probes.values import choose_option, fit_length, phone_variants
from probes.vocab import normalise, split_identifier, vocabulary

PROBES = Path(__file__).resolve().parent.parent / "probes"


def control(index: int = 0, **raw: object) -> ControlInfo:
    """A control as extract.js would describe a plain visible one, with overrides."""
    base: dict[str, object] = {
        "index": index, "group": 0, "kind": "field", "selector": f"#c{index}", "tag": "input", "type": "text",
        "shown": True, "labels": [],
    }  # fmt: skip
    return ControlInfo.from_js(base | raw)


# --- keywords ------------------------------------------------------------------------------------------


def test_gershayim_geresh_and_niqqud_fold_to_ascii_quotes() -> None:
    assert normalise("דוא״ל:") == normalise('דוא"ל') == 'דוא"ל'
    assert normalise("טל׳ *") == "טל'"
    assert normalise("שָׁלוֹם") == "שלום"
    assert vocabulary().slots[Slot.EMAIL].search("כתובת דוא״ל *") is not None


def test_gendered_slash_forms_match_by_stem() -> None:
    vocab = vocabulary()
    assert normalise("שלח/י") == "שלח"
    assert normalise("מסכים(ה)") == "מסכים"
    assert vocab.submit.search("שלח/י") == "שלח"
    assert vocab.consent.search("אני מסכים/ה לתקנון האתר") is not None
    assert vocab.consent.search("מאשר/ת את מדיניות הפרטיות") is not None


def test_hebrew_prefixes_and_word_boundaries() -> None:
    vocab = vocabulary()
    assert vocab.consent.search("קראתי ומסכים לתקנון") is not None  # ל + תקנון
    assert vocab.marketing.search("אשמח לקבל עדכונים ומבצעים בדיוור") is not None
    assert vocab.slots[Slot.FULL_NAME].search("username") is None  # "name" inside a word does not count
    assert vocab.slots[Slot.EMAIL].search("Emails") is not None


def test_identifiers_split_like_labels() -> None:
    assert split_identifier("your-email") == "your email"
    assert split_identifier("contactPhone_2") == "contact phone 2"
    assert split_identifier("wpforms[fields][2]") == "wpforms fields 2"


def test_keyword_files_are_versioned() -> None:
    assert vocabulary().versions == {"en": 2, "he": 2}


# --- classification ------------------------------------------------------------------------------------


def test_company_name_is_not_the_persons_name() -> None:
    fields = [
        control(0, labels=["Company name"], name="company"),
        control(1, labels=["Name"], name="name"),
        control(2, type="email", labels=["Email"]),
        control(3, tag="textarea", type="", labels=["How can we help?"]),
    ]
    chosen = {slot: s.control.index for slot, s in assign_slots(fields).items()}
    assert chosen == {Slot.COMPANY: 0, Slot.FULL_NAME: 1, Slot.EMAIL: 2, Slot.MESSAGE: 3}


def test_hebrew_labels_without_names_map() -> None:
    fields = [
        control(0, labels=["שם מלא *"], name="f1"),
        control(1, labels=["דוא״ל *"], name="f2"),
        control(2, labels=["טלפון נייד"], name="f3"),
        control(3, tag="textarea", type="", labels=["תוכן הפנייה *"], name="f5"),
    ]
    chosen = {slot: s.control.index for slot, s in assign_slots(fields).items()}
    assert chosen == {Slot.FULL_NAME: 0, Slot.EMAIL: 1, Slot.PHONE: 2, Slot.MESSAGE: 3}


def test_honeypots_are_never_assigned_whatever_their_label() -> None:
    fields = [
        control(0, type="email", labels=["Email"], hidden_reasons=["off-screen"]),
        control(1, labels=["Website"], name="website", hidden_reasons=["tabindex=-1"]),
        control(2, type="email", labels=["Email"], name="hp_email", hidden_reasons=["honeypot name"]),
        control(3, labels=["Leave this empty"], name="x"),
    ]
    assert all(c.honeypot_reasons for c in fields)
    assert assign_slots(fields) == {}


def test_a_hidden_step_is_not_a_honeypot() -> None:
    hidden = ["display:none on ancestor"]
    step_field = control(0, type="email", shown=False, hidden_reasons=hidden, section_hidden=True)
    assert step_field.honeypot_reasons == ()
    assert not step_field.usable  # still not filled while its step is hidden


def test_checkbox_kinds_and_buttons() -> None:
    assert checkbox_kind(control(type="checkbox", labels=["אשמח לקבל עדכונים ומבצעים בדיוור"])) == "marketing"
    assert checkbox_kind(control(type="checkbox", labels=["I agree to the privacy policy"])) == "consent"
    assert checkbox_kind(control(type="checkbox", labels=["I agree to receive offers"])) == "marketing"

    def role(text: str, kind: str = "submit") -> str:
        return button_role(control(kind="button", tag="button", type=kind, text=text), in_form=True)[0]

    assert role("שלח/י") == "submit"
    assert role("Next", "button") == "next"
    assert role("Subscribe") == "other"
    assert role("Send feedback") == "submit"  # "back" inside a word is not a back button


def test_values_phone_options_and_length() -> None:
    phone = control(type="tel", placeholder="050-1234567")
    assert phone_variants("+972 50 123 4567", phone)[0] == "050-1234567"
    options = [
        {"label": "Choose…", "value": ""},
        {"label": "Sales", "value": "s"},
        {"label": "Other", "value": "o"},
    ]
    opts = control(tag="select", type="", options=options).options
    assert choose_option(opts, None) is not None and choose_option(opts, None).label == "Other"  # type: ignore[union-attr]
    assert choose_option(opts, "sales").label == "Sales"  # type: ignore[union-attr]
    message = "Hello " * 50 + "\nRef: K7Q2-9F"
    fitted = fit_length(message, 100)
    assert len(fitted) <= 100 and fitted.endswith("Ref: K7Q2-9F")


def test_outcome_precedence() -> None:
    before = [PageState(url="https://x/contact", text="Contact us")]
    after = [PageState(url="https://x/contact", text="Contact us\nPlease fill out this field.")]
    verdict = decide(Observation(before=before, after=after, click_ms=0, submission=None))
    assert verdict.detail is Detail.VALIDATION_ERROR
    thanks = [PageState(url="https://x/contact/thank-you", text="Thank you")]
    assert decide(Observation(before=before, after=thanks, click_ms=0, submission=None)).detail is (
        Detail.SUBMITTED_LIKELY
    )
    nothing = decide(Observation(before=before, after=before, click_ms=0, submission=None))
    assert nothing.detail is Detail.UNKNOWN


# --- safety --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "javascript:alert(1)", "http://127.0.0.1/", "http://localhost:8000/", "http://10.1.2.3/",
     "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "http://0.0.0.0/"],
)  # fmt: skip
def test_unsafe_targets_are_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        asyncio.run(check_target_url(url, allow_private=False))


def test_private_targets_pass_when_allowed_but_schemes_never() -> None:
    asyncio.run(check_target_url("http://127.0.0.1:8000/contact", allow_private=True))
    with pytest.raises(TargetRefused):
        asyncio.run(check_target_url("ftp://127.0.0.1/", allow_private=True))


def test_no_stray_navigation_outside_safety() -> None:
    """docs/style.md, "One way to navigate": every navigation goes through probes.safety.safe_goto."""
    offenders = [
        f"{path.relative_to(PROBES.parent)}:{number}"
        for path in sorted(PROBES.rglob("*.py"))
        if path.name != "safety.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if re.search(r"\.goto\(|\.go_back\(|\.go_forward\(|\.reload\(", line)
    ]
    assert offenders == []


def test_probes_do_not_import_audit() -> None:
    offenders = [
        str(path.relative_to(PROBES.parent))
        for path in sorted(PROBES.rglob("*.py"))
        if re.search(r"^\s*(from|import)\s+audit\b", path.read_text(encoding="utf-8"), re.M)
    ]
    assert offenders == []


def test_a_browser_that_cannot_start_is_one_clear_error(tmp_path: Path) -> None:
    async def start(path: str) -> None:
        async with launch_browser(path):
            pass

    with pytest.raises(BrowserUnavailable, match="apt-get install chromium"):
        asyncio.run(start(str(tmp_path / "missing-chrome")))
    with pytest.raises(BrowserUnavailable, match="failed to start"):
        asyncio.run(start("/bin/false"))


def test_find_chromium_honours_an_explicit_path(tmp_path: Path) -> None:
    assert find_chromium(str(tmp_path / "nope")) is None
    fake = tmp_path / "chrome"
    fake.write_text("")
    assert find_chromium(str(fake)) == str(fake)
