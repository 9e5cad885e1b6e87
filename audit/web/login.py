"""/login and /logout: a password checked against the scrypt hash, each attempt counted first (throttle)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from audit.web.auth import client_address, current_user, log_in, log_out
from audit.web.context import Web, render, safe_next, see_other
from audit.web.csrf import require_csrf

log = logging.getLogger("audit.web")

router = APIRouter()


@router.get("/login")
def login_page(request: Request, web: Web, next: str = "/waves") -> Response:
    if current_user(request, web.auth) is not None:
        return see_other(safe_next(next))
    return render(web, request, "login.html.j2", {"next": safe_next(next), "error": None, "auth": web.auth})


@router.post("/login", dependencies=[Depends(require_csrf)])
def login(
    request: Request,
    web: Web,
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/waves",
) -> Response:
    target = safe_next(next)
    address = client_address(request, web.auth.proxies)
    context: dict[str, Any] = {"next": target, "auth": web.auth}
    if web.auth.password is None:
        return render(
            web, request, "login.html.j2", {**context, "error": "Password login is off."}, status=403
        )
    try:
        verdict = web.throttle.attempt(address)
    except SQLAlchemyError as ex:  # fail closed: no count, no check
        log.warning("web UI: the login throttle's database did not answer: %s", ex.__class__.__name__)
        error = "The server cannot check passwords right now. Try again in a minute."
        return render(web, request, "login.html.j2", {**context, "error": error}, status=503)
    if not verdict.allowed:
        who = "from everyone" if verdict.full == "global" else f"from {address}"
        log.warning("web UI: refused a login %s (too many wrong passwords)", who)
        error = f"Too many wrong passwords. Try again in {int(verdict.retry_after_s // 60) + 1} min."
        page = render(web, request, "login.html.j2", {**context, "error": error}, status=429)
        page.headers["Retry-After"] = str(int(verdict.retry_after_s) + 1)
        return page
    if not web.auth.password.verify(password):  # already counted by attempt()
        log.warning("web UI: a wrong password from %s", address)
        return render(web, request, "login.html.j2", {**context, "error": "Wrong password."}, status=401)
    try:
        web.throttle.succeeded(address)
    except SQLAlchemyError as ex:  # the password was checked and right: a count left behind only ages out
        log.warning("web UI: could not clear the login throttle for %s: %s", address, ex.__class__.__name__)
    log_in(request, web.auth, "admin")
    return see_other(target)


@router.post("/logout", dependencies=[Depends(require_csrf)])
def logout(request: Request) -> RedirectResponse:
    log_out(request)
    return see_other("/login")
