"""grade_wave on hand-made waves in a real database: times, tiers, promises, overrides, and the CLI.

Rows are inserted the way the runner and the collector leave them (Company, Wave, Probe, Message); a phone
reply goes through `audit reply add`'s own function. Persistence and overrides run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, event, func
from sqlmodel import Session, select

from audit.cli import cli
from audit.collect.manual import add_manual_reply
from audit.collect.quotes import reply_part
from audit.config import AuditConfig, QualityThresholds, parse_config
from audit.db import open_database
from audit.errors import GradingError
from audit.grading import grade_wave, previous_wave_id, set_override, stored_wave_grades, wave_deadline
from audit.grading.latency import NOT_REACHED_REASONS
from audit.grading.types import ProbeResult, SubmitTimeClass, Tier, WaveGrades
from audit.models import Company, GradeOverride, Message, Probe, ProbeGrade, Wave
from tests.dbutil import sqlite_url

JERUSALEM = ZoneInfo("Asia/Jerusalem")
MONDAY_10AM = datetime(2026, 11, 30, 10, 0, tzinfo=JERUSALEM)  # a working day in Israel

CONFIG = """\
audit:
  name: Grading test
  timezone: Asia/Jerusalem
  country: IL
{extra}
mailbox: {{address: "dana.{{token}}@replies.example.org"}}
persona: {{first_name: Dana, last_name: Levi, phone: "050-1234567"}}
inquiry:
  subject: Monthly plan
  message: "Hi, do you offer a monthly plan, and what does it cost?\\nThanks,\\nDana Levi"
  answer_parts: [{{kind: yes_no, words: [monthly plan, monthly]}}, {{kind: price}}]
companies:
  - {{id: acme, name: Acme Insurance, sector: insurance, contact_url: "https://www.acme.test/contact"}}
"""

GOOD = """Hi Dana,

Thank you for contacting Acme! Yes, we do offer a monthly plan: it costs $49 per month.
I'd be happy to call you tomorrow to go over the details. Happy to help with anything else.

Best regards,
Michael Cohen
Sales, Acme Insurance
Tel. 03-5551234
"""
POOR = "Dear customer,\n\nPlease call our service centre at *2323.\n\nThe Acme Team\n"
ACK = "We have received your request. A representative will reply within 2 business days."
NEWSLETTER = "Our winter sale starts now! 20% off every plan."
HE_CONFIG = """\
audit: {name: Grading test, timezone: Asia/Jerusalem, country: IL, language: he}
mailbox: {address: "dana.{token}@replies.example.org"}
persona: {first_name: Dana, last_name: Levi, phone: "050-1234567"}
inquiry:
  subject: תוכנית חודשית
  message: "שלום,\\nהאם יש אצלכם תוכנית תשלום חודשית, ומה המחיר?\\nתודה,\\nדנה לוי"
  answer_parts: [{kind: yes_no, words: [תוכנית, חודשית]}, {kind: price}]
companies: [{id: acme, name: אקמי, contact_url: "https://www.acme.co.il/contact"}]
"""
HEBREW_GOOD = """שלום דנה,
תודה על פנייתך! כן, יש לנו תוכנית חודשית במחיר 49 ש"ח. אשמח לתאם איתך שיחה מחר בבוקר.
נשמח לעזור בכל שאלה.

בברכה,
יוסי כהן
טל' 03-5551234
"""
HEBREW_POOR = "לקוח/ה יקר/ה,\nנא לפנות למוקד שירות הלקוחות בטלפון *2323.\nצוות שירות הלקוחות\n"
HEBREW_COLD = 'דנה שלום,\nכן, קיימת תוכנית חודשית, 49 ש"ח לחודש.\nבברכה,\nיוסי'


def make_config(extra: str = "") -> AuditConfig:
    return parse_config(CONFIG.format(extra=extra))


class World:
    """Hand-made facts: companies, a wave, probes and their messages, as the runner and collector store them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._ids = itertools.count(1)

    def company(self, company_id: str, name: str | None = None) -> str:
        if self.session.get(Company, company_id) is None:
            domain = f"{company_id}.test"
            self.session.add(
                Company(id=company_id, name=name or company_id.title(), sector="insurance",
                        contact_url=f"https://www.{domain}/contact", domain=domain)
            )  # fmt: skip
        return company_id

    def wave(self, *, mode: str = "live", audit_name: str = "Grading test") -> int:
        wave = Wave(audit_name=audit_name, mode=mode)
        self.session.add(wave)
        self.session.flush()
        assert wave.id is not None
        return wave.id

    def probe(
        self,
        wave_id: int,
        company_id: str,
        *,
        at: datetime | None = MONDAY_10AM,
        seq: int = 1,
        outcome: str = "submitted",
        reason: str | None = None,
        dry_run: bool = False,
    ) -> Probe:
        self.company(company_id)
        number = next(self._ids)
        probe = Probe(
            wave_id=wave_id, company_id=company_id, seq=seq, token=f"tok{wave_id}x{number}",
            ref_code=f"REF{number:04d}", reply_address=f"dana.tok{number}@replies.example.org",
            contact_url=f"https://www.{company_id}.test/contact", dry_run=dry_run, state="finished",
            outcome=outcome, reason=reason, submitted_at=None if at is None else at.astimezone(UTC),
        )  # fmt: skip
        self.session.add(probe)
        self.session.flush()
        return probe

    def message(
        self,
        probe: Probe | None,
        *,
        at: datetime,
        kind: str = "human",
        text: str = GOOD,
        folder: str = "INBOX",
    ) -> Message:
        number = next(self._ids)
        message = Message(
            source="imap", account="dana@replies.example.org", folder=folder, uidvalidity=1, uid=number,
            content_key=f"key{number}", received_at=at.astimezone(UTC), received_at_source="received_header",
            probe_id=None if probe is None else probe.id, kind=kind, text=text, reply_text=reply_part(text),
            subject="Re: Monthly plan",
        )  # fmt: skip
        self.session.add(message)
        self.session.flush()
        return message


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_database(sqlite_url(tmp_path))
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


def only_probe(grades: WaveGrades, company_id: str = "acme") -> ProbeResult:
    company = next(company for company in grades.companies if company.company_id == company_id)
    assert len(company.probes) == 1
    return company.probes[0]


# ------------------------------------------------------------------------------------------- reply times


def test_auto_ack_then_a_late_human_reply(session: Session) -> None:
    world = World(session)
    wave = world.wave()
    probe = world.probe(wave, "acme")
    world.message(probe, at=MONDAY_10AM + timedelta(minutes=2), kind="auto_reply", text=ACK)
    world.message(probe, at=MONDAY_10AM + timedelta(days=9), text=GOOD)
    grades = grade_wave(session, make_config(), wave, as_of=MONDAY_10AM + timedelta(days=10))
    result = only_probe(grades)
    assert result.tier is Tier.NO_REPLY and result.late
    assert result.first_ack_at == MONDAY_10AM + timedelta(minutes=2)
    assert result.wall_seconds_to_ack == 120
    assert result.first_reply_at == result.first_ack_at
    assert result.first_human_at == MONDAY_10AM + timedelta(days=9)
    assert "late reply came after 9 d" in result.tier_reason
    assert result.promise is not None and result.promise.text == "within 2 business days"
    assert result.promise.kept is False
    assert result.submit_time_class is SubmitTimeClass.BUSINESS
    assert result.deadline_at == MONDAY_10AM + timedelta(days=7)


def test_a_newsletter_alone_is_no_reply(session: Session) -> None:
    world = World(session)
    wave = world.wave()
    probe = world.probe(wave, "acme")
    world.message(probe, at=MONDAY_10AM + timedelta(hours=1), kind="marketing", text=NEWSLETTER)
    world.message(probe, at=MONDAY_10AM + timedelta(hours=2), kind="bounce", text="Undeliverable")
    world.message(None, at=MONDAY_10AM + timedelta(hours=3), text=GOOD)  # unmatched: counts for nobody
    result = only_probe(grade_wave(session, make_config(), wave, as_of=MONDAY_10AM + timedelta(days=8)))
    assert result.tier is Tier.NO_REPLY and not result.late
    assert result.first_human_at is None and result.first_ack_at is None and result.quality is None
    assert result.first_reply_at == MONDAY_10AM + timedelta(hours=1)  # any kind but a bounce


def test_a_reply_in_junk_counts_and_is_noted(session: Session) -> None:
    world = World(session)
    wave = world.wave()
    probe = world.probe(wave, "acme")
    world.message(probe, at=MONDAY_10AM + timedelta(hours=3), text=GOOD, folder="Junk")
    result = only_probe(grade_wave(session, make_config(), wave, as_of=MONDAY_10AM + timedelta(days=8)))
    assert result.tier is Tier.FAST_COURTEOUS
    assert result.human_folder == "Junk" and result.human_channel == "email"
    assert "Junk folder" in result.tier_reason
    assert result.wall_seconds_to_human == 3 * 3600 and result.business_seconds_to_human == 3 * 3600
    assert result.quality is not None and result.quality >= 0.75


def test_a_phone_reply_entered_by_hand_counts_like_email(session: Session) -> None:
    world = World(session)
    wave = world.wave()
    probe = world.probe(wave, "acme")
    session.commit()
    note = (
        "Michael called back: yes, they have a monthly plan, 49 NIS a month. Very polite, offered a meeting."
    )
    add_manual_reply(
        session, reference=probe.ref_code, channel="phone", at=MONDAY_10AM + timedelta(hours=26), note=note
    )
    result = only_probe(grade_wave(session, make_config(), wave, as_of=MONDAY_10AM + timedelta(days=8)))
    assert result.human_channel == "phone" and result.human_folder is None
    assert result.first_human_at == MONDAY_10AM + timedelta(hours=26)
    assert result.tier is Tier.REASONABLE
    assert result.first_complete_at == result.first_human_at
    assert result.excerpt is not None and result.excerpt.startswith("[staff] called back: yes")


def test_english_and_hebrew_replies_of_each_quality_get_their_tiers(session: Session) -> None:
    world = World(session)
    english, hebrew = world.wave(), world.wave()
    for company_id, text in (("good", GOOD), ("poor", POOR)):
        world.message(world.probe(english, company_id), at=MONDAY_10AM + timedelta(hours=2), text=text)
    for company_id, text in (("tov", HEBREW_GOOD), ("ra", HEBREW_POOR), ("cold", HEBREW_COLD)):
        world.message(world.probe(hebrew, company_id), at=MONDAY_10AM + timedelta(hours=2), text=text)
    as_of = MONDAY_10AM + timedelta(days=8)
    grades = grade_wave(session, make_config(), english, as_of=as_of)
    assert only_probe(grades, "good").tier is Tier.FAST_COURTEOUS
    poor = only_probe(grades, "poor")
    assert (
        poor.tier is Tier.SLOW_OR_LACKING and f"below {QualityThresholds().adequate:.2f}" in poor.tier_reason
    )
    assert poor.first_complete_at is None
    assert [company.company_id for company in grades.companies] == ["good", "poor"]
    graded = grade_wave(session, parse_config(HE_CONFIG), hebrew, as_of=as_of)
    good = only_probe(graded, "tov")
    assert good.tier is Tier.FAST_COURTEOUS and good.reply_language == "he"
    assert good.excerpt is not None and "יוסי" not in good.excerpt
    assert only_probe(graded, "ra").tier is Tier.SLOW_OR_LACKING
    # Complete and signed, but no thanks, value or warmth: 7 of 13, adequate but not good.
    cold = only_probe(graded, "cold")
    assert cold.quality == pytest.approx(7 / 13, abs=1e-4) and cold.tier is Tier.REASONABLE


def test_business_hours_across_the_weekend_and_the_business_clock(session: Session) -> None:
    world = World(session)
    wave = world.wave()
    thursday_4pm = datetime(2026, 12, 3, 16, 0, tzinfo=JERUSALEM)
    probe = world.probe(wave, "acme", at=thursday_4pm)
    world.message(probe, at=datetime(2026, 12, 6, 10, 0, tzinfo=JERUSALEM), text=GOOD)  # Sunday 10:00
    as_of = thursday_4pm + timedelta(days=8)
    wall = only_probe(grade_wave(session, make_config(), wave, as_of=as_of))
    assert wall.wall_seconds_to_human == 66 * 3600 and wall.business_seconds_to_human == 2 * 3600
    assert wall.tier is Tier.SLOW_OR_LACKING  # 66 h on the wall clock: later than 48 h
    business = only_probe(grade_wave(session, make_config("  clock: business"), wave, as_of=as_of))
    assert business.tier is Tier.FAST_COURTEOUS  # 2 business hours


def test_business_hours_across_yom_kippur(session: Session) -> None:
    world = World(session)
    wave = world.wave()
    sunday_4pm = datetime(2026, 9, 20, 16, 0, tzinfo=JERUSALEM)
    probe = world.probe(wave, "acme", at=sunday_4pm)
    world.message(probe, at=datetime(2026, 9, 22, 10, 0, tzinfo=JERUSALEM), text=GOOD)
    result = only_probe(grade_wave(session, make_config(), wave, as_of=sunday_4pm + timedelta(days=8)))
    assert result.wall_seconds_to_human == 42 * 3600
    assert result.business_seconds_to_human == 2 * 3600  # Monday 21 September 2026 is Yom Kippur


def test_as_of_before_and_after_the_deadline(session: Session) -> None:
    world = World(session)
    wave = world.wave()
    world.probe(wave, "silent")
    answered = world.probe(wave, "acme")
    world.message(answered, at=MONDAY_10AM + timedelta(hours=30), text=GOOD)
    before = grade_wave(session, make_config(), wave, as_of=MONDAY_10AM + timedelta(hours=20))
    assert only_probe(before, "silent").tier is Tier.PENDING
    assert only_probe(before, "acme").tier is Tier.PENDING  # its reply had not come yet at that time
    assert any("pending" in note for note in before.notes)
    middle = grade_wave(session, make_config(), wave, as_of=MONDAY_10AM + timedelta(days=2))
    assert only_probe(middle, "silent").tier is Tier.PENDING
    assert only_probe(middle, "acme").tier is Tier.REASONABLE  # graded normally before the deadline
    after = grade_wave(session, make_config(), wave, as_of=MONDAY_10AM + timedelta(days=7, minutes=1))
    assert only_probe(after, "silent").tier is Tier.NO_REPLY
    assert wave_deadline(session, make_config(), wave) == MONDAY_10AM + timedelta(days=7)


def test_promises_kept_broken_and_open(session: Session) -> None:
    world = World(session)
    wave = world.wave()
    for company_id, human_after in (
        ("kept", timedelta(days=1)),
        ("broken", timedelta(days=4)),
        ("open", None),
    ):
        probe = world.probe(wave, company_id)
        world.message(probe, at=MONDAY_10AM + timedelta(minutes=1), kind="auto_reply", text=ACK)
        if human_after is not None:
            world.message(probe, at=MONDAY_10AM + human_after, text=GOOD)
    grades = grade_wave(session, make_config(), wave, as_of=MONDAY_10AM + timedelta(days=2))
    due = datetime(2026, 12, 2, 17, 0, tzinfo=JERUSALEM)  # close of the second working day after Monday
    kept, broken, still_open = (only_probe(grades, name).promise for name in ("kept", "broken", "open"))
    assert kept is not None and kept.kept is True and kept.due_at == due
    assert broken is not None and broken.kept is None  # at as_of the reply had not come and was not yet due
    assert still_open is not None and still_open.kept is None
    later = grade_wave(session, make_config(), wave, as_of=MONDAY_10AM + timedelta(days=5))
    assert only_probe(later, "broken").promise.kept is False  # type: ignore[union-attr]
    assert only_probe(later, "open").promise.kept is False  # type: ignore[union-attr]


def test_a_second_human_message_within_five_business_days_is_a_follow_up(session: Session) -> None:
    world = World(session)
    wave = world.wave()
    probe = world.probe(wave, "acme")
    world.message(probe, at=MONDAY_10AM + timedelta(hours=2), text=POOR)
    world.message(probe, at=MONDAY_10AM + timedelta(days=1), text=GOOD)
    result = only_probe(grade_wave(session, make_config(), wave, as_of=MONDAY_10AM + timedelta(days=8)))
    assert result.followed_up and result.human_replies == 2
    assert result.first_complete_at == MONDAY_10AM + timedelta(days=1)  # the second reply answered


def test_probes_that_were_not_submitted_are_not_reached_with_a_reason(session: Session) -> None:
    world = World(session)
    wave = world.wave()
    world.probe(wave, "captcha", at=None, outcome="blocked_captcha", reason="reCAPTCHA on the form")
    world.probe(wave, "dry", at=None, outcome="dry_run", dry_run=True)
    two = world.probe(wave, "mixed", seq=1, at=None, outcome="no_form")
    world.message(world.probe(wave, "mixed", seq=2), at=MONDAY_10AM + timedelta(hours=1), text=GOOD)
    grades = grade_wave(session, make_config(), wave, as_of=MONDAY_10AM + timedelta(days=8))
    captcha = only_probe(grades, "captcha")
    assert captcha.tier is Tier.NOT_REACHED and not captcha.reached
    assert captcha.not_reached_reason == f"{NOT_REACHED_REASONS['blocked_captcha']}: reCAPTCHA on the form"
    assert only_probe(grades, "dry").not_reached_reason == "dry run: the form was filled but not sent"
    assert "CAPTCHA" in NOT_REACHED_REASONS["blocked_captcha"]
    mixed = next(company for company in grades.companies if company.company_id == "mixed")
    assert mixed.tier is Tier.FAST_COURTEOUS and not mixed.inconsistent
    assert mixed.probes[0].probe_id == two.id and mixed.probes[0].tier is Tier.NOT_REACHED


def test_company_tier_from_three_and_from_two_probes(session: Session) -> None:
    world = World(session)
    wave = world.wave()
    for seq, reply in ((1, timedelta(hours=1)), (2, timedelta(hours=30)), (3, None)):
        probe = world.probe(wave, "three", seq=seq)
        if reply is not None:
            world.message(probe, at=MONDAY_10AM + reply, text=GOOD)
    for seq, reply in ((1, timedelta(hours=1)), (2, None)):
        probe = world.probe(wave, "two", seq=seq)
        if reply is not None:
            world.message(probe, at=MONDAY_10AM + reply, text=GOOD)
    grades = grade_wave(session, make_config(), wave, as_of=MONDAY_10AM + timedelta(days=8))
    three = next(company for company in grades.companies if company.company_id == "three")
    assert [probe.tier for probe in three.probes] == [Tier.FAST_COURTEOUS, Tier.REASONABLE, Tier.NO_REPLY]
    assert three.tier is Tier.REASONABLE and three.inconsistent
    assert three.wall_seconds_to_human == pytest.approx(15.5 * 3600)  # median of 1 h and 30 h
    assert three.quality_spread is not None
    two = next(company for company in grades.companies if company.company_id == "two")
    assert two.tier is Tier.NO_REPLY and two.inconsistent  # the worse of the two middle ones


def test_grading_reads_a_wave_in_a_handful_of_queries(engine: Engine, session: Session) -> None:
    world = World(session)
    wave = world.wave()
    for number in range(200):
        probe = world.probe(wave, f"c{number:03d}")
        world.message(probe, at=MONDAY_10AM + timedelta(minutes=1), kind="auto_reply", text=ACK)
        world.message(probe, at=MONDAY_10AM + timedelta(hours=number % 60), text=GOOD if number % 2 else POOR)
    session.commit()
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        grades = grade_wave(session, make_config(), wave, as_of=MONDAY_10AM + timedelta(days=8))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(grades.companies) == 200
    assert len(statements) <= 8, statements  # wave, probes, messages, overrides, delete, insert
    stored = session.exec(
        select(func.count()).select_from(ProbeGrade).where(ProbeGrade.wave_id == wave)
    ).one()
    assert stored == 200


def test_previous_wave_is_the_last_live_wave_of_the_same_audit(session: Session) -> None:
    world = World(session)
    first = world.wave()
    world.wave(mode="dry_run")
    world.wave(audit_name="Another audit")
    third = world.wave()
    assert previous_wave_id(session, third) == first
    assert previous_wave_id(session, first) is None


# -------------------------------------------------------------------------- persistence and overrides


def test_grades_are_stored_and_overrides_survive_regrading(database_url: str) -> None:
    engine = open_database(database_url)
    config = make_config()
    as_of = MONDAY_10AM + timedelta(days=8)
    with Session(engine, expire_on_commit=False) as session:
        world = World(session)
        wave = world.wave()
        world.message(world.probe(wave, "acme"), at=MONDAY_10AM + timedelta(hours=2), text=GOOD)
        world.message(world.probe(wave, "globex"), at=MONDAY_10AM + timedelta(hours=2), text=POOR)
        session.commit()
        first = grade_wave(session, config, wave, as_of=as_of)
        session.commit()
        assert only_probe(first, "acme").tier is Tier.FAST_COURTEOUS
        set_override(session, wave_id=wave, company_id="acme", criterion="tier", value="reasonable",
                     note="the answer was copied from the FAQ", author="ruth")  # fmt: skip
        set_override(session, wave_id=wave, company_id="globex", criterion="a", value="2",
                     note="the price was in the attached PDF")  # fmt: skip
        session.commit()
    with Session(engine, expire_on_commit=False) as session:
        second = grade_wave(session, config, wave, as_of=as_of)
        session.commit()
        acme = next(company for company in second.companies if company.company_id == "acme")
        assert acme.tier is Tier.REASONABLE and acme.tier_overridden
        assert acme.override_notes == ("tier set to reasonable by ruth: the answer was copied from the FAQ",)
        assert acme.probes[0].tier_overridden and "set by a person" in acme.probes[0].tier_reason
        globex = only_probe(second, "globex")
        answered = next(item for item in globex.criteria if item.criterion == "A")
        assert answered.score == 2 and answered.overridden
        assert answered.note == "A set to 2 by cli: the price was in the attached PDF"
        assert globex.quality == pytest.approx(3 / 13, abs=1e-4)  # 1/13 before, A now 2 of 2
        assert globex.first_complete_at == globex.first_human_at  # A overridden to complete
        stored = stored_wave_grades(session, wave)
        assert stored is not None
        assert [(c.company_id, c.tier, c.tier_overridden) for c in stored.companies] == [
            (c.company_id, c.tier, c.tier_overridden) for c in second.companies
        ]
        assert stored.companies[0].probes[0] == second.companies[0].probes[0]
        assert stored.companies[1].probes[0].criteria == second.companies[1].probes[0].criteria
        rows = session.exec(select(ProbeGrade).where(ProbeGrade.wave_id == wave)).all()
        assert len(rows) == 2  # replaced, not added to
        # `auto` hands the tier back; the earlier override stays on record as a fact.
        set_override(
            session, wave_id=wave, company_id="acme", criterion="tier", value="auto", note="re-checked"
        )
        third = grade_wave(session, config, wave, as_of=as_of)
        session.commit()
        assert only_probe(third, "acme").tier is Tier.FAST_COURTEOUS
        assert len(session.exec(select(GradeOverride)).all()) == 3
    engine.dispose()


def test_a_company_tier_override_with_several_probes_sets_the_company_only(database_url: str) -> None:
    engine = open_database(database_url)
    with Session(engine, expire_on_commit=False) as session:
        world = World(session)
        wave = world.wave()
        world.message(world.probe(wave, "acme", seq=1), at=MONDAY_10AM + timedelta(hours=1), text=GOOD)
        world.probe(wave, "acme", seq=2)
        set_override(session, wave_id=wave, company_id="acme", criterion="tier", value="slow_or_lacking",
                     note="both inquiries together")  # fmt: skip
        set_override(session, wave_id=wave, company_id="acme", probe_seq=2, criterion="tier", value="no_reply",
                     note="checked the inbox by hand")  # fmt: skip
        grades = grade_wave(session, make_config(), wave, as_of=MONDAY_10AM + timedelta(days=8))
        session.commit()
        company = grades.companies[0]
        assert company.tier is Tier.SLOW_OR_LACKING and company.tier_overridden
        assert [probe.tier for probe in company.probes] == [Tier.FAST_COURTEOUS, Tier.NO_REPLY]
        assert [probe.tier_overridden for probe in company.probes] == [False, True]
        assert len(company.override_notes) == 2
    engine.dispose()


@pytest.mark.parametrize(
    ("criterion", "value", "seq", "message"),
    [
        ("tier", "brilliant", None, "tier 'brilliant' is not one of"),
        ("tier", "pending", None, "tier 'pending' is not one of"),
        ("P1", "3", None, "criterion P1 takes a score from 0 to 2"),
        ("E", "-1", None, "criterion E takes a score from 0 to 1"),
        ("T", "1", None, "unknown criterion 'T'"),
        ("tier", "reasonable", 2, "has no probe 2 in wave"),
    ],
)
def test_overrides_that_do_not_fit_are_refused(
    session: Session, criterion: str, value: str, seq: int | None, message: str
) -> None:
    world = World(session)
    wave = world.wave()
    world.probe(wave, "acme")
    with pytest.raises(GradingError, match=message):
        set_override(session, wave_id=wave, company_id="acme", criterion=criterion, value=value, note="n",
                     probe_seq=seq)  # fmt: skip
    with pytest.raises(GradingError, match="has no inquiry in wave"):
        set_override(session, wave_id=wave, company_id="nobody", criterion="tier", value="no_reply", note="n")
    with pytest.raises(GradingError, match="needs a note"):
        set_override(session, wave_id=wave, company_id="acme", criterion="tier", value="no_reply", note=" ")


# -------------------------------------------------------------------------------------------------- CLI


def test_audit_grade_and_audit_grade_set(tmp_path: Path) -> None:
    config_path = tmp_path / "companies.yaml"
    config_path.write_text(CONFIG.format(extra=""), encoding="utf-8")
    data = tmp_path / "data"
    engine = open_database(sqlite_url(data))
    with Session(engine) as session:
        world = World(session)
        wave = world.wave()
        world.company("acme", "[b]Acme[/b]")
        world.message(world.probe(wave, "acme"), at=MONDAY_10AM + timedelta(hours=2), text=GOOD)
        world.probe(wave, "silent")
        session.commit()
    engine.dispose()
    runner = CliRunner()

    def grade(*args: str) -> Any:
        return runner.invoke(cli, ["--data-dir", str(data), "grade", *args, "--config", str(config_path)])

    now = grade("--as-of", "2026-12-01T09:00")
    assert now.exit_code == 0, now.output
    assert "as of 2026-12-01 09:00 Asia/Jerusalem" in now.output
    assert "[b]Acme[/b]" in now.output  # a company's name is shown as text, never read as rich markup
    assert "pending: 1" in now.output and "fast_courteous: 1" in now.output
    done = grade("--as-of", "deadline")
    assert done.exit_code == 0, done.output
    assert "as of 2026-12-07 10:00" in done.output and "no_reply: 1" in done.output
    override = grade("set", "acme", "--tier", "reasonable", "--note", "FAQ copy")
    assert override.exit_code == 0, override.output
    assert "recorded: tier of acme in wave 1 set to reasonable" in override.output
    assert "now reasonable" in override.output
    again = grade("--as-of", "deadline")
    assert "reasonable: 1" in again.output and "tier set by a person" in again.output
    bad = grade("set", "acme", "--criterion", "A", "--score", "5", "--note", "x")
    assert bad.exit_code == 1 and bad.stderr.startswith("error: criterion A takes a score from 0 to 2")
    both = grade("set", "acme", "--note", "x")
    assert both.exit_code == 1 and "give either --tier T, or --criterion ID with --score N" in both.stderr
    wrong_time = grade("--as-of", "yesterday-ish")
    assert wrong_time.exit_code == 1 and "is not a time" in wrong_time.stderr
    helped = runner.invoke(cli, ["grade", "--help"])
    assert "audit grade --as-of deadline" in helped.output
