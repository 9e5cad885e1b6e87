"""Accepting a delivery: raw bytes first, then one spool row (and a Mailgun token or a raw post's signature).

The endpoints (`audit.webhooks.routes`) hand each authenticated payload to `Receiver.accept`, which builds the
delivery, stores it in a worker thread (the database is synchronous), wakes the spool worker and answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from sqlalchemy import Connection, Engine, Executable, Table, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from audit.collect.spool import SpoolWorker, encode_recipients, writing
from audit.collect.store import Arrival, keep_raw, raw_sha256
from audit.models import InboundSpool, WebhookReplay, utcnow
from audit.webhooks.mime import with_envelope
from audit.webhooks.providers import BadPayload, Delivery

log = logging.getLogger("audit.webhooks")

REPLAY_PRUNE_EVERY_S = 600.0
SPOOL: Table = InboundSpool.__table__  # type: ignore[attr-defined]
REPLAY: Table = WebhookReplay.__table__  # type: ignore[attr-defined]


class Replayed(Exception):
    """A Mailgun token or a raw post's signature seen before."""


@dataclass(frozen=True, slots=True)
class Accepted:
    spool_id: int
    created: bool  # False: the same delivery (provider and event id or raw hash) was accepted before
    message_id: int | None  # known once the spool row is processed


def refuse(status: int, detail: str, headers: dict[str, str] | None = None) -> NoReturn:
    raise HTTPException(status_code=status, detail=detail, headers=headers)


_INSERT_NEW: dict[tuple[str, str], Executable] = {}  # built once: the statement cache keys on the object


def _insert_new(connection: Connection, table: Table, values: dict[str, Any]) -> int | None:
    """Insert one row and return its id, or None when a unique constraint says it is there already.

    ON CONFLICT DO NOTHING on SQLite and PostgreSQL (no savepoint, no error; on PostgreSQL a concurrent
    insert of the same key is waited for); elsewhere a savepoint around a plain insert.
    """
    dialect = connection.dialect.name
    if dialect in ("sqlite", "postgresql"):
        key = (dialect, table.name)
        statement = _INSERT_NEW.get(key)
        if statement is None:
            make = sqlite_insert if dialect == "sqlite" else postgresql_insert
            statement = _INSERT_NEW[key] = make(table).on_conflict_do_nothing().returning(table.c.id)
        return connection.execute(statement, values).scalar_one_or_none()
    try:
        with connection.begin_nested():
            return int(connection.execute(table.insert().returning(table.c.id), values).scalar_one())
    except IntegrityError:
        return None


class StoreFailed(Exception):
    """The transaction that held this delivery's spool row failed (the cause is chained)."""


@dataclass(eq=False, slots=True)
class _Pending:
    """One delivery waiting for a group commit; `outcome` is set by whichever thread commits it."""

    raw: bytes
    raw_path: str
    arrival: Arrival
    provider: str
    token: str | None
    outcome: Accepted | Replayed | Exception | None = None


class Receiver:
    """Accepts deliveries: raw bytes first, then one spool row and (Mailgun) its token, committed together.

    This is the hot path: SQLAlchemy Core rather than the ORM, and a group commit. Each request thread queues
    its delivery and takes the commit lock; the one that gets it commits everything queued so far in one
    transaction (one fsync), and the others find theirs done. A token and its spool row share a transaction.
    """

    def __init__(self, engine: Engine, *, data_dir: Path, max_age_s: int) -> None:
        self.engine = engine
        self.data_dir = data_dir
        self.replay_window = timedelta(seconds=2 * max_age_s + 60)  # timestamps may be ahead of us
        self._pruned_at = 0.0
        self.worker: SpoolWorker | None = None
        self.in_flight = 0
        self._warned_no_worker = False
        self._queue: list[_Pending] = []
        self._queue_guard = threading.Lock()
        self._commit_lock = threading.Lock()

    def _token_seen(self, provider: str, token: str) -> bool:
        with self.engine.connect() as connection:
            found = connection.execute(
                select(REPLAY.c.id).where(REPLAY.c.provider == provider, REPLAY.c.token == token)
            ).first()
        return found is not None

    def _claim_token(self, connection: Connection, provider: str, token: str) -> bool:
        """Record the token (a unique row per provider and token); False when it was there already."""
        now = utcnow()
        if time.monotonic() - self._pruned_at > REPLAY_PRUNE_EVERY_S:
            self._pruned_at = time.monotonic()
            connection.execute(delete(REPLAY).where(REPLAY.c.seen_at < now - self.replay_window))
        return (
            _insert_new(connection, REPLAY, {"provider": provider, "token": token, "seen_at": now})
            is not None
        )

    @staticmethod
    def _spool(connection: Connection, raw: bytes, raw_path: str, arrival: Arrival) -> Accepted:
        """One spool row per delivery (UNIQUE source + delivery key); a repeat is answered as a duplicate."""
        assert arrival.delivery_key is not None
        values = {
            "source": arrival.source,
            "delivery_key": arrival.delivery_key,
            "raw_path": raw_path,
            "raw_sha256": raw_sha256(raw),
            "raw_size": len(raw),
            "envelope_recipients": encode_recipients(arrival.envelope_recipients),
            "transport_time": arrival.transport_time,
            "transport_time_source": arrival.transport_time_source,
            "received_by_us_at": utcnow(),
            "processed_at": None,
            "attempts": 0,
            "next_attempt_at": None,
            "last_error": None,
            "message_id": None,
        }
        spool_id = _insert_new(connection, SPOOL, values)
        if spool_id is not None:
            return Accepted(spool_id, created=True, message_id=None)
        existing = connection.execute(
            select(SPOOL.c.id, SPOOL.c.message_id).where(
                SPOOL.c.source == arrival.source, SPOOL.c.delivery_key == arrival.delivery_key
            )
        ).one()
        return Accepted(existing.id, created=False, message_id=existing.message_id)

    def store(self, delivery: Delivery) -> Accepted:
        raw = with_envelope(delivery.mime, delivery.recipients)
        arrival = Arrival(
            source=f"webhook:{delivery.provider}",
            delivery_key=delivery.event_id or raw_sha256(raw),
            envelope_recipients=delivery.recipients,
            transport_time=None,  # no provider sends a receipt time; Mailgun's timestamp is its signing time
        )
        token = delivery.replay_token
        if token is not None and self._token_seen(delivery.provider, token):
            raise Replayed(delivery.provider)
        # First, outside the lock: the file and its name are durable (fsynced) before the row commits.
        raw_path = keep_raw(raw, self.data_dir)
        return self._commit(_Pending(raw, raw_path, arrival, delivery.provider, token))

    def _commit(self, pending: _Pending) -> Accepted:
        with self._queue_guard:
            self._queue.append(pending)
        with self._commit_lock:
            if pending.outcome is None:  # not committed by the thread before: commit all that waits
                with self._queue_guard:
                    batch, self._queue = self._queue, []
                self._commit_batch(batch)
        outcome = pending.outcome
        if isinstance(outcome, Accepted):
            return outcome
        if isinstance(outcome, Replayed):
            raise Replayed(pending.provider)
        raise StoreFailed("could not commit the spool row") from outcome

    def _commit_batch(self, batch: list[_Pending]) -> None:
        outcomes: list[Accepted | Replayed] = []
        try:
            with writing(self.engine), self.engine.begin() as connection:
                for pending in batch:
                    if pending.token is not None and not self._claim_token(
                        connection, pending.provider, pending.token
                    ):
                        outcomes.append(Replayed())  # a token seen before: nothing of this delivery is kept
                        continue
                    outcomes.append(self._spool(connection, pending.raw, pending.raw_path, pending.arrival))
        except Exception as ex:
            for pending in batch:
                pending.outcome = ex
            return
        for pending, outcome in zip(batch, outcomes, strict=True):
            pending.outcome = outcome

    def _wake_worker(self) -> None:
        if self.worker is not None and self.worker.running:
            self.worker.wake()
        elif not self._warned_no_worker:
            self._warned_no_worker = True
            log.warning(
                "webhook: no spool worker is running (lifespan off?); accepted deliveries wait for "
                "the next start or `process_spool`"
            )

    async def accept(self, build: Callable[[], Delivery]) -> JSONResponse:
        """Build the delivery and spool it in a worker thread (the database is synchronous); answer."""

        def work() -> tuple[Delivery, Accepted]:
            try:
                delivery = build()
            except BadPayload:
                raise
            except Exception as ex:  # a payload no rule foresaw: 400 (a 500 is retried for days), logged
                log.exception("webhook: could not read an authenticated payload; answering 400")
                raise BadPayload("could not read the payload") from ex
            return delivery, self.store(delivery)

        try:
            delivery, accepted = await run_in_threadpool(work)
        except BadPayload as ex:
            refuse(400, str(ex))
        except Replayed as ex:
            what = "signature" if ex.args and ex.args[0] == "raw" else "token"
            log.warning("webhook %s: refused a replayed %s", ex.args[0] if ex.args else "?", what)
            refuse(401, f"replayed {what}")
        except (StoreFailed, SQLAlchemyError, OSError):
            log.exception("webhook: could not store a delivery; answering 500 so the provider retries")
            refuse(500, "could not store the message; retry later")
        if accepted.created:
            self._wake_worker()
        log.info(
            "webhook %s: %s delivery %s (%d bytes)",
            delivery.provider,
            "accepted" if accepted.created else "duplicate of",
            accepted.spool_id,
            len(delivery.mime),
        )
        return JSONResponse(
            {
                "stored": accepted.created,
                "duplicate": not accepted.created,
                "spool_id": accepted.spool_id,
                "message_id": accepted.message_id,
            }
        )
