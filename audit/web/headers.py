"""Security headers: the UI's on every UI response, HSTS on every response that went out over https."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audit.web.auth import TrustedProxies, is_https, route_path

WEBHOOK_PREFIX = "/webhooks/"
OPEN_PATHS = (WEBHOOK_PREFIX, "/healthz", "/metrics")  # no session cookie, no UI headers
UI_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; frame-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# A year, the value hstspreload.org asks for; no includeSubDomains: other hosts of the domain are not ours to
# commit to https.
HSTS = "max-age=31536000"


class SecurityHeaders:
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
