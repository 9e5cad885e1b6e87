"""Closing a scheduled wave when its deadline has passed: grade it, write the report, email it.

A wave closes once every planned submission is settled and the audit's deadline has passed since its last
submission (`audit.deadline` after the latest `submitted_at`). It is graded `as_of` that moment, so a grade
or a report rebuilt later says the same thing.

The email, at-least-once on purpose. The wave is marked closed, its grades stored and its `ReportDelivery`
row inserted in one transaction, so a closed wave always has its delivery on record. The row is set `sending`
(committed) before the SMTP conversation and `sent` (committed) after the server accepted the message. A row
found `sending` after a restart means the process died in between: the mail may or may not have gone out,
and nothing in SMTP can tell. We send it again, with the same Message-ID (mail systems that de-duplicate show
it once). The report is the product of a month's wave; a board that never receives it (at-most-once losing it
silently) is worse than an internal recipient receiving it twice, and a duplicate needs the process to die in
the milliseconds between the server's "250 OK" and our commit, while losing it would follow any crash during
the whole conversation. Failures (SMTP down, refused login) are retried with backoff and end as `gave_up`
after `MAX_ATTEMPTS`, which the logs show as an error.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from audit.backoff import backoff_seconds
from audit.config import AuditConfig
from audit.db import session_scope
from audit.grading import grade_wave, wave_deadline
from audit.grading.store import replace_probe_grades
from audit.mailer import build_report_message, send_message
from audit.models import PlannedSubmission, Probe, ProbeState, ReportDelivery, ScheduledWave, utcnow
from audit.reporting import build_report_from_db, write_report_file
from audit.settings import Settings

log = logging.getLogger("audit.scheduler")

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=5)
LONGEST_RETRY = timedelta(hours=6)

PENDING, SENDING, SENT, FAILED, GAVE_UP = "pending", "sending", "sent", "failed", "gave_up"


def close_time(session: Session, config: AuditConfig, wave_id: int) -> datetime | None:
    """When the wave may close, or None while a planned submission is still to be sent.

    The grader's own wave deadline (the last submission plus `audit.deadline`); a wave where nothing could
    be submitted closes as soon as every probe has its outcome.
    """

    skipped = select(PlannedSubmission.probe_id).where(
        PlannedSubmission.wave_id == wave_id, PlannedSubmission.status == "skipped"
    )
    probes = session.exec(select(Probe).where(Probe.wave_id == wave_id, col(Probe.id).not_in(skipped))).all()
    if not probes or any(probe.state != ProbeState.FINISHED for probe in probes):
        return None
    deadline = wave_deadline(session, config, wave_id)
    if deadline is not None:
        return deadline
    return max(probe.finished_at or probe.planned_at for probe in probes)


def _relative(path: Path, data_dir: Path) -> str:
    try:
        return path.resolve().relative_to(data_dir.resolve()).as_posix()
    except ValueError:
        return str(path)


def close_wave(
    settings: Settings, config: AuditConfig, engine: Engine, wave_id: int, as_of: datetime
) -> None:
    """Grade, write the report file, then in one transaction: mark the wave closed, store its grades and
    record its delivery. A crash before that commit just means doing it all again (everything is recomputed
    from stored facts); after it, the wave is closed and its email is on record.
    """

    # The reading first, in a transaction that never writes: on SQLite a transaction that reads for a while
    # and then writes fails at once if anyone else committed in between (the collector, the runner).
    with Session(engine) as session:
        grades = grade_wave(session, config, wave_id, as_of=as_of, persist=False)
        path = write_report_file(session, config, wave_id, data_dir=settings.data_dir, as_of=as_of)
    recipients = tuple(config.report.recipients)
    emailed = bool(recipients) and config.report.smtp is not None
    with session_scope(engine) as session:
        # A write first: it takes the lock before anything is read, and only one closer can win the row.
        claimed = session.execute(
            update(ScheduledWave)
            .where(col(ScheduledWave.wave_id) == wave_id, col(ScheduledWave.closed_at).is_(None))
            .values(closed_at=utcnow(), graded_as_of=as_of, report_path=_relative(path, settings.data_dir))
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return
        replace_probe_grades(session, grades)
        if emailed:
            session.add(ReportDelivery(wave_id=wave_id, recipients=",".join(recipients)))
    log.info(
        "wave %d closed (graded as of %s); report %s%s",
        wave_id,
        as_of.isoformat(),
        path,
        ", to be emailed" if emailed else " (no report.recipients and report.smtp: not emailed)",
    )


def close_due_waves(settings: Settings, config: AuditConfig, engine: Engine, now: datetime) -> list[int]:
    """Close every open scheduled wave of this audit whose deadline has passed; the ids closed."""
    due: list[tuple[int, datetime]] = []
    with Session(engine) as session:
        open_waves = session.exec(
            select(ScheduledWave).where(
                ScheduledWave.audit_name == config.audit.name, col(ScheduledWave.closed_at).is_(None)
            )
        ).all()
        for scheduled in open_waves:
            moment = close_time(session, config, scheduled.wave_id)
            if moment is not None and moment <= now:
                due.append((scheduled.wave_id, moment))
    for wave_id, moment in due:
        close_wave(settings, config, engine, wave_id, moment)
    return [wave_id for wave_id, _ in due]


def _retry_delay(attempts: int) -> timedelta:
    seconds = backoff_seconds(
        attempts, first=FIRST_RETRY.total_seconds(), longest=LONGEST_RETRY.total_seconds()
    )
    return timedelta(seconds=seconds)


def deliver_reports(config: AuditConfig, engine: Engine, now: datetime) -> tuple[list[int], list[int]]:
    """Send every report delivery that is pending, interrupted or due for a retry: (sent, failed) wave ids."""
    with Session(engine) as session:
        deliveries = session.exec(
            select(ReportDelivery)
            .where(col(ReportDelivery.state).in_((PENDING, SENDING, FAILED)))
            .order_by(col(ReportDelivery.id))
        ).all()
    sent: list[int] = []
    failed: list[int] = []
    for delivery in deliveries:
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            continue
        if _deliver(config, engine, delivery):
            sent.append(delivery.wave_id)
        else:
            failed.append(delivery.wave_id)
    return sent, failed


def _claim(engine: Engine, delivery: ReportDelivery) -> bool:
    """Compare-and-set to `sending` (committed before any SMTP): False when someone else changed the row."""
    with session_scope(engine) as session:
        result = session.execute(
            update(ReportDelivery)
            .where(
                col(ReportDelivery.id) == delivery.id,
                col(ReportDelivery.state) == delivery.state,
                col(ReportDelivery.attempts) == delivery.attempts,
            )
            .values(state=SENDING, attempts=delivery.attempts + 1, last_attempt_at=utcnow())
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _deliver(config: AuditConfig, engine: Engine, delivery: ReportDelivery) -> bool:

    smtp = config.report.smtp
    if delivery.state == SENDING:
        log.warning(
            "wave %d: the report email was being sent when the server stopped; it may or may not have gone "
            "out, so it is sent again (at-least-once)",
            delivery.wave_id,
        )
    if smtp is None:
        log.error("wave %d: report.smtp is no longer configured; the report email waits", delivery.wave_id)
        return False
    if not _claim(engine, delivery):
        return False
    attempts = delivery.attempts + 1
    try:
        with Session(engine) as session:
            scheduled = session.exec(
                select(ScheduledWave).where(ScheduledWave.wave_id == delivery.wave_id)
            ).one()
            report = build_report_from_db(
                session, config, delivery.wave_id, as_of=scheduled.graded_as_of, lang=None
            )
        recipients = delivery.recipients.split(",")
        message = build_report_message(report, smtp, recipients)
        # The same Message-ID on every attempt: a copy sent again after a crash is recognisably the same
        # email, and mail systems that de-duplicate by Message-ID show it once.
        domain = smtp.from_address.rpartition("@")[2]
        message.replace_header("Message-ID", f"<audit-report-wave-{delivery.wave_id}.{delivery.id}@{domain}>")
        send_message(message, smtp, recipients)
    except Exception as ex:  # the delivery's boundary: record any failure, retry later, never lose the row
        gave_up = attempts >= MAX_ATTEMPTS
        retry_at = None if gave_up else utcnow() + _retry_delay(attempts)
        with session_scope(engine) as session:
            session.execute(
                update(ReportDelivery)
                .where(col(ReportDelivery.id) == delivery.id)
                .values(
                    state=GAVE_UP if gave_up else FAILED,
                    last_error=f"{ex.__class__.__name__}: {ex}"[:2000],
                    next_attempt_at=retry_at,
                )
            )
        if gave_up:
            log.error(
                "wave %d: the report email failed %d times; giving up: %s", delivery.wave_id, attempts, ex
            )
        else:
            log.warning(
                "wave %d: the report email failed (attempt %d): %s; next try at %s",
                delivery.wave_id,
                attempts,
                ex,
                retry_at.isoformat() if retry_at else "-",
            )
        return False
    with session_scope(engine) as session:
        session.execute(
            update(ReportDelivery)
            .where(col(ReportDelivery.id) == delivery.id)
            .values(state=SENT, sent_at=utcnow(), last_error=None, next_attempt_at=None)
        )
    log.info(
        "wave %d: report emailed to %d recipient(s)", delivery.wave_id, len(delivery.recipients.split(","))
    )
    return True
