"""classify(): the corpus in tests/mail/ end to end, then each rule and its boundaries on edited messages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import pytest

from audit.collect.classify import Classification, classify
from audit.collect.parse import ParsedMessage, parse_message
from audit.models import MessageKind

MAIL = Path(__file__).parent / "mail"
REF = "K7Q2-9F"
SUBMITTED = datetime(2025, 3, 3, 8, 12, 0, tzinfo=UTC)


def load(name: str) -> ParsedMessage:
    return parse_message((MAIL / name).read_bytes())


def verdict(
    parsed: ParsedMessage,
    *,
    after: timedelta = timedelta(hours=3),
    submitted_at: datetime | None = SUBMITTED,
    siblings: tuple[str, ...] = (),
    ref_code: str | None = REF,
) -> Classification:
    return classify(
        parsed,
        ref_code=ref_code,
        submitted_at=submitted_at,
        received_at=SUBMITTED + after,
        sibling_texts=siblings,
    )


def with_headers(parsed: ParsedMessage, **extra: str) -> ParsedMessage:
    """The message with headers added (keyword names: X_Autoreply -> x-autoreply)."""
    headers = dict(parsed.headers)
    for name, value in extra.items():
        headers[name.replace("_", "-").lower()] = (value,)
    return replace(parsed, headers=MappingProxyType(headers))


# --- the corpus ---------------------------------------------------------------------------------------------

CORPUS: dict[str, tuple[MessageKind, str]] = {
    "human_en.eml": (MessageKind.HUMAN, "human: no automatic marker"),
    "quoted_signature.eml": (
        MessageKind.HUMAN,
        "human: no automatic marker",
    ),  # X-Auto-Response-Suppress: All
    "human_he_1255.eml": (MessageKind.HUMAN, "human: no automatic marker"),
    "html_only.eml": (MessageKind.HUMAN, "human: no automatic marker"),
    "iso2022jp.eml": (MessageKind.HUMAN, "human: no automatic marker"),
    "no_date.eml": (MessageKind.HUMAN, "human: no automatic marker"),
    "no_message_id.eml": (MessageKind.HUMAN, "human: no automatic marker"),
    "date_minus_0000.eml": (MessageKind.HUMAN, "human: no automatic marker"),
    "nested_multipart.eml": (MessageKind.HUMAN, "human: no automatic marker"),
    "garbage_8bit_header.eml": (MessageKind.HUMAN, "human: no automatic marker"),
    "truncated_multipart.eml": (MessageKind.HUMAN, "human: no automatic marker"),
    # Also carries Auto-Submitted and comes from MAILER-DAEMON: the report type is the first evidence.
    "dsn_bounce.eml": (MessageKind.BOUNCE, "bounce: multipart/report delivery-status"),
    # Sent with the null return path, as RFC 3834 asks: that alone must not make it a bounce.
    "auto_reply_rfc3834.eml": (MessageKind.AUTO_REPLY, "auto_reply: Auto-Submitted: auto-replied"),
    "ooo_hebrew.eml": (MessageKind.OUT_OF_OFFICE, "out_of_office: subject 'תשובה אוטומטית: פנייה מהאתר'"),
    "newsletter.eml": (MessageKind.MARKETING, "marketing: List-Unsubscribe"),
    "helpdesk_ticket.eml": (
        MessageKind.AUTO_REPLY,
        "auto_reply/ticket_ack: 'we have received' from noreply@acme.freshdesk.com",
    ),
}


def test_every_corpus_file_is_classified() -> None:
    assert set(CORPUS) == {path.name for path in MAIL.glob("*.eml")}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus(name: str) -> None:
    parsed = load(name)
    assert parsed.top_received_at is not None
    result = classify(
        parsed, ref_code=REF, submitted_at=SUBMITTED, received_at=parsed.top_received_at, sibling_texts=()
    )
    assert (result.kind, result.rule) == CORPUS[name]


# --- 1 bounce -------------------------------------------------------------------------------------------------


def test_failed_recipients_header_is_a_bounce() -> None:
    parsed = with_headers(load("human_en.eml"), X_Failed_Recipients="old@acme.example")
    assert verdict(parsed) == Classification(
        MessageKind.BOUNCE, "bounce: X-Failed-Recipients: old@acme.example"
    )


def test_postmaster_is_a_bounce() -> None:
    parsed = replace(load("human_en.eml"), from_address="postmaster@acme.example")
    assert verdict(parsed) == Classification(MessageKind.BOUNCE, "bounce: From postmaster@acme.example")


def test_null_return_path_with_a_failure_subject_is_a_bounce() -> None:
    parsed = replace(load("human_en.eml"), return_path="", subject="Undeliverable: Website inquiry")
    assert verdict(parsed) == Classification(
        MessageKind.BOUNCE, "bounce: null Return-Path <> and subject 'Undeliverable: Website inquiry'"
    )


def test_null_return_path_alone_is_automatic_mail_not_a_bounce() -> None:
    parsed = replace(load("human_en.eml"), return_path="")
    assert verdict(parsed) == Classification(MessageKind.AUTO_REPLY, "auto_reply: null Return-Path <>")


# --- 2 auto_reply -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "value", "rule"),
    [
        ("Auto-Submitted", "auto-generated", "auto_reply: Auto-Submitted: auto-generated"),
        (
            "Auto-Submitted",
            "auto-replied; owner-email=x@acme.example",
            "auto_reply: Auto-Submitted: auto-replied; owner-email=x@acme.example",
        ),
        ("X-Autoreply", "yes", "auto_reply: X-Autoreply: yes"),
        ("X-Autorespond", "Vacation", "auto_reply: X-Autorespond: Vacation"),
        ("X-Autoresponder", "1", "auto_reply: X-Autoresponder: 1"),
        ("X-AutoReply-From", "info@acme.example", "auto_reply: X-AutoReply-From: info@acme.example"),
        ("X-Mail-Autoreply", "", "auto_reply: X-Mail-Autoreply"),
        ("Precedence", "auto_reply", "auto_reply: Precedence: auto_reply"),
    ],
)
def test_auto_reply_headers(header: str, value: str, rule: str) -> None:
    parsed = with_headers(load("human_en.eml"), **{header.replace("-", "_"): value})
    assert verdict(parsed) == Classification(MessageKind.AUTO_REPLY, rule)


@pytest.mark.parametrize(
    ("header", "value"),
    [("X-Auto-Response-Suppress", "All"), ("Auto-Submitted", "no"), ("X-Autoreply", "no")],
)
def test_not_auto_reply_markers(header: str, value: str) -> None:
    parsed = with_headers(load("human_en.eml"), **{header.replace("-", "_"): value})
    assert verdict(parsed).kind == MessageKind.HUMAN


def test_read_receipt_is_automatic() -> None:
    parsed = replace(
        load("human_en.eml"), content_type="multipart/report", report_type="disposition-notification"
    )
    assert verdict(parsed) == Classification(
        MessageKind.AUTO_REPLY, "auto_reply: read receipt (multipart/report disposition-notification)"
    )


def test_header_and_phrase_make_a_ticket_ack() -> None:
    parsed = with_headers(
        replace(load("human_en.eml"), reply_text="Hello, we have received your request (ticket #4821)."),
        Auto_Submitted="auto-generated",
    )
    assert verdict(parsed) == Classification(
        MessageKind.AUTO_REPLY, "auto_reply/ticket_ack: Auto-Submitted: auto-generated; 'we have received'"
    )


def test_header_with_out_of_office_subject_is_out_of_office() -> None:
    # Gmail's vacation responder sends Auto-Submitted: auto-replied; the subject says what kind it is.
    parsed = with_headers(
        replace(load("human_en.eml"), subject="Out of Office: Re: pricing"), Auto_Submitted="auto-replied"
    )
    assert verdict(parsed) == Classification(
        MessageKind.OUT_OF_OFFICE,
        "out_of_office: subject 'Out of Office: Re: pricing' (Auto-Submitted: auto-replied)",
    )


def test_hebrew_acknowledgement_from_a_noreply_sender() -> None:
    parsed = replace(
        load("human_he_1255.eml"),
        from_address="no-reply@acme.example",
        reply_text="שלום,\nפנייתך התקבלה ותטופל בהקדם. מספר פנייה: 48213.\nזוהי הודעה אוטומטית, אין להשיב עליה.",
    )
    assert verdict(parsed) == Classification(
        MessageKind.AUTO_REPLY, "auto_reply/ticket_ack: 'פנייתך התקבלה' from no-reply@acme.example"
    )


def test_any_phrase_arriving_within_two_minutes_is_a_ticket_ack() -> None:
    parsed = replace(load("human_en.eml"), reply_text="Your case number is 48213. An agent will contact you.")
    assert verdict(parsed, after=timedelta(seconds=95)) == Classification(
        MessageKind.AUTO_REPLY, "auto_reply/ticket_ack: 'case number', arrived 95 s after submission"
    )


def test_phrase_alone_is_left_to_later_rules() -> None:
    # An agent's personal answer through a help desk: ticket vocabulary, a no-reply sender, hours later.
    parsed = replace(
        load("human_en.eml"),
        from_address="noreply@acme.zendesk.com",
        reply_text="Hi Dana, about ticket #48213: the team plan costs $12 per user. Please do not reply below this line.",
    )
    assert verdict(parsed).kind == MessageKind.HUMAN
    assert (
        verdict(replace(parsed, from_address="yossi@acme.example"), after=timedelta(minutes=5)).kind
        == MessageKind.HUMAN
    )


def test_phrases_in_the_quoted_history_do_not_count() -> None:
    parsed = replace(
        load("human_en.eml"), text=load("human_en.eml").text + "\n> We have received your request."
    )
    assert verdict(parsed, after=timedelta(seconds=90)).kind == MessageKind.HUMAN


# --- 3 out_of_office ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: Re: pricing",
        "Automatic reply: Website inquiry",
        "Auto: Website inquiry",
        "Autoreply: Website inquiry",
        "Abwesenheitsnotiz: Anfrage",
        "Réponse automatique : Demande",
        "Respuesta automática: Consulta",
        "תשובה אוטומטית: פנייה מהאתר",
        "\u200fמחוץ למשרד עד 9.3",
        "היעדרות: פנייה",
    ],
)
def test_out_of_office_subjects(subject: str) -> None:
    parsed = replace(load("human_en.eml"), subject=subject)
    result = verdict(parsed)
    assert result.kind == MessageKind.OUT_OF_OFFICE
    assert result.rule.startswith("out_of_office: subject '")


def test_ordinary_subjects_are_not_out_of_office() -> None:
    for subject in ("Re: vacation packages for the office", "Re: automatic gate prices", "Re: חופשה משפחתית"):
        assert verdict(replace(load("human_en.eml"), subject=subject)).kind == MessageKind.HUMAN


# --- 4 marketing ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "rule"),
    [
        ({"List_Id": "<news.acme.example>"}, "marketing: List-Id"),
        ({"Feedback_ID": "1:acme:esp"}, "marketing: Feedback-ID"),
        ({"Precedence": "bulk"}, "marketing: Precedence: bulk"),
        ({"Precedence": "junk"}, "marketing: Precedence: junk"),
    ],
)
def test_marketing_headers(headers: dict[str, str], rule: str) -> None:
    assert verdict(with_headers(load("human_en.eml"), **headers)) == Classification(
        MessageKind.MARKETING, rule
    )


def test_bulk_headers_with_our_reference_code_quoted_are_not_marketing() -> None:
    # Help desks may add List-Unsubscribe or Precedence: bulk to an agent's answer that quotes our inquiry.
    parsed = with_headers(
        load("quoted_signature.eml"), List_Unsubscribe="<https://acme.example/u>", Precedence="bulk"
    )
    assert verdict(parsed).kind == MessageKind.HUMAN
    assert verdict(parsed, ref_code="ZZZZ-99").kind == MessageKind.MARKETING  # another probe's code


def test_reference_code_inside_an_address_is_not_a_quote() -> None:
    parsed = replace(load("newsletter.eml"), text="Sent to dana.k7q29f@r.audit.example")
    assert verdict(parsed, ref_code="K7Q2-9F").kind == MessageKind.MARKETING


# --- 5 templated -------------------------------------------------------------------------------------------------

TEMPLATE = (
    "Hi {name},\n\nThank you for contacting Acme about {what}. One of our consultants will review your request "
    "and call you within {days} business days at the number you gave us. In the meantime you can read our "
    "pricing page at https://acme.example/pricing?src={code} or write to {email}.\nYour reference is {ref}, "
    "sent on {date}."
)


def test_same_template_with_other_names_numbers_dates_and_codes_is_templated() -> None:
    mine = TEMPLATE.format(
        name="Dana",
        what="pricing",
        days=2,
        code="a1",
        email="sales@acme.example",
        ref=REF,
        date="3 March 2025",
    )
    theirs = TEMPLATE.format(
        name="Avi Cohen",
        what="pricing",
        days=3,
        code="b7",
        email="info@acme.example",
        ref="M3X8-2P",
        date="Tuesday 4 March",
    )
    parsed = replace(load("human_en.eml"), reply_text=mine)
    assert verdict(parsed, siblings=(theirs,)) == Classification(
        MessageKind.TEMPLATED, "templated: 1.00 similar to another reply to this company"
    )


def test_near_identical_template_is_templated() -> None:
    mine = TEMPLATE.format(name="Dana", what="pricing", days=2, code="a1", email="a@b.c", ref=REF, date="3.3")
    theirs = TEMPLATE.format(
        name="Avi", what="delivery times", days=2, code="a1", email="a@b.c", ref="M3X8-2P", date="4.3"
    )
    result = verdict(replace(load("human_en.eml"), reply_text=mine), siblings=("Thanks!", theirs))
    assert result.kind == MessageKind.TEMPLATED
    assert result.rule.endswith("similar to another reply to this company")
    assert float(result.rule.split()[1]) >= 0.9


def test_different_replies_are_not_templated() -> None:
    sibling = load("quoted_signature.eml").reply_text
    assert verdict(load("human_en.eml"), siblings=(sibling,)).kind == MessageKind.HUMAN


def test_short_replies_are_too_alike_to_call_templated() -> None:
    parsed = replace(load("human_en.eml"), reply_text="Hi Dana, thanks, we will call you tomorrow.")
    assert verdict(parsed, siblings=("Hi Avi, thanks, we will call you tomorrow.",)).kind == MessageKind.HUMAN


def test_arrival_within_a_minute_is_templated() -> None:
    assert verdict(load("human_en.eml"), after=timedelta(seconds=8)) == Classification(
        MessageKind.TEMPLATED, "templated: arrived 8 s after submission"
    )
    assert verdict(load("human_en.eml"), after=timedelta(seconds=60)).kind == MessageKind.HUMAN
    assert (
        verdict(load("human_en.eml"), after=timedelta(seconds=8), submitted_at=None).kind == MessageKind.HUMAN
    )


def test_naive_datetimes_are_read_as_utc() -> None:
    parsed = load("human_en.eml")
    naive = SUBMITTED.replace(tzinfo=None)
    result = classify(
        parsed, ref_code=REF, submitted_at=naive, received_at=naive + timedelta(seconds=5), sibling_texts=()
    )
    assert result == Classification(MessageKind.TEMPLATED, "templated: arrived 5 s after submission")


# --- unknown --------------------------------------------------------------------------------------------------


def test_unreadable_garbage_is_unknown() -> None:
    result = verdict(parse_message(b"\x00\x01\x02\x03"))
    assert result.kind == MessageKind.UNKNOWN
    assert result.rule.startswith("unknown: malformed, nothing readable (")
