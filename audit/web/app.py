"""The app `audit serve` runs: the webhook endpoints, the web UI, /healthz and /metrics in one FastAPI app.

`create_server_app(settings, config, engine, scheduler=...)` builds it from module-level routers
(`audit.webhooks.routes`, `audit.web.monitoring`, `audit.web.login`, `audit.web.views`), whose views take
what they need from `app.state` through typed dependencies. One lifespan starts the webhook spool worker,
then the scheduler (when one is given), and stops them in the reverse order. The webhook endpoints
(/webhooks/...) keep their own provider authentication and never see the UI's login or session; /healthz and
/metrics are open (no secrets in them); every other page needs a signed-in user.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from audit.config import AuditConfig
from audit.errors import AuditError
from audit.settings import Settings, read_secret
from audit.web import login, monitoring, views
from audit.web.auth import (
    MIN_SECRET_CHARS,
    AuthSettings,
    PasswordHash,
    SessionCodec,
    SessionMiddleware,
    TrustedProxies,
)
from audit.web.context import WebContext
from audit.web.errors import EXCEPTION_HANDLERS
from audit.web.headers import OPEN_PATHS, SecurityHeaders
from audit.web.health import SchedulerLike
from audit.web.metrics import metrics_registry
from audit.web.templating import web_environment
from audit.web.throttle import LoginThrottle
from audit.webhooks.app import install, make_webhooks, spool_worker
from audit.webhooks.auth import WebhookSecrets

log = logging.getLogger("audit.web")

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


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The spool worker, then the scheduler; stopped in the reverse order."""
    scheduler: SchedulerLike | None = app.state.web.scheduler
    async with spool_worker(app.state.webhooks):
        if scheduler is not None:
            await scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                await scheduler.shutdown()


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
    hooks = make_webhooks(
        engine,
        data_dir=settings.data_dir,
        secrets=webhook_secrets(config),
        max_bodies_in_flight=section.max_bodies_in_flight if section is not None else 4,
    )
    app = FastAPI(
        title="contact-audit",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.web = WebContext(
        settings=settings,
        config=config,
        engine=engine,
        auth=auth,
        scheduler=scheduler,
        templates=Jinja2Templates(env=web_environment(ZoneInfo(config.audit.timezone))),
        throttle=LoginThrottle(engine),
        metrics=metrics_registry(engine, scheduler),
        up_since=datetime.now(UTC),
    )
    install(app, hooks)  # the router under /webhooks/, its error answers and its request count
    app.include_router(monitoring.router)
    app.include_router(login.router)
    app.include_router(views.router)
    app.add_middleware(SessionMiddleware, codec=codec, proxies=auth.proxies, skip=OPEN_PATHS)
    app.add_middleware(SecurityHeaders, proxies=auth.proxies)
    return app
