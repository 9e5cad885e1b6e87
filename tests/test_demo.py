"""`audit demo`: the simulated companies' replies, and the whole pipeline end to end in a real Chromium.

The end-to-end run happens once per session (`demo_run`); the tests below read what it left behind: the
Maildir, the database, the grades, the report and what it printed.
"""

from __future__ import annotations

import email
import email.policy
import io
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from audit.collect.maildir import collect_maildir_once
from audit.config import AuditConfig, parse_config
from audit.db import open_database, session_scope
from audit.demo.replies import SCRIPTS, deliver_replies
from audit.demo.run import DemoResult, demo_config_text, run_demo, start_afresh
from audit.errors import DataDirError
from audit.grading.types import Tier
from audit.models import Message, MessageKind, Probe, Wave
from audit.runner import sync_companies
from audit.settings import Settings
from audit.tokens import new_ref_code, new_token, reply_address

SUBMITTED_AT = datetime(2026, 11, 26, 7, 30, tzinfo=UTC)  # a Thursday, 09:30 in Jerusalem
NEVER_REACHED = {"gatekeeper", "aboutus", "brokenpipe", "shielded"}
EXPECTED_TIERS = {
    "plainview": Tier.FAST_COURTEOUS,
    "galil": Tier.FAST_COURTEOUS,
    "wordsmith": Tier.REASONABLE,
    "gravitas": Tier.REASONABLE,
    "framewise": Tier.REASONABLE,
    "topical": Tier.REASONABLE,
    "reactor": Tier.SLOW_OR_LACKING,
    "stepwise": Tier.SLOW_OR_LACKING,
    "crumbs": Tier.NO_REPLY,
    "confirmo": Tier.NO_REPLY,
    **{company_id: Tier.NOT_REACHED for company_id in NEVER_REACHED},
}


def read_maildir(maildir: Path) -> list[tuple[Path, EmailMessage]]:
    found = []
    # The top folder and its Maildir++ subfolders (one reply is filed under .Junk).
    for path in sorted(path for path in maildir.glob("**/new/*") if path.is_file()):
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        found.append((path, parsed))
    return found


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


# ---------------------------------------------------------------------------------------------------------
# Without a browser: the scripts against hand-made probes, on SQLite and PostgreSQL


def demo_config(maildir: Path) -> AuditConfig:
    return parse_config(demo_config_text(8000, maildir), source="demo companies.yaml")


def plant_wave(engine: Engine, config: AuditConfig) -> dict[str, int]:
    """A submitted probe for every company with a reply script, as the runner leaves them; company -> probe."""
    with session_scope(engine) as session:
        sync_companies(session, config)
        wave = Wave(audit_name=config.audit.name)
        session.add(wave)
        session.flush()
        assert wave.id is not None
        probes = {}
        for company_id in SCRIPTS:
            token = new_token()
            probe = Probe(
                wave_id=wave.id,
                company_id=company_id,
                token=token,
                ref_code=new_ref_code(),
                reply_address=reply_address(config.mailbox.address, token),
                contact_url=config.company(company_id).contact_url,
                state="finished",
                outcome="submitted",
                submitted_at=SUBMITTED_AT,
            )
            session.add(probe)
            probes[company_id] = probe
        session.flush()
        return {company_id: probe.id for company_id, probe in probes.items() if probe.id is not None}


def test_the_demo_config_is_valid_and_names_the_maildir(tmp_path: Path) -> None:
    maildir = tmp_path / 'odd "name"' / "Maildir"
    config = demo_config(maildir)
    assert config.mailbox.maildir == str(maildir)
    assert [part.kind for part in config.inquiry.answer_parts] == ["yes_no", "words"]
    assert set(SCRIPTS) | NEVER_REACHED == {company.id for company in config.companies}
    assert not set(SCRIPTS) & NEVER_REACHED


def test_scripted_replies_reach_the_maildir_dated_ahead_and_are_matched(
    database_url: str, tmp_path: Path
) -> None:
    maildir = tmp_path / "Maildir"
    config = demo_config(maildir)
    engine = open_database(database_url)
    try:
        probes = plant_wave(engine, config)
        with session_scope(engine) as session:
            rows = session.exec(select(Probe).where(col(Probe.id).in_(probes.values()))).all()
            delivered = deliver_replies(session, maildir, config, rows)
        emails = [reply for reply in delivered if reply.path is not None]
        assert len(emails) == sum(
            1 for script in SCRIPTS.values() for reply in script.replies if reply.kind != "phone_call"
        )
        in_folders = sorted(
            path.relative_to(maildir).as_posix() for path in maildir.glob("**/new/*") if path.is_file()
        )
        assert in_folders == sorted(
            reply.path.relative_to(maildir).as_posix() for reply in emails if reply.path is not None
        )
        # The spam filter's catch: framewise's answer sits in the Maildir++ folder .Junk.
        assert [name for name in in_folders if name.startswith(".Junk/")] == [
            reply.path.relative_to(maildir).as_posix()
            for reply in emails
            if reply.path is not None and reply.company_id == "framewise"
        ]
        assert list((maildir / "tmp").iterdir()) == []  # written via tmp/, then renamed into new/
        for reply in emails:
            assert reply.path is not None
            message = email.message_from_bytes(reply.path.read_bytes(), policy=email.policy.default)
            assert parsedate_to_datetime(message["Date"]) == reply.at.replace(microsecond=0)
            assert abs(os.stat(reply.path).st_mtime - reply.at.timestamp()) < 0.01
            assert message["From"].addresses[0].domain == f"{reply.company_id}.localhost"

        stats = collect_maildir_once(engine, maildir, data_dir=tmp_path / "data")
        assert (stats.stored, stats.errors) == (len(emails), [])
        with Session(engine) as session:
            messages = session.exec(select(Message).order_by(col(Message.received_at))).all()
        by_company: dict[str, list[Message]] = {}
        company_of = {probe_id: company_id for company_id, probe_id in probes.items()}
        for message in messages:
            assert message.probe_id is not None
            by_company.setdefault(company_of[message.probe_id], []).append(message)
        kinds = {company: [m.kind for m in found] for company, found in by_company.items()}
        assert kinds == {
            "plainview": [MessageKind.HUMAN],
            "galil": [MessageKind.HUMAN],
            "wordsmith": [MessageKind.HUMAN],
            "gravitas": [MessageKind.AUTO_REPLY, MessageKind.HUMAN],
            "framewise": [MessageKind.HUMAN],
            "topical": [MessageKind.HUMAN],
            "reactor": [MessageKind.HUMAN],
            "stepwise": [MessageKind.HUMAN],
            "crumbs": [MessageKind.MARKETING],
            "confirmo": [MessageKind.AUTO_REPLY],
        }
        assert [m.folder for m in by_company["framewise"]] == ["Junk"]
        assert {m.folder for c, found in by_company.items() if c != "framewise" for m in found} <= {
            "INBOX",
            None,  # the phone call has no folder
        }
        phone = by_company["topical"][0]
        assert (phone.source, phone.channel) == ("manual", "phone")
        assert phone.received_at == SUBMITTED_AT + timedelta(days=1, hours=2)
        first_plainview = by_company["plainview"][0]
        assert first_plainview.match_method == "token:envelope"
        assert first_plainview.received_at == SUBMITTED_AT + timedelta(minutes=33)
        assert first_plainview.received_at_source == "maildir_mtime"
        assert not first_plainview.date_suspicious  # the Date header agrees with the delivery time
    finally:
        engine.dispose()


def test_the_scripted_replies_grade_as_the_demo_promises(database_url: str, tmp_path: Path) -> None:
    from audit.grading import grade_wave, wave_deadline

    maildir = tmp_path / "Maildir"
    config = demo_config(maildir)
    engine = open_database(database_url)
    try:
        probes = plant_wave(engine, config)
        with session_scope(engine) as session:
            rows = session.exec(select(Probe).where(col(Probe.id).in_(probes.values()))).all()
            deliver_replies(session, maildir, config, rows)
        collect_maildir_once(engine, maildir, data_dir=tmp_path / "data")
        with session_scope(engine) as session:
            wave_id = session.exec(select(Probe.wave_id)).first()
            assert wave_id is not None
            deadline = wave_deadline(session, config, wave_id)
            assert deadline == SUBMITTED_AT + timedelta(days=7)
            at_deadline = grade_wave(session, config, wave_id, as_of=deadline, persist=False)
            # Graded at submission time + 1 hour, only the fast English reply is in; the rest are pending.
            early = grade_wave(
                session, config, wave_id, as_of=SUBMITTED_AT + timedelta(hours=1), persist=False
            )
    finally:
        engine.dispose()
    tiers = {company.company_id: company.tier for company in at_deadline.companies}
    assert tiers == {company_id: EXPECTED_TIERS[company_id] for company_id in SCRIPTS}
    early_tiers = {company.company_id: company.tier for company in early.companies}
    assert early_tiers["plainview"] is Tier.FAST_COURTEOUS
    assert {tier for company_id, tier in early_tiers.items() if company_id != "plainview"} == {Tier.PENDING}
    by_id = {company.company_id: company for company in at_deadline.companies}
    gravitas = by_id["gravitas"].probes[0]
    assert gravitas.promise is not None and gravitas.promise.kept is True
    confirmo = by_id["confirmo"].probes[0]
    assert confirmo.promise is not None and confirmo.promise.kept is False
    assert by_id["stepwise"].probes[0].quality is not None
    assert by_id["framewise"].probes[0].human_folder == "Junk"  # caught by the spam filter, still counted
    assert "[staff]" in (by_id["topical"].probes[0].excerpt or "")  # the caller's name is masked
    assert "Ronit" not in (by_id["topical"].probes[0].excerpt or "")


def test_the_gravitas_ticket_number_is_the_same_in_the_acknowledgement_and_the_reply(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    config = demo_config(maildir)
    engine = open_database(f"sqlite:///{tmp_path / 'audit.db'}")
    try:
        probes = plant_wave(engine, config)
        with session_scope(engine) as session:
            gravitas = session.get(Probe, probes["gravitas"])
            assert gravitas is not None
            deliver_replies(session, maildir, config, [gravitas])
    finally:
        engine.dispose()
    ack, reply = sorted(read_maildir(maildir), key=lambda found: parsedate_to_datetime(found[1]["Date"]))
    assert ack[1]["Auto-Submitted"] == "auto-replied"
    ticket = ack[1]["Subject"].split("#", 1)[1].split("]", 1)[0]
    assert ticket.isdigit() and f"ticket {ticket}" in text_of(reply[1])
    assert "within 2 business days" in text_of(ack[1])


def test_start_afresh_clears_a_previous_demo_and_refuses_a_stranger(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    start_afresh(demo_dir)
    (demo_dir / "Maildir" / "new").mkdir(parents=True)
    (demo_dir / "Maildir" / "new" / "old-reply").write_text("x")
    start_afresh(demo_dir)
    assert sorted(entry.name for entry in demo_dir.iterdir()) == [".audit-demo"]

    stranger = tmp_path / "not-a-demo"
    stranger.mkdir()
    (stranger / "thesis.tex").write_text("mine")
    with pytest.raises(DataDirError, match=r"thesis\.tex"):
        start_afresh(stranger)
    assert (stranger / "thesis.tex").read_text() == "mine"


# ---------------------------------------------------------------------------------------------------------
# The whole demo, once per session, in the real Chromium


@dataclass(frozen=True)
class DemoRun:
    result: DemoResult
    printed: str
    started: datetime


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    data_dir = tmp_path_factory.mktemp("demo-data")
    printed = io.StringIO()
    started = datetime.now(UTC)
    result = run_demo(
        Settings(data_dir=data_dir),
        console=Console(file=printed, width=200, soft_wrap=True),
        dry_run=False,
        keep_serving=False,
    )
    yield DemoRun(result, printed.getvalue(), started)


@pytest.fixture(scope="session")
def demo_engine(demo_run: DemoRun) -> Iterator[Engine]:
    engine = open_database(f"sqlite:///{demo_run.result.data_dir / 'audit.db'}")
    yield engine
    engine.dispose()


@pytest.mark.browser
def test_the_demo_writes_the_replies_into_the_maildir_dated_ahead(demo_run: DemoRun) -> None:
    result = demo_run.result
    found = read_maildir(result.maildir)
    expected = [reply for reply in result.replies if reply.path is not None]
    assert len(found) == len(expected) == 10
    assert {path for path, _ in found} == {reply.path for reply in expected}
    now = datetime.now(UTC)
    for reply in expected:
        assert reply.path is not None
        mtime = datetime.fromtimestamp(os.stat(reply.path).st_mtime, tz=UTC)
        assert abs(mtime - reply.at) < timedelta(milliseconds=10)
        if reply.kind != "auto_ack":  # acknowledgements come within a minute, possibly already past
            assert mtime > now + timedelta(minutes=20), reply
    assert max(reply.at for reply in result.replies) > demo_run.started + timedelta(days=5)


@pytest.mark.browser
def test_the_demo_collects_every_reply_and_matches_it_to_its_probe(
    demo_run: DemoRun, demo_engine: Engine
) -> None:
    with Session(demo_engine) as session:
        rows = session.exec(select(Message, Probe).join(Probe, col(Probe.id) == col(Message.probe_id))).all()
        unmatched = session.exec(select(Message).where(col(Message.probe_id).is_(None))).all()
    assert unmatched == []
    assert len(rows) == len(demo_run.result.replies) == 11
    delivered_at = {(reply.probe_id, reply.at) for reply in demo_run.result.replies}
    for message, probe in rows:
        assert probe.wave_id == demo_run.result.wave_id
        assert (message.probe_id, message.received_at) in delivered_at
        if message.source == "maildir":
            assert message.match_method == "token:envelope"
            assert message.from_domain == f"{probe.company_id}.localhost"
    kinds = Counter((probe.company_id, message.kind) for message, probe in rows)
    assert kinds[("crumbs", MessageKind.MARKETING)] == 1
    assert kinds[("confirmo", MessageKind.AUTO_REPLY)] == 1
    assert kinds[("gravitas", MessageKind.AUTO_REPLY)] == kinds[("gravitas", MessageKind.HUMAN)] == 1
    assert kinds[("topical", MessageKind.HUMAN)] == 1


@pytest.mark.browser
def test_the_demo_grades_each_company_as_scripted_as_of_the_deadline(demo_run: DemoRun) -> None:
    grades = demo_run.result.grades
    assert grades is not None and demo_run.result.as_of is not None
    assert grades.as_of == demo_run.result.as_of > demo_run.started + timedelta(days=7)
    tiers = {company.company_id: company.tier for company in grades.companies}
    assert tiers == EXPECTED_TIERS
    by_id = {company.company_id: company for company in grades.companies}
    plainview = by_id["plainview"].probes[0]
    assert plainview.wall_seconds_to_human == pytest.approx(33 * 60, abs=1)
    confirmo = by_id["confirmo"].probes[0]
    assert confirmo.first_ack_at is not None and confirmo.first_human_at is None
    assert by_id["topical"].probes[0].human_channel == "phone"


@pytest.mark.browser
def test_the_demo_prints_the_tier_counts_and_the_report_path(demo_run: DemoRun) -> None:
    printed = demo_run.printed
    report = demo_run.result.report_path
    assert report is not None
    assert f"Report: {report}" in printed
    assert report.as_uri() in printed
    assert "fast and courteous 2, reasonable 4, slow or lacking 2, no reply 2, not reached 4" in printed
    assert "sent 10 emails into the demo Maildir" in printed and "made 1 phone call" in printed


class ReportOutline(HTMLParser):
    """The report's tier sections: which companies each names, and the count it states."""

    def __init__(self) -> None:
        super().__init__()
        self.html_attrs: dict[str, str | None] = {}
        self.companies: dict[str, list[str]] = {}  # tier -> company names, in order
        self.stated_counts: dict[str, str] = {}  # tier -> "· 2 companies"
        self.summary = ""
        self._divs: list[str] = []  # the class of every open <div>
        self._capture: str | None = None  # "name" | "count" | "summary"
        self._wants_name = False  # inside a company's heading, before its first <bdi> (then the sector's)
        self._text: list[str] = []

    def _tier(self) -> str | None:
        for classes in reversed(self._divs):
            words = classes.split()
            if "tier" in words:
                return next((word[2:] for word in words if word.startswith("t-")), None)
        return None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = attributes.get("class") or ""
        if tag == "html":
            self.html_attrs = attributes
        elif tag == "div":
            self._divs.append(classes)
        elif tag == "section" and classes == "summary":
            self._capture, self._text = "summary", []
        elif self._capture is None and tag == "span" and classes == "count" and self._tier():
            self._capture, self._text = "count", []
        elif tag == "h4" and self._divs and self._divs[-1] == "company":
            self._wants_name = True
        elif self._capture is None and tag == "bdi" and self._wants_name:
            self._capture, self._text, self._wants_name = "name", [], False

    def handle_endtag(self, tag: str) -> None:
        tier = self._tier()
        text = " ".join("".join(self._text).split())
        if tag == "div" and self._divs:
            self._divs.pop()
        elif tag == "section" and self._capture == "summary":
            self.summary, self._capture = text, None
        elif tag == "span" and self._capture == "count" and tier:
            self.stated_counts[tier], self._capture = text, None
        elif tag == "h4":
            self._wants_name = False
        elif tag == "bdi" and self._capture == "name" and tier:
            self.companies.setdefault(tier, []).append(text)
            self._capture = None

    def handle_data(self, data: str) -> None:
        if self._capture is not None:
            self._text.append(data)


def outline_of(path: Path) -> ReportOutline:
    outline = ReportOutline()
    outline.feed(path.read_text(encoding="utf-8"))
    outline.close()
    return outline


def expected_sections(config: AuditConfig) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    for company_id, tier in EXPECTED_TIERS.items():
        sections.setdefault(tier.value, []).append(config.company(company_id).name)
    return {tier: sorted(names) for tier, names in sections.items()}


@pytest.mark.browser
def test_the_demo_report_names_the_tiers_with_their_counts(demo_run: DemoRun) -> None:
    report = demo_run.result.report_path
    assert report is not None and report.is_file()
    assert report.parent == demo_run.result.data_dir / "reports"
    config = parse_config(demo_run.result.config_path.read_text(encoding="utf-8"))
    outline = outline_of(report)
    assert (outline.html_attrs.get("lang"), outline.html_attrs.get("dir")) == ("en", "ltr")
    found = {tier: sorted(names) for tier, names in outline.companies.items()}
    assert found == expected_sections(config)
    for tier, names in found.items():  # each section states its count, e.g. "· 2 companies"
        assert "".join(filter(str.isdigit, outline.stated_counts[tier])) == str(len(names))
    assert "10 companies" in outline.summary  # the headline counts the companies an inquiry reached
    # The fast Hebrew reply's signer is masked; the fast English one's full name appears nowhere.
    html = report.read_text(encoding="utf-8")
    assert "Tamar" not in html and "Ben-David" not in html and "Ronit" not in html


@pytest.mark.browser
def test_the_hebrew_report_of_the_demo_is_right_to_left(demo_run: DemoRun, demo_engine: Engine) -> None:
    from audit.reporting import write_report_file

    config = parse_config(demo_run.result.config_path.read_text(encoding="utf-8"))
    with Session(demo_engine) as session:
        path = write_report_file(
            session,
            config,
            demo_run.result.wave_id,
            data_dir=demo_run.result.data_dir,
            as_of=demo_run.result.as_of,
            lang="he",
        )
    outline = outline_of(path)
    assert (outline.html_attrs.get("lang"), outline.html_attrs.get("dir")) == ("he", "rtl")
    found = {tier: sorted(names) for tier, names in outline.companies.items()}
    assert found == expected_sections(config)
