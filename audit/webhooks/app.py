"""The inbound-email webhook app: authenticate, store the raw message, answer, then process
(docs/collection.md, "Webhooks").

Order of work for every request: refuse an unconfigured endpoint (404); authenticate on the headers and URL
where the provider allows it (SendGrid, Postmark; the raw endpoint's timestamp), before reading a byte of the
body (401); take one of `max_bodies_in_flight` body slots (503 with Retry-After when none is free, the body
unread); read at most `max_body_bytes` within `body_timeout_s`, counting while streaming into a temporary
spool, never all in memory before the sender is known (413, 408); authenticate what needs the body (Mailgun's
signature, as soon as its fields have arrived; the raw endpoint's HMAC); only then read it into memory,
write the raw bytes (`keep_raw`, fsynced) and commit one `InboundSpool` row (with a Mailgun token or the raw
post's signature, in the same transaction), and answer 200. A request we cannot read is 4xx, never 500.
Parsing, matching and classifying follow in the background (`audit.webhooks.spool`: a worker started and
stopped with the app's lifespan). Our own failures (database down, disk full) answer 500 so the provider
retries; 403 and 406, which make Postmark and Mailgun give up, are never used.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Connection, Engine, Executable, Table, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from audit.collect.store import Arrival, keep_raw, raw_sha256
from audit.models import InboundSpool, WebhookReplay, utcnow
from audit.webhooks.auth import (
    WebhookSecrets,
    basic_auth_ok,
    mailgun_fresh,
    mailgun_signature_ok,
    raw_signature_hex,
    raw_signer,
    raw_timestamp,
    same,
)
from audit.webhooks.bodies import (
    SPOOL_FOLDER,
    BodySlots,
    BodyTooLarge,
    BodyTooSlow,
    Busy,
    spooled_body,
    spooled_form,
)
from audit.webhooks.mime import with_envelope
from audit.webhooks.providers import (
    BadPayload,
    Delivery,
    mailgun_delivery,
    postmark_delivery,
    raw_delivery,
    sendgrid_delivery,
)
from audit.webhooks.spool import POLL_S, SpoolWorker, encode_recipients, writing

log = logging.getLogger("audit.webhooks")

MAX_TOKEN_CHARS = 255
MAX_BODIES_IN_FLIGHT = 4  # x 25 MB read into memory once authenticated; a stranger's body stays on disk
BODY_TIMEOUT_S = 120.0  # 25 MB at 200 KB/s; a slower sender would hold a slot for longer
RETRY_AFTER_S = 10
SLOT_WAIT_S = 5.0  # providers wait 10 s or more for an answer; a burst of small deliveries is served
MAILGUN_SIGNED = frozenset({"timestamp", "token", "signature"})
REPLAY_PRUNE_EVERY_S = 600.0
_BASIC = {"WWW-Authenticate": 'Basic realm="audit webhooks"'}
_SECRET_PATH = re.compile(r"(/webhooks/sendgrid/)[^/?\s]+")
SPOOL: Table = InboundSpool.__table__  # type: ignore[attr-defined]
REPLAY: Table = WebhookReplay.__table__  # type: ignore[attr-defined]


class Replayed(Exception):
    """A Mailgun token or a raw post's signature seen before."""


@dataclass(frozen=True, slots=True)
class Accepted:
    spool_id: int
    created: bool  # False: the same delivery (provider and event id or raw hash) was accepted before
    message_id: int | None  # known once the spool row is processed


def _refuse(status: int, detail: str, headers: dict[str, str] | None = None) -> NoReturn:
    raise HTTPException(status_code=status, detail=detail, headers=headers)


class _RedactSecretPaths(logging.Filter):
    """Keeps the SendGrid path secret out of uvicorn's access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SECRET_PATH.sub(r"\1<redacted>", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def _redact_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(existing, _RedactSecretPaths) for existing in access.filters):
        access.addFilter(_RedactSecretPaths())


class _CountRequests:
    """Counts the HTTP requests in progress, so the spool worker can let them go first."""

    def __init__(self, app: ASGIApp, receiver: Receiver) -> None:
        self.app = app
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.receiver.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.receiver.in_flight -= 1


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
            _refuse(400, str(ex))
        except Replayed as ex:
            what = "signature" if ex.args and ex.args[0] == "raw" else "token"
            log.warning("webhook %s: refused a replayed %s", ex.args[0] if ex.args else "?", what)
            _refuse(401, f"replayed {what}")
        except (StoreFailed, SQLAlchemyError, OSError):
            log.exception("webhook: could not store a delivery; answering 500 so the provider retries")
            _refuse(500, "could not store the message; retry later")
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


def create_webhook_app(
    engine: Engine,
    *,
    data_dir: Path,
    secrets: WebhookSecrets,
    max_body_bytes: int = 25 * 1024 * 1024,
    max_bodies_in_flight: int = MAX_BODIES_IN_FLIGHT,
    body_timeout_s: float = BODY_TIMEOUT_S,
    slot_wait_s: float = SLOT_WAIT_S,
    mailgun_max_age_s: int = 300,
    raw_max_age_s: int = 300,
    spool_poll_s: float = POLL_S,
) -> FastAPI:
    """The webhook endpoints under /webhooks/, storing into `engine` (migrated) and `data_dir`/raw.

    Serve it with its lifespan on (uvicorn's default "auto" does): startup starts the spool worker, which
    first ingests what an earlier run accepted but did not process; shutdown stops it after the current row.
    `app.state.body_slots` counts the bodies being read.
    """
    receiver = Receiver(engine, data_dir=data_dir, max_age_s=max(mailgun_max_age_s, raw_max_age_s))
    slots = BodySlots(max_bodies_in_flight, wait_s=slot_wait_s, max_waiting=4 * max_bodies_in_flight)
    incoming = data_dir / SPOOL_FOLDER
    limits: dict[str, Any] = {"limit": max_body_bytes, "timeout_s": body_timeout_s, "directory": incoming}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        worker = SpoolWorker(
            engine, data_dir=data_dir, poll_s=spool_poll_s, busy=lambda: receiver.in_flight > 0
        )
        worker.start()
        receiver.worker = worker
        try:
            yield
        finally:
            receiver.worker = None
            await worker.stop()

    app = FastAPI(
        title="contact-audit webhooks", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.body_slots = slots
    app.add_middleware(_CountRequests, receiver=receiver)
    _redact_access_log()

    def configured(secret: str | None) -> str:
        if not secret:  # an empty secret would let an empty password in
            _refuse(404, "not configured")
        return secret

    def unauthorized(
        provider: str, request: Request, why: str, headers: dict[str, str] | None = None
    ) -> NoReturn:
        client = request.client.host if request.client else "?"
        log.warning("webhook %s: refused a request from %s: %s", provider, client, why)
        _refuse(401, why, headers)

    def single(request: Request, name: str) -> str | None:
        """A header that must not be repeated (a second copy could say something the signature did not)."""
        values = request.headers.getlist(name)
        if len(values) > 1:
            _refuse(400, f"more than one {name} header")
        return values[0] if values else None

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        log.warning("webhook: refused a body over %d bytes on %s", max_body_bytes, request.url.path)
        return JSONResponse({"detail": f"body larger than {max_body_bytes} bytes"}, status_code=413)

    @app.exception_handler(BodyTooSlow)
    async def too_slow(request: Request, exc: BodyTooSlow) -> JSONResponse:
        log.warning("webhook: a body took longer than %.0f s on %s", body_timeout_s, request.url.path)
        return JSONResponse(
            {"detail": f"the body took longer than {body_timeout_s:.0f} s"},
            status_code=408,
            headers={"Connection": "close"},
        )

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy) -> JSONResponse:
        log.warning(
            "webhook: %d bodies in flight, %d waiting; answered 503 on %s",
            slots.in_use,
            slots.waiting,
            request.url.path,
        )
        return JSONResponse(
            {"detail": "busy; retry later"}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)}
        )

    @app.exception_handler(BadPayload)
    async def bad_payload(request: Request, exc: BadPayload) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.post("/webhooks/mailgun")
    @app.post("/webhooks/mailgun/mime")  # Mailgun posts `body-mime` only to a URL ending in "mime"
    async def mailgun(request: Request) -> JSONResponse:
        key = configured(secrets.mailgun_signing_key)

        def signed(fields: Mapping[str, bytes]) -> str | None:
            """Mailgun's token once its signature checks out; None while a field is missing; else 401."""
            if not fields.keys() >= MAILGUN_SIGNED:
                return None
            timestamp, token, signature = (
                fields[name].decode("utf-8", "replace") for name in ("timestamp", "token", "signature")
            )
            if not (timestamp and token and signature):
                unauthorized("mailgun", request, "missing timestamp, token or signature")
            if not mailgun_signature_ok(key, timestamp=timestamp, token=token, signature=signature):
                unauthorized("mailgun", request, "bad signature")
            if not mailgun_fresh(timestamp, now=time.time(), max_age_s=mailgun_max_age_s):
                unauthorized("mailgun", request, "stale timestamp")
            if len(token) > MAX_TOKEN_CHARS:
                unauthorized("mailgun", request, "token too long")
            return token

        # Mailgun signs inside the form: the body is needed, but spooled (on disk past 1 MB) and checked
        # the moment the three signed fields are in, so a forged post is refused before its message.
        reading = spooled_form(request, wanted=MAILGUN_SIGNED, check=signed, **limits)
        async with slots.taken(), reading as form:
            token = signed(form.early)
            if token is None:
                unauthorized("mailgun", request, "missing timestamp, token or signature")
            return await receiver.accept(lambda: mailgun_delivery(form.fields(), token=token))

    async def sendgrid(request: Request, path_secret: str | None) -> JSONResponse:
        secret = configured(secrets.sendgrid_secret)
        by_path = path_secret is not None and same(secret, path_secret)
        by_basic = basic_auth_ok(request.headers.get("authorization"), username=None, password=secret)
        if not (by_path or by_basic):
            unauthorized("sendgrid", request, "bad credentials", _BASIC)
        async with slots.taken(), spooled_form(request, **limits) as form:
            return await receiver.accept(lambda: sendgrid_delivery(form.fields()))

    @app.post("/webhooks/sendgrid")
    async def sendgrid_basic(request: Request) -> JSONResponse:
        return await sendgrid(request, None)

    @app.post("/webhooks/sendgrid/{secret}")
    async def sendgrid_path(request: Request, secret: str) -> JSONResponse:
        return await sendgrid(request, secret)

    @app.post("/webhooks/postmark")
    async def postmark(request: Request) -> JSONResponse:
        password = configured(secrets.postmark_password)
        username = configured(secrets.postmark_username)
        if not basic_auth_ok(request.headers.get("authorization"), username=username, password=password):
            unauthorized("postmark", request, "bad credentials", _BASIC)
        async with slots.taken(), spooled_body(request, **limits) as body:
            return await receiver.accept(lambda: postmark_delivery(body.read()))

    @app.post("/webhooks/raw")
    async def raw(request: Request) -> JSONResponse:
        secret = configured(secrets.generic_hmac_secret)
        signature = raw_signature_hex(single(request, "x-audit-signature"))
        if signature is None:
            unauthorized("raw", request, "missing or malformed X-Audit-Signature (sha256=<64 hex digits>)")
        stamp = raw_timestamp(single(request, "x-audit-timestamp"), now=time.time(), max_age_s=raw_max_age_s)
        if stamp is None:
            unauthorized("raw", request, f"missing or stale X-Audit-Timestamp (within {raw_max_age_s} s)")
        # Header values arrive as latin-1 text: encoding back gives the bytes sent, which were signed.
        header = single(request, "x-audit-recipient")
        recipient = b"" if header is None else header.encode("latin-1")
        signer = raw_signer(secret, timestamp=stamp, recipient=recipient)
        async with slots.taken(), spooled_body(request, observe=signer.update, **limits) as body:
            if not same(signer.hexdigest(), signature):
                unauthorized("raw", request, "bad signature")
            # An address may be UTF-8 (RFC 6531)
            to = recipient.decode("utf-8", "replace") if header is not None else None
            return await receiver.accept(lambda: raw_delivery(body.read(), to, signature=signature))

    return app
