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
Parsing, matching and classifying follow in the background (`audit.collect.spool`: a worker started and
stopped with the app's lifespan). Our own failures (database down, disk full) answer 500 so the provider
retries; 403 and 406, which make Postmark and Mailgun give up, are never used.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from audit.collect.spool import POLL_S, SpoolWorker
from audit.webhooks.auth import WebhookSecrets
from audit.webhooks.bodies import SPOOL_FOLDER, BodySlots, BodyTooLarge, BodyTooSlow, Busy
from audit.webhooks.providers import BadPayload
from audit.webhooks.receiver import Receiver
from audit.webhooks.routes import PREFIX, Webhooks, router

log = logging.getLogger("audit.webhooks")

MAX_BODIES_IN_FLIGHT = 4  # x 25 MB read into memory once authenticated; a stranger's body stays on disk
BODY_TIMEOUT_S = 120.0  # 25 MB at 200 KB/s; a slower sender would hold a slot for longer
RETRY_AFTER_S = 10
SLOT_WAIT_S = 5.0  # providers wait 10 s or more for an answer; a burst of small deliveries is served
_SECRET_PATH = re.compile(r"(/webhooks/sendgrid/)[^/?\s]+")


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


def _route_path(scope: Scope) -> str:
    """The path the app routes on: without the `root_path` a proxy mounted us under (as Starlette does)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class _CountRequests:
    """Counts the webhook requests in progress, so the spool worker can let them go first.

    A middleware rather than a dependency with `yield`: it counts until the response is sent, whichever
    FastAPI version decides when a dependency's exit runs. Only paths under /webhooks/ count, so in
    `audit serve`'s app the web UI's pages do not hold the worker back.
    """

    def __init__(self, app: ASGIApp, receiver: Receiver) -> None:
        self.app = app
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _route_path(scope).startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        self.receiver.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.receiver.in_flight -= 1


def make_webhooks(
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
) -> Webhooks:
    """The endpoints' state for one app, storing into `engine` (migrated) and `data_dir`/raw."""
    return Webhooks(
        engine=engine,
        data_dir=data_dir,
        secrets=secrets,
        receiver=Receiver(engine, data_dir=data_dir, max_age_s=max(mailgun_max_age_s, raw_max_age_s)),
        slots=BodySlots(max_bodies_in_flight, wait_s=slot_wait_s, max_waiting=4 * max_bodies_in_flight),
        incoming=data_dir / SPOOL_FOLDER,
        max_body_bytes=max_body_bytes,
        body_timeout_s=body_timeout_s,
        mailgun_max_age_s=mailgun_max_age_s,
        raw_max_age_s=raw_max_age_s,
        spool_poll_s=spool_poll_s,
    )


@asynccontextmanager
async def spool_worker(hooks: Webhooks) -> AsyncIterator[None]:
    """The spool worker, for the lifespan of the app that serves `hooks`.

    It first ingests what an earlier run accepted but did not process; on leaving it stops after the
    current row.
    """
    receiver = hooks.receiver
    worker = SpoolWorker(
        hooks.engine, data_dir=hooks.data_dir, poll_s=hooks.spool_poll_s, busy=lambda: receiver.in_flight > 0
    )
    worker.start()
    receiver.worker = worker
    try:
        yield
    finally:
        receiver.worker = None
        await worker.stop()


def _hooks(app: FastAPI) -> Webhooks:
    hooks: Webhooks = app.state.webhooks
    return hooks


async def _too_large(request: Request, _exc: Exception) -> JSONResponse:
    limit = _hooks(request.app).max_body_bytes
    log.warning("webhook: refused a body over %d bytes on %s", limit, request.url.path)
    return JSONResponse({"detail": f"body larger than {limit} bytes"}, status_code=413)


async def _too_slow(request: Request, _exc: Exception) -> JSONResponse:
    timeout_s = _hooks(request.app).body_timeout_s
    log.warning("webhook: a body took longer than %.0f s on %s", timeout_s, request.url.path)
    return JSONResponse(
        {"detail": f"the body took longer than {timeout_s:.0f} s"},
        status_code=408,
        headers={"Connection": "close"},
    )


async def _busy(request: Request, _exc: Exception) -> JSONResponse:
    slots = _hooks(request.app).slots
    log.warning(
        "webhook: %d bodies in flight, %d waiting; answered 503 on %s",
        slots.in_use,
        slots.waiting,
        request.url.path,
    )
    return JSONResponse(
        {"detail": "busy; retry later"}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)}
    )


async def _bad_payload(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=400)


def install(app: FastAPI, hooks: Webhooks) -> None:
    """Serve the webhook endpoints from `app`: the router, its state, its error answers, the request count.

    The app's lifespan must run `spool_worker(hooks)`. `app.state.body_slots` counts the bodies being read.
    """
    app.state.webhooks = hooks
    app.state.body_slots = hooks.slots
    app.include_router(router)
    app.add_exception_handler(BodyTooLarge, _too_large)
    app.add_exception_handler(BodyTooSlow, _too_slow)
    app.add_exception_handler(Busy, _busy)
    app.add_exception_handler(BadPayload, _bad_payload)
    app.add_middleware(_CountRequests, receiver=hooks.receiver)
    _redact_access_log()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with spool_worker(_hooks(app)):
        yield


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
    """The webhook endpoints alone, as an app of their own (tests and benchmarks; `audit serve` installs
    them in its one app instead).

    Serve it with its lifespan on (uvicorn's default "auto" does): it runs the spool worker.
    """
    hooks = make_webhooks(
        engine,
        data_dir=data_dir,
        secrets=secrets,
        max_body_bytes=max_body_bytes,
        max_bodies_in_flight=max_bodies_in_flight,
        body_timeout_s=body_timeout_s,
        slot_wait_s=slot_wait_s,
        mailgun_max_age_s=mailgun_max_age_s,
        raw_max_age_s=raw_max_age_s,
        spool_poll_s=spool_poll_s,
    )
    app = FastAPI(
        title="contact-audit webhooks", docs_url=None, redoc_url=None, openapi_url=None, lifespan=_lifespan
    )
    install(app, hooks)
    return app
