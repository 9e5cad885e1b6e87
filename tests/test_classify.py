"""classify(): the corpus in tests/mail/ end to end, then each rule and its boundaries on edited messages."""

from __future__ import annotations

import email
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import pytest
from flufl.bounce import all_failures

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
    "dsn_bounce.eml": (
        MessageKind.BOUNCE,
        "bounce: multipart/report delivery-status (action: failed);"
        " flufl.bounce permanent failure: old-sales@acme.example",
    ),
    # Sent with the null return path, as RFC 3834 asks: that alone must not make it a bounce.
    "auto_reply_rfc3834.eml": (MessageKind.AUTO_REPLY, "auto_reply: Auto-Submitted: auto-replied"),
    "ooo_hebrew.eml": (MessageKind.OUT_OF_OFFICE, "out_of_office: subject 'תשובה אוטומטית: פנייה מהאתר'"),
    "newsletter.eml": (MessageKind.MARKETING, "marketing: List-Unsubscribe"),
    "helpdesk_ticket.eml": (
        MessageKind.AUTO_REPLY,
        "auto_reply/ticket_ack:freshdesk: 'we would like to acknowledge that we have received your request'",
    ),
    # Real Request Tracker 5.0.3 mail through Postfix (tests/mail/rt5_README.md).
    "rt5_autoreply.eml": (
        MessageKind.AUTO_REPLY,
        "auto_reply/ticket_ack:rt: 'this message has been automatically generated in response to the creation of a …'",
    ),
    "rt5_correspond.eml": (
        MessageKind.HUMAN,
        "human: rt staff reply (RT-Originator yossi.levi@acme.test is not the requester)",
    ),
}


def test_every_corpus_file_is_classified() -> None:
    assert set(CORPUS) == {path.name for path in MAIL.glob("*.eml")}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus(name: str) -> None:
    raw = (MAIL / name).read_bytes()
    parsed = parse_message(raw)
    assert parsed.top_received_at is not None
    result = classify(
        parsed,
        ref_code=REF,
        submitted_at=SUBMITTED,
        received_at=parsed.top_received_at,
        sibling_texts=(),
        raw=raw,
    )
    assert (result.kind, result.rule) == CORPUS[name]


# --- 1 bounce -------------------------------------------------------------------------------------------------


def test_failed_recipients_header_is_a_bounce() -> None:
    parsed = with_headers(load("human_en.eml"), X_Failed_Recipients="old@acme.example")
    assert verdict(parsed) == Classification(
        MessageKind.BOUNCE,
        # flufl.bounce's Exim detector reads the same header, from the parsed headers alone (no raw bytes)
        "bounce: X-Failed-Recipients: old@acme.example; flufl.bounce permanent failure: old@acme.example",
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


# --- bounces the stock rules missed (audit/collect/bounces.py) -------------------------------------------------


def bounce_of(raw: bytes) -> Classification:
    return classify(
        parse_message(raw),
        ref_code=REF,
        submitted_at=SUBMITTED,
        received_at=SUBMITTED + timedelta(hours=3),
        sibling_texts=(),
        raw=raw,
    )


def message(headers: str, body: str) -> bytes:
    return (
        (headers.strip() + "\r\n\r\n" + body.strip() + "\r\n")
        .replace("\r\n", "\n")
        .replace("\n", "\r\n")
        .encode()
    )


BASE = "From: Acme Mail <mail@acme.example>\nTo: dana.k7q29f@r.audit.example\nDate: Mon, 3 Mar 2025 08:13:00 +0000"


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        (
            "This is the mail system at host mx.acme.example.\n\nI'm sorry to have to inform you...",
            "this is the mail system at host",
        ),
        (
            "Hi. This is the qmail-send program at acme.example.\nI'm afraid I wasn't able to deliver",
            "hi. this is the qmail-send program",
        ),
        (
            "Delivery to the following recipient failed permanently:\n\n     old@acme.example",
            "delivery to the following recipient failed permanently",
        ),
        (
            "Your message wasn't delivered to old@acme.example because the address couldn't be found.",
            "your message wasn't delivered",
        ),
        ("המסירה לנמענים או לקבוצות אלה נכשלה:\nold@acme.example", "המסירה לנמענים או לקבוצות אלה נכשלה"),
    ],
)
def test_mail_server_wording_is_a_bounce(body: str, phrase: str) -> None:
    result = bounce_of(message(BASE + "\nSubject: Re: Website inquiry", body))
    assert result.kind == MessageKind.BOUNCE
    assert result.rule.startswith(f"bounce: body '{phrase}'")


def test_undeliverable_with_the_address_between_is_a_bounce() -> None:
    body = "The following message to <old@acme.example> was undeliverable.\nThe reason: 550 5.1.1"
    result = bounce_of(message(BASE + "\nSubject: Website inquiry", body))
    assert result == Classification(
        MessageKind.BOUNCE, "bounce: body 'the following message to <old@acme.example> was undeliverable'"
    )


def test_quoted_server_wording_is_not_a_bounce() -> None:
    body = "Hi Dana, your first mail bounced, here is what our server said:\n> This is the mail system at host mx."
    assert bounce_of(message(BASE + "\nSubject: Re: Website inquiry", body)).kind == MessageKind.HUMAN


@pytest.mark.parametrize("name", ["Mail Delivery Subsystem", "Mail Delivery System"])
def test_mail_system_display_name_is_a_bounce(name: str) -> None:
    raw = message(f'From: "{name}" <noreply@acme.example>\nTo: dana@r.audit.example\nSubject: Hello', "Hi")
    assert bounce_of(raw) == Classification(MessageKind.BOUNCE, f"bounce: From '{name.lower()}'")


ATTACHED = """
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain

{text}
--b1
Content-Type: {part}

From: dana.k7q29f@r.audit.example
Subject: Website inquiry

Hello
--b1--
"""


def test_null_return_path_with_a_delivery_status_part_is_a_bounce() -> None:
    headers, body = ATTACHED.format(text="See attached.", part="message/delivery-status").split("\n\n", 1)
    result = bounce_of(message("Return-Path: <>\n" + BASE + "\nSubject: Notice" + headers, body))
    assert result.kind == MessageKind.BOUNCE
    assert result.rule.startswith("bounce: null Return-Path <> and a message/delivery-status part")


@pytest.mark.parametrize(
    ("subject", "kind"),
    [
        ("Unzustellbar: Anfrage", MessageKind.BOUNCE),
        ("Non remis : Demande", MessageKind.BOUNCE),
        ("לא ניתן למסירה: פנייה מהאתר", MessageKind.BOUNCE),
        ("Re: Website inquiry", MessageKind.HUMAN),  # a person forwarding the inquiry back
    ],
)
def test_failure_subject_with_the_original_attached(subject: str, kind: MessageKind) -> None:
    headers, body = ATTACHED.format(text="Could not deliver.", part="message/rfc822").split("\n\n", 1)
    result = bounce_of(message(BASE + f"\nSubject: {subject}" + headers, body))
    assert result.kind == kind
    if kind == MessageKind.BOUNCE:
        assert result.rule.startswith(f"bounce: subject '{subject}' and a message/rfc822 part")


def test_delayed_dsn_is_a_bounce_not_a_reply() -> None:
    raw = (MAIL / "dsn_bounce.eml").read_bytes().replace(b"Action: failed", b"Action: delayed")
    assert b"Action: delayed" in raw
    result = bounce_of(raw)
    assert result.kind == MessageKind.BOUNCE
    assert result.rule.startswith("bounce: multipart/report delivery-status (action: delayed)")


def test_flufl_bounce_finding_without_support_is_not_enough() -> None:
    # flufl.bounce's last-resort LLNL detector fires on a person's reply quoting a header block with
    # addresses (talon's comcast.eml); without a failure subject, mail-system sender or report part, no bounce.
    body = "Hello\n\n----- Original Message -----\nFrom: bob@acme.example\nTo: a@x.example, b@y.example, xxx@hotmail.com\nSubject: Test\n\nHi"
    raw = message("From: xxx@comcast.example\nTo: bob@acme.example\nSubject: Re: Test", body)
    assert any(all_failures(email.message_from_bytes(raw)))  # flufl.bounce alone would call it a bounce
    assert bounce_of(raw) == Classification(MessageKind.HUMAN, "human: no automatic marker")


# --- ticket systems: acknowledgement or agent's answer (audit/collect/tickets.py) ------------------------------

TICKETS = MAIL / "tickets"
TICKET_MATRIX: dict[str, tuple[str, str]] = {  # system -> (acknowledgement, agent's answer)
    "rt": ("rt_autoreply.eml", "rt_correspond.eml"),
    "zendesk": ("zendesk_ack.eml", "zendesk_reply.eml"),
    "freshdesk": ("freshdesk_ack.eml", "freshdesk_reply.eml"),
    "helpscout": ("helpscout_ack.eml", "helpscout_reply.eml"),
    "otrs": ("znuny_autoreply.eml", "znuny_reply.eml"),
    "osticket": ("osticket_ack.eml", "osticket_reply.eml"),
    "jira": ("jira_ack.eml", "jira_comment.eml"),
    "hubspot": ("hubspot_ack.eml", "hubspot_reply.eml"),
    "salesforce": ("salesforce_ack.eml", "salesforce_reply.eml"),
    "gorgias": ("gorgias_ack.eml", "gorgias_reply.eml"),
}
HEBREW_PAIR = ("zendesk_he_ack.eml", "zendesk_he_reply.eml")


def ticket_verdict(name: str, *, after: timedelta | None = None) -> Classification:
    raw = (TICKETS / name).read_bytes()
    parsed = parse_message(raw)
    assert parsed.top_received_at is not None and not parsed.malformed, parsed.defects
    received = SUBMITTED + after if after is not None else parsed.top_received_at
    return classify(
        parsed, ref_code=REF, submitted_at=SUBMITTED, received_at=received, sibling_texts=(), raw=raw
    )


def test_every_ticket_fixture_is_in_the_matrix() -> None:
    named = {name for pair in TICKET_MATRIX.values() for name in pair} | set(HEBREW_PAIR)
    assert named == {path.name for path in TICKETS.glob("*.eml")}


@pytest.mark.parametrize("system", sorted(TICKET_MATRIX))
@pytest.mark.parametrize("after", [None, timedelta(hours=5)], ids=["as_received", "hours_later"])
def test_ticket_acknowledgement(system: str, after: timedelta | None) -> None:
    # Recognised by content and headers, not by timing: the same verdict when it comes five hours late.
    result = ticket_verdict(TICKET_MATRIX[system][0], after=after)
    assert result.kind == MessageKind.AUTO_REPLY
    assert result.rule.startswith(f"auto_reply/ticket_ack:{system}: ")


@pytest.mark.parametrize("system", sorted(TICKET_MATRIX))
def test_ticket_staff_reply_is_human(system: str) -> None:
    # RT's Precedence: bulk and Jira's Auto-Submitted sit on these as well: no marketing, no auto_reply.
    result = ticket_verdict(TICKET_MATRIX[system][1])
    assert result.kind == MessageKind.HUMAN
    assert result.rule.startswith(f"human: {system} staff reply (")


def test_hebrew_ticket_pair() -> None:
    assert ticket_verdict(HEBREW_PAIR[0]) == Classification(
        MessageKind.AUTO_REPLY, "auto_reply/ticket_ack:zendesk: 'פנייתך התקבלה'"
    )
    assert ticket_verdict(HEBREW_PAIR[1]) == Classification(
        MessageKind.HUMAN, "human: zendesk staff reply (agent 'יוסי לוי')"
    )


def test_named_agent_answering_fast_is_still_human() -> None:
    result = ticket_verdict("zendesk_reply.eml", after=timedelta(seconds=90))
    assert result == Classification(MessageKind.HUMAN, "human: zendesk staff reply (agent 'Yossi Levi')")


def test_anonymous_staff_reply_within_two_minutes_counts_as_acknowledgement() -> None:
    # osTicket's answer carries no agent in From: only wording and time tell; 90 s is a machine's pace.
    assert ticket_verdict("osticket_reply.eml", after=timedelta(seconds=90)) == Classification(
        MessageKind.AUTO_REPLY, "auto_reply/ticket_ack:osticket: arrived 90 s after submission"
    )


def test_rt_autoreply_and_correspond_differ_only_in_originator_and_wording() -> None:
    ack = parse_message((TICKETS / "rt_autoreply.eml").read_bytes())
    staff = parse_message((TICKETS / "rt_correspond.eml").read_bytes())
    for parsed in (ack, staff):
        assert parsed.headers["precedence"] == ("bulk",)
        assert "x-rt-loop-prevention" in parsed.headers
    assert ack.headers["x-rt-originator"] == ("dana.k7q29f@r.audit.example",)
    # A customised AutoReply without RT's wording: RT's Autoreply action alone sets Auto-Submitted
    # (tests/mail/rt5_autoreply.eml, real RT 5.0.3), so it is still the acknowledgement hours later.
    no_wording = replace(ack, text="Thanks.", reply_text="Thanks.")
    assert verdict(no_wording, after=timedelta(hours=2)).kind is MessageKind.AUTO_REPLY
    # Without that header too, the requester as originator leaves it machine-made only by timing.
    headers = {name: values for name, values in ack.headers.items() if name != "auto-submitted"}
    bare = replace(no_wording, headers=headers)
    assert verdict(bare, after=timedelta(hours=2)).rule.startswith(
        "human: rt staff reply (no acknowledgement"
    )
    # The agent's Correspond, even from a bare queue address and fast: the originator is not the requester.
    bare_from = {**staff.headers, "from": ("rt@acme.example",)}
    quick = replace(staff, headers=bare_from, text="Yes, 49 NIS.", reply_text="Yes, 49 NIS.")
    assert verdict(quick, after=timedelta(seconds=90)).rule.startswith("human: rt staff reply (RT-Originator")
