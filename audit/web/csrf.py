"""CSRF protection: a random token per session, in a hidden field of each POST form, checked in constant time.

The session cookie is SameSite=Lax already; the token also covers older browsers and same-site attackers
(another service on a sibling subdomain).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Form
from starlette.requests import HTTPConnection, Request

from audit.web.auth import session_of

FIELD = "csrf_token"


class CsrfFailed(Exception):
    """A POST without the session's token: answered 403."""


def csrf_token(connection: HTTPConnection) -> str:
    """The session's token, made on first use (the session middleware then sends the cookie)."""
    session = session_of(connection)
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf(connection: HTTPConnection, submitted: str) -> None:
    expected = session_of(connection).get("csrf")
    if not isinstance(expected, str) or not submitted:
        raise CsrfFailed
    if not hmac.compare_digest(expected.encode("utf-8"), submitted.encode("utf-8", "surrogateescape")):
        raise CsrfFailed


def require_csrf(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    """A FastAPI dependency for every form POST of the UI."""
    check_csrf(request, csrf_token)
