"""The login throttle: password attempts per client and in all, counted in the database before each check.

Each attempt is counted before the password is checked, in one `INSERT ... ON CONFLICT DO UPDATE ...
RETURNING` (SQLite 3.35+ and PostgreSQL both have it): the count a request sees already includes itself, so
40 concurrent guesses from one address get at most `limit` checks, however they interleave. The counts are
rows of `login_throttle`, so they survive a restart and are shared by every server process on the database.
Windows are fixed: a key's window starts at its first attempt and ends `window_s` later, when the count
starts again; rows of ended windows are deleted by time, never by how many addresses there are.

A successful login clears its client's count and gives its attempt back to the global count, so people who
know the password never use up the budget. An IPv6 client counts by its /64 (one host usually holds a whole
/64, and would otherwise have 2^64 addresses to rotate through); an IPv4-mapped IPv6 address counts as the
IPv4 address.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Table, bindparam, case, delete, update
from sqlalchemy.dialects import postgresql, sqlite

from audit.db import writer
from audit.models import LoginAttempts, UTCDateTime

CLIENT_LIMIT = 5  # attempts per client and window
GLOBAL_LIMIT = 100  # attempts from all clients together per window: a spread-out guesser
WINDOW_S = 15 * 60.0
PRUNE_EVERY_S = 60.0  # how often one process deletes ended windows
GLOBAL_KEY = "global"
_TABLE: Table = LoginAttempts.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Verdict:
    """May this attempt be checked? If not, which count is full and for how long."""

    allowed: bool
    retry_after_s: float = 0.0
    full: Literal["client", "global"] | None = None


def client_key(address: str) -> str:
    """The row a client's attempts count in: `addr:` and its IPv4 address or IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # "unknown", or a trusted proxy's odd X-Forwarded-For: bounded, never a huge key
        return "addr?" + hashlib.sha256(address.encode("utf-8", "replace")).hexdigest()[:40]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"addr:{ip.ipv4_mapped}"
        return f"addr:{ipaddress.IPv6Network((ip, 64), strict=False)}"
    return f"addr:{ip}"


class LoginThrottle:
    """Counts password attempts in `login_throttle`; `engine` must be migrated (0007_login_throttle)."""

    def __init__(
        self,
        engine: Engine,
        *,
        limit: int = CLIENT_LIMIT,
        global_limit: int = GLOBAL_LIMIT,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(f"the login throttle needs SQLite or PostgreSQL, not {engine.dialect.name}")
        self.engine = engine
        self.limit = limit
        self.global_limit = global_limit
        self.window = timedelta(seconds=window_s)
        self.clock = clock
        self._pruned_at = float("-inf")
        self._prune_lock = threading.Lock()
        self._upsert = _upsert_statement(engine.dialect.name)
        self._writer = writer(engine)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _count(self, connection: Connection, key: str, now: datetime) -> tuple[int, datetime]:
        """Count one attempt for `key` (a new window if its last one ended); the count and window start."""
        parameters = {"key": key, "now": now, "ended_by": now - self.window}
        attempts, started = connection.execute(self._upsert, parameters).one()
        return int(attempts), started  # aware: UTCDateTime's result processing ran

    def attempt(self, address: str) -> Verdict:
        """Count an attempt from `address`; allowed means check the password now (and report how it went)."""
        self.prune()
        now = self._now()
        # One transaction, SQLite's write lock taken at BEGIN (audit.db.writer): a refused attempt is rolled
        # back, so a full count stays at its limit and its window is not extended.
        with self._writer.connect() as connection, connection.begin() as transaction:
            attempts, started = self._count(connection, client_key(address), now)
            if attempts > self.limit:
                transaction.rollback()
                return Verdict(False, self._wait(started, now), "client")
            attempts, started = self._count(connection, GLOBAL_KEY, now)
            if attempts > self.global_limit:
                transaction.rollback()
                return Verdict(False, self._wait(started, now), "global")
        return Verdict(True)

    def _wait(self, started: datetime, now: datetime) -> float:
        return max((started + self.window - now).total_seconds(), 1.0)

    def succeeded(self, address: str) -> None:
        """The password was right: forget the client's attempts, give its attempt back to the global count."""
        with self._writer.begin() as connection:
            connection.execute(delete(_TABLE).where(_TABLE.c.key == client_key(address)))
            connection.execute(
                update(_TABLE)
                .where(_TABLE.c.key == GLOBAL_KEY, _TABLE.c.attempts > 0)
                .values(attempts=_TABLE.c.attempts - 1)
            )

    def prune(self, *, force: bool = False) -> int:
        """Delete the rows whose window has ended (at most once a minute per process unless forced)."""
        with self._prune_lock:
            moment = time.monotonic()
            if not force and moment - self._pruned_at < PRUNE_EVERY_S:
                return 0
            self._pruned_at = moment
        # Clients' rows only: the global row starts its next window by itself (the upsert), and leaving it
        # alone keeps PostgreSQL's row locks in one order (a client's, then the global one): no deadlock
        # between this delete and an attempt.
        ended = (_TABLE.c.window_start <= self._now() - self.window) & (_TABLE.c.key != GLOBAL_KEY)
        with self._writer.begin() as connection:
            result = connection.execute(delete(_TABLE).where(ended))
        return int(result.rowcount)


def _upsert_statement(dialect: str) -> Any:
    """`INSERT ... ON CONFLICT (key) DO UPDATE ... RETURNING attempts, window_start`, with bound parameters
    `key`, `now` and `ended_by`. Built once per throttle: built per attempt, it took most of its time.
    """
    insert: Any = (postgresql if dialect == "postgresql" else sqlite).insert(_TABLE)
    now = bindparam("now", type_=UTCDateTime())
    ended = _TABLE.c.window_start <= bindparam("ended_by", type_=UTCDateTime())
    return (
        insert.values(key=bindparam("key", type_=_TABLE.c.key.type), window_start=now, attempts=1)
        .on_conflict_do_update(
            index_elements=[_TABLE.c.key],
            # Both right-hand sides read the row as it was (SQL's UPDATE semantics on both databases).
            set_={
                "attempts": case((ended, 1), else_=_TABLE.c.attempts + 1),
                "window_start": case((ended, now), else_=_TABLE.c.window_start),
            },
        )
        .returning(_TABLE.c.attempts, _TABLE.c.window_start)
    )
