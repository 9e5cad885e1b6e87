"""parse_message on a corpus of awkward real-world shapes (tests/mail/*.eml) and on random or damaged bytes."""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flufl.bounce import all_failures
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.collect.classify import Classification, classify
from audit.collect.parse import ParsedMessage, parse_message
from audit.collect.quotes import reply_part

MAIL = Path(__file__).parent / "mail"
CORPUS = {path.name: path.read_bytes() for path in sorted(MAIL.glob("*.eml"))}
TOKEN = "dana.k7q29f@r.audit.example"


def load(name: str) -> ParsedMessage:
    return parse_message(CORPUS[name])


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- the corpus, field by field ---------------------------------------------------------------------------

FIELDS: dict[str, dict[str, object]] = {
    "human_en.eml": {
        "message_id": "caf=8sj1kq7b3x+w9xyt@mail.acme.example",
        "subject": "Re: Pricing for the team plan",
        "from_address": "yossi.levi@acme.example",
        "from_domain": "acme.example",
        "reply_to": None,
        "return_path": "yossi.levi@acme.example",
        "envelope_recipients": (TOKEN,),
        "header_recipients": (TOKEN,),
        "date_header": utc(2025, 3, 3, 12, 40, 1),
        "date_zone_missing": False,
        "top_received_at": utc(2025, 3, 3, 12, 40, 7),  # the topmost Received, not the sender's own
        "content_type": "text/plain",
        "report_type": None,
        "html_sanitized": None,
        "malformed": False,
        "defects": (),
    },
    "quoted_signature.eml": {
        "subject": "RE: Website inquiry: delivery times",
        "header_recipients": (TOKEN, "sales@acme.example"),  # To, then Cc
        "date_header": utc(2025, 3, 4, 7, 5, 44),
        "malformed": False,
    },
    "human_he_1255.eml": {
        "subject": "Re: שאלה לגבי מחירים",
        "from_address": "moshe@acme.example",
        "message_id": "000001db8c1e$4a5b6c70$df0c4550$@acme.example",
        "date_header": utc(2025, 3, 3, 9, 31, 9),
        "malformed": False,
    },
    "html_only.eml": {
        "content_type": "text/html",
        "message_id": "caht5x2n0a=demo+q1@mail.gmail.com",
        "malformed": False,
    },
    "iso2022jp.eml": {
        "subject": "Re: お問い合わせありがとうございます",
        "from_address": "yamada@jp.acme.example",
        "from_domain": "jp.acme.example",
        "date_header": utc(2025, 3, 4, 1, 14, 58),
        "text": "カッツ様\n\nお問い合わせありがとうございます。\n見積書を明日お送りいたします。\n\n山田太郎\n",
        "malformed": False,
    },
    "no_date.eml": {
        "date_header": None,
        "date_zone_missing": False,
        "top_received_at": utc(2025, 3, 5, 8, 0, 3),
        "malformed": True,
        "defects": ("missing Date header",),
    },
    "no_message_id.eml": {"message_id": None, "from_address": "office@acme.example", "malformed": False},
    "date_minus_0000.eml": {
        "date_header": utc(2025, 3, 3, 12, 40, 1),
        "date_zone_missing": True,
        "malformed": False,
    },
    "nested_multipart.eml": {
        "content_type": "multipart/mixed",
        "text": "Hi Dana,\n\nOur current price list is attached. The 12-month plan includes on-site training.\n\nEli",
        "malformed": False,
    },
    "dsn_bounce.eml": {
        "from_address": "mailer-daemon@mail.acme.example",
        "return_path": "",
        "content_type": "multipart/report",
        "report_type": "delivery-status",
        "malformed": False,
    },
    "auto_reply_rfc3834.eml": {"return_path": "", "from_address": "info@acme.example", "malformed": False},
    "ooo_hebrew.eml": {
        "subject": "תשובה אוטומטית: פנייה מהאתר",
        "from_address": "shira.levi@acme.example",
        "return_path": "",
        "malformed": False,
    },
    "newsletter.eml": {
        "subject": "Spring sale: 20% off all plans 🌷",
        "return_path": "bounces+1234-abcd-dana.k7q29f=r.audit.example@em.acme.example",
        "content_type": "multipart/alternative",
        "malformed": False,
    },
    "helpdesk_ticket.eml": {
        "from_address": "noreply@acme.freshdesk.com",
        "from_domain": "acme.freshdesk.com",
        "reply_to": "support@acme.freshdesk.com",
        "subject": "Ticket Received - Website inquiry: bulk order [#48213]",
        "malformed": False,
    },
    "garbage_8bit_header.eml": {
        "subject": "Re: שאלה לגבי מחירים",  # raw windows-1255 bytes, read with the body's charset
        "from_address": "jose@acme.example",
        "message_id": "old.4711@old-mailer.acme.example",
        "text": 'שלום דנה, המחיר הוא 120 ש"ח ליחידה.\nחוסה\n',
        "malformed": True,
    },
    "truncated_multipart.eml": {"content_type": "multipart/alternative", "malformed": True},
    # Real Request Tracker 5.0.3 mail through Postfix (tests/mail/rt5_README.md): Date in +0200.
    "rt5_autoreply.eml": {
        "subject": "[acme.test #1] AutoReply: Question about a monthly plan",
        "from_address": "rt@acme.test",
        "return_path": "rt@acme.test",
        "envelope_recipients": ("dana.w9pbp8ddw@replies.audit.test",),
        "date_header": utc(2026, 12, 7, 12, 28, 23),
        "top_received_at": utc(2026, 12, 7, 12, 28, 23),
        "content_type": "multipart/alternative",
        "malformed": False,
    },
    "rt5_correspond.eml": {
        "subject": "[acme.test #1] Question about a monthly plan",
        "from_address": "rt@acme.test",
        "envelope_recipients": ("dana.w9pbp8ddw@replies.audit.test",),
        "date_header": utc(2026, 12, 7, 12, 29, 25),
        "content_type": "multipart/alternative",
        "malformed": False,
    },
}


def test_every_corpus_file_has_expectations() -> None:
    assert set(FIELDS) == set(CORPUS)


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_corpus_fields(name: str) -> None:
    parsed = load(name)
    assert {key: getattr(parsed, key) for key in FIELDS[name]} == FIELDS[name]
    check_invariants(parsed)


# What reply_text must keep, and what (quoted history, signature) it must have dropped.
REPLIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "human_en.eml": (
        ("Hi Dana,", "$12 per user", "Would Wednesday at\n11:00 work for you?"),
        ("Yossi Levi", "+972-3-555-0100", "-- "),
    ),
    "quoted_signature.eml": (
        (
            "Hi Dana,",
            "1-2 business days",
            "- Express delivery costs 35 ILS",
            "- Pickup from our warehouse is free",
        ),
        ("Kind regards", "Ronit Shalev", "Original Message", "how long does delivery", "K7Q2-9F"),
    ),
    "human_he_1255.eml": (
        ("שלום דנה,", 'הוא 450 ש"ח לחודש', "מחר בבוקר."),
        ("בברכה", "משה כהן", "03-5550102", "כתב/ה", "מה המחיר", "K7Q2-9F"),
    ),
    "html_only.eml": (
        ("Thursday 6 March at 15:00",),
        (
            "Best regards",
            "Noa Peretz",
            "wrote:",
            "I would like to see a demo",
            "K7Q2-9F",
            "document.location",
        ),
    ),
    "helpdesk_ticket.eml": (
        ("we have received your request", "Thank you for your patience."),
        ("Sincerely", "Acme Support Team", "wrote:", "200 units", "K7Q2-9F"),
    ),
    "ooo_hebrew.eml": (("אני מחוץ למשרד עד יום ראשון",), ("שירה לוי",)),
    "dsn_bounce.eml": (("could not\nbe delivered", "User unknown"), ()),
}


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_reply_text_drops_quotes_and_signature(name: str) -> None:
    kept, dropped = REPLIES[name]
    parsed = load(name)
    for fragment in kept:
        assert fragment in parsed.reply_text
    for fragment in dropped:
        assert fragment not in parsed.reply_text
    assert parsed.reply_text == parsed.reply_text.strip()


def test_quoted_history_stays_in_text() -> None:
    # Matching looks for the reference code in the quoted original, so `text` keeps everything.
    for name in ("quoted_signature.eml", "human_he_1255.eml", "helpdesk_ticket.eml", "html_only.eml"):
        assert "Ref: K7Q2-9F" in load(name).text


def test_html_only_is_sanitized_without_scripts_or_remote_images() -> None:
    parsed = load("html_only.eml")
    html = parsed.html_sanitized
    assert html is not None
    assert "<p>Hi Dana,</p>" in html
    for gone in (
        "<script",
        "document.location",
        "evil.example",
        "<style",
        "t.acme-mail.example",
        "onclick",
        "javascript:",
    ):
        assert gone not in html
    assert 'src="cid:logo@acme.example"' in html  # inline images stay
    assert "Thursday 6 March at 15:00" in parsed.text  # text made from the HTML by inscriptis
    assert "document.location" not in parsed.text


@pytest.mark.parametrize("foreign", ["math", "svg"])
def test_an_unclosed_style_inside_math_or_svg_drops_nothing_after_it(foreign: str) -> None:
    """Issue 11: in MathML and SVG a <style> is no raw-text element, so a browser shows what follows it; the
    sanitiser and the text must keep it too (the text once lost everything after it)."""
    raw = (
        "From: Ruth <ruth@acme.example>\r\nTo: dana@replies.example.org\r\nSubject: Re: your question\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        f"<p>Hello Dana,</p><{foreign}><style>x{{color:red}}</{foreign}>"
        "<p>We can offer a call on Tuesday at 10:00.</p><p>Best, Ruth</p><script>alert(1)</script>"
    ).encode()
    parsed = parse_message(raw)
    assert parsed.html_sanitized is not None
    for kept in ("Hello Dana,", "We can offer a call on Tuesday at 10:00.", "Best, Ruth"):
        assert kept in parsed.html_sanitized and kept in parsed.text
    assert "<style" not in parsed.html_sanitized and "<script" not in parsed.html_sanitized
    assert "alert" not in parsed.text and "color:red" not in parsed.text


def test_nested_multipart_reads_the_plain_body_and_the_related_html() -> None:
    parsed = load("nested_multipart.eml")
    assert parsed.html_sanitized is not None
    assert 'src="cid:sig-logo@acme.example"' in parsed.html_sanitized
    assert "%PDF" not in parsed.text  # the attachment is not body text


def test_newsletter_html_loses_its_tracking_pixel() -> None:
    html = load("newsletter.eml").html_sanitized
    assert html is not None
    assert "wf/open" not in html
    assert "Shop now" in html


def test_dsn_is_a_bounce_for_flufl_bounce_too() -> None:
    parsed = load("dsn_bounce.eml")
    assert parsed.text.startswith("This is the mail system at host mail.acme.example.")
    assert "\r" not in parsed.text
    assert "Name: Dana Katz" not in parsed.text  # the returned original is not the body
    _temporary, permanent = all_failures(email.message_from_bytes(CORPUS["dsn_bounce.eml"]))
    assert permanent == {b"old-sales@acme.example"}


def test_headers_are_decoded_lower_cased_and_in_order() -> None:
    parsed = load("human_en.eml")
    assert isinstance(parsed.headers, Mapping)
    assert len(parsed.headers["received"]) == 2
    assert parsed.headers["received"][0].startswith("from mail.acme.example")
    assert parsed.headers["received"][0].endswith("Mon,  3 Mar 2025 12:40:07 +0000 (UTC)")  # unfolded
    assert load("ooo_hebrew.eml").headers["thread-topic"] == ("פנייה מהאתר",)
    assert load("quoted_signature.eml").headers["x-auto-response-suppress"] == ("All",)


def test_garbage_8bit_headers_are_read_and_reported() -> None:
    parsed = load("garbage_8bit_header.eml")
    assert "8-bit bytes in subject header are not UTF-8" in parsed.defects
    assert "8-bit bytes in x-mailer header are not UTF-8" in parsed.defects
    assert "OldMailer" in parsed.headers["x-mailer"][0]
    assert "\x00" not in parsed.headers["x-mailer"][0]


def test_truncated_multipart_keeps_what_arrived() -> None:
    parsed = load("truncated_multipart.eml")
    assert "close boundary not found" in parsed.defects
    assert parsed.text.startswith("Hi Dana, installation takes about two hours")
    assert parsed.html_sanitized is not None
    assert "Tuesday mor" in parsed.html_sanitized


# --- small hand-made messages -----------------------------------------------------------------------------

HEAD = b"From: a@acme.example\nDate: Mon, 3 Mar 2025 10:00:00 +0000\n"


def test_garbage_date_is_none_with_a_defect() -> None:
    parsed = parse_message(b"From: a@acme.example\nDate: next Tuesday-ish\n\nhi")
    assert parsed.date_header is None
    assert parsed.malformed
    assert parsed.defects == ("unparseable Date header: next Tuesday-ish",)


def test_date_without_zone_is_utc_but_flagged() -> None:
    parsed = parse_message(b"From: a@acme.example\nDate: Mon, 3 Mar 2025 10:00:00\n\nhi")
    assert parsed.date_header == utc(2025, 3, 3, 10, 0, 0)
    assert parsed.date_zone_missing


def test_date_with_offset_becomes_utc() -> None:
    parsed = parse_message(b"From: a@acme.example\nDate: Mon, 3 Mar 2025 10:00:00 +0200 (IST)\n\nhi")
    assert parsed.date_header == utc(2025, 3, 3, 8, 0, 0)
    assert parsed.date_header is not None and parsed.date_header.utcoffset() == timedelta(0)


def test_envelope_recipients_follow_header_name_order_and_are_deduplicated() -> None:
    parsed = parse_message(
        HEAD
        + b"X-Original-To: second@r.example\nDelivered-To: First@R.example\nEnvelope-To: third@r.example, "
        b"first@r.example\nDelivered-To: <first@r.example>\nX-Delivered-To: fourth@r.example\n"
        b'To: "Katz, Dana" <first@r.example>, bob@r.example\nCc: undisclosed-recipients:;\n\nhi'
    )
    assert parsed.envelope_recipients == (
        "first@r.example",
        "second@r.example",
        "third@r.example",
        "fourth@r.example",
    )
    assert parsed.header_recipients == ("first@r.example", "bob@r.example")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"<>", ""),
        (b" < > ", ""),
        (b"<Bounce@ESP.example>", "bounce@esp.example"),
        (b"bare@esp.example", "bare@esp.example"),
    ],
)
def test_return_path(header: bytes, expected: str) -> None:
    assert parse_message(HEAD + b"Return-Path: " + header + b"\n\nhi").return_path == expected


def test_message_id_is_normalised() -> None:
    assert (
        parse_message(HEAD + b"Message-ID:  < AbC.1@Mail.Example >\n\nhi").message_id == "abc.1@mail.example"
    )
    assert parse_message(HEAD + b"Message-ID: <\n\nhi").message_id is None


def test_received_without_date_gives_no_time() -> None:
    parsed = parse_message(
        HEAD + b"Received: by mx.example with LMTP\nReceived: x; Mon, 3 Mar 2025 1:00 +0000\n\nhi"
    )
    assert parsed.top_received_at is None  # only the topmost counts: it is the one our server added


def test_unreadable_from_is_a_defect() -> None:
    parsed = parse_message(b"From: <\nDate: Mon, 3 Mar 2025 10:00:00 +0000\n\nhi")
    assert parsed.from_address is None
    assert parsed.defects == ("unreadable From header: <",)


@pytest.mark.parametrize(
    ("charset", "text", "defect"),
    [
        (b"windows-1255", "שלום", None),
        (b"iso-8859-8-i", "שלום", None),
        (b"utf-8", "ùìåí", "text declared as utf-8 read as cp1252"),
        (b"x-unknown-charset", "ùìåí", "text declared as x-unknown-charset read as cp1252"),
        (b"unicode_escape", "ùìåí", "text declared as unicode_escape read as cp1252"),
    ],
)
def test_charset_fallback(charset: bytes, text: str, defect: str | None) -> None:
    parsed = parse_message(HEAD + b"Content-Type: text/plain; charset=" + charset + b"\n\n\xf9\xec\xe5\xed")
    assert parsed.text == text
    assert parsed.defects == ((defect,) if defect else ())


def test_undeclared_utf8_is_fine_and_cp1252_is_reported() -> None:
    assert parse_message(HEAD + "\nשלום".encode()).text == "שלום"
    parsed = parse_message(HEAD + b"\nna\xefve")
    assert parsed.text == "naïve"
    assert parsed.defects == ("undeclared 8-bit text read as cp1252",)


def test_bad_base64_is_reported() -> None:
    parsed = parse_message(HEAD + b"Content-Transfer-Encoding: base64\n\nSGVsbG8gd29ybGQ")
    assert parsed.text == "Hello world"
    assert "invalid base64 padding" in parsed.defects


def test_nul_and_control_characters_do_not_reach_the_html() -> None:
    parsed = parse_message(HEAD + b"Content-Type: text/html\n\n<p>a\x00b\x01c</p><script>x()</script>")
    assert parsed.html_sanitized == "<p>abc</p>"
    assert parsed.text.strip() == "abc"


def test_nesting_too_deep_for_the_parser_keeps_the_headers() -> None:
    raw = HEAD + b"Subject: deep\nContent-Type: multipart/mixed; boundary=b0\n\n"
    raw += b"".join(
        b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (i, i + 1) for i in range(3000)
    )
    parsed = parse_message(raw)
    assert parsed.subject == "deep"
    assert parsed.from_address == "a@acme.example"
    assert parsed.malformed


def test_empty_input() -> None:
    parsed = parse_message(b"")
    assert parsed.text == "" and parsed.subject is None and parsed.content_type == "text/plain"
    assert parsed.defects == ("missing From header", "missing Date header")


# --- reply_text on its own --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "היי דנה,\nהמחיר הוא 300.\n\n\u202bבתאריך יום ב׳, 3 במרץ 2025 ב-10:12 מאת \u202aדנה\u202c <\u202ad@x.example\u202c>:\u202c\n> ש",
            "היי דנה,\nהמחיר הוא 300.",
            id="gmail-hebrew",
        ),
        pytest.param(
            "שלום,\nנשמח לעזור.\n\nמאת: דנה <d@x.example>\nנשלח: יום שני 3 מרץ 2025 10:12\nאל: מכירות\nנושא: שאלה\n\nשאלה",
            "שלום,\nנשמח לעזור.",
            id="outlook-hebrew",
        ),
        pytest.param(
            "שלום,\nבסדר.\n\n-----הודעה מקורית-----\nמאת: דנה\nשאלה", "שלום,\nבסדר.", id="original-hebrew"
        ),
        pytest.param(
            "Sure.\n\nOn Mon, 3 Mar 2025 at 10:12, Dana Katz\n<d@x.example> wrote:\n> Meet?",
            "Sure.",
            id="two-line",
        ),
        pytest.param(
            "Gerne.\n\nAm 03.03.2025 um 10:12 schrieb Dana <d@x.example>:\n> Frage", "Gerne.", id="german"
        ),
        pytest.param(
            "Answer.\n\n________________________________\nFrom: Dana\nSent: Monday\n\nq",
            "Answer.",
            id="outlook-rule",
        ),
        pytest.param(
            "On Mon, 3 Mar 2025, Dana <d@x.example> wrote:\n> Price?\n\nIt is 40.",
            "It is 40.",
            id="bottom-post",
        ),
        pytest.param("> Price?\n40 ILS.\n> Delivery?\nYes.", "40 ILS.\nYes.", id="interleaved"),
        pytest.param("In stock.\n\nSent from my iPhone", "In stock.", id="mobile"),
        pytest.param("יש במלאי.\n\nנשלח מה-iPhone שלי", "יש במלאי.", id="mobile-hebrew"),
        pytest.param("Price is 40.\n\nתודה רבה,\nדנה\n050-5550100", "Price is 40.", id="hebrew-thanks"),
        pytest.param("המחיר 40.\nבכבוד רב,\nמשה כהן", "המחיר 40.", id="hebrew-respect"),
        pytest.param(
            "Hi,\nThanks, we got it and looked at every part of your question in detail with the whole team this week.\n"
            "More detail follows here in a line long enough that it cannot be part of a signature block at all.\nDana",
            "Hi,\nThanks, we got it and looked at every part of your question in detail with the whole team this week.\n"
            "More detail follows here in a line long enough that it cannot be part of a signature block at all.\nDana",
            id="thanks-mid-text-kept",
        ),
        pytest.param(
            "---------- Forwarded message ---------\nFrom: Dana <d@x.example>\nDate: Mon\nSubject: q\n\nquestion",
            "question",
            id="forward-only",
        ),
    ],
)
def test_reply_part(text: str, expected: str) -> None:
    assert reply_part(text) == expected


def test_reply_part_is_fast_on_long_lines() -> None:
    # mail-parser-reply's "On ... wrote:" pattern is quadratic on a long line starting with "On".
    started = time.monotonic()
    reply_part("Hi\nOn " + "word " * 40_000)
    assert time.monotonic() - started < 2


# --- never raises -----------------------------------------------------------------------------------------


def check_invariants(parsed: ParsedMessage) -> None:
    assert isinstance(parsed, ParsedMessage)
    strings = [parsed.text, parsed.reply_text, parsed.content_type, *parsed.defects]
    strings += [
        value for value in (parsed.subject, parsed.html_sanitized, parsed.message_id) if value is not None
    ]
    strings += [*parsed.envelope_recipients, *parsed.header_recipients]
    for name, values in parsed.headers.items():
        assert isinstance(values, tuple)
        strings += [name, *values]
    for value in strings:
        assert isinstance(value, str)
        value.encode("utf-8")  # no lone surrogates
        assert "\x00" not in value  # PostgreSQL text refuses NUL
    for moment in (parsed.date_header, parsed.top_received_at):
        assert moment is None or moment.utcoffset() == timedelta(0)
    assert parsed.malformed == bool(parsed.defects)
    verdict = classify(
        parsed,
        ref_code="K7Q2-9F",
        submitted_at=utc(2025, 3, 3),
        received_at=utc(2025, 3, 3, 1),
        sibling_texts=["x"],
    )
    assert isinstance(verdict, Classification)


FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise(raw: bytes) -> None:
    check_invariants(parse_message(raw))


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            [
                b"From: a@b.c\n",
                b"Content-Type: multipart/mixed; boundary=x\n",
                b"--x\n",
                b"--x--\n",
                b"\n",
                b"=?utf-8?b?",
                b"?=",
                b"Date: -0000\n",
                b"\xff\xfe",
                b"<",
                b";",
                b"Content-Transfer-Encoding: base64\n",
                b'charset="',
                b"\r",
            ]
        ),
        max_size=60,
    )
)
def test_mime_like_fragments_never_raise(chunks: list[bytes]) -> None:
    check_invariants(parse_message(b"".join(chunks)))


@st.composite
def mutated_corpus(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(sorted(CORPUS.values()))))
    for operation in draw(
        st.lists(
            st.sampled_from(["flip", "truncate", "duplicate", "insert", "delete"]), min_size=1, max_size=5
        )
    ):
        at = draw(st.integers(0, len(raw)))
        if operation == "flip" and at < len(raw):
            raw[at] = draw(st.integers(0, 255))
        elif operation == "truncate":
            del raw[at:]
        elif operation == "duplicate":  # a header line (or any line) repeated elsewhere
            lines = bytes(raw).split(b"\n")
            line = lines[draw(st.integers(0, len(lines) - 1))]
            lines.insert(draw(st.integers(0, len(lines))), line)
            raw = bytearray(b"\n".join(lines))
        elif operation == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=40))
        else:
            del raw[at : at + draw(st.integers(1, 200))]
    return bytes(raw)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_corpus())
def test_mutated_corpus_never_raises(raw: bytes) -> None:
    check_invariants(parse_message(raw))


def test_corpus_is_valid_for_the_stdlib_parser_too() -> None:
    # The corpus is realistic: the strict policy reads every well-formed file without complaint.
    for name, raw in CORPUS.items():
        if not FIELDS[name].get("malformed"):
            message = email.message_from_bytes(raw, policy=email.policy.default)
            assert message["from"] is not None, name
