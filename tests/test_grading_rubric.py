"""The grader's pure parts: the rubric (English and Hebrew), staff-name masking, promises, the business
calendar and the tier rules. No database: these are functions of text and times."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.collect.quotes import reply_part
from audit.config import AuditConfig, parse_config
from audit.grading.calendar import BusinessCalendar
from audit.grading.promises import find_promise
from audit.grading.rubric import (
    MAX_SCORES,
    STAFF_STOP_WORDS,
    ReplyScore,
    RubricContext,
    detect_language,
    find_staff_names,
    mask_staff_names,
    reply_text_of,
    score_reply,
)
from audit.grading.tiers import company_tier, format_duration, is_inconsistent
from audit.grading.types import SubmitTimeClass, Tier

JERUSALEM = ZoneInfo("Asia/Jerusalem")

EN_CONFIG = """
audit: {name: t, timezone: Asia/Jerusalem, country: IL}
mailbox: {address: "dana.{token}@replies.example.org"}
persona: {first_name: Dana, last_name: Levi, phone: "050-1234567"}
inquiry:
  subject: Monthly plan
  message: "Hi, do you offer a monthly plan, and what does it cost?\\nThanks,\\nDana Levi"
  answer_parts: [{kind: yes_no, label: a monthly plan, words: [monthly plan, monthly]}, {kind: price}]
companies: [{id: acme, name: Acme Insurance, contact_url: "https://www.acme.test/contact"}]
"""
HE_CONFIG = """
audit: {name: t, timezone: Asia/Jerusalem, country: IL, language: he}
mailbox: {address: "dana.{token}@replies.example.org"}
persona: {first_name: Dana, last_name: Levi, phone: "050-1234567"}
inquiry:
  subject: תוכנית חודשית
  message: "שלום,\\nהאם יש אצלכם תוכנית תשלום חודשית, ומה המחיר?\\nתודה,\\nדנה לוי"
  answer_parts: [{kind: yes_no, words: [תוכנית, חודשית]}, {kind: price}]
companies: [{id: acme, name: אקמי ביטוח, contact_url: "https://www.acme.co.il/contact"}]
"""

EN_GOOD = """Hi Dana,

Thank you for contacting Acme! Yes, we do offer a monthly plan: it costs $49 per month, and you can start
online at https://www.acme.test/plans/monthly.
I'd be happy to call you tomorrow at 10:00 to go over the details, if that suits you.
Happy to help with anything else.

Best regards,
Michael Cohen
Sales Manager, Acme Insurance
Tel. 03-5551234

On Mon, Nov 30, 2026 at 9:00 AM Dana <dana.x@replies.example.org> wrote:
> Hi, do you offer a monthly plan, and what does it cost?
"""
EN_POOR = """Dear customer,

Please call our service centre at *2323 for any questions.

The Acme Team
"""
HE_GOOD = """שלום דנה,

תודה על פנייתך! כן, יש לנו תוכנית חודשית במחיר 49 ש"ח לחודש. אשמח לתאם איתך שיחה מחר בבוקר כדי להסביר את הפרטים.
נשמח לעזור בכל שאלה.

בברכה,
יוסי כהן
מנהל מכירות, אקמי ביטוח
טל' 03-5551234
"""
HE_POOR = """לקוח/ה יקר/ה,

נא לפנות למוקד שירות הלקוחות בטלפון *2323.

צוות שירות הלקוחות
"""


def config(text: str = EN_CONFIG, **audit: object) -> AuditConfig:
    parsed = parse_config(text)
    return parsed.model_copy(update={"audit": parsed.audit.model_copy(update=audit)}) if audit else parsed


def score(text: str, cfg: AuditConfig, *, channel: str = "email") -> ReplyScore:
    company = cfg.companies[0]
    reply = reply_text_of(text, reply_part(text) if channel == "email" else text, channel)
    domain = company.contact_url.split("/")[2].removeprefix("www.")
    return score_reply(
        reply, RubricContext.from_config(cfg), company_domain=domain, company_name=company.name
    )


def scores(result: ReplyScore) -> dict[str, int]:
    return {item.criterion: item.score for item in result.criteria}


def rules(result: ReplyScore, criterion: str) -> list[str]:
    return [e.rule for item in result.criteria if item.criterion == criterion for e in item.evidence]


def quotes(result: ReplyScore) -> str:
    return " | ".join(e.quote for item in result.criteria for e in item.evidence)


# ------------------------------------------------------------------------------------------------ rubric


def test_a_good_english_reply_scores_high_with_evidence() -> None:
    result = score(EN_GOOD, config())
    # Warmth twice, in different words: "I'd be happy to call you", "Happy to help with anything else".
    assert scores(result) == {"A": 2, "P1": 2, "P2": 2, "Q": 2, "V": 2, "E": 1, "M": 2}
    assert result.quality == pytest.approx(13 / 13, abs=1e-4)
    assert result.complete and result.language == "en"
    assert "greeting_by_name" in rules(result, "P1") and "signed_by_person" in rules(result, "P1")
    assert {"part_yes_no: a monthly plan", "part_price"} <= set(rules(result, "A"))
    assert any("$49" in e.quote for item in result.criteria for e in item.evidence if e.rule == "part_price")
    assert "relevant_link" in rules(result, "V") and "next_step" in rules(result, "V")
    assert "direct_contact_phone" in rules(result, "Q")


def test_a_poor_english_reply_scores_low_and_says_why() -> None:
    result = score(EN_POOR, config())
    assert scores(result) == {"A": 0, "P1": 0, "P2": 0, "Q": 1, "V": 0, "E": 0, "M": 0}
    assert result.quality == 0  # nothing answered: points count in proportion to A
    assert not result.complete
    answered = next(item for item in result.criteria if item.criterion == "A")
    assert answered.note == "missing: a monthly plan, price"
    assert rules(result, "P1") == ["generic_greeting", "signed_by_team"]
    effort = next(item for item in result.criteria if item.criterion == "E")
    assert effort.evidence[0].rule == "sends_elsewhere" and "service centre" in effort.evidence[0].quote


def test_a_good_hebrew_reply_scores_high_with_hebrew_evidence() -> None:
    result = score(HE_GOOD, config(HE_CONFIG))
    assert scores(result) == {"A": 2, "P1": 2, "P2": 2, "Q": 2, "V": 1, "E": 1, "M": 2}
    assert result.language == "he" and result.complete
    greeting = next(e for item in result.criteria for e in item.evidence if e.rule == "greeting_by_name")
    assert greeting.quote == "שלום דנה"  # the persona's name as the Hebrew inquiry signs it
    assert any(
        '49 ש"ח' in e.quote for item in result.criteria for e in item.evidence if e.rule == "part_price"
    )
    assert "תודה על פנייתך" in quotes(result) and "נשמח לעזור" in quotes(result)


def test_a_poor_hebrew_reply_scores_low() -> None:
    result = score(HE_POOR, config(HE_CONFIG))
    assert scores(result) == {"A": 0, "P1": 0, "P2": 0, "Q": 1, "V": 0, "E": 0, "M": 0}
    assert rules(result, "P1") == ["generic_greeting", "signed_by_team"]
    assert "נא לפנות למוקד" in quotes(result)


def test_a_reply_in_another_language_or_with_template_fields_loses_q() -> None:
    english_to_hebrew = score("Hi Dana,\nYes, we have a monthly plan for 49 NIS.\nThanks", config(HE_CONFIG))
    assert scores(english_to_hebrew)["Q"] == 0
    assert rules(english_to_hebrew, "Q") == ["reply_language", "other_language"]
    templated = score("Hello {{first_name}},\nYes, the monthly plan is $49.\nRegards", config())
    assert scores(templated)["Q"] == 0
    assert rules(templated, "Q") == ["reply_language", "unfilled_template_field"]


def test_blame_and_re_asking_count_against() -> None:
    text = (
        "Hi Dana,\nYou should have read our website. Please send us your phone number and log in to your "
        "account.\nThanks\nBest regards"
    )
    result = score(text, config())
    assert rules(result, "E") == ["asks_again_for_details", "requires_login"] and scores(result)["E"] == 0
    assert "blames_customer" in rules(result, "P2") and scores(result)["P2"] == 1


def test_a_logged_phone_call_is_scored_from_its_note() -> None:
    note = "Called back: yes, they have a monthly plan, 49 NIS a month. Very polite, offered a meeting."
    result = score(note, config(), channel="phone")
    # Nobody named: a call is personal (P1) only when the caller gives a name.
    assert scores(result) == {"A": 2, "P1": 0, "P2": 2, "Q": 1, "V": 1, "E": 1, "M": 0}
    assert "note_says_polite" in rules(result, "P2")
    named = "Ruth from Acme sales called back. She greeted me by name: yes, a monthly plan at 49 NIS."
    assert scores(score(named, config(), channel="phone"))["P1"] == 2


def test_criteria_maxima_are_the_documented_ones() -> None:
    result = score(EN_GOOD, config())
    assert {item.criterion: item.max_score for item in result.criteria} == MAX_SCORES
    assert sum(MAX_SCORES.values()) == 13


def test_language_detection() -> None:
    assert detect_language("שלום דנה, יש לנו תוכנית") == "he"
    assert detect_language("Hello Dana, we have a plan (אקמי)") == "en"
    assert detect_language("12345") == "other" and detect_language("") is None


BRANCH_CONFIG = """
audit: {name: t, timezone: Asia/Jerusalem, country: IL, language: he}
mailbox: {address: "dana.{token}@replies.example.org"}
persona: {first_name: Dana, last_name: Levi, phone: "050-1234567", aliases: [דנה]}
inquiry:
  subject: סניף בחיפה
  message: "שלום,\\nהאם יש לכם סניף בחיפה, ומה מספר הטלפון שלו?\\nתודה,\\nדנה לוי"
  answer_parts: [{kind: yes_no, words: [סניף, חיפה]}, {kind: phone}]
companies: [{id: north, name: בנק הצפון, contact_url: "https://www.north.co.il/contact"}]
"""


@pytest.mark.parametrize(
    ("text", "criterion", "expected"),
    [
        # Prefix letters and inflections on every word list: offers, warmth, redirects, sign-offs.
        ("היי דנה,\nכן, 49 ש״ח.\nאם תרצי, אשלח לך את הטופס.\nבכיף,\nשלך, יוסי", "V", 1),
        ("היי דנה,\nכן, 49 ש״ח.\nרוצה שאחזור אלייך מחר?\nיוסי", "V", 1),
        ("שלום דנה,\nכן, 49 ש״ח.\nנציגנו ישמחו לעזור, ומקווה שעזרתי.\nיוסי", "M", 2),
        ("שלום דנה,\nכן, 49 ש״ח. בשמחה! 😊\nיוסי", "M", 2),
        ("שלום,\nלצערנו לא ניתן. כשתרצי, פני למוקד *2323.\nצוות השירות", "E", 0),
        ("שלום,\nעל מנת לבדוק, נא לשלוח שוב את פרטייך המלאים.\nצוות השירות", "E", 0),
        ("שלום דנה,\nכן, 49 ש״ח.\nיום נפלא!\nליאת\nנציגת מכירות | 03-5553344", "P1", 2),
        ("שלום דנה,\nכן, 49 ש״ח.\nיום נפלא!\nליאת\nנציגת מכירות | 03-5553344", "P2", 1),
        ("שלום דנה,\nכן, 49 ש״ח.\nרותי מצוות המכירות", "P1", 2),
        ("דנה שלום,\nכן, 49 ש״ח.\nבברכה רבה\nמיכל לוי\nמנהלת לקוחות\n052-7781234", "Q", 2),
        ("גב' דנה לוי שלום,\nכן, 49 ש״ח.\nבכבוד רב,\nעו\"ד אבי מזרחי\nטל': 054-6612345", "P1", 2),
        # Answers in words: a price in words, a clear "no" that makes the price moot.
        ("היי דנה,\nודאי שיש - התוכנית החודשית עולה מאה שקלים בחודש.", "A", 2),
        ("שלום,\nלצערנו אין לנו תוכנית תשלום חודשית; התשלום שנתי בלבד.", "A", 2),
        ("שלום,\nלצערנו אין לנו תוכנית תשלום חודשית; התשלום שנתי בלבד.", "V", 1),
        ("שלום,\nכפי שמופיע בבירור באתר, יש תוכנית חודשית.", "A", 1),
        ("שלום,\nהאם יש לך שאלה נוספת על התוכנית החודשית?", "A", 0),
    ],
)
def test_hebrew_morphology_and_layouts(text: str, criterion: str, expected: int) -> None:
    assert scores(score(text, config(HE_CONFIG)))[criterion] == expected


@pytest.mark.parametrize(
    ("text", "criterion", "expected"),
    [
        ("Hi Dana,\nAbsolutely! It's forty-nine dollars a month.\nBest,\nRuth", "A", 2),
        ("Hi Dana,\nWe sure do - USD 49 a month.\nRuth Cohen | Sales", "A", 2),
        (
            "Hello,\nUnfortunately we don't have a monthly plan: we bill annually, but you can split it.",
            "A",
            2,
        ),
        (
            "Hello,\nUnfortunately we don't have a monthly plan: we bill annually, but you can split it.",
            "V",
            1,
        ),
        ("Hello,\nPlease call our service centre at *2323 for the monthly plan.\nAcme", "A", 0),
        ("Hello,\nPlease call our service centre at *2323 for the monthly plan.\nAcme", "E", 0),
        ("Hello,\nOf course. Call our service centre at *2323 for the price.\nAcme", "A", 1),
        ("Hi Dana,\nYes, 49 NIS. Would you like me to call you?\n-- \nRuth Cohen\nTeam lead", "V", 1),
        ("Hi Dana,\nYes, 49 NIS. Shall I send you the form?\nRuth", "V", 1),
        ("Hi Dana,\nYes, 49 NIS. Happy to help! 🙂 Welcome aboard!\nRuth", "M", 2),
        ("Hi Dana,\nYes, 49 NIS.\nBest, Ruth Cohen", "P1", 2),
        ("Hi Dana,\nYes, 49 NIS.\n-- \nRuth Cohen\nSales | +972-4-812-3456", "Q", 2),
        ("Hi Dana,\nYes, 49 NIS. See https://www.acme.test/plans/monthly.\nRuth", "V", 1),
        ("Hi Dana,\nYes, 49 NIS. See https://www.acme.test/ or https://my.acme.test/login.\nRuth", "V", 0),
        ("Hi,\nYes, we have monthly payments.\nAcme", "P1", 0),  # "Yes" opens a sentence; it is no name
    ],
)
def test_english_phrasing_variety(text: str, criterion: str, expected: int) -> None:
    assert scores(score(text, config()))[criterion] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("שלום דנה,\nכן, יש לנו סניף בחיפה, ברחוב הרצל 45, טלפון 04-8640200.", 2),
        ("שלום,\nיש סניף בחיפה. הטלפון: +972-4-812-3456", 2),
        ("שלום,\nלצערנו אין לנו סניף בחיפה. הסניף הקרוב ביותר בקריות.", 2),
        ("שלום,\nלפרטים על סניפים פני למוקד בטלפון *2323.", 0),
        ("שלום,\nכן, יש סניף בחיפה. לטלפון של הסניף יש לפנות למוקד 1-800-500-500.", 1),
    ],
)
def test_branch_answers_and_phone_formats(text: str, expected: int) -> None:
    assert scores(score(text, config(BRANCH_CONFIG)))["A"] == expected


def test_the_reply_language_is_read_from_its_own_text_inside_a_ticket_wrapper() -> None:
    text = (
        "##- Please type your reply above this line -##\n\nTicket #4821: Monthly plan\n\n"
        "Avital (Acme Support)\n12 Mar 2024, 10:31 IST\n\n"
        "היי דנה, כן, יש לנו תוכנית חודשית במחיר 59 ש״ח לחודש.\nאביטל\n\n"
        "--------------------------------\nThis email is a service from Acme Support. Delivered by Zendesk.\n"
        "[8RZ3K1-Q9W2]\n"
    )
    assert reply_part(text) == "היי דנה, כן, יש לנו תוכנית חודשית במחיר 59 ש״ח לחודש.\nאביטל"
    result = score(text, config(HE_CONFIG))
    assert result.language == "he" and scores(result)["Q"] == 1 and scores(result)["P1"] == 2
    evidence = next(e for item in result.criteria for e in item.evidence if e.rule == "reply_language")
    assert evidence.quote.startswith("he: Hebrew letters 100%") and "Zendesk" not in evidence.quote


def test_a_phone_note_that_says_what_did_not_happen_earns_nothing_for_it() -> None:
    note = 'התקשרתי למוקד. הנציג לא מסר שם, לא הודה, לא היה "שלום". אמר: "כן, יש, 95 שקל לחודש".'
    result = score(note, config(HE_CONFIG), channel="phone")
    assert scores(result)["A"] == 2 and scores(result)["P1"] == 0 and scores(result)["P2"] == 0


def test_quality_counts_in_proportion_to_what_was_answered() -> None:
    half = score("Hi Dana,\nThanks! Yes, we have a monthly plan.\nBest,\nRuth Cohen", config())
    assert scores(half)["A"] == 1
    points = sum(scores(half).values()) / 13
    assert half.quality == pytest.approx(points / 2, abs=1e-4)


def test_grading_a_wave_of_replies_is_fast() -> None:
    cfg = config(HE_CONFIG)
    context = RubricContext.from_config(cfg)
    texts = [HE_GOOD, HE_POOR, EN_GOOD, EN_POOR] * 250
    started = time.monotonic()
    for text in texts:
        reply = reply_text_of(text, reply_part(text), "email")
        score_reply(reply, context, company_domain="acme.co.il", company_name="אקמי ביטוח")
    assert time.monotonic() - started < 10  # 1,000 replies; a wave of thousands grades in seconds


# ------------------------------------------------------------------------------------------------ masking


def test_staff_names_are_masked_in_excerpts_and_evidence_but_the_persona_is_kept() -> None:
    text = "Hi Dana,\nMy name is Michael and I handle plans. Yes, our monthly plan is $49.\n\nBest,\nMichael Cohen"
    result = score(text, config())
    assert result.staff_names == ("Michael Cohen", "Michael")
    assert result.excerpt is not None and "[staff]" in result.excerpt and "Michael" not in result.excerpt
    assert "Michael" not in quotes(result) and "Cohen" not in quotes(result)
    assert "Dana" in quotes(result)
    unmasked = score(text, config(mask_staff_names=False))
    assert unmasked.excerpt is not None and "Michael" in unmasked.excerpt


def test_mask_staff_names_in_signature_greeting_and_hebrew() -> None:
    english = "Hi Dana, Michael here.\nYes, we do.\n\nKind regards,\nMichael Cohen\nCustomer Care, Acme"
    assert mask_staff_names(english, keep=("Dana", "Levi", "Acme")) == (
        "Hi Dana, [staff] here.\nYes, we do.\n\nKind regards,\n[staff]\nCustomer Care, Acme"
    )
    hebrew = "שלום דנה,\nשמי יוסי מצוות המכירות.\nאפשר לפנות ליוסי ישירות.\nבברכה,\nיוסי כהן\nמנהל מכירות"
    masked = mask_staff_names(hebrew, keep=("Dana", "דנה"))
    assert "יוסי" not in masked and "כהן" not in masked and "דנה" in masked
    assert "ל[staff] ישירות" in masked and "מנהל מכירות" in masked


def test_persona_aliases_count_as_the_persona_s_name_and_are_never_masked() -> None:
    # An English inquiry signed "Dana Levi", answered in Hebrew: only an alias knows that דנה is Dana.
    reply = 'שלום דנה,\nכן, יש לנו תוכנית חודשית במחיר 49 ש"ח.\n\nבברכה,\nיוסי כהן'
    without = score(reply, config())
    assert "greeting_by_name" not in rules(without, "P1")
    aliased = config(EN_CONFIG.replace('phone: "050-1234567"', 'phone: "050-1234567", aliases: [דנה]'))
    result = score(reply, aliased)
    assert "greeting_by_name" in rules(result, "P1")
    assert "שלום דנה" in quotes(result) and "יוסי" not in quotes(result)  # the alias kept, the signer masked


def test_a_closing_inside_a_flattened_paragraph_is_masked_too() -> None:
    # Replies pasted into one paragraph (web forms, phone notes) keep the signature on the same line.
    flat = "Hi Dana, thank you for contacting us! Yes, we have a monthly plan. Best regards, Ruth Katz, sales"
    assert mask_staff_names(flat, keep=("Dana", "Levi")) == (
        "Hi Dana, thank you for contacting us! Yes, we have a monthly plan. Best regards, [staff], sales"
    )
    assert "מיכל" not in mask_staff_names("כן, יש מסלול חודשי. בברכה, מיכל", keep=("דנה",))
    # The persona signing off is not staff.
    assert mask_staff_names("Yes. Thanks, Dana", keep=("Dana",)) == "Yes. Thanks, Dana"


def test_team_signatures_and_the_persona_are_not_staff_names() -> None:
    text = "Hi Dana,\nYes.\n\nBest regards,\nThe Acme Team\n\nבברכה,\nצוות שירות הלקוחות"
    assert find_staff_names(text, keep=("Dana", "Acme")) == ()
    assert find_staff_names("Thanks,\nDana Levi", keep=("Dana", "Levi")) == ()


# ----------------------------------------------------------------------------------------------- promises


@pytest.mark.parametrize(
    ("text", "amount", "unit", "business"),
    [
        ("We will get back to you within 2 business days.", 2, "days", True),
        ("We answer within 24 hours.", 24, "hours", False),
        ("Expect a reply within 24h", 24, "hours", False),
        ("in the next 1-2 working days", 2, "days", True),
        ("within one business day", 1, "days", True),
        ("by the end of the next business day", 1, "days", True),
        ("נחזור אלייך תוך 48 שעות", 48, "hours", False),
        ("נציג יחזור אלייך תוך 2 ימי עסקים", 2, "days", True),
        ("תוך יום עסקים אחד", 1, "days", True),
        ("תוך יומיים", 2, "days", False),
        ("תוך שלושה ימי עבודה", 3, "days", True),
        ("תוך 3-5 ימי עסקים", 5, "days", True),
        ("עד יום חמישי נחזור אליך תוך שעתיים", 2, "hours", False),
    ],
)
def test_promises_are_parsed(text: str, amount: int, unit: str, business: bool) -> None:
    term = find_promise(text)
    assert term is not None
    assert (term.amount, term.unit, term.business) == (amount, unit, business)
    assert term.text in text


@pytest.mark.parametrize(
    "text", ["נחזור אלייך בהקדם", "We will get back to you as soon as possible.", "עד יום חמישי"]
)
def test_vague_promises_have_no_due_time(text: str) -> None:
    assert find_promise(text) is None


def test_a_business_day_promise_is_due_at_the_close_of_that_working_day() -> None:
    calendar = israel()
    thursday = datetime(2026, 12, 3, 10, 0, tzinfo=JERUSALEM)
    term = find_promise("within 2 business days")
    assert term is not None
    # Thursday, then Sunday and Monday (Friday and Saturday are the Israeli weekend): Monday 17:00.
    assert term.due_at(thursday, calendar) == datetime(2026, 12, 7, 17, 0, tzinfo=JERUSALEM)
    hours = find_promise("תוך 48 שעות")
    assert hours is not None and hours.due_at(thursday, calendar) == thursday + timedelta(hours=48)


# ------------------------------------------------------------------------------------------------ calendar


def israel(**audit: object) -> BusinessCalendar:
    return BusinessCalendar.from_config(config(**audit).audit)


def test_business_time_skips_the_israeli_weekend() -> None:
    calendar = israel()
    thursday_4pm = datetime(2026, 12, 3, 16, 0, tzinfo=JERUSALEM)
    sunday_10am = datetime(2026, 12, 6, 10, 0, tzinfo=JERUSALEM)
    assert calendar.business_seconds_between(thursday_4pm, sunday_10am) == 2 * 3600
    assert calendar.classify(datetime(2026, 12, 4, 11, 0, tzinfo=JERUSALEM)) is SubmitTimeClass.WEEKEND  # Fri
    assert (
        calendar.classify(datetime(2026, 12, 6, 11, 0, tzinfo=JERUSALEM)) is SubmitTimeClass.BUSINESS
    )  # Sun
    assert calendar.classify(datetime(2026, 12, 3, 19, 30, tzinfo=JERUSALEM)) is SubmitTimeClass.EVENING


def test_business_time_skips_yom_kippur() -> None:
    calendar = israel()
    assert calendar.holiday(datetime(2026, 9, 21).date()) == "Yom Kippur"
    sunday_4pm = datetime(2026, 9, 20, 16, 0, tzinfo=JERUSALEM)
    tuesday_10am = datetime(2026, 9, 22, 10, 0, tzinfo=JERUSALEM)
    assert calendar.business_seconds_between(sunday_4pm, tuesday_10am) == 2 * 3600
    assert calendar.classify(datetime(2026, 9, 21, 11, 0, tzinfo=JERUSALEM)) is SubmitTimeClass.WEEKEND


def test_working_week_defaults_and_overrides() -> None:
    assert israel().workdays == frozenset({6, 0, 1, 2, 3})  # Sunday to Thursday
    other = BusinessCalendar.from_config(config(country="GB").audit)
    assert other.workdays == frozenset({0, 1, 2, 3, 4})
    custom = config().audit.business_hours.model_copy(update={"workdays": ("mon", "tue"), "opens": "08:00"})
    calendar = israel(business_hours=custom)
    assert calendar.workdays == frozenset({0, 1}) and calendar.opens.hour == 8


def test_an_unknown_country_keeps_weekends_and_says_so() -> None:
    calendar = israel(country="XX")
    assert calendar.is_workday(datetime(2026, 9, 21).date())  # a Monday, no holiday list
    assert calendar.notes and "XX" in calendar.notes[0]


MOMENTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(MOMENTS, MOMENTS, MOMENTS)
def test_business_seconds_are_additive_and_never_exceed_wall_seconds(
    a: datetime, b: datetime, c: datetime
) -> None:
    calendar = israel()
    start, middle, end = sorted((a, b, c))
    whole = calendar.business_seconds_between(start, end)
    assert whole == pytest.approx(
        calendar.business_seconds_between(start, middle) + calendar.business_seconds_between(middle, end)
    )
    assert 0 <= whole <= (end - start).total_seconds()
    assert calendar.business_seconds_between(end, start) == 0


@settings(max_examples=100, deadline=None)
@given(MOMENTS, st.floats(min_value=0, max_value=200 * 3600))
def test_adding_business_time_is_the_inverse_of_measuring_it(start: datetime, seconds: float) -> None:
    calendar = israel()
    end = calendar.add_business_seconds(start, seconds)
    assert calendar.business_seconds_between(start, end) == pytest.approx(seconds, abs=1e-3)


# ---------------------------------------------------------------------------------------------------- tiers


def test_company_tier_is_the_median_and_the_worse_middle_for_an_even_count() -> None:
    three = [Tier.FAST_COURTEOUS, Tier.NO_REPLY, Tier.REASONABLE]
    assert company_tier(three) is Tier.REASONABLE and is_inconsistent(three)
    two = [Tier.FAST_COURTEOUS, Tier.NO_REPLY]
    assert company_tier(two) is Tier.NO_REPLY
    same = [Tier.REASONABLE, Tier.REASONABLE]
    assert company_tier(same) is Tier.REASONABLE and not is_inconsistent(same)
    # A probe that could not be submitted says nothing about replies while another one was submitted.
    assert company_tier([Tier.NOT_REACHED, Tier.FAST_COURTEOUS]) is Tier.FAST_COURTEOUS
    assert company_tier([Tier.NOT_REACHED]) is Tier.NOT_REACHED
    assert not is_inconsistent([Tier.NOT_REACHED, Tier.PENDING, Tier.FAST_COURTEOUS])


def test_durations_read_like_tack() -> None:
    assert format_duration(33 * 60) == "33 min"
    assert format_duration(2.5 * 3600) == "2 h 30 min"
    assert format_duration(4 * 86400 + 3 * 3600) == "4 d 3 h"


# Names that are not role words and not inside the fixed text (where "Dan" would be found in "Dana").
NAMES = st.from_regex(r"[A-Z][a-z]{2,9}", fullmatch=True).filter(
    lambda name: (
        name.lower() not in STAFF_STOP_WORDS and name not in "Hi Dana Levi Yes here again Best regards"
    )
)
HEBREW_NAMES = st.sampled_from(["יוסי", "מיכל", "רונית", "אבי", "שירה", "עומר"])


@settings(max_examples=60, deadline=None)
@given(NAMES, NAMES, HEBREW_NAMES)
def test_a_signed_name_never_survives_masking(first: str, last: str, hebrew: str) -> None:
    text = (
        f"Hi Dana,\nYes, {first} here again: the plan is $49.\n\nBest regards,\n{first} {last}\n"
        f"\nבברכה,\n{hebrew} כהן"
    )
    masked = mask_staff_names(text, keep=("Dana", "Levi"))
    assert first not in masked and last not in masked and hebrew not in masked
    assert masked.startswith("Hi Dana,")
