"""GET /healthz: is this server doing its job? Database, IMAP reachability, scheduler, last collect.

Open without login (a load balancer or a monitor calls it) and therefore free of secrets and of host names:
each check says ok or not and a short reason. 200 when every check is ok, 503 otherwise.

`SchedulerLike` is the part of `audit.scheduler.AuditScheduler` the web side uses, typed structurally so this
package does not import the scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from audit.config import AuditConfig
from audit.models import Message

IMAP_CONNECT_TIMEOUT_S = 3.0
DEFAULT_COLLECT_EVERY = timedelta(minutes=5)
STALE_COLLECT_FACTOR = 3  # no collect pass for three intervals: the collector is stuck


class SchedulerHealth(Protocol):
    """What `AuditScheduler.health()` returns (a frozen dataclass there)."""

    @property
    def active(self) -> bool: ...  # this process holds the scheduling lease
    @property
    def running(self) -> bool: ...
    @property
    def lease_owner(self) -> str | None: ...
    @property
    def last_collect_at(self) -> datetime | None: ...
    @property
    def last_collect_error(self) -> str | None: ...
    @property
    def next_wave_at(self) -> datetime | None: ...
    @property
    def job_failures(self) -> int: ...
    @property
    def planned_due(self) -> int: ...


class SchedulerLike(Protocol):
    async def start(self) -> None: ...
    async def shutdown(self) -> None: ...
    def health(self) -> SchedulerHealth: ...


@dataclass(frozen=True)
class Check:
    ok: bool
    status: str  # a few words, never a secret or a host name

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "status": self.status}


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def check_database(engine: Engine) -> Check:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1")).scalar_one()
    except SQLAlchemyError as ex:
        return Check(False, f"unreachable ({ex.__class__.__name__})")
    return Check(True, "ok")


async def check_imap(config: AuditConfig, timeout_s: float = IMAP_CONNECT_TIMEOUT_S) -> Check:
    """A TCP connect to the IMAP server, nothing more: no login, so no secret is used or risked."""
    imap = config.mailbox.imap
    if imap is None:
        return Check(True, "not configured")
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(imap.host, imap.port), timeout_s)
    except TimeoutError:
        return Check(False, f"no answer within {timeout_s:g} s")
    except OSError as ex:
        return Check(False, f"unreachable ({_reason(ex)})")
    writer.close()
    with contextlib.suppress(OSError):  # the server hung up first; it was reachable all the same
        await writer.wait_closed()
    return Check(True, "reachable")


def _reason(ex: OSError) -> str:
    """Why a connect failed, without the address (asyncio's `strerror` names the host and port)."""
    if isinstance(ex, socket.gaierror):
        return "name not resolved"
    if ex.errno:
        return os.strerror(ex.errno)
    return ex.__class__.__name__


def check_scheduler(health: SchedulerHealth | None) -> Check:
    if health is None:
        return Check(True, "not running in this process")
    if not health.active:
        # Another server holds the lease (or this one waits for it): this one serves the UI and webhooks.
        return Check(True, "standby (another server schedules)" if health.lease_owner else "standby")
    if not health.running:
        return Check(False, "stopped")
    return Check(True, "active")


def check_collect(
    health: SchedulerHealth | None, *, every: timedelta, up_since: datetime, now: datetime
) -> Check:
    if health is None or not health.active:
        return Check(True, "not collecting in this process")
    if health.last_collect_error:
        return Check(False, "the last collect pass failed")
    allowed = every * STALE_COLLECT_FACTOR
    since = health.last_collect_at or up_since
    if now - since > allowed:
        return Check(False, "no collect pass for too long")
    return Check(True, "ok" if health.last_collect_at else "none yet")


def last_message_at(engine: Engine) -> datetime | None:
    try:
        with engine.connect() as connection:
            value = connection.execute(select(func.max(Message.__table__.c.ingested_at))).scalar()  # type: ignore[attr-defined]
    except SQLAlchemyError:
        return None
    return value if isinstance(value, datetime) else None


async def health_report(
    engine: Engine, config: AuditConfig, scheduler: SchedulerLike | None, *, up_since: datetime
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body)."""
    started = time.monotonic()
    now = datetime.now(UTC)
    state = scheduler.health() if scheduler is not None else None
    every = config.schedule.collect_every if config.schedule is not None else DEFAULT_COLLECT_EVERY
    database, imap = await asyncio.gather(run_in_threadpool(check_database, engine), check_imap(config))
    checks = {
        "database": database,
        "imap": imap,
        "scheduler": check_scheduler(state),
        "collect": check_collect(state, every=every, up_since=up_since, now=now),
    }
    healthy = all(check.ok for check in checks.values())
    body: dict[str, Any] = {
        "status": "ok" if healthy else "failing",
        "checks": {name: check.as_json() for name, check in checks.items()},
        "scheduler": None
        if state is None
        else {
            "active": state.active,
            "running": state.running,
            "next_wave_at": _iso(state.next_wave_at),
            "planned_due": state.planned_due,
            "job_failures": state.job_failures,
        },
        "last_collect_at": _iso(state.last_collect_at) if state is not None else None,
        "last_message_at": _iso(await run_in_threadpool(last_message_at, engine) if database.ok else None),
        "checked_in_ms": round((time.monotonic() - started) * 1000),
    }
    return (200 if healthy else 503), body
