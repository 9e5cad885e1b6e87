"""The store-first queue of webhook deliveries (docs/collection.md, "Webhooks": persist, answer 2xx, process
later).

The request path writes the raw bytes (`keep_raw`, fsynced) and one small `InboundSpool` row, then answers.
`process_spool` ingests pending rows (parse, match, classify, store: `ingest_raw`), each in a transaction of
its own that also marks the row processed, so a crash at any point leaves the row pending and nothing twice.
A row whose ingestion fails keeps its error and is retried later with a growing delay; the rows behind it go
on. `SpoolWorker` runs `process_spool` in the app's background (one asyncio task, the database work in one
thread): woken by each new row, polling as well, and catching up on what a crash left at startup.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, Engine, or_
from sqlmodel import Session, col, func, select, update

from audit.backoff import backoff_seconds
from audit.collect.store import Arrival, ingest_raw
from audit.models import InboundSpool, utcnow

log = logging.getLogger("audit.collect.spool")

BATCH_SIZE = 50
POLL_S = 5.0
RETRY_FIRST_S = 10.0  # a failed row waits 10 s, then 20 s, 40 s ... up to RETRY_MAX_S
RETRY_MAX_S = 3600.0
MAX_ERROR_CHARS = 2000
ACCEPTED_TIME_SOURCE = "webhook_accepted"

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextmanager
def writing(engine: Engine) -> Iterator[None]:
    """One writer at a time per SQLite database in this process (a no-op on PostgreSQL).

    A SQLite transaction that read before writing fails at once ("database is locked") when another
    connection committed in between; taking turns here avoids that, and is cheaper than SQLite's busy-sleep.
    """
    if engine.dialect.name != "sqlite":
        yield
        return
    key = engine.url.render_as_string(hide_password=False)
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        yield


def encode_recipients(recipients: tuple[str, ...]) -> str:
    return json.dumps(list(recipients), ensure_ascii=False)


def arrival_of(row: InboundSpool) -> Arrival:
    """The `Arrival` the request path saw; with no provider receipt time, the time we accepted the delivery.

    Processing may run long after the answer (a backlog, a restart), so "now" at processing time would not
    be when the message reached us; the acceptance time is what an immediate ingestion recorded.
    """
    recipients = tuple(str(address) for address in json.loads(row.envelope_recipients or "[]"))
    if row.transport_time is not None:
        transport_time, transport_source = row.transport_time, row.transport_time_source
    else:
        transport_time, transport_source = row.received_by_us_at, ACCEPTED_TIME_SOURCE
    return Arrival(
        source=row.source,
        delivery_key=row.delivery_key,
        envelope_recipients=recipients,
        transport_time=transport_time,
        transport_time_source=transport_source,
    )


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=backoff_seconds(attempts, first=RETRY_FIRST_S, longest=RETRY_MAX_S))


@dataclass(frozen=True, slots=True)
class SpoolPass:
    processed: int  # rows ingested and marked processed
    failed: int  # rows whose ingestion raised (kept, error recorded, retried later)
    stopped: bool  # the pass ended early because it was asked to stop
    next_retry_at: datetime | None  # the earliest retry time among rows left waiting


def _pending(retry_failed: bool, now: datetime) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [col(InboundSpool.processed_at).is_(None)]
    if not retry_failed:
        conditions.append(
            or_(col(InboundSpool.next_attempt_at).is_(None), col(InboundSpool.next_attempt_at) <= now)
        )
    return conditions


def _read_raw(row: InboundSpool, data_dir: Path) -> bytes:
    raw = (data_dir / row.raw_path).read_bytes()
    if hashlib.sha256(raw).hexdigest() != row.raw_sha256:
        raise ValueError(f"raw file {row.raw_path} does not match its SHA-256")
    return raw


def _ingest_row(engine: Engine, data_dir: Path, row: InboundSpool) -> bool:
    """Ingest one row and mark it processed, in one transaction; False if another worker had it already."""
    assert row.id is not None
    raw = _read_raw(row, data_dir)
    with writing(engine), Session(engine, expire_on_commit=False) as session:
        # The claim is the transaction's first statement and a write: it takes SQLite's write lock before any
        # read, and on PostgreSQL the row lock, so a second worker waits, then finds the row processed.
        claimed = session.exec(
            update(InboundSpool)
            .where(col(InboundSpool.id) == row.id, col(InboundSpool.processed_at).is_(None))
            .values(attempts=col(InboundSpool.attempts) + 1)
        )
        if claimed.rowcount == 0:
            session.rollback()
            return False
        result = ingest_raw(session, raw, arrival_of(row), data_dir=data_dir)
        session.exec(
            update(InboundSpool)
            .where(col(InboundSpool.id) == row.id)
            .values(
                processed_at=utcnow(), message_id=result.message.id, last_error=None, next_attempt_at=None
            )
        )
        session.commit()
        return True


def _record_failure(engine: Engine, row: InboundSpool, error: BaseException) -> datetime:
    attempts = row.attempts + 1
    retry_at = utcnow() + retry_delay(attempts)
    with writing(engine), Session(engine) as session:
        session.exec(
            update(InboundSpool)
            .where(col(InboundSpool.id) == row.id, col(InboundSpool.processed_at).is_(None))
            .values(
                attempts=col(InboundSpool.attempts) + 1,
                last_error=f"{error.__class__.__name__}: {error}"[:MAX_ERROR_CHARS],
                next_attempt_at=retry_at,
            )
        )
        session.commit()
    return retry_at


def run_pass(
    engine: Engine,
    data_dir: Path,
    *,
    limit: int | None = None,
    retry_failed: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    before_row: Callable[[], None] = lambda: None,
) -> SpoolPass:
    """One pass over the pending rows in id order (rows added meanwhile included), each tried at most once.

    A row that raises is recorded and skipped; an error recording that (the database itself failing) ends
    the pass by raising. `retry_failed` also takes rows still waiting out their retry delay.
    """
    processed = failed = 0
    after = 0
    next_retry: datetime | None = None
    while limit is None or processed + failed < limit:
        batch_size = BATCH_SIZE if limit is None else min(BATCH_SIZE, limit - processed - failed)
        with Session(engine, expire_on_commit=False) as session:
            rows = list(
                session.exec(
                    select(InboundSpool)
                    .where(col(InboundSpool.id) > after, *_pending(retry_failed, utcnow()))
                    .order_by(col(InboundSpool.id))
                    .limit(batch_size)
                ).all()
            )
        if not rows:
            break
        for row in rows:
            if should_stop():
                return SpoolPass(processed, failed, True, next_retry)
            before_row()
            assert row.id is not None
            after = row.id
            try:
                done = _ingest_row(engine, data_dir, row)
            except Exception as ex:
                retry_at = _record_failure(engine, row, ex)
                failed += 1
                next_retry = retry_at if next_retry is None else min(next_retry, retry_at)
                log.warning(
                    "webhook spool: delivery %s (%s) failed, attempt %d; retrying after %s: %s",
                    row.id, row.source, row.attempts + 1, retry_at.isoformat(timespec="seconds"), ex,
                )  # fmt: skip
                continue
            processed += done
    with Session(engine) as session:
        waiting = session.exec(
            select(func.min(InboundSpool.next_attempt_at)).where(
                col(InboundSpool.processed_at).is_(None), col(InboundSpool.next_attempt_at).is_not(None)
            )
        ).one()
    return SpoolPass(processed, failed, False, waiting)


def process_spool(
    engine: Engine, data_dir: Path, limit: int | None = None, *, retry_failed: bool = False
) -> int:
    """Ingest the pending webhook deliveries now (tests, `audit collect`); returns how many were stored.

    Safe beside a running app's worker: each row is claimed in its own transaction, so none is done twice.
    """
    return run_pass(engine, data_dir, limit=limit, retry_failed=retry_failed).processed


class SpoolWorker:
    """The app's background ingestion: one asyncio task, the database work in a thread of its own.

    `start()` in the app's startup (it first catches up on rows a crash left), `wake()` after each new row,
    `await stop()` in shutdown: the row in progress finishes, no new one starts.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        data_dir: Path,
        poll_s: float = POLL_S,
        busy: Callable[[], bool] = lambda: False,
        busy_yield_s: float = 0.02,
        busy_max_defer_s: float = 1.0,
        settle_s: float = 0.05,
    ) -> None:
        self.engine = engine
        self.data_dir = data_dir
        self.poll_s = poll_s
        self._busy = busy
        self._busy_yield_s = busy_yield_s
        self._busy_max_defer_s = busy_max_defer_s
        self._settle_s = settle_s
        self._wake = asyncio.Event()
        self._stopping = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._last_row_at = 0.0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-spool")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="webhook-spool")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    def _yield_to_requests(self) -> None:
        """Between rows: let requests in progress go first, but never defer the spool for long."""
        deadline = self._last_row_at + self._busy_max_defer_s
        while self._busy() and time.monotonic() < deadline and not self._stopping.is_set():
            time.sleep(self._busy_yield_s)
        self._last_row_at = time.monotonic()

    def _pass(self) -> SpoolPass:
        return run_pass(
            self.engine,
            self.data_dir,
            limit=BATCH_SIZE,
            should_stop=self._stopping.is_set,
            before_row=self._yield_to_requests,
        )

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while not self._stopping.is_set():
            self._wake.clear()
            delay = self.poll_s
            try:
                result = await loop.run_in_executor(self._executor, self._pass)
            except Exception:
                failures += 1
                delay = min(self.poll_s * 2 ** min(failures - 1, 6), RETRY_MAX_S)
                log.exception("webhook spool: processing failed; trying again in %.0f s", delay)
            else:
                failures = 0
                if result.processed or result.failed:
                    log.debug("webhook spool: %d stored, %d failed", result.processed, result.failed)
                if result.processed + result.failed >= BATCH_SIZE:
                    continue  # more may be waiting: next batch at once
                if result.next_retry_at is not None:
                    until_retry = (result.next_retry_at - utcnow()).total_seconds()
                    delay = min(delay, max(until_retry, 0.01))
            if self._stopping.is_set():
                break
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
                await self._settle()

    async def _settle(self) -> None:
        """After a wake-up: gather the rows of a burst, and let the requests in progress finish first.

        Ingesting holds the GIL for milliseconds at a time; started under each request, it would slow every
        answer. The first row waits at most `busy_max_defer_s` (then one row at a time between requests).
        """
        await asyncio.sleep(self._settle_s)
        deadline = time.monotonic() + self._busy_max_defer_s
        while self._busy() and time.monotonic() < deadline and not self._stopping.is_set():
            await asyncio.sleep(self._busy_yield_s)
