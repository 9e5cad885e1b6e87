"""The scheduler's jobs: what each does, and the thin entry points APScheduler calls.

APScheduler only wakes things up. Each entry point below (module-level, so the job store can keep a reference
to it) just wakes the worker of that name in the running `AuditScheduler`; the worker then does the work with
the state in the database as its only input. So a job that runs twice, late, or after a crash finds what is
left to do and does only that: the plan, the probes' write-ahead records, the messages' unique keys and the
report delivery row make every step idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from audit.config import AuditConfig
from audit.db import session_scope
from audit.errors import WaveError
from audit.models import PlannedSubmission, Probe, ProbeState, ScheduledWave, Wave, WaveMode, utcnow
from audit.runner import RunReport, WaveRun, close_wave_if_done, recover_interrupted, wave_lease
from audit.scheduler import lease
from audit.scheduler.cron import latest_firing, parse_cron
from audit.scheduler.plan import plan_wave
from audit.settings import Settings
from probes import launch_browser

log = logging.getLogger("audit.scheduler")

START_WAVE_GRACE = timedelta(hours=6)
"""A wave whose cron firing was missed (server down) still starts up to this late; later, it is skipped."""


# ----------------------------------------------------------------------------------- APScheduler entry points

_waker: Callable[[str], None] | None = None


def set_waker(waker: Callable[[str], None] | None) -> None:
    """The running AuditScheduler registers how to wake its workers (None when it stops)."""
    global _waker
    _waker = waker


def _wake(name: str) -> None:
    if _waker is None:  # a job fired while no scheduler runs in this process (it is shutting down)
        log.debug("job %s fired with no scheduler running", name)
        return
    _waker(name)


async def start_wave() -> None:
    _wake("start_wave")


async def submit_due() -> None:
    _wake("submit_due")


async def collect() -> None:
    _wake("collect")


async def close_waves() -> None:
    _wake("close_waves")


async def retention() -> None:
    _wake("retention")


# ----------------------------------------------------------------------------------------------- the context


@dataclass(frozen=True, slots=True)
class JobContext:
    settings: Settings
    config: AuditConfig
    engine: Engine
    stopping: asyncio.Event
    """Set at shutdown: no new probe is started, the ones in flight finish."""
    owner: str = ""
    """The lease holder this process is (`lease.fence` checks it before the schedule changes)."""


# ------------------------------------------------------------------------------------------------ start_wave


def start_due_wave(
    ctx: JobContext, *, now: datetime, not_before: datetime, rng: random.Random | None = None
) -> int | None:
    """Start (and plan) the wave of the latest cron firing in [not_before, now] unless it exists already.

    Returns the new wave's id, or None when there is nothing to start. The wave, its probes and its plan are
    committed in one transaction: a crash leaves either all of them or none (and the next call starts it).
    """
    schedule = ctx.config.schedule
    assert schedule is not None
    trigger = parse_cron(schedule.cron, ZoneInfo(ctx.config.audit.timezone))
    firing = latest_firing(trigger, now=now, not_before=max(not_before, now - START_WAVE_GRACE))
    if firing is None:
        return None
    if not any(company.enabled for company in ctx.config.companies):
        log.warning("scheduler: every company is disabled; no wave started for the firing at %s", firing)
        return None
    name = ctx.config.audit.name
    try:
        with session_scope(ctx.engine) as session:
            if not lease.fence(session, ctx.owner):
                log.warning("scheduler: no longer holds the lease; wave for %s not started here", firing)
                return None
            existing = session.exec(
                select(ScheduledWave).where(ScheduledWave.audit_name == name, ScheduledWave.fire_at == firing)
            ).first()
            if existing is not None:
                return None
            wave = Wave(audit_name=name, mode=WaveMode.LIVE)
            session.add(wave)
            session.flush()
            assert wave.id is not None
            end = now + schedule.window
            session.add(
                ScheduledWave(
                    wave_id=wave.id, audit_name=name, fire_at=firing, started_at=now, window_end=end
                )
            )
            rows = plan_wave(session, ctx.config, wave, start=now, end=end, rng=rng)
            wave_id = wave.id
    except IntegrityError:  # the same firing started by someone else a moment ago
        return None
    first = min((row.due_at for row in rows), default=None)
    log.info(
        "wave %d started for the cron firing at %s: %d submissions planned%s",
        wave_id,
        firing.isoformat(),
        len(rows),
        f", the first due at {first.isoformat()}" if first else "",
    )
    return wave_id


# ------------------------------------------------------------------------------------------------ submit_due

SKIPPED_NOTE = "the company is disabled or no longer in the config; nothing was sent"


@dataclass(slots=True)
class SubmitReport:
    attempted: int = 0
    recovered_uncertain: list[str] | None = None
    busy_waves: list[int] | None = None


def due_submissions(engine: Engine, config: AuditConfig, now: datetime) -> dict[int, list[int]]:
    """Wave id -> probe ids due now, oldest first. Rows that cannot run are settled on the way: a company
    disabled or removed from the config since the plan is `skipped`; a probe that already has an outcome
    (an `audit run` by hand got there first) is `done`."""
    enabled = {company.id for company in config.companies if company.enabled}
    due: dict[int, list[int]] = defaultdict(list)
    done: list[int] = []
    skipped: list[tuple[int, int, str]] = []  # planned row, wave, company
    with Session(engine) as session:  # reads only; the changes below are a transaction of their own
        rows = session.exec(
            select(PlannedSubmission, Probe)
            .join(Probe, col(Probe.id) == col(PlannedSubmission.probe_id))
            .join(Wave, col(Wave.id) == col(PlannedSubmission.wave_id))
            .where(
                Wave.audit_name == config.audit.name,
                PlannedSubmission.status == "planned",
                col(PlannedSubmission.due_at) <= now,
            )
            .order_by(col(PlannedSubmission.due_at))
        ).all()
        for planned, probe in rows:
            assert planned.id is not None and probe.id is not None
            if probe.state == ProbeState.FINISHED:
                done.append(planned.id)
            elif planned.company_id not in enabled:
                skipped.append((planned.id, planned.wave_id, planned.company_id))
            else:
                due[planned.wave_id].append(probe.id)
    if done or skipped:
        with session_scope(engine) as session:
            if done:
                session.execute(
                    update(PlannedSubmission)
                    .where(col(PlannedSubmission.id).in_(done), col(PlannedSubmission.status) == "planned")
                    .values(status="done", done_at=now)
                )
            for planned_id, wave_id, company_id in skipped:
                session.execute(
                    update(PlannedSubmission)
                    .where(
                        col(PlannedSubmission.id) == planned_id, col(PlannedSubmission.status) == "planned"
                    )
                    .values(status="skipped", note=SKIPPED_NOTE)
                )
                log.warning("wave %d: %s skipped (%s)", wave_id, company_id, SKIPPED_NOTE)
    return dict(due)


def settle_plan(engine: Engine, wave_id: int) -> None:
    """Planned rows whose probe has an outcome become `done`."""
    with session_scope(engine) as session:
        finished = select(Probe.id).where(Probe.wave_id == wave_id, Probe.state == ProbeState.FINISHED)
        session.execute(
            update(PlannedSubmission)
            .where(
                col(PlannedSubmission.wave_id) == wave_id,
                col(PlannedSubmission.status) == "planned",
                col(PlannedSubmission.probe_id).in_(finished),
            )
            .values(status="done", done_at=utcnow())
        )


def _recover(engine: Engine, wave_id: int) -> list[str]:
    with session_scope(engine) as session:
        wave = session.get(Wave, wave_id)
        assert wave is not None
        return recover_interrupted(session, wave)


def _still_planned(engine: Engine, probe_ids: list[int]) -> list[int]:
    with Session(engine) as session:
        found = set(
            session.exec(
                select(Probe.id).where(col(Probe.id).in_(probe_ids), Probe.state == ProbeState.PLANNED)
            ).all()
        )
    return [probe_id for probe_id in probe_ids if probe_id in found]


def _log_done(event: str, probe: Probe) -> None:
    if event == "done":
        log.info(
            "wave %d: %s -> %s (%s)",
            probe.wave_id,
            probe.company_id,
            probe.outcome,
            probe.detail or "no detail",
        )


async def _run_probes(ctx: JobContext, run: WaveRun, probe_ids: list[int]) -> None:
    """Each probe through the runner (write-ahead record, one per site domain, N at once); none is started
    once `stopping` is set, so a shutdown waits only for the ones in flight."""
    gate = asyncio.Semaphore(ctx.config.audit.concurrency)

    async def one(probe_id: int) -> None:
        async with gate:
            if not ctx.stopping.is_set():
                await run.run_one(probe_id)

    async with asyncio.TaskGroup() as group:
        for probe_id in probe_ids:
            group.create_task(one(probe_id))


async def submit_due_now(ctx: JobContext) -> SubmitReport:
    """Run every planned submission that is due, through the runner, in one browser."""
    report = SubmitReport(recovered_uncertain=[], busy_waves=[])
    due = await asyncio.to_thread(due_submissions, ctx.engine, ctx.config, utcnow())
    if not due or ctx.stopping.is_set():
        return report
    async with launch_browser(ctx.settings.chromium_path) as browser:
        for wave_id, probe_ids in due.items():
            if ctx.stopping.is_set():
                break
            try:
                async with wave_lease(ctx.engine, wave_id):
                    # A submission left `submit_started` by a crash may have gone out: never resent.
                    recovered = await asyncio.to_thread(_recover, ctx.engine, wave_id)
                    for company_id in recovered:
                        log.warning(
                            "wave %d: %s was interrupted mid-submit by a crash; marked uncertain, not resent",
                            wave_id,
                            company_id,
                        )
                    assert report.recovered_uncertain is not None
                    report.recovered_uncertain += recovered
                    pending = await asyncio.to_thread(_still_planned, ctx.engine, probe_ids)
                    run = WaveRun(
                        settings=ctx.settings,
                        config=ctx.config,
                        engine=ctx.engine,
                        browser=browser,
                        concurrency=ctx.config.audit.concurrency,
                        on_progress=_log_done,
                        report=RunReport(wave_id=wave_id),
                    )
                    await _run_probes(ctx, run, pending)
                    report.attempted += run.report.attempted
            except WaveError as ex:  # `audit run` by hand holds this wave: its turn comes at the next tick
                assert report.busy_waves is not None
                report.busy_waves.append(wave_id)
                log.warning("wave %d: due submissions wait: %s", wave_id, ex)
            finally:
                await asyncio.to_thread(settle_plan, ctx.engine, wave_id)
                await asyncio.to_thread(close_wave_if_done, ctx.engine, wave_id)
    return report


def planned_not_sent(engine: Engine) -> int:
    """Planned submissions not sent yet (due or not), for health."""
    with Session(engine) as session:
        return int(session.exec(select(func.count()).where(PlannedSubmission.status == "planned")).one())
