"""One scheduler per database: a lease row with an owner (host:pid:nonce) and an expiry, renewed while held.

Why a lease row and not a PostgreSQL advisory lock: it works the same on SQLite and PostgreSQL (one code
path, tested on both); it can be read by anyone (`audit serve` health, the web UI and a second server can say
who holds it and until when); and it does not depend on one database connection staying up. An advisory lock
lives and dies with its session: a dropped connection (a PostgreSQL restart, a network blip, a pool recycle)
silently frees it while the holder keeps scheduling. A lease instead expires on its own if its holder stops
renewing (crash, freeze, lost network), and a holder that cannot renew in time stops scheduling.

Take-over: a lease past its expiry is free. A holder on this same host whose process no longer exists
(`kill -9`, a crash) is free at once, so a restart does not wait for the expiry.
Every change is a compare-and-set `UPDATE ... WHERE owner = <what we read>`: of two servers racing, one wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from audit.leases import new_owner as new_owner  # re-exported: the scheduler names its holder through us
from audit.leases import owner_is_dead as owner_is_dead
from audit.models import SchedulerLease, utcnow

LEASE_NAME = "scheduler"
LEASE_TTL = timedelta(seconds=60)
RENEW_EVERY_S = 15.0  # four chances to renew before the lease expires


@dataclass(frozen=True, slots=True)
class LeaseState:
    held: bool  # by the caller
    owner: str | None  # who holds it (the caller or another process), None if free
    expires_at: datetime | None
    created_at: datetime  # when a scheduler first ran against this database


def _row(session: Session) -> SchedulerLease:
    row = session.get(SchedulerLease, LEASE_NAME)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            session.add(SchedulerLease(name=LEASE_NAME))
    except IntegrityError:  # another server inserted it first
        pass
    row = session.get(SchedulerLease, LEASE_NAME)
    assert row is not None
    return row


def acquire(engine: Engine, owner: str, *, ttl: timedelta = LEASE_TTL) -> LeaseState:
    """Take the lease if it is free, expired, held by a dead local process, or already ours."""
    with Session(engine, expire_on_commit=False) as session:
        row = _row(session)
        session.commit()
        holder, expires, now = row.owner, row.expires_at, utcnow()
        free = holder == owner or expires is None or expires <= now or owner_is_dead(holder)
        if not free:
            return LeaseState(False, holder, expires, row.created_at)
        held_by = (
            col(SchedulerLease.owner).is_(None) if holder is None else col(SchedulerLease.owner) == holder
        )
        result = session.execute(
            update(SchedulerLease)
            .where(col(SchedulerLease.name) == LEASE_NAME, held_by)
            .values(owner=owner, acquired_at=now, expires_at=now + ttl)
        )
        session.commit()
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return LeaseState(True, owner, now + ttl, row.created_at)
        session.expire_all()
        row = _row(session)
        return LeaseState(False, row.owner, row.expires_at, row.created_at)


def renew(engine: Engine, owner: str, *, ttl: timedelta = LEASE_TTL) -> bool:
    """Push the expiry on; False when the lease is no longer ours (taken over after it expired)."""
    with Session(engine) as session:
        result = session.execute(
            update(SchedulerLease)
            .where(col(SchedulerLease.name) == LEASE_NAME, col(SchedulerLease.owner) == owner)
            .values(expires_at=utcnow() + ttl)
        )
        session.commit()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def fence(session: Session, owner: str) -> bool:
    """Inside a transaction that is about to change the schedule: True if `owner` still holds the lease.

    A write, on purpose, and the transaction's first statement: it locks the lease row until the commit (so
    the lease cannot change hands half-way), and on SQLite it takes the write lock before anything is read
    (a transaction that reads and then writes fails if someone else wrote in between).
    """
    result = session.execute(
        update(SchedulerLease)
        .where(col(SchedulerLease.name) == LEASE_NAME, col(SchedulerLease.owner) == owner)
        .values(owner=owner)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def release(engine: Engine, owner: str) -> None:
    with Session(engine) as session:
        session.execute(
            update(SchedulerLease)
            .where(col(SchedulerLease.name) == LEASE_NAME, col(SchedulerLease.owner) == owner)
            .values(owner=None, expires_at=None)
        )
        session.commit()
