"""Request Tracker 5 behind Postfix, both real (tests/rt5.py): its acknowledgement and an agent's answer.

A customer's inquiry (our persona, from a per-inquiry reply address made as audit/tokens.py makes them) is
mailed by SMTP to the company's queue address; Postfix pipes it into RT through rt-mailgate; RT's stock
"On Create Autoreply To Requestors" scrip answers with its "Autoreply in HTML" template; an agent answers
with the rt command-line client; Postfix delivers both to a Maildir, which the project's Maildir collector
reads. Nothing here is written by us except the inquiry and the agents' words.

The agents answer only after `TEMPLATED_WINDOW` has passed since the submission: the classifier calls a
reply within a minute templated (audit/collect/classify.py, rule 5), and no person answers that fast.
"""

from __future__ import annotations

import email
import email.policy
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from audit.collect.classify import TEMPLATED_WINDOW
from audit.collect.maildir import collect_maildir_once
from audit.db import open_database
from audit.grading.calendar import BusinessCalendar
from audit.grading.latency import probe_timeline
from audit.grading.store import load_wave_facts
from audit.models import Company, Message, MessageKind, Probe, Wave
from audit.tokens import compose_message, new_ref_code, new_token, reply_address
from tests.dbutil import sqlite_url
from tests.rt5 import REPLY_DOMAIN, RT_QUEUE_ADDRESS, Rt5Stack

MAIL = Path(__file__).parent / "mail"
ADDRESS_TEMPLATE = f"dana.{{token}}@{REPLY_DOMAIN}"  # mailbox.address, a catch-all domain
PERSONA = ("Dana", "Levi")
# The saved copies (tests/mail/rt5_README.md): the English inquiry's reply address, code and submission.
SAVED_TOKEN = "w9pbp8ddw"
SAVED_REF = "WH0J-E3"
SAVED_SUBMITTED_AT = datetime(2026, 12, 7, 12, 28, 23, 212374, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    company: str
    name: str
    subject: str
    inquiry: str  # audit's inquiry.message, before compose_message()
    agent: str  # an agent of tests/data/rt5/initialdata.pl
    answer: str


CASES = (
    Case(
        company="acme",
        name="Acme",
        subject="Question about a monthly plan",
        inquiry=(
            "Hello,\nI am thinking of becoming a customer of {company}. Do you have a monthly payment plan, "
            "and what do I need to get started?\nThanks,\n{first_name} {last_name}"
        ),
        agent="yossi",
        answer=(
            "Hi Dana,\n\nYes, we do: the monthly plan is 49 NIS a month with no commitment, and you can "
            "cancel any time. To get started I only need your company name and a phone number; I can call "
            "you tomorrow morning to set it up if that suits you.\n\nBest regards,\nYossi Levi\nSales, Acme"
        ),
    ),
    Case(
        company="acme-il",
        name="אקמה",
        subject="שאלה לגבי תוכנית חודשית",
        inquiry=(
            "שלום,\nאני שוקלת להצטרף כלקוחה של {company}. האם יש אצלכם תוכנית תשלום חודשית, ומה צריך כדי "
            "להתחיל?\nתודה,\nדנה לוי"
        ),
        agent="ruth",
        answer=(
            "שלום דנה,\n\nכן, יש לנו תוכנית חודשית ב-49 ש״ח לחודש, בלי התחייבות. כדי להתחיל אני צריכה רק את "
            "שם החברה ומספר טלפון, ואשמח להתקשר אלייך מחר בבוקר.\n\nבברכה,\nרות כהן\nמחלקת מכירות, אקמה"
        ),
    ),
)


@dataclass
class Sent:
    case: Case
    probe_id: int
    token: str
    ref: str
    address: str
    submitted_at: datetime


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    # The collector's own database code is tested on both back ends in tests/test_collect.py; here the
    # subject is RT's mail, so one SQLite file is enough.
    engine = open_database(sqlite_url(tmp_path))
    yield engine
    engine.dispose()


def _plan(engine: Engine) -> tuple[int, list[Sent]]:
    """A wave with one probe per case, as `audit run` leaves it just before the submission."""
    planned: list[Sent] = []
    with Session(engine) as session:
        wave = Wave(audit_name="rt5")
        session.add(wave)
        for case in CASES:
            session.add(
                Company(
                    id=case.company, name=case.name, contact_url="mailto:rt@acme.test", domain="acme.test"
                )
            )
        session.flush()
        assert wave.id is not None
        for case in CASES:
            token, ref = new_token(), new_ref_code()
            address = reply_address(ADDRESS_TEMPLATE, token)
            probe = Probe(wave_id=wave.id, company_id=case.company, token=token, ref_code=ref,
                          reply_address=address, contact_url=f"mailto:{RT_QUEUE_ADDRESS}")  # fmt: skip
            session.add(probe)
            session.flush()
            assert probe.id is not None
            planned.append(Sent(case, probe.id, token, ref, address, submitted_at=datetime.now(UTC)))
        session.commit()
        return wave.id, planned


def _inquiry(sent: Sent) -> bytes:
    case = sent.case
    message = EmailMessage()
    message["From"] = f"{PERSONA[0]} {PERSONA[1]} <{sent.address}>"
    message["To"] = RT_QUEUE_ADDRESS
    message["Subject"] = case.subject
    message["Date"] = format_datetime(sent.submitted_at)
    message["Message-ID"] = make_msgid(domain=REPLY_DOMAIN)
    message.set_content(
        compose_message(
            case.inquiry, ref=sent.ref, company=case.name, first_name=PERSONA[0], last_name=PERSONA[1]
        )
    )
    return bytes(message)


def _submit(engine: Engine, rt5: Rt5Stack, sent: Sent) -> None:
    """Send the inquiry and record it as the runner would: the submission time is when it left."""
    sent.submitted_at = datetime.now(UTC)
    rt5.postfix.send(_inquiry(sent), sender=sent.address, recipient=RT_QUEUE_ADDRESS)
    with Session(engine) as session:
        probe = session.get(Probe, sent.probe_id)
        assert probe is not None
        probe.state, probe.outcome, probe.detail = "finished", "submitted", "SUBMITTED_CONFIRMED"
        probe.submitted_at, probe.submitted_at_source = sent.submitted_at, "smtp"
        session.add(probe)
        session.commit()


def _to(address: str, *, auto: bool) -> Callable[[bytes], bool]:
    """A Maildir file for `address`: RT's AutoReply (Auto-Submitted) or another message."""
    envelope = f"Delivered-To: {address}".encode()

    def wanted(raw: bytes) -> bool:
        return envelope in raw and (b"\nAuto-Submitted: auto-replied" in raw) == auto

    return wanted


def _headers(raw: bytes) -> frozenset[str]:
    parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    return frozenset(name.lower() for name in parsed)


def test_rt5_acknowledgement_and_agent_reply_are_collected_classified_and_timed(
    rt5: Rt5Stack, engine: Engine, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    for package, version in rt5.versions.items():
        record_property(package, version)
    print(f"request-tracker5 {rt5.versions['request-tracker5']}, postfix {rt5.versions['postfix']}")
    wave_id, planned = _plan(engine)
    for sent in planned:
        _submit(engine, rt5, sent)

    acks = {sent.token: rt5.postfix.wait_for(_to(sent.address, auto=True)) for sent in planned}
    tickets = {sent.token: rt5.rt.find_ticket(sent.case.agent, requestor=sent.address) for sent in planned}
    assert len(set(tickets.values())) == len(planned), "one RT ticket per inquiry"

    # A person does not answer within a minute; wait until none of the inquiries is that fresh.
    last = max(sent.submitted_at for sent in planned)
    time.sleep(max(0.0, (last + TEMPLATED_WINDOW + timedelta(seconds=2) - datetime.now(UTC)).total_seconds()))
    for sent in planned:
        rt5.rt.correspond(tickets[sent.token], sent.case.agent, sent.case.answer)
    answers = {sent.token: rt5.postfix.wait_for(_to(sent.address, auto=False)) for sent in planned}

    stats = collect_maildir_once(engine, rt5.postfix.maildir, data_dir=tmp_path / "data")
    assert stats.errors == [], stats.errors
    assert stats.stored >= 2 * len(planned)  # the session's Maildir may hold other tests' mail too

    calendar = BusinessCalendar(zone=ZoneInfo("UTC"), workdays=frozenset(range(7)),
                                opens=datetime.min.time(), closes=datetime.max.time())  # fmt: skip
    with Session(engine) as session:
        facts = load_wave_facts(session, wave_id)
        for sent in planned:
            messages = session.exec(
                select(Message).where(Message.probe_id == sent.probe_id).order_by(col(Message.received_at))
            ).all()
            context = (
                f"{sent.case.company}: {[(m.subject, m.kind, m.kind_rule) for m in messages]}\n{rt5.logs()}"
            )
            assert len(messages) == 2, context
            ack, answer = messages
            assert ack.delivery_key == acks[sent.token].name.split(":")[0], context
            assert answer.delivery_key == answers[sent.token].name.split(":")[0], context

            # Matched by the token in the envelope (Postfix's Delivered-To), not by a weaker rule.
            assert {(m.match_method, m.match_confidence) for m in messages} == {("token:envelope", "high")}

            # RT's own acknowledgement, recognised as the system's, by its wording.
            assert ack.kind == MessageKind.AUTO_REPLY, context
            assert (ack.kind_rule or "").startswith(
                "auto_reply/ticket_ack:rt: 'this message has been automatically"
            )
            assert ack.subject is not None and f"[acme.test #{tickets[sent.token]}] AutoReply:" in ack.subject
            # The agent's answer: a person's, from the same address and with the same ticket tag.
            assert answer.kind == MessageKind.HUMAN, context
            assert (answer.kind_rule or "").startswith("human: rt staff reply"), context
            assert answer.from_address == ack.from_address == RT_QUEUE_ADDRESS
            assert sent.case.answer.splitlines()[0] in (answer.reply_text or ""), answer.reply_text

            # Timed from our mail server's Received line; RT's Date header (Asia/Jerusalem) agrees with it.
            for message in messages:
                assert message.received_at_source == "received_header"
                assert message.date_header is not None and not message.date_suspicious
                assert abs(message.date_header - message.received_at) <= timedelta(seconds=2)
            to_ack = ack.received_at - sent.submitted_at
            to_answer = answer.received_at - sent.submitted_at
            assert timedelta(seconds=-1) <= to_ack <= timedelta(seconds=30), to_ack  # Received: whole seconds
            assert TEMPLATED_WINDOW <= to_answer <= TEMPLATED_WINDOW + timedelta(minutes=2), to_answer

            # And grading reads them as the first acknowledgement and the first human reply.
            probe = next(probe for probe in facts.probes if probe.id == sent.probe_id)
            timeline = probe_timeline(probe, facts.messages[sent.probe_id], calendar=calendar,
                                      deadline=timedelta(days=7), late_window=timedelta(days=30),
                                      as_of=datetime.now(UTC))  # fmt: skip
            assert timeline.first_ack is not None and timeline.first_ack.id == ack.id
            assert timeline.first_human is not None and timeline.first_human.id == answer.id
            assert timeline.wall_seconds_to_ack == pytest.approx(max(0.0, to_ack.total_seconds()))
            assert timeline.wall_seconds_to_human == pytest.approx(to_answer.total_seconds())

    english = planned[0]
    if os.environ.get("RT5_SAVE_MAIL"):  # refresh tests/mail/rt5_*.eml (and tests/mail/rt5_README.md by hand)
        (MAIL / "rt5_autoreply.eml").write_bytes(acks[english.token].read_bytes())
        (MAIL / "rt5_correspond.eml").write_bytes(answers[english.token].read_bytes())
        print(
            f"saved: token {english.token}, ref {english.ref}, submitted {english.submitted_at.isoformat()}"
        )
    saved = MAIL / "rt5_autoreply.eml"
    if rt5.versions["request-tracker5"].encode() in saved.read_bytes():
        # The same RT writes the same headers (in another order): the saved copies still stand for it.
        assert _headers(acks[english.token].read_bytes()) == _headers(saved.read_bytes())
        assert _headers(answers[english.token].read_bytes()) == _headers(
            (MAIL / "rt5_correspond.eml").read_bytes()
        )


def test_saved_rt5_mail_is_collected_as_it_was_live(engine: Engine, tmp_path: Path) -> None:
    """The saved real RT mail (no RT needed): acknowledgement, then the agent's answer, for the same probe."""
    with Session(engine) as session:
        wave = Wave(audit_name="rt5-saved")
        session.add(wave)
        session.add(Company(id="acme", name="Acme", contact_url="mailto:rt@acme.test", domain="acme.test"))
        session.flush()
        assert wave.id is not None
        session.add(Probe(wave_id=wave.id, company_id="acme", token=SAVED_TOKEN, ref_code=SAVED_REF,
                          reply_address=reply_address(ADDRESS_TEMPLATE, SAVED_TOKEN), contact_url="mailto:rt@acme.test",
                          state="finished", outcome="submitted", submitted_at=SAVED_SUBMITTED_AT))  # fmt: skip
        session.commit()
    box = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True)
    for name in ("rt5_autoreply.eml", "rt5_correspond.eml"):
        (box / "new" / name.replace(".eml", "")).write_bytes((MAIL / name).read_bytes())
    stats = collect_maildir_once(engine, box, data_dir=tmp_path / "data")
    assert (stats.stored, stats.errors) == (2, [])
    with Session(engine) as session:
        messages = session.exec(select(Message).order_by(col(Message.received_at))).all()
    assert [(m.kind, m.match_method) for m in messages] == [
        (MessageKind.AUTO_REPLY, "token:envelope"),
        (MessageKind.HUMAN, "token:envelope"),
    ]
    ack, answer = messages
    assert (ack.kind_rule or "").startswith("auto_reply/ticket_ack:rt:")
    assert (answer.kind_rule or "").startswith("human: rt staff reply")
    assert ack.received_at - SAVED_SUBMITTED_AT < timedelta(seconds=5)
    assert answer.received_at - SAVED_SUBMITTED_AT >= TEMPLATED_WINDOW
