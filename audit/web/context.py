"""What every page of the web UI shares: the app's `WebContext`, the typed dependencies, and `render`.

`create_server_app` keeps one `WebContext` in `app.state.web`; views take it as `Web`, the signed-in user as
`User` (or off to the login page) and a checked CSRF token as `Csrf`. In a view's parameters `User` comes
before `Csrf`, so a signed-out POST is sent to the login page rather than refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from sqlmodel import Session

from audit.config import AuditConfig
from audit.settings import Settings
from audit.web import queries
from audit.web.auth import AuthSettings, current_user, header_user, session_of
from audit.web.csrf import csrf_token, require_csrf
from audit.web.health import SchedulerLike
from audit.web.throttle import LoginThrottle


class LoginRequired(Exception):
    """No signed-in user: a redirect to the login page, back here afterwards."""


class NotFound(Exception):
    """Answered with the 404 page."""


@dataclass(frozen=True)
class WebContext:
    settings: Settings
    config: AuditConfig
    engine: Engine
    auth: AuthSettings
    scheduler: SchedulerLike | None
    templates: Jinja2Templates
    throttle: LoginThrottle
    metrics: CollectorRegistry  # read from the database at each scrape (audit.web.metrics)
    up_since: datetime

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.config.audit.timezone)


# The dependencies are coroutines: FastAPI runs a sync one in its thread pool, a hop for nothing here.
async def web_context(request: Request) -> WebContext:
    web: WebContext = request.app.state.web
    return web


Web = Annotated[WebContext, Depends(web_context)]


async def require_user(request: Request, web: Web) -> str:
    """The signed-in user, or off to the login page."""
    user = current_user(request, web.auth)
    if user is None:
        raise LoginRequired
    return user


User = Annotated[str, Depends(require_user)]
Csrf = Annotated[None, Depends(require_csrf)]


def safe_next(target: str | None) -> str:
    """Only a path on this site: no scheme, no `//host`, no backslash tricks."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/waves"
    return target


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def flash(request: Request, kind: str, text: str) -> None:
    """A notice for the next page, carried in the session cookie (kept short: a cookie holds 4 KB)."""
    session_of(request)["flash"] = {"kind": kind, "text": text[:500]}


def render(
    web: WebContext,
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    user: str | None = None,
) -> HTMLResponse:
    """A page of the UI: `context` plus what the layout needs (the user, the CSRF token, a flash message)."""
    unmatched = 0
    if user is not None:
        with Session(web.engine) as session:
            unmatched = queries.unmatched_count(session)
    base = {
        "user": user,
        "signed_in_by_proxy": header_user(request, web.auth.trusted_header, web.auth.proxies) is not None,
        "csrf_token": csrf_token(request),
        "flash": session_of(request).pop("flash", None),
        "audit_name": web.config.audit.name,
        "unmatched": unmatched,
        "page": name.removesuffix(".html.j2"),
    }
    return web.templates.TemplateResponse(request, name, {**base, **context}, status_code=status)
