"""The scheduler's parts on real SQLite and PostgreSQL: cron, the plan, the lease, the jobs' bookkeeping,
retention, the report's delivery, and the logs' redaction. The server as a whole is tests/test_serve.py."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlmodel import Session, col

from audit.config import AuditConfig, parse_config
from audit.db import open_database
from audit.errors import ConfigError
from audit.grading.calendar import BusinessCalendar
from audit.grading.types import SubmitTimeClass
from audit.logging_setup import REDACTED, JsonFormatter, SecretRedactor, configure_logging
from audit.models import (
    Company,
    Message,
    PlannedSubmission,
    Probe,
    ProbeState,
    ReportDelivery,
    ScheduledWave,
    SchedulerLease,
    Wave,
    WavePruning,
    utcnow,
)
from audit.scheduler import AuditScheduler, lease, tick
from audit.scheduler.closing import MAX_ATTEMPTS, close_due_waves, deliver_reports
from audit.scheduler.cron import latest_firing, parse_cron
from audit.scheduler.jobs import JobContext, due_submissions, start_due_wave
from audit.scheduler.plan import BUSINESS, OFF_HOURS, plan_wave, spread
from audit.scheduler.retention import prune
from audit.settings import Settings

JERUSALEM = ZoneInfo("Asia/Jerusalem")
# Sunday 1 November 2026, 09:00 in Jerusalem (UTC+2): a working day in Israel, no holiday that week.
SUNDAY_9 = datetime(2026, 11, 1, 9, 0, tzinfo=JERUSALEM).astimezone(UTC)


def make_config(
    companies: int = 12,
    *,
    window: str = "2d",
    off_hours_share: float = 0.0,
    working_hours_only: bool = True,
    jitter: str = "20m",
    min_gap: str = "7d",
    cron: str = "0 9 1-7 * sun",
    extra: str = "",
) -> AuditConfig:
    rows = "\n".join(
        f'  - {{id: c{index:02d}, name: "Company {index}", contact_url: "https://c{index:02d}.example.com/contact"}}'
        for index in range(companies)
    )
    return parse_config(
        f"""\
audit: {{name: "Schedule test", timezone: Asia/Jerusalem, country: IL, deadline: 7d}}
mailbox: {{address: "dana.{{token}}@replies.example.org"}}
persona: {{first_name: Dana, last_name: Levi, phone: "050-1234567"}}
inquiry: {{subject: "Plans", message: "Do you offer a monthly plan?"}}
schedule:
  cron: "{cron}"
  window: {window}
  working_hours_only: {str(working_hours_only).lower()}
  off_hours_share: {off_hours_share}
  jitter: {jitter}
  min_gap_same_company: {min_gap}
{extra}companies:
{rows}
"""
    )


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_database(database_url)
    yield engine
    engine.dispose()


def context(config: AuditConfig, engine: Engine, data_dir: Path) -> JobContext:
    """What a job gets from the running scheduler, which holds the lease."""
    owner = lease.new_owner()
    assert lease.acquire(engine, owner).held
    return JobContext(Settings(data_dir=data_dir), config, engine, asyncio.Event(), owner)


# ------------------------------------------------------------------------------------------------------ cron


def test_cron_reads_weekday_numbers_as_cron_does_not_as_apscheduler_does() -> None:
    # Classic cron: 0 and 7 are Sunday, 1-5 Monday to Friday (APScheduler alone would read 0 as Monday).
    assert "day_of_week='sun'" in repr(parse_cron("0 9 * * 0", UTC))
    assert "day_of_week='sun'" in repr(parse_cron("0 9 * * 7", UTC))
    assert "day_of_week='mon,tue,wed,thu,fri'" in repr(parse_cron("0 9 * * 1-5", UTC))
    first_sunday = parse_cron("0 9 1-7 * sun", JERUSALEM)
    assert first_sunday.get_next_fire_time(None, datetime(2026, 11, 2, tzinfo=UTC)) == datetime(
        2026, 12, 6, 9, 0, tzinfo=JERUSALEM
    )


def test_cron_takes_seconds_as_a_sixth_field_and_refuses_nonsense() -> None:
    every_ten = parse_cron("*/10 * * * * *", UTC)
    start = datetime(2026, 11, 1, 12, 0, 3, tzinfo=UTC)
    assert every_ten.get_next_fire_time(None, start) == datetime(2026, 11, 1, 12, 0, 10, tzinfo=UTC)
    for bad in ("0 9 * *", "61 9 * * *", "0 9 * * 1-9", "0 9 * * mon-1"):
        with pytest.raises(ConfigError, match=r"schedule\.cron"):
            parse_cron(bad, UTC)


def test_latest_firing_looks_back_only_as_far_as_asked() -> None:
    trigger = parse_cron("0 9 * * *", UTC)
    now = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
    assert latest_firing(trigger, now=now, not_before=now - timedelta(hours=6)) == datetime(
        2026, 11, 3, 9, 0, tzinfo=UTC
    )
    assert latest_firing(trigger, now=now, not_before=now - timedelta(minutes=30)) is None


# ------------------------------------------------------------------------------------------------------ plan


def test_submissions_spread_over_the_open_hours_of_the_window_in_random_order() -> None:
    config = make_config(12, window="2d")
    calendar = BusinessCalendar.from_config(config.audit)
    slots = spread(config, count=12, start=SUNDAY_9, end=SUNDAY_9 + timedelta(days=2), rng=random.Random(7))
    moments = sorted(slot.due_at for slot in slots)
    assert all(calendar.classify(moment) is SubmitTimeClass.BUSINESS for moment in moments)
    assert all(slot.time_class == BUSINESS for slot in slots)
    local_days = {moment.astimezone(JERUSALEM).date().isoformat() for moment in moments}
    assert local_days == {"2026-11-01", "2026-11-02"}  # Sunday and Monday: two working days
    # Even spread: 16 open hours / 12 = 80 minutes apart, give or take the 20-minute jitter each side.
    gaps = [(later - earlier).total_seconds() / 60 for earlier, later in itertools.pairwise(moments)]
    overnight = [gap for gap in gaps if gap > 600]
    assert len(overnight) == 1
    assert all(35 <= gap <= 125 for gap in gaps if gap <= 600)
    assert [slot.due_at for slot in slots] != moments  # the order is not the company order


def test_the_off_hours_share_goes_outside_open_hours_and_is_labelled() -> None:
    config = make_config(20, off_hours_share=0.25)
    calendar = BusinessCalendar.from_config(config.audit)
    slots = spread(config, count=20, start=SUNDAY_9, end=SUNDAY_9 + timedelta(days=2), rng=random.Random(1))
    off = [slot for slot in slots if slot.time_class == OFF_HOURS]
    assert len(off) == 5
    assert all(calendar.classify(slot.due_at) is not SubmitTimeClass.BUSINESS for slot in off)
    assert all(
        calendar.classify(slot.due_at) is SubmitTimeClass.BUSINESS for slot in slots if slot not in off
    )


def test_a_window_without_open_hours_moves_to_the_next_working_day() -> None:
    friday_noon = datetime(2026, 11, 6, 12, 0, tzinfo=JERUSALEM).astimezone(UTC)  # the weekend in Israel
    config = make_config(3, window="1d")
    slots = spread(
        config, count=3, start=friday_noon, end=friday_noon + timedelta(days=1), rng=random.Random(3)
    )
    assert {slot.due_at.astimezone(JERUSALEM).date().isoformat() for slot in slots} == {"2026-11-08"}


def test_outside_working_hours_when_asked_the_whole_window_is_used() -> None:
    config = make_config(50, window="2d", working_hours_only=False, jitter="1m")
    slots = spread(config, count=50, start=SUNDAY_9, end=SUNDAY_9 + timedelta(days=2), rng=random.Random(5))
    assert {slot.time_class for slot in slots} == {BUSINESS, OFF_HOURS}
    assert all(SUNDAY_9 <= slot.due_at < SUNDAY_9 + timedelta(days=2) for slot in slots)


def _add_wave(session: Session, config: AuditConfig, start: datetime) -> Wave:
    wave = Wave(audit_name=config.audit.name)
    session.add(wave)
    session.flush()
    plan_wave(session, config, wave, start=start, end=start + timedelta(days=2), rng=random.Random(11))
    return wave


def test_planning_is_idempotent_and_respects_the_gap_to_the_same_company(engine: Engine) -> None:
    config = make_config(4, min_gap="7d")
    with Session(engine, expire_on_commit=False) as session:
        first = _add_wave(session, config, SUNDAY_9 - timedelta(days=3))
        session.commit()
        earlier = {
            row.company_id: row.due_at
            for row in session.exec(select(PlannedSubmission).where(PlannedSubmission.wave_id == first.id))
            .scalars()
            .all()
        }
        assert len(earlier) == 4
        second = _add_wave(session, config, SUNDAY_9)
        session.commit()
        assert plan_wave(session, config, second, start=SUNDAY_9, end=SUNDAY_9 + timedelta(days=2)) == []
        session.commit()
        rows = (
            session.exec(select(PlannedSubmission).where(PlannedSubmission.wave_id == second.id))
            .scalars()
            .all()
        )
        probes = session.exec(select(Probe).where(Probe.wave_id == second.id)).scalars().all()
    assert len(rows) == 4 and len(probes) == 4  # planned twice, created once
    assert {row.probe_id for row in rows} == {probe.id for probe in probes}
    calendar = BusinessCalendar.from_config(config.audit)
    for row in rows:
        assert row.due_at >= earlier[row.company_id] + timedelta(days=7)
        assert calendar.classify(row.due_at) is SubmitTimeClass.BUSINESS
        assert row.note is not None and "min_gap_same_company" in row.note


def test_starting_a_wave_twice_for_one_cron_firing_makes_one_wave(engine: Engine, tmp_path: Path) -> None:
    config = make_config(3, cron="0 9 * * *", working_hours_only=False)
    ctx = context(config, engine, tmp_path)
    now = datetime(2026, 11, 3, 9, 0, 5, tzinfo=JERUSALEM).astimezone(UTC)
    first = start_due_wave(ctx, now=now, not_before=now - timedelta(days=1), rng=random.Random(1))
    again = start_due_wave(ctx, now=now + timedelta(minutes=1), not_before=now - timedelta(days=1))
    assert first is not None and again is None
    with Session(engine) as session:
        scheduled = session.execute(select(ScheduledWave)).scalars().all()
        assert [(row.wave_id, row.fire_at) for row in scheduled] == [
            (first, datetime(2026, 11, 3, 9, 0, tzinfo=JERUSALEM).astimezone(UTC))
        ]
        assert len(session.execute(select(PlannedSubmission)).scalars().all()) == 3
    # A firing older than the six-hour grace is skipped; one before the scheduler first ran is never caught up.
    late = datetime(2026, 11, 4, 15, 30, tzinfo=JERUSALEM).astimezone(UTC)
    assert start_due_wave(ctx, now=late, not_before=now) is None
    assert start_due_wave(ctx, now=late - timedelta(hours=5), not_before=late) is None


def test_due_rows_of_a_disabled_company_are_skipped_and_done_ones_settled(
    engine: Engine, tmp_path: Path
) -> None:
    config = make_config(3, working_hours_only=False, window="1h", jitter="1s")
    ctx = context(config, engine, tmp_path)
    start = utcnow() - timedelta(hours=2)
    with Session(engine) as session:
        wave = Wave(audit_name=config.audit.name)
        session.add(wave)
        session.flush()
        plan_wave(session, config, wave, start=start, end=start + timedelta(hours=1))
        session.execute(
            text("UPDATE probe SET state = 'finished', outcome = 'no_form' WHERE company_id = 'c00'")
        )
        session.commit()
    disabled = config.model_copy(
        update={"companies": tuple(c.model_copy(update={"enabled": c.id != "c01"}) for c in config.companies)}
    )
    due = due_submissions(engine, disabled, utcnow())
    with Session(engine) as session:
        probes = {probe.id: probe.company_id for probe in session.execute(select(Probe)).scalars()}
        status = {row.company_id: row.status for row in session.execute(select(PlannedSubmission)).scalars()}
    assert [probes[probe_id] for ids in due.values() for probe_id in ids] == ["c02"]
    assert status == {"c00": "done", "c01": "skipped", "c02": "planned"}
    assert ctx.config is config


def test_the_tick_follows_the_window() -> None:
    assert tick(make_config(1, window="2d").schedule) == timedelta(seconds=30)  # type: ignore[arg-type]
    assert tick(make_config(1, window="10s").schedule) == timedelta(seconds=1)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------------- lease


def test_one_lease_holder_at_a_time(engine: Engine) -> None:
    first, second = "host-a:1:aaaa", "host-b:2:bbbb"  # other hosts: only the expiry frees them
    taken = lease.acquire(engine, first)
    assert taken.held and taken.owner == first
    refused = lease.acquire(engine, second)
    assert not refused.held and refused.owner == first and refused.expires_at is not None
    assert lease.renew(engine, first) and not lease.renew(engine, second)
    lease.release(engine, first)
    assert lease.acquire(engine, second).held
    assert not lease.acquire(engine, first).held


def test_an_expired_lease_is_taken_over_and_its_old_holder_notices(engine: Engine) -> None:
    assert lease.acquire(engine, "host-a:1:aaaa", ttl=timedelta(seconds=-1)).held  # already expired
    assert lease.acquire(engine, "host-b:2:bbbb").held
    assert not lease.renew(engine, "host-a:1:aaaa")  # the old holder must stop scheduling


def test_a_dead_local_holder_is_taken_over_at_once(engine: Engine) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_owner = f"{socket.gethostname()}:{int(gone.stdout)}:dead"
    assert lease.acquire(engine, dead_owner).held
    assert lease.owner_is_dead(dead_owner)
    assert lease.acquire(engine, lease.new_owner()).held  # no waiting for the 60-second expiry
    assert not lease.owner_is_dead(lease.new_owner())


def test_a_second_scheduler_in_the_same_database_stays_passive(engine: Engine, tmp_path: Path) -> None:
    config = make_config(2, cron="0 9 * * *", working_hours_only=False)
    settings = Settings(data_dir=tmp_path)

    async def scenario() -> tuple[bool, bool, str | None, str | None, set[str]]:
        first = AuditScheduler(settings, config, engine)
        second = AuditScheduler(settings, config, engine)
        await first.start()
        await second.start()
        try:
            health = second.health()
            jobs = {row[0] for row in (await asyncio.to_thread(_job_ids, engine))}
            return first.health().active, health.active, health.lease_owner, first.owner, jobs
        finally:
            await second.shutdown()
            await first.shutdown()

    first_active, second_active, seen_owner, first_owner, jobs = asyncio.run(scenario())
    assert first_active and not second_active
    assert seen_owner == first_owner
    assert jobs == {"start_wave", "submit_due", "close_waves", "retention"}  # no reply source: no collect
    with Session(engine) as session:
        row = session.get(SchedulerLease, lease.LEASE_NAME)
        assert row is not None and row.owner is None  # released at shutdown


def _job_ids(engine: Engine) -> list[tuple[str]]:
    with engine.connect() as connection:
        return [(row[0],) for row in connection.execute(text("SELECT id FROM apscheduler_jobs"))]


def test_the_job_store_table_comes_from_the_migrations(engine: Engine) -> None:
    columns = {column["name"] for column in inspect(engine).get_columns("apscheduler_jobs")}
    assert columns == {"id", "next_run_time", "job_state"}


# ------------------------------------------------------------------------------------------------- retention


def _wave_with_files(session: Session, data_dir: Path, company: str, *, finished: datetime, raw: str) -> int:
    wave = Wave(audit_name="Schedule test", status="submitted", finished_at=finished)
    session.add(wave)
    session.flush()
    assert wave.id is not None
    evidence = Path("evidence") / f"wave-{wave.id}" / f"{company}-1"
    (data_dir / evidence).mkdir(parents=True)
    (data_dir / evidence / "before-submit.png").write_bytes(b"\x89PNG" + b"0" * 100)
    probe = Probe(
        wave_id=wave.id, company_id=company, token=f"tok{wave.id}{company}", ref_code=f"R{wave.id}",
        reply_address="x@y.z", contact_url="u", state=ProbeState.FINISHED, outcome="submitted",
        submitted_at=finished, evidence_dir=evidence.as_posix(),
    )  # fmt: skip
    session.add(probe)
    session.flush()
    (data_dir / raw).parent.mkdir(parents=True, exist_ok=True)
    (data_dir / raw).write_bytes(b"From: a@b.c\r\n\r\nhello")
    session.add(
        Message(
            source="maildir", content_key=f"k{wave.id}{company}", raw_path=raw, received_at=finished,
            received_at_source="maildir_mtime", probe_id=probe.id, kind="human", text="hello Dana",
        )
    )  # fmt: skip
    return wave.id


def test_retention_deletes_old_files_keeps_rows_and_shared_files(engine: Engine, tmp_path: Path) -> None:
    config = make_config(1)
    now = utcnow()
    with Session(engine) as session:
        session.add(Company(id="acme", name="Acme", contact_url="https://acme.test/", domain="acme.test"))
        old = _wave_with_files(
            session, tmp_path, "acme", finished=now - timedelta(days=400), raw="raw/aa/old.eml"
        )
        shared = _wave_with_files(
            session, tmp_path, "acme", finished=now - timedelta(days=390), raw="raw/bb/s.eml"
        )
        recent = _wave_with_files(
            session, tmp_path, "acme", finished=now - timedelta(days=5), raw="raw/cc/new.eml"
        )
        # A reply of the recent wave whose raw bytes are the same file as one of an old wave: it stays.
        probe = session.execute(select(Probe).where(Probe.wave_id == recent)).scalars().one()
        session.add(
            Message(source="imap", content_key="dup", raw_path="raw/bb/s.eml", received_at=now,
                    received_at_source="internaldate", probe_id=probe.id, kind="human")
        )  # fmt: skip
        session.commit()
    report = prune(config, engine, tmp_path, now, timedelta(days=180))
    assert (report.raw_files, report.evidence_dirs) == (1, 2)
    assert not (tmp_path / "raw/aa/old.eml").exists()
    assert (tmp_path / "raw/bb/s.eml").exists() and (tmp_path / "raw/cc/new.eml").exists()
    assert (
        not (tmp_path / f"evidence/wave-{old}").exists()
        and not (tmp_path / f"evidence/wave-{shared}").exists()
    )
    assert (tmp_path / f"evidence/wave-{recent}/acme-1/before-submit.png").exists()
    with Session(engine) as session:
        marks = {row.wave_id: row for row in session.execute(select(WavePruning)).scalars()}
        assert set(marks) == {old, shared}
        assert marks[old].raw_files == 1 and marks[old].evidence_dirs == 1 and marks[old].bytes_freed > 100
        assert len(session.execute(select(Message)).scalars().all()) == 4  # the facts stay
        assert session.execute(select(Message.text).where(col(Message.raw_path) == "raw/aa/old.eml")).scalar()
    again = prune(config, engine, tmp_path, now, timedelta(days=180))
    assert (again.raw_files, again.evidence_dirs, again.waves) == (0, 0, 0)


def test_retention_never_leaves_the_data_directory(engine: Engine, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me", encoding="utf-8")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with Session(engine) as session:
        session.add(Company(id="acme", name="Acme", contact_url="https://acme.test/", domain="acme.test"))
        _wave_with_files(session, data_dir, "acme", finished=utcnow() - timedelta(days=400), raw="raw/x.eml")
        session.execute(text("UPDATE message SET raw_path = '../outside.txt'"))
        session.commit()
    prune(make_config(1), engine, data_dir, utcnow(), timedelta(days=180))
    assert outside.read_text(encoding="utf-8") == "keep me"


# ------------------------------------------------------------------------------------------------------ logs


def test_secrets_never_reach_a_log_line() -> None:
    stream = io.StringIO()
    redactor = SecretRedactor(["hunter2-imap-password"])
    handler = logging.StreamHandler(stream)
    handler.addFilter(redactor)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.warning("IMAP login failed for dana with %s", "hunter2-imap-password")
        logger.warning("request headers: Authorization: Basic ZGFuYTpodW50ZXIy and more")
        logger.warning("connecting to postgresql+psycopg://audit:s3cr3t-db@db.example.org/audit")
        logger.warning('payload {"password": "p4ssw0rd!", "user": "dana"} smtp_password=abc123xyz')
        try:
            raise RuntimeError("SMTP refused hunter2-imap-password")
        except RuntimeError:
            logger.exception("mail failed")
        logger.info("extra", extra={"detail": "token=hunter2-imap-password"})
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    for secret in ("hunter2-imap-password", "ZGFuYTpodW50ZXIy", "s3cr3t-db", "p4ssw0rd!", "abc123xyz"):
        assert secret not in output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert len(lines) == 6
    assert lines[0]["level"] == "warning" and lines[0]["logger"] == "test.redaction"
    assert lines[0]["message"] == f"IMAP login failed for dana with {REDACTED}"
    assert "audit:[redacted]@db.example.org" in lines[2]["message"]
    assert "RuntimeError: SMTP refused [redacted]" in lines[4]["exception"]
    assert lines[5]["detail"] == f"token={REDACTED}"


def test_configure_logging_routes_uvicorn_through_the_redactor(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("json", secrets=["webhook-secret-value"])
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/1.1" %d', "1.2.3.4", "POST", "/x?k=webhook-secret-value", 200
        )
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["logger"] == "uvicorn.access" and "webhook-secret-value" not in line["message"]


# ------------------------------------------------------------------------------------- closing and emailing


class _Sink:
    """An SMTP server's handler that keeps every message it accepted."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append(bytes(envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_sink() -> Iterator[tuple[_Sink, int]]:
    from aiosmtpd.controller import Controller

    sink = _Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield sink, controller.port
    finally:
        controller.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _report_config(smtp_port: int) -> AuditConfig:
    return make_config(
        2,
        extra=(
            "report:\n  recipients: [board@example.org, cx@example.org]\n"
            f"  smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none, from_address: audit@example.org,"
            " timeout: 5s}\n"
        ),
    )


def _closable_wave(
    engine: Engine, config: AuditConfig, *, submitted: datetime, state: str = "finished"
) -> int:
    """A scheduled wave of two probes: one submitted (with a human reply), one that found no form."""
    with Session(engine) as session:
        for company in config.companies:
            session.add(
                Company(id=company.id, name=company.name, contact_url=company.contact_url, domain="x.test")
            )
        wave = Wave(audit_name=config.audit.name, status="submitted", finished_at=submitted)
        session.add(wave)
        session.flush()
        assert wave.id is not None
        session.add(ScheduledWave(wave_id=wave.id, audit_name=config.audit.name, fire_at=submitted,
                                  started_at=submitted, window_end=submitted))  # fmt: skip
        sent = Probe(wave_id=wave.id, company_id="c00", token="tokc00", ref_code="AAAA-00", reply_address="d@r.test",
                     contact_url="u", state=state, outcome="submitted" if state == "finished" else None,
                     submitted_at=submitted, submit_started_at=submitted)  # fmt: skip
        none = Probe(wave_id=wave.id, company_id="c01", token="tokc01", ref_code="AAAA-01", reply_address="e@r.test",
                     contact_url="u", state="finished", outcome="no_form", finished_at=submitted)  # fmt: skip
        session.add_all([sent, none])
        session.flush()
        for probe in (sent, none):
            assert probe.id is not None
            session.add(PlannedSubmission(wave_id=wave.id, company_id=probe.company_id, probe_id=probe.id,
                                          due_at=submitted, time_class=BUSINESS, status="done"))  # fmt: skip
        session.add(
            Message(source="maildir", content_key="reply-c00", received_at=submitted + timedelta(hours=2),
                    received_at_source="maildir_mtime", probe_id=sent.id, kind="human",
                    from_address="ruth@c00.example.com", subject="Re: Plans",
                    text="Hello Dana, yes we offer a monthly plan. Best regards, Ruth",
                    reply_text="Hello Dana, yes we offer a monthly plan. Best regards, Ruth")
        )  # fmt: skip
        session.commit()
        return wave.id


def test_a_wave_closes_once_after_its_deadline_and_its_report_is_emailed_once(
    engine: Engine, tmp_path: Path, smtp_sink: tuple[_Sink, int]
) -> None:
    sink, port = smtp_sink
    config = _report_config(port)
    settings = Settings(data_dir=tmp_path)
    now = utcnow()
    wave_id = _closable_wave(engine, config, submitted=now - timedelta(days=8))
    assert close_due_waves(settings, config, engine, now - timedelta(days=2)) == []  # deadline not passed yet
    assert close_due_waves(settings, config, engine, now) == [wave_id]
    assert close_due_waves(settings, config, engine, now) == []  # closed: nothing twice
    with Session(engine) as session:
        scheduled = session.execute(select(ScheduledWave)).scalars().one()
        deliveries = session.execute(select(ReportDelivery)).scalars().all()
        grades = session.execute(text("SELECT count(*) FROM probegrade")).scalar()
    assert scheduled.closed_at is not None and scheduled.report_path == f"reports/wave-{wave_id}-en.html"
    assert scheduled.graded_as_of == now - timedelta(days=1)  # the last submission plus the 7-day deadline
    assert (tmp_path / scheduled.report_path).is_file() and grades == 2
    assert [(row.state, row.recipients) for row in deliveries] == [
        ("pending", "board@example.org,cx@example.org")
    ]

    assert deliver_reports(config, engine, now) == ([wave_id], [])
    assert deliver_reports(config, engine, now) == ([], [])
    assert len(sink.messages) == 1
    email = message_from_bytes(sink.messages[0], policy=policy.default)
    assert email["Message-ID"] == f"<audit-report-wave-{wave_id}.{deliveries[0].id}@example.org>"
    with Session(engine) as session:
        row = session.execute(select(ReportDelivery)).scalars().one()
    assert (row.state, row.attempts) == ("sent", 1) and row.sent_at is not None


def test_a_wave_closes_only_after_a_collect_pass_that_began_after_its_deadline(
    engine: Engine, tmp_path: Path, smtp_sink: tuple[_Sink, int]
) -> None:
    # A reply that arrived just before the deadline but is not collected yet (Junk has no IDLE; after an
    # outage or a restart, every waiting reply) must be in the report, so closing waits for such a pass.
    _, port = smtp_sink
    config = _report_config(port)
    now = utcnow()
    wave_id = _closable_wave(engine, config, submitted=now - timedelta(days=8))  # deadline: a day ago
    scheduler = AuditScheduler(Settings(data_dir=tmp_path), config, engine)

    def closed() -> bool:
        with Session(engine) as session:
            row = (
                session.execute(select(ScheduledWave).where(ScheduledWave.wave_id == wave_id)).scalars().one()
            )
            return row.closed_at is not None

    async def scenario() -> list[bool]:
        scheduler._events = {"collect": asyncio.Event()}  # a reply source is configured
        seen = []
        await scheduler._close_waves()  # no collect pass yet in this process (e.g. just restarted)
        seen.append(closed())
        scheduler._collected_through = now - timedelta(days=2)  # a pass that began before the deadline
        await scheduler._close_waves()
        seen.append(closed())
        scheduler._collected_through = now - timedelta(minutes=1)  # one that began after it
        await scheduler._close_waves()
        seen.append(closed())
        return seen

    assert asyncio.run(scenario()) == [False, False, True]


def test_an_email_interrupted_mid_send_is_sent_again_with_the_same_message_id(
    engine: Engine, tmp_path: Path, smtp_sink: tuple[_Sink, int]
) -> None:
    """At-least-once: a row left `sending` (the process died during SMTP) is sent again, exactly once more."""
    sink, port = smtp_sink
    config = _report_config(port)
    now = utcnow()
    wave_id = _closable_wave(engine, config, submitted=now - timedelta(days=8))
    close_due_waves(Settings(data_dir=tmp_path), config, engine, now)
    with Session(engine) as session:
        session.execute(text("UPDATE reportdelivery SET state = 'sending', attempts = 1"))
        session.commit()
    assert deliver_reports(config, engine, now) == ([wave_id], [])
    assert deliver_reports(config, engine, now) == ([], [])
    assert len(sink.messages) == 1
    with Session(engine) as session:
        row = session.execute(select(ReportDelivery)).scalars().one()
    assert (row.state, row.attempts) == ("sent", 2)


def test_a_failing_smtp_server_is_retried_with_backoff_then_given_up(engine: Engine, tmp_path: Path) -> None:
    config = _report_config(_free_port())  # nothing listens there
    now = utcnow()
    wave_id = _closable_wave(engine, config, submitted=now - timedelta(days=8))
    close_due_waves(Settings(data_dir=tmp_path), config, engine, now)
    assert deliver_reports(config, engine, now) == ([], [wave_id])
    with Session(engine) as session:
        row = session.execute(select(ReportDelivery)).scalars().one()
    assert (
        row.state == "failed"
        and row.attempts == 1
        and "cannot reach the SMTP server" in (row.last_error or "")
    )
    assert row.next_attempt_at is not None and row.next_attempt_at > now + timedelta(minutes=4)
    assert deliver_reports(config, engine, now + timedelta(minutes=1)) == ([], [])  # not before its time
    with Session(engine) as session:
        session.execute(text(f"UPDATE reportdelivery SET attempts = {MAX_ATTEMPTS - 1}"))
        session.commit()
    assert deliver_reports(config, engine, now + timedelta(days=1)) == ([], [wave_id])
    with Session(engine) as session:
        row = session.execute(select(ReportDelivery)).scalars().one()
    assert row.state == "gave_up" and row.next_attempt_at is None
    assert deliver_reports(config, engine, now + timedelta(days=30)) == ([], [])


def test_a_wave_with_a_submission_still_in_flight_does_not_close(engine: Engine, tmp_path: Path) -> None:
    config = _report_config(_free_port())
    now = utcnow()
    _closable_wave(engine, config, submitted=now - timedelta(days=30), state="submit_started")
    assert close_due_waves(Settings(data_dir=tmp_path), config, engine, now) == []


def test_starting_a_wave_needs_the_lease(engine: Engine, tmp_path: Path) -> None:
    config = make_config(2, cron="0 9 * * *", working_hours_only=False)
    ctx = context(config, engine, tmp_path)
    lease.release(engine, ctx.owner)
    assert lease.acquire(engine, "host-b:2:bbbb").held  # another server took over meanwhile
    now = datetime(2026, 11, 3, 9, 0, 5, tzinfo=JERUSALEM).astimezone(UTC)
    assert start_due_wave(ctx, now=now, not_before=now - timedelta(days=1)) is None
    with Session(engine) as session:
        assert session.execute(select(Wave)).first() is None
