"""The app `audit serve` runs: the webhook endpoints, the web UI, /healthz and /metrics in one FastAPI app.

`create_server_app(settings, config, engine, scheduler=...)` builds it. Its lifespan starts the webhook spool
worker, then the scheduler (when one is given), and stops them in the reverse order. The webhook endpoints
(/webhooks/...) are the webhook app itself, handed each request unchanged: they keep their own provider
authentication and never see the UI's login or session. /healthz and /metrics are open (no secrets in them);
every other page needs a signed-in user.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audit.config import AuditConfig
from audit.errors import AuditError
from audit.settings import Settings, read_secret
from audit.web.auth import (
    MIN_SECRET_CHARS,
    AuthSettings,
    PasswordHash,
    SessionCodec,
    SessionMiddleware,
    TrustedProxies,
    current_user,
    is_https,
    route_path,
)
from audit.web.csrf import CsrfFailed
from audit.web.health import SchedulerLike, health_report
from audit.web.metrics import CONTENT_TYPE, collect_metrics, render_metrics
from audit.web.throttle import LoginThrottle
from audit.web.views import LoginRequired, NotFound, WebContext, render, ui_router, web_environment
from audit.webhook import WebhookSecrets, create_webhook_app

__all__ = ["create_server_app", "webhook_secrets"]

log = logging.getLogger("audit.web")

WEBHOOK_PREFIX = "/webhooks/"
OPEN_PATHS = (WEBHOOK_PREFIX, "/healthz", "/metrics")  # no session cookie, no UI headers
UI_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; frame-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# A year, the value hstspreload.org asks for; no includeSubDomains: other hosts of the domain are not ours to
# commit to https.
HSTS = "max-age=31536000"
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,100}$")


def webhook_secrets(config: AuditConfig) -> WebhookSecrets:
    """Each provider's secret, read from the environment variable the config names (unset: not served)."""
    section = config.mailbox.webhooks

    def value(variable: str | None) -> str | None:
        secret = read_secret(variable) if variable else None
        return secret.get_secret_value() if secret is not None else None

    if section is None:
        return WebhookSecrets()
    return WebhookSecrets(
        mailgun_signing_key=value(section.mailgun_signing_key_env),
        sendgrid_secret=value(section.sendgrid_secret_env),
        postmark_username=value(section.postmark_username_env),
        postmark_password=value(section.postmark_password_env),
        generic_hmac_secret=value(section.generic_secret_env),
    )


def auth_settings(settings: Settings) -> AuthSettings:
    """Checked once at startup, so a typo in the environment file is one clear line, not a broken login."""
    password = None
    if settings.web_password_hash is not None and settings.web_password_hash.get_secret_value().strip():
        password = PasswordHash.parse(settings.web_password_hash.get_secret_value())
    header = (settings.web_trusted_header or "").strip() or None
    if header is not None and not _HEADER_NAME.match(header):
        raise AuditError(f"AUDIT_WEB_TRUSTED_HEADER: {header!r} is not a header name (e.g. X-Forwarded-User)")
    return AuthSettings(
        password=password, trusted_header=header, proxies=TrustedProxies(settings.web_trusted_proxy)
    )


def session_secret(settings: Settings) -> str:
    if settings.web_session_secret is None or not settings.web_session_secret.get_secret_value():
        log.warning(
            "AUDIT_WEB_SESSION_SECRET is not set: using a random one, so a restart signs everyone out"
        )
        return secrets.token_urlsafe(32)
    value = settings.web_session_secret.get_secret_value()
    if len(value) < MIN_SECRET_CHARS:
        raise AuditError(f"AUDIT_WEB_SESSION_SECRET must be at least {MIN_SECRET_CHARS} characters long")
    return value


class _Forward(BaseRoute):
    """Hands every request under `prefix` to another ASGI app, path and all, as it came."""

    def __init__(self, prefix: str, app: ASGIApp) -> None:
        self.prefix = prefix
        self.app = app

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and route_path(scope).startswith(self.prefix):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class _SecurityHeaders:
    """Security headers on every UI response, unless a view chose its own (reply HTML, files, the report);
    and HSTS on every response that went out over https (directly, or by a trusted proxy's word)."""

    def __init__(self, app: ASGIApp, *, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ui = not route_path(scope).startswith(OPEN_PATHS)
        https = is_https(HTTPConnection(scope), self.proxies)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                if ui:
                    headers.setdefault("Content-Security-Policy", UI_CSP)
                    headers.setdefault("X-Frame-Options", "DENY")
                    headers.setdefault("X-Content-Type-Options", "nosniff")
                    headers.setdefault("Referrer-Policy", "same-origin")
                    headers.setdefault("Cache-Control", "no-store")  # pages hold replies and personal data
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_server_app(
    settings: Settings, config: AuditConfig, engine: Engine, *, scheduler: SchedulerLike | None
) -> FastAPI:
    """The one app `audit serve` runs; `engine` must be migrated (`audit.db.open_database`)."""
    auth = auth_settings(settings)
    if not auth.configured:
        log.warning(
            "the web UI has no login: set AUDIT_WEB_PASSWORD_HASH (see `audit hash-password`) or "
            "AUDIT_WEB_TRUSTED_HEADER; until then every page refuses"
        )
    codec = SessionCodec(session_secret(settings))
    section = config.mailbox.webhooks
    webhooks = create_webhook_app(
        engine,
        data_dir=settings.data_dir,
        secrets=webhook_secrets(config),
        max_bodies_in_flight=section.max_bodies_in_flight if section is not None else 4,
    )
    up_since = datetime.now(UTC)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The webhook app's own lifespan runs its spool worker; Starlette runs no lifespan of a sub-app.
        async with webhooks.router.lifespan_context(webhooks):
            if scheduler is not None:
                await scheduler.start()
            try:
                yield
            finally:
                if scheduler is not None:
                    await scheduler.shutdown()

    app = FastAPI(title="contact-audit", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    web = WebContext(
        settings=settings,
        config=config,
        engine=engine,
        auth=auth,
        scheduler=scheduler,
        templates=Jinja2Templates(env=web_environment(ZoneInfo(config.audit.timezone))),
        throttle=LoginThrottle(engine),
    )
    app.state.web = web
    app.router.routes.insert(0, _Forward(WEBHOOK_PREFIX, webhooks))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        status, body = await health_report(engine, config, scheduler, up_since=up_since)
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        health = scheduler.health() if scheduler is not None else None
        try:
            text = render_metrics(await run_in_threadpool(collect_metrics, engine, health))
        except SQLAlchemyError as ex:
            log.warning("metrics: the database did not answer: %s", ex.__class__.__name__)
            return PlainTextResponse("database unreachable\n", status_code=503)
        return PlainTextResponse(text, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})

    app.include_router(ui_router(web))

    def page(request: Request, status: int, title: str, text: str) -> Response:
        context = {"title": title, "text": text}
        return render(web, request, "error.html.j2", context, status=status, user=current_user(request, auth))

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/waves"  # the form's data is gone anyway; come back to the start
        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, _exc: CsrfFailed) -> Response:
        text = "This form has expired or was sent from another site. Go back, reload the page and try again."
        return await run_in_threadpool(page, request, 403, "Form refused", text)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, _exc: NotFound) -> Response:
        return await run_in_threadpool(page, request, 404, "Not found", "There is nothing at this address.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        title = "Not found" if exc.status_code == 404 else f"Error {exc.status_code}"
        text = "There is nothing at this address." if exc.status_code == 404 else str(exc.detail)
        return await run_in_threadpool(page, request, exc.status_code, title, text)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, _exc: RequestValidationError) -> Response:
        if request.method == "GET":
            return await run_in_threadpool(
                page, request, 404, "Not found", "There is nothing at this address."
            )
        return await run_in_threadpool(page, request, 400, "Bad request", "The form could not be read.")

    app.add_middleware(SessionMiddleware, codec=codec, proxies=auth.proxies, skip=OPEN_PATHS)
    app.add_middleware(_SecurityHeaders, proxies=auth.proxies)
    return app
