"""The scheduler of `audit serve`: starts waves by cron, sends each planned submission when due, collects
replies, closes waves at their deadline (grade, report, email) and prunes old files.

Design (docs/architecture.md, "One scheduler per database"): the database holds everything that matters (the
plan, the probes' write-ahead records, the messages, the report deliveries); APScheduler 3 (AsyncIOScheduler,
jobs persisted in the same database with SQLAlchemyJobStore, coalesce, max_instances=1) only wakes workers up.
Each job has a worker task here that runs its work whenever it is woken, one run at a time, with the database
as its input; so a restart, a crash or `kill -9` at any moment loses nothing and repeats nothing.

Only one process schedules per database: `start()` takes the lease (`audit.scheduler.lease`); a second
server logs one line and stays passive (its web side still works), and takes over if the first one goes away.

Misfire grace times, chosen per job:
- start_wave (cron): 6 hours. A server down at the firing still starts the wave if it is back within 6 hours
  (its submissions then spread from the real start); later than that the wave is skipped with a warning,
  because a wave started a day late lands on days the schedule did not choose (a weekend, a holiday).
- submit_due, close_waves (every few seconds to 30 s) and collect (`schedule.collect_every`): one interval.
  A missed tick is worth nothing on its own: the next one does the same work from the database.
- retention (daily, 03:30 in the audit's zone): 12 hours; it is idempotent and nothing is urgent about it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # type: ignore[import-untyped]
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]
from sqlalchemy import Engine, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import col

from audit.collect.imap import imap_idle_wakeups
from audit.collect.sources import collect_once, imap_credentials
from audit.config import AuditConfig, ScheduleSection
from audit.db import session_scope
from audit.errors import AuditError
from audit.models import SchedulerJob, utcnow
from audit.scheduler import jobs, lease
from audit.scheduler.closing import close_due_waves, deliver_reports
from audit.scheduler.cron import parse_cron
from audit.scheduler.jobs import START_WAVE_GRACE, JobContext
from audit.scheduler.retention import prune
from audit.settings import Settings

__all__ = ["AuditScheduler", "SchedulerHealth"]

log = logging.getLogger("audit.scheduler")

JOB_TABLE = "apscheduler_jobs"
MIN_TICK = timedelta(seconds=1)
MAX_TICK = timedelta(seconds=30)
RETENTION_GRACE = timedelta(hours=12)
SHUTDOWN_MARGIN_S = 15.0  # past the probe timeout, for the browser to close
START_WAVE_ATTEMPTS = 5
IDLE_JOIN_TIMEOUT_S = 5.0  # the IDLE loop checks its stop event every second
RECORD_SUCCESS_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SchedulerHealth:
    active: bool  # this process holds the lease and schedules
    running: bool  # the APScheduler loop is running (only when active)
    lease_owner: str | None  # who holds the lease (this process or another), None when free
    last_collect_at: datetime | None
    last_collect_error: str | None
    next_wave_at: datetime | None
    job_failures: int  # job runs that failed since this process started
    planned_due: int  # planned submissions not yet sent


class _SharedEngineJobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """The job store on the server's own engine, which it must not dispose of when the scheduler stops
    (APScheduler's would, under the feet of every other user of the engine)."""

    def shutdown(self) -> None:
        pass


def tick(schedule: ScheduleSection) -> timedelta:
    """How often due submissions and deadlines are checked: a hundredth of the window, 1 to 30 seconds."""
    return min(max(schedule.window / 100, MIN_TICK), MAX_TICK)


@dataclass(frozen=True, slots=True)
class _JobSpec:
    func: Callable[[], Awaitable[None]]
    trigger: Any
    grace: timedelta


class AuditScheduler:
    def __init__(self, settings: Settings, config: AuditConfig, engine: Engine) -> None:
        self.settings, self.config, self.engine = settings, config, engine
        self.schedule = config.schedule
        self.zone = ZoneInfo(config.audit.timezone)
        self.owner = lease.new_owner()
        self.active = False
        self._stopping = asyncio.Event()
        self._scheduler: Any = None  # AsyncIOScheduler while active
        self._events: dict[str, asyncio.Event] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._keeper: asyncio.Task[None] | None = None
        self._lease_owner: str | None = None
        self._lease_created_at: datetime | None = None
        self._lease_valid_until = utcnow()
        self._last_collect_at: datetime | None = None
        self._last_collect_error: str | None = None
        self._job_failures = 0
        self._one_at_a_time = asyncio.Lock()
        self._unrecorded_runs: dict[str, int] = {}  # job -> successful runs not yet counted in its row
        self._recorded_at: dict[str, datetime] = {}
        self._planned_due = 0
        self._next_wave_at: datetime | None = None
        self._announced_passive = False
        self._idle_stop = threading.Event()
        self._idle_thread: threading.Thread | None = None
        self._collected_through: datetime | None = None  # start of the last collect pass that succeeded

    # ------------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Take the lease and schedule; if another live server holds it, say so once and stay passive."""
        if self.schedule is None:
            log.info("no schedule: section in the config; the scheduler is off (web and webhooks still run)")
            return
        parse_cron(self.schedule.cron, self.zone)  # a bad expression stops the start with one clear line
        await self._try_activate()
        self._keeper = asyncio.create_task(self._keep_lease(), name="scheduler-lease")

    async def shutdown(self) -> None:
        """Stop waking jobs, let probes in flight finish (never start new ones), release the lease."""
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        await self._deactivate(release=True)

    def health(self) -> SchedulerHealth:
        running = bool(self._scheduler is not None and self._scheduler.running)
        return SchedulerHealth(
            active=self.active,
            running=running,
            lease_owner=self._lease_owner,
            last_collect_at=self._last_collect_at,
            last_collect_error=self._last_collect_error,
            next_wave_at=self._next_wave_at,
            job_failures=self._job_failures,
            planned_due=self._planned_due,
        )

    # -------------------------------------------------------------------------------------------- the lease

    async def _try_activate(self) -> None:
        try:
            state = await asyncio.to_thread(lease.acquire, self.engine, self.owner)
        except SQLAlchemyError as ex:
            log.warning("scheduler: cannot reach the database to take the lease (%s); retrying", ex)
            return
        self._lease_owner, self._lease_created_at = state.owner, state.created_at
        if not state.held:
            if not self._announced_passive:
                until = state.expires_at.isoformat() if state.expires_at else "?"
                log.warning(
                    "scheduler: another audit serve (%s) is scheduling for this database (lease until %s); "
                    "this server will not schedule anything and takes over only if that one stops",
                    state.owner,
                    until,
                )
                self._announced_passive = True
            await self._refresh()
            return
        self._announced_passive = False
        self._lease_valid_until = state.expires_at or utcnow()
        await self._activate()

    async def _keep_lease(self) -> None:
        """Renew while active; while passive, try to take over. Losing the lease stops scheduling at once."""
        while True:
            await asyncio.sleep(lease.RENEW_EVERY_S)
            if not self.active:
                await self._try_activate()
                continue
            try:
                renewed = await asyncio.to_thread(lease.renew, self.engine, self.owner)
            except SQLAlchemyError as ex:
                if utcnow() < self._lease_valid_until:
                    log.warning("scheduler: could not renew the lease (%s); retrying", ex)
                    continue
                # Past our expiry another server may have taken over: stop before two schedule at once.
                log.error("scheduler: the lease expired without renewal (%s); this one stops scheduling", ex)
                await self._deactivate(release=False)
                continue
            if not renewed:
                log.error("scheduler: the lease was taken over by another server; this one stops scheduling")
                await self._deactivate(release=False)
                continue
            self._lease_valid_until = utcnow() + lease.LEASE_TTL
            await self._refresh()

    # -------------------------------------------------------------------------------------------- activity

    def _job_specs(self) -> dict[str, _JobSpec]:
        schedule = self.schedule
        assert schedule is not None
        every = tick(schedule)
        specs = {
            "start_wave": _JobSpec(jobs.start_wave, parse_cron(schedule.cron, self.zone), START_WAVE_GRACE),
            "submit_due": _JobSpec(jobs.submit_due, IntervalTrigger(seconds=every.total_seconds()), every),
            "close_waves": _JobSpec(jobs.close_waves, IntervalTrigger(seconds=every.total_seconds()), every),
            "retention": _JobSpec(
                jobs.retention, CronTrigger(hour=3, minute=30, timezone=self.zone), RETENTION_GRACE
            ),
        }
        mailbox = self.config.mailbox
        if mailbox.imap is not None or mailbox.maildir is not None:
            collect_every = schedule.collect_every
            specs["collect"] = _JobSpec(
                jobs.collect, IntervalTrigger(seconds=collect_every.total_seconds()), collect_every
            )
        return specs

    def _ensure_jobs(self, specs: dict[str, _JobSpec]) -> None:
        """Keep a stored job whose trigger is unchanged (so a missed cron firing is still seen as missed);
        replace a changed one; remove jobs that are no longer wanted."""
        scheduler = self._scheduler
        for job in scheduler.get_jobs():
            if job.id not in specs:
                scheduler.remove_job(job.id)
        for job_id, spec in specs.items():
            stored = scheduler.get_job(job_id)
            if stored is not None and _same_job(stored, spec):
                continue
            scheduler.add_job(
                spec.func,
                spec.trigger,
                id=job_id,
                name=job_id,
                replace_existing=True,
                misfire_grace_time=int(spec.grace.total_seconds()),
                coalesce=True,
                max_instances=1,
            )

    async def _activate(self) -> None:
        specs_schedule = self.schedule
        assert specs_schedule is not None
        self._stopping.clear()
        specs = self._job_specs()
        scheduler = AsyncIOScheduler(
            jobstores={"default": _SharedEngineJobStore(engine=self.engine, tablename=JOB_TABLE)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=self.zone,
            event_loop=asyncio.get_running_loop(),
        )
        scheduler.start(paused=True)
        self._scheduler = scheduler
        self._ensure_jobs(specs)
        work: dict[str, Callable[[], Awaitable[None]]] = {
            "start_wave": self._start_wave,
            "submit_due": self._submit_due,
            "close_waves": self._close_waves,
            "retention": self._retention,
            "collect": self._collect,
        }
        self._events = {name: asyncio.Event() for name in specs}
        self._workers = [
            asyncio.create_task(self._worker(name, work[name]), name=f"scheduler-{name}") for name in specs
        ]
        jobs.set_waker(self.wake)
        self.active = True
        scheduler.resume()
        self._start_idle_watcher()
        # After a restart: catch up a missed firing, resume a wave mid-way, send what was interrupted.
        for name in ("start_wave", "submit_due", "close_waves", "collect"):
            self.wake(name)
        await self._refresh()
        log.info(
            "scheduler: active (lease %s); checks for due work every %s",
            self.owner,
            tick(specs_schedule),
        )

    def _start_idle_watcher(self) -> None:
        """IMAP IDLE on INBOX wakes the collect job as soon as a reply arrives (the poll still runs)."""
        imap = self.config.mailbox.imap
        if imap is None or "collect" not in self._events:
            return

        try:
            credentials = imap_credentials(imap)
        except AuditError as ex:
            log.warning("IMAP IDLE is off: %s (the collect job polls and reports the same problem)", ex)
            return
        loop = asyncio.get_running_loop()
        self._idle_stop = threading.Event()
        self._idle_thread = threading.Thread(
            target=imap_idle_wakeups,
            args=(imap, credentials),
            kwargs={
                "on_news": lambda: loop.call_soon_threadsafe(self.wake, "collect"),
                "stop": self._idle_stop,
            },
            name="imap-idle",
            daemon=True,  # never holds the process up at exit; it stores nothing
        )
        self._idle_thread.start()

    async def _stop_idle_watcher(self) -> None:
        thread, self._idle_thread = self._idle_thread, None
        if thread is None:
            return
        self._idle_stop.set()
        await asyncio.to_thread(thread.join, IDLE_JOIN_TIMEOUT_S)

    async def _deactivate(self, *, release: bool) -> None:
        was_active = self.active
        self.active = False
        self._stopping.set()
        jobs.set_waker(None)
        if self._scheduler is not None:
            # No firing may be in flight at shutdown: APScheduler 3's AsyncIOExecutor cancels pending job
            # tasks and logs each as an ERROR. Pause first (nothing new fires), then give any job fired just
            # now the loop turns it needs to finish (each only sets an event), and only then shut down.
            self._scheduler.pause()
            for _ in range(3):
                await asyncio.sleep(0)
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        await self._stop_idle_watcher()
        for event in self._events.values():
            event.set()  # workers waiting for work see `_stopping` and end
        if self._workers:
            timeout = self.config.audit.probe_timeout.total_seconds() + SHUTDOWN_MARGIN_S
            _, pending = await asyncio.wait(self._workers, timeout=timeout)
            for task in pending:
                log.warning("scheduler: %s did not finish in %.0f s; cancelled", task.get_name(), timeout)
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._workers, self._events = [], {}
        if release and was_active:
            try:
                await asyncio.to_thread(lease.release, self.engine, self.owner)
            except SQLAlchemyError as ex:  # it expires on its own
                log.warning("scheduler: could not release the lease (%s)", ex)
            log.info("scheduler: stopped and released the lease")

    def wake(self, name: str) -> None:
        event = self._events.get(name)
        if event is not None and self.active:
            event.set()

    async def _worker(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        event = self._events[name]
        while True:
            await event.wait()
            event.clear()
            if self._stopping.is_set():
                return
            await self._run_recorded(name, work)

    async def _run_recorded(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        # One job's work at a time. On SQLite a transaction that reads and then writes fails at once when
        # another connection committed in between; the runner, the collector and the closer all do that, so
        # they take turns instead of failing each other (waiting costs nothing: reply times come from the
        # messages, not from when they are collected).
        async with self._one_at_a_time:
            if self._stopping.is_set():
                return
            started = utcnow()
            error: str | None = None
            try:
                await work()
            except Exception as ex:  # the job boundary: a failure is logged and counted, the worker goes on
                error = f"{ex.__class__.__name__}: {ex}"
                self._job_failures += 1
                log.exception("scheduler: job %s failed", name)
            await self._record(name, started, error)

    async def _record(self, name: str, started: datetime, error: str | None) -> None:
        """Count the run in the job's row. Successes are written at most once a minute per job (a job that
        ticks every second would otherwise commit every second); failures at once."""
        runs = self._unrecorded_runs.get(name, 0) + 1
        last = self._recorded_at.get(name)
        if error is None and last is not None and started - last < RECORD_SUCCESS_EVERY:
            self._unrecorded_runs[name] = runs
            return
        try:
            await asyncio.to_thread(_record_run, self.engine, name, started, error, runs)
        except SQLAlchemyError as ex:
            self._unrecorded_runs[name] = runs
            log.warning("scheduler: could not record the run of %s (%s)", name, ex)
            return
        self._unrecorded_runs[name], self._recorded_at[name] = 0, started

    async def _refresh(self) -> None:
        """Health figures that need the database: planned submissions not sent, the next wave."""
        with contextlib.suppress(SQLAlchemyError):  # health shows the last known figure meanwhile
            self._planned_due = await asyncio.to_thread(jobs.planned_not_sent, self.engine)
        if self.schedule is not None:
            trigger = parse_cron(self.schedule.cron, self.zone)
            self._next_wave_at = trigger.get_next_fire_time(None, utcnow())

    # ----------------------------------------------------------------------------------------------- work

    def _context(self) -> JobContext:
        return JobContext(self.settings, self.config, self.engine, self._stopping, self.owner)

    async def _start_wave(self) -> None:
        not_before = self._lease_created_at or utcnow()
        # The one job not re-run by a tick soon after: a database busy for a moment must not cost a wave.
        for attempt in range(START_WAVE_ATTEMPTS):
            try:
                await asyncio.to_thread(
                    jobs.start_due_wave, self._context(), now=utcnow(), not_before=not_before
                )
                break
            except OperationalError:
                if attempt == START_WAVE_ATTEMPTS - 1:
                    raise
                log.warning("scheduler: the database is busy; starting the wave again in %d s", 2**attempt)
                await asyncio.sleep(2**attempt)
        await self._refresh()
        self.wake("submit_due")

    async def _submit_due(self) -> None:
        await jobs.submit_due_now(self._context())
        await self._refresh()

    async def _collect(self) -> None:

        started = utcnow()
        try:
            report = await asyncio.to_thread(
                collect_once, self.engine, self.config, data_dir=self.settings.data_dir
            )
        except Exception as ex:
            self._last_collect_error = f"{ex.__class__.__name__}: {ex}"
            raise
        self._last_collect_at, self._last_collect_error = utcnow(), None
        self._collected_through = started  # everything that arrived before `started` is stored
        for line in report.lines:
            log.info("collect: %s", line)

    async def _close_waves(self) -> None:
        now = utcnow()
        closable_until: datetime | None = now
        if "collect" in self._events:
            # A wave closes only once a collect pass that started after its deadline has finished: a reply
            # that came before the deadline but is not stored yet (Junk has no IDLE; after an outage, all of
            # them; after a restart, the catch-up pass) must be in the report. Webhooks are stored on arrival.
            closable_until = None if self._collected_through is None else min(now, self._collected_through)
        if closable_until is not None:
            await asyncio.to_thread(close_due_waves, self.settings, self.config, self.engine, closable_until)
        await asyncio.to_thread(deliver_reports, self.config, self.engine, now)

    async def _retention(self) -> None:
        assert self.schedule is not None
        await asyncio.to_thread(
            prune, self.config, self.engine, self.settings.data_dir, utcnow(), self.schedule.retention
        )


def _same_job(stored: Any, spec: _JobSpec) -> bool:
    if stored.func is not spec.func or stored.misfire_grace_time != int(spec.grace.total_seconds()):
        return False
    if isinstance(spec.trigger, CronTrigger):  # its repr has every field and the time zone
        return repr(stored.trigger) == repr(spec.trigger)
    return bool(getattr(stored.trigger, "interval", None) == spec.trigger.interval)


def _record_run(engine: Engine, name: str, started: datetime, error: str | None, runs: int) -> None:
    """Add `runs` runs (the last one started at `started`) to the job's row: an UPDATE first (the row is
    there after the first run), so the write lock is taken before anything is read."""
    now = utcnow()
    changes: dict[str, Any] = {"runs": col(SchedulerJob.runs) + runs, "last_started_at": started}
    if error is None:
        changes["last_ok_at"] = now
    else:
        changes.update(failures=col(SchedulerJob.failures) + 1, last_error_at=now, last_error=error[:2000])
    with session_scope(engine) as session:
        result = session.execute(update(SchedulerJob).where(col(SchedulerJob.name) == name).values(**changes))
        if result.rowcount == 0:  # type: ignore[attr-defined]
            session.add(
                SchedulerJob(
                    name=name,
                    runs=runs,
                    failures=0 if error is None else 1,
                    last_started_at=started,
                    last_ok_at=now if error is None else None,
                    last_error_at=None if error is None else now,
                    last_error=None if error is None else error[:2000],
                )
            )
