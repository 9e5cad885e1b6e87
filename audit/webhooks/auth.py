"""Who may post: each provider's authentication, checked on what arrived before anything is stored.

Every comparison of a secret or a signature is constant-time (`hmac.compare_digest` on bytes). Nothing here
logs or returns a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
from dataclasses import dataclass, field

RAW_SIGNATURE_PREFIX = "sha256="


@dataclass(frozen=True)
class WebhookSecrets:
    """The shared secrets, one per provider; an endpoint whose secret is None (or empty) is not served (404).

    The caller reads them from the environment (audit/settings.py); `repr` never shows them.
    """

    mailgun_signing_key: str | None = field(default=None, repr=False)
    sendgrid_secret: str | None = field(default=None, repr=False)
    """Compared with the secret path segment (`/webhooks/sendgrid/<secret>`) or the Basic-auth password."""
    postmark_username: str | None = field(default=None, repr=False)
    postmark_password: str | None = field(default=None, repr=False)
    generic_hmac_secret: str | None = field(default=None, repr=False)
    """Signs `/webhooks/raw` bodies: `X-Audit-Signature: sha256=<hex HMAC-SHA256(secret, body)>`."""


def same(expected: str | bytes, given: str | bytes) -> bool:
    """Constant-time equality that also accepts non-ASCII input (`compare_digest` refuses such str)."""
    left = expected.encode("utf-8") if isinstance(expected, str) else expected
    right = given.encode("utf-8", "surrogateescape") if isinstance(given, str) else given
    return hmac.compare_digest(left, right)


def hmac_sha256_hex(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()


def mailgun_signature_ok(signing_key: str, *, timestamp: str, token: str, signature: str) -> bool:
    """Mailgun signs `timestamp + token` with the webhook signing key (HMAC-SHA256, hex)."""
    expected = hmac_sha256_hex(signing_key, (timestamp + token).encode("utf-8"))
    return same(expected, signature.strip().lower())


def mailgun_fresh(timestamp: str, *, now: float, max_age_s: float) -> bool:
    """The signing time is within `max_age_s` of our clock, either way (it is not the receipt time)."""
    try:
        signed_at = float(timestamp)
    except ValueError:
        return False
    return math.isfinite(signed_at) and abs(now - signed_at) <= max_age_s


def raw_signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """`X-Audit-Signature: sha256=<hex>` over the exact body bytes."""
    if header is None:
        return False
    scheme, _, given = header.strip().partition("=")
    if scheme.lower() != RAW_SIGNATURE_PREFIX[:-1] or not given:
        return False
    return same(hmac_sha256_hex(secret, body), given.strip().lower())


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(user, password) from an `Authorization: Basic ...` header, or None if absent or garbled."""
    if authorization is None:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def basic_auth_ok(authorization: str | None, *, username: str | None, password: str) -> bool:
    """Basic auth with this password (and this user name unless `username` is None)."""
    credentials = basic_credentials(authorization)
    if credentials is None:
        return False
    user_ok = True if username is None else same(username, credentials[0])
    password_ok = same(password, credentials[1])
    return user_ok and password_ok
