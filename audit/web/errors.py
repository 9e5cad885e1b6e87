"""What an error looks like: an HTML page for the UI (or the login page), FastAPI's JSON for the webhooks.

The webhook endpoints answer their providers in JSON (`{"detail": ...}`), as they do when served alone by
`create_webhook_app`; every other path gets the UI's error page. `EXCEPTION_HANDLERS` goes to `FastAPI(...)`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from audit.web.auth import current_user, route_path
from audit.web.context import LoginRequired, NotFound, WebContext, render
from audit.web.csrf import CsrfFailed
from audit.web.headers import WEBHOOK_PREFIX

NOT_FOUND = "There is nothing at this address."


def _webhook(request: Request) -> bool:
    return route_path(request.scope).startswith(WEBHOOK_PREFIX)


def _page(request: Request, status: int, title: str, text: str) -> Response:
    web: WebContext = request.app.state.web
    context = {"title": title, "text": text}
    return render(web, request, "error.html.j2", context, status=status, user=current_user(request, web.auth))


async def _error_page(request: Request, status: int, title: str, text: str) -> Response:
    return await run_in_threadpool(_page, request, status, title, text)  # render reads the database


async def to_login(request: Request, _exc: LoginRequired) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = "/waves"  # the form's data is gone anyway; come back to the start
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


async def csrf_failed(request: Request, _exc: CsrfFailed) -> Response:
    text = "This form has expired or was sent from another site. Go back, reload the page and try again."
    return await _error_page(request, 403, "Form refused", text)


async def not_found(request: Request, _exc: NotFound) -> Response:
    return await _error_page(request, 404, "Not found", NOT_FOUND)


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if _webhook(request):
        return await http_exception_handler(request, exc)
    title = "Not found" if exc.status_code == 404 else f"Error {exc.status_code}"
    text = NOT_FOUND if exc.status_code == 404 else str(exc.detail)
    return await _error_page(request, exc.status_code, title, text)


async def bad_request(request: Request, exc: RequestValidationError) -> Response:
    if _webhook(request):
        return await request_validation_exception_handler(request, exc)
    if request.method == "GET":
        return await _error_page(request, 404, "Not found", NOT_FOUND)
    return await _error_page(request, 400, "Bad request", "The form could not be read.")


EXCEPTION_HANDLERS: dict[int | type[Exception], Callable[[Request, Any], Coroutine[Any, Any, Response]]] = {
    LoginRequired: to_login,
    CsrfFailed: csrf_failed,
    NotFound: not_found,
    StarletteHTTPException: http_error,
    RequestValidationError: bad_request,
}
