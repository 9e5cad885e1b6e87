"""Who may use the web UI: a password login or a reverse proxy's header, and a signed session cookie.

Passwords are hashed with scrypt from `hashlib` (memory-hard, in the standard library through OpenSSL), so no
extra dependency is needed; the stored form is self-describing, `scrypt$n$r$p$salt$hash`, so the cost can be
raised later without breaking old hashes. The session cookie is JSON signed with HMAC-SHA256 (`SessionCodec`
and `SessionMiddleware` below say why not Starlette's `SessionMiddleware`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audit.errors import AuditError

# OWASP's recommendation for scrypt: N=2^17, r=8, p=1 (128 MiB and a few tenths of a second per check).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
SCRYPT_MAXMEM = 512 * 1024 * 1024  # a ceiling for OpenSSL, not an allocation
SALT_BYTES, HASH_BYTES = 16, 32
_SCRYPT_CHECKS = threading.Lock()  # one check at a time: each takes 128 MiB, and logins are rare

SESSION_COOKIE = "audit_session"
SESSION_MAX_AGE_S = 7 * 24 * 3600
SESSION_KEY = "audit.session"  # where the middleware puts the session in the ASGI scope
MIN_SECRET_CHARS = 32
MAX_USER_CHARS = 200


class PasswordHashError(AuditError):
    """AUDIT_WEB_PASSWORD_HASH is not a hash `audit hash-password` made."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """`scrypt$n$r$p$salt$hash` (salt and hash in unpadded URL-safe base64)."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=HASH_BYTES
    )
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


@dataclass(frozen=True)
class PasswordHash:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    @classmethod
    def parse(cls, text: str) -> PasswordHash:
        parts = text.strip().split("$")
        if len(parts) != 6 or parts[0] != "scrypt":
            raise PasswordHashError(
                "AUDIT_WEB_PASSWORD_HASH is not of the form scrypt$n$r$p$salt$hash; make one with "
                "`audit hash-password`"
            )
        try:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            salt, digest = _unb64(parts[4]), _unb64(parts[5])
        except (ValueError, binascii.Error) as ex:
            raise PasswordHashError(f"AUDIT_WEB_PASSWORD_HASH cannot be read: {ex}") from ex
        # Bounds, so a mistyped hash cannot make each login take gigabytes or minutes.
        if n < 2 or n & (n - 1) or n > 2**20 or not 1 <= r <= 32 or not 1 <= p <= 16 or 128 * n * r > 2**28:
            raise PasswordHashError("AUDIT_WEB_PASSWORD_HASH has scrypt costs out of range")
        if len(salt) < 8 or len(digest) < 16:
            raise PasswordHashError("AUDIT_WEB_PASSWORD_HASH has a salt or hash too short")
        return cls(n, r, p, salt, digest)

    def verify(self, password: str) -> bool:
        with _SCRYPT_CHECKS:
            candidate = hashlib.scrypt(
                password.encode("utf-8"),
                salt=self.salt,
                n=self.n,
                r=self.r,
                p=self.p,
                maxmem=SCRYPT_MAXMEM,
                dklen=len(self.digest),
            )
        return hmac.compare_digest(candidate, self.digest)

    def fingerprint(self) -> str:
        """Stored in each session: a new password (a new hash) ends every session made with the old one."""
        return hashlib.sha256(self.salt + self.digest).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------------
# Where a request comes from


class TrustedProxies:
    """The addresses whose forwarded headers (the user, X-Forwarded-Proto, X-Forwarded-For) are believed."""

    def __init__(self, spec: str) -> None:
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError as ex:
                raise AuditError(f"AUDIT_WEB_TRUSTED_PROXY: {item!r} is not an address or network") from ex

    def trusts(self, host: str | None) -> bool:
        if not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def peer(connection: HTTPConnection) -> str | None:
    return connection.client.host if connection.client else None


def client_address(connection: HTTPConnection, proxies: TrustedProxies) -> str:
    """The client's address: the proxy's X-Forwarded-For last hop when the proxy is trusted, else the peer."""
    direct = peer(connection) or "unknown"
    forwarded = connection.headers.get("x-forwarded-for")
    if forwarded and proxies.trusts(direct):
        return forwarded.split(",")[-1].strip() or direct
    return direct


def is_https(connection: HTTPConnection, proxies: TrustedProxies) -> bool:
    if connection.url.scheme == "https":
        return True
    forwarded = connection.headers.get("x-forwarded-proto", "")
    return proxies.trusts(peer(connection)) and forwarded.split(",")[0].strip().lower() == "https"


def header_user(connection: HTTPConnection, header: str | None, proxies: TrustedProxies) -> str | None:
    """The user a trusted reverse proxy names; from anyone else the header is ignored."""
    if not header or not proxies.trusts(peer(connection)):
        return None
    value = connection.headers.get(header, "").strip()
    return value[:MAX_USER_CHARS] or None


# ---------------------------------------------------------------------------------------------------------
# The signed session cookie


def route_path(scope: Scope) -> str:
    """The path the app routes on: without the `root_path` a proxy mounted us under (as Starlette does)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


# Why not Starlette's SessionMiddleware (itsdangerous), checked against Starlette 1.10:
# - its `https_only` is fixed when the app is built, and puts "; secure" on every cookie or on none; ours is
#   Secure exactly when this request came over https, directly or by a trusted proxy's X-Forwarded-Proto
#   (`is_https`), so a plain-http deployment behind no proxy still keeps its session;
# - it has no paths to skip: the webhooks, /healthz and /metrics would parse a browser's cookie and get a
#   session in their scope, which they must never see;
# - its cookie is `value.timestamp.signature` with `httponly; samesite=lax[; secure]` in lower case, and a
#   cleared session becomes `null` with a 1970 expiry: other bytes on the wire than those tests/test_web.py
#   asserts (HttpOnly, SameSite=Lax, Secure; `payload.signature`) and than browsers hold today, so every
#   deployed session would end at the upgrade;
# - its signature is itsdangerous' default HMAC-SHA1, with no setting for another digest.
# What the session means stays in the session whichever codec signs it: `current_user` checks the password
# hash's fingerprint (a new hash ends every session) and the 7-day age of the login.
class SessionCodec:
    """JSON, base64url, `.`, then an HMAC-SHA256 of it; a cookie that does not verify is an empty session."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"audit-web-session|" + secret.encode("utf-8")).digest()

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def dumps(self, data: dict[str, Any]) -> str:
        payload = _b64(json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        return f"{payload}.{self._sign(payload)}"

    def loads(self, cookie: str | None) -> dict[str, Any]:
        if not cookie or cookie.count(".") != 1:
            return {}
        payload, signature = cookie.split(".")
        try:
            if not hmac.compare_digest(self._sign(payload), signature):
                return {}
            data = json.loads(_unb64(payload))
        except (ValueError, UnicodeError, binascii.Error):
            return {}
        return data if isinstance(data, dict) else {}


class SessionMiddleware:
    """Loads the session into the scope and, when a view changed it, sends it back as a cookie.

    HttpOnly (no script reads it), SameSite=Lax (not sent on cross-site POSTs), Secure when the request came
    over https (directly, or through a trusted proxy that says so). Paths in `skip` (webhooks, health,
    metrics) get no session at all.
    """

    def __init__(
        self, app: ASGIApp, *, codec: SessionCodec, proxies: TrustedProxies, skip: Iterable[str]
    ) -> None:
        self.app = app
        self.codec = codec
        self.proxies = proxies
        self.skip = tuple(skip)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope).startswith(self.skip):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        session = self.codec.loads(connection.cookies.get(SESSION_COOKIE))
        before = dict(session)
        scope[SESSION_KEY] = session
        secure = is_https(connection, self.proxies)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and session != before:
                attributes = f"Path=/; Max-Age={SESSION_MAX_AGE_S}; HttpOnly; SameSite=Lax"
                if secure:
                    attributes += "; Secure"
                value = f"{SESSION_COOKIE}={self.codec.dumps(session)}; {attributes}"
                MutableHeaders(scope=message).append("set-cookie", value)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def session_of(connection: HTTPConnection) -> dict[str, Any]:
    session: dict[str, Any] = connection.scope.setdefault(SESSION_KEY, {})
    return session


# ---------------------------------------------------------------------------------------------------------
# Login


@dataclass(frozen=True)
class AuthSettings:
    """How the UI authenticates, resolved once from the settings when the app is made."""

    password: PasswordHash | None
    trusted_header: str | None
    proxies: TrustedProxies

    @property
    def configured(self) -> bool:
        return self.password is not None or self.trusted_header is not None


def current_user(connection: HTTPConnection, auth: AuthSettings) -> str | None:
    """The signed-in user: named by a trusted proxy, or by a valid, unexpired password session."""
    by_header = header_user(connection, auth.trusted_header, auth.proxies)
    if by_header is not None:
        return by_header
    if auth.password is None:
        return None
    session = session_of(connection)
    user, issued = session.get("user"), session.get("iat")
    if not isinstance(user, str) or not isinstance(issued, int | float):
        return None
    if session.get("pw") != auth.password.fingerprint() or time.time() - issued > SESSION_MAX_AGE_S:
        return None
    return user


def log_in(connection: HTTPConnection, auth: AuthSettings, user: str) -> None:
    """A fresh session (and a fresh CSRF token) at login, so a token planted before it is useless."""
    assert auth.password is not None
    session = session_of(connection)
    session.clear()
    session.update(user=user, iat=int(time.time()), pw=auth.password.fingerprint())


def log_out(connection: HTTPConnection) -> None:
    session_of(connection).clear()
