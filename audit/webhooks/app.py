"""The inbound-email webhook app: authenticate, store the raw message, answer, then process (design §7).

Order of work for every request: refuse an unconfigured endpoint (404); authenticate on what arrived, before
anything is written (401); read at most `max_body_bytes`, counting while streaming (413 past it); write the
raw bytes (`keep_raw`, fsynced) and commit one `InboundSpool` row (with a Mailgun token, in the same
transaction); only then answer 200. Parsing, matching and classifying follow in the background
(`audit.webhooks.spool`: a worker started and stopped with the app's lifespan). Our own failures (database
down, disk full) answer 500 so the provider retries; 403 and 406, which make Postmark and Mailgun give up, are
never used.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qsl

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Connection, Engine, Executable, Table, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from audit.collect.store import Arrival, keep_raw, raw_sha256
from audit.models import InboundSpool, WebhookReplay, utcnow
from audit.webhooks.auth import (
    WebhookSecrets,
    basic_auth_ok,
    mailgun_fresh,
    mailgun_signature_ok,
    raw_signature_ok,
    same,
)
from audit.webhooks.mime import Attachment, with_envelope
from audit.webhooks.providers import (
    BadPayload,
    Delivery,
    FormFields,
    mailgun_delivery,
    postmark_delivery,
    raw_delivery,
    sendgrid_delivery,
)
from audit.webhooks.spool import POLL_S, SpoolWorker, encode_recipients, writing

log = logging.getLogger("audit.webhooks")

MAX_FORM_FIELDS = 1000
MAX_FORM_FILES = 1000  # attachments, when a provider posts parsed parts; the body limit bounds them anyway
MAX_TOKEN_CHARS = 255
REPLAY_PRUNE_EVERY_S = 600.0
_BASIC = {"WWW-Authenticate": 'Basic realm="audit webhooks"'}
_SECRET_PATH = re.compile(r"(/webhooks/sendgrid/)[^/?\s]+")
SPOOL: Table = InboundSpool.__table__  # type: ignore[attr-defined]
REPLAY: Table = WebhookReplay.__table__  # type: ignore[attr-defined]


class BodyTooLarge(Exception):
    """Raised while reading a request body that passes the limit."""


class Replayed(Exception):
    """A Mailgun token seen before."""


@dataclass(frozen=True, slots=True)
class Accepted:
    spool_id: int
    created: bool  # False: the same delivery (provider and event id or raw hash) was accepted before
    message_id: int | None  # known once the spool row is processed


def _refuse(status: int, detail: str, headers: dict[str, str] | None = None) -> NoReturn:
    raise HTTPException(status_code=status, detail=detail, headers=headers)


def _bounded(request: Request, limit: int, *, content_type: str | None = None) -> Request:
    """The same request, whose body reading stops with `BodyTooLarge` once past `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    upstream = request.receive
    received = 0

    async def receive() -> AsgiMessage:
        nonlocal received
        message = await upstream()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge
        return message

    scope = dict(request.scope)
    if content_type is not None:
        others = [(k, v) for k, v in request.scope["headers"] if k.lower() != b"content-type"]
        scope["headers"] = [*others, (b"content-type", content_type.encode("latin-1"))]
    return Request(scope, receive)


async def read_body(request: Request, limit: int) -> bytes:
    return await _bounded(request, limit).body()


async def read_form(request: Request, limit: int) -> FormFields:
    """A form post's fields as exact bytes; parts up to `limit` (Starlette's default stops at 1 MB)."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        body = await read_body(request, limit)
        try:  # latin-1 maps every percent-decoded byte to one character, so nothing is lost or replaced
            pairs = parse_qsl(
                body.decode("latin-1"),
                keep_blank_values=True,
                encoding="latin-1",
                max_num_fields=MAX_FORM_FIELDS,
            )
        except ValueError as ex:
            raise BadPayload(str(ex)) from ex
        urlencoded: dict[str, list[bytes]] = {}
        for name, value in pairs:
            urlencoded.setdefault(name, []).append(value.encode("latin-1"))
        return FormFields(urlencoded)
    if media_type != "multipart/form-data":
        raise BadPayload("expected a form post (multipart/form-data or application/x-www-form-urlencoded)")
    # Starlette decodes text parts with the declared charset; latin-1 makes that lossless for raw 8-bit MIME.
    latin1 = re.sub(r";\s*charset=[^;]*", "", content_type, flags=re.IGNORECASE) + "; charset=latin-1"
    bounded = _bounded(request, limit, content_type=latin1)
    values: dict[str, list[bytes]] = {}
    files: dict[str, list[Attachment]] = {}
    async with bounded.form(
        max_part_size=limit, max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS
    ) as form:
        for field_name, item in form.multi_items():
            if isinstance(item, str):
                values.setdefault(field_name, []).append(item.encode("latin-1"))
            else:
                data = await item.read()
                files.setdefault(field_name, []).append(Attachment(item.filename, item.content_type, data))
    return FormFields(values, files)


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
    token: str | None
    outcome: Accepted | Replayed | Exception | None = None


class Receiver:
    """Accepts deliveries: raw bytes first, then one spool row and (Mailgun) its token, committed together.

    This is the hot path: SQLAlchemy Core rather than the ORM, and a group commit. Each request thread queues
    its delivery and takes the commit lock; the one that gets it commits everything queued so far in one
    transaction (one fsync), and the others find theirs done. A token and its spool row share a transaction.
    """

    def __init__(self, engine: Engine, *, data_dir: Path, mailgun_max_age_s: int) -> None:
        self.engine = engine
        self.data_dir = data_dir
        self.replay_window = timedelta(seconds=2 * mailgun_max_age_s + 60)  # timestamps may be ahead of us
        self._pruned_at = 0.0
        self.worker: SpoolWorker | None = None
        self.in_flight = 0
        self._warned_no_worker = False
        self._queue: list[_Pending] = []
        self._queue_guard = threading.Lock()
        self._commit_lock = threading.Lock()

    def _token_seen(self, token: str) -> bool:
        with self.engine.connect() as connection:
            found = connection.execute(
                select(REPLAY.c.id).where(REPLAY.c.provider == "mailgun", REPLAY.c.token == token)
            ).first()
        return found is not None

    def _claim_token(self, connection: Connection, token: str) -> bool:
        now = utcnow()
        if time.monotonic() - self._pruned_at > REPLAY_PRUNE_EVERY_S:
            self._pruned_at = time.monotonic()
            connection.execute(
                delete(REPLAY).where(
                    REPLAY.c.provider == "mailgun", REPLAY.c.seen_at < now - self.replay_window
                )
            )
        return (
            _insert_new(connection, REPLAY, {"provider": "mailgun", "token": token, "seen_at": now})
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
        if token is not None and self._token_seen(token):
            raise Replayed
        # First, outside the lock: the file and its name are durable (fsynced) before the row commits.
        raw_path = keep_raw(raw, self.data_dir)
        return self._commit(_Pending(raw, raw_path, arrival, token))

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
            raise Replayed
        raise StoreFailed("could not commit the spool row") from outcome

    def _commit_batch(self, batch: list[_Pending]) -> None:
        outcomes: list[Accepted | Replayed] = []
        try:
            with writing(self.engine), self.engine.begin() as connection:
                for pending in batch:
                    if pending.token is not None and not self._claim_token(connection, pending.token):
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
            delivery = build()
            return delivery, self.store(delivery)

        try:
            delivery, accepted = await run_in_threadpool(work)
        except BadPayload as ex:
            _refuse(400, str(ex))
        except Replayed:
            log.warning("webhook mailgun: refused a replayed token")
            _refuse(401, "replayed token")
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
    mailgun_max_age_s: int = 300,
    spool_poll_s: float = POLL_S,
) -> FastAPI:
    """The webhook endpoints under /webhooks/, storing into `engine` (migrated) and `data_dir`/raw.

    Serve it with its lifespan on (uvicorn's default "auto" does): startup starts the spool worker, which
    first ingests what an earlier run accepted but did not process; shutdown stops it after the current row.
    """
    receiver = Receiver(engine, data_dir=data_dir, mailgun_max_age_s=mailgun_max_age_s)

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

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        log.warning("webhook: refused a body over %d bytes on %s", max_body_bytes, request.url.path)
        return JSONResponse({"detail": f"body larger than {max_body_bytes} bytes"}, status_code=413)

    @app.exception_handler(BadPayload)
    async def bad_payload(request: Request, exc: BadPayload) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.post("/webhooks/mailgun")
    @app.post("/webhooks/mailgun/mime")  # Mailgun posts `body-mime` only to a URL ending in "mime"
    async def mailgun(request: Request) -> JSONResponse:
        key = configured(secrets.mailgun_signing_key)
        fields = await read_form(request, max_body_bytes)
        timestamp, token = fields.text("timestamp") or "", fields.text("token") or ""
        signature = fields.text("signature") or ""
        if not (timestamp and token and signature):
            unauthorized("mailgun", request, "missing timestamp, token or signature")
        if not mailgun_signature_ok(key, timestamp=timestamp, token=token, signature=signature):
            unauthorized("mailgun", request, "bad signature")
        if not mailgun_fresh(timestamp, now=time.time(), max_age_s=mailgun_max_age_s):
            unauthorized("mailgun", request, "stale timestamp")
        if len(token) > MAX_TOKEN_CHARS:
            unauthorized("mailgun", request, "token too long")
        return await receiver.accept(lambda: mailgun_delivery(fields, token=token))

    async def sendgrid(request: Request, path_secret: str | None) -> JSONResponse:
        secret = configured(secrets.sendgrid_secret)
        by_path = path_secret is not None and same(secret, path_secret)
        by_basic = basic_auth_ok(request.headers.get("authorization"), username=None, password=secret)
        if not (by_path or by_basic):
            unauthorized("sendgrid", request, "bad credentials", _BASIC)
        fields = await read_form(request, max_body_bytes)
        return await receiver.accept(lambda: sendgrid_delivery(fields))

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
        body = await read_body(request, max_body_bytes)
        return await receiver.accept(lambda: postmark_delivery(body))

    @app.post("/webhooks/raw")
    async def raw(request: Request) -> JSONResponse:
        secret = configured(secrets.generic_hmac_secret)
        signature = request.headers.get("x-audit-signature")
        if signature is None:
            unauthorized("raw", request, "missing X-Audit-Signature")
        body = await read_body(request, max_body_bytes)
        if not raw_signature_ok(secret, body, signature):
            unauthorized("raw", request, "bad signature")
        recipient = request.headers.get("x-audit-recipient")
        if recipient is not None:  # header values arrive as latin-1; an address may be UTF-8 (RFC 6531)
            recipient = recipient.encode("latin-1").decode("utf-8", "replace")
        return await receiver.accept(lambda: raw_delivery(body, recipient))

    return app
