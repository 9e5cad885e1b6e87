"""Who may post: each provider's authentication, checked on what arrived before anything is stored.

Every comparison of a secret or a signature is constant-time (`hmac.compare_digest` on bytes). Nothing here
logs or returns a secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
from dataclasses import dataclass, field

RAW_SIGNATURE_PREFIX = "sha256="
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


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
    """Signs `/webhooks/raw` posts: recipient, timestamp and body (`raw_signed_prefix`, README "Webhooks")."""


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


def raw_signature_hex(header: str | None) -> str | None:
    """The hex digest of `X-Audit-Signature: sha256=<64 hex digits>`, lower-cased; None if malformed."""
    if header is None:
        return None
    scheme, _, given = header.strip().partition("=")
    given = given.strip().lower()
    if scheme.lower() != RAW_SIGNATURE_PREFIX[:-1] or not _HEX_SHA256.fullmatch(given):
        return None
    return given


def raw_timestamp(header: str | None, *, now: float, max_age_s: float) -> int | None:
    """`X-Audit-Timestamp`: whole Unix seconds (digits only), within `max_age_s` of our clock either way."""
    if header is None or not _UNIX_SECONDS.fullmatch(header):
        return None
    stamp = int(header)
    return stamp if abs(now - stamp) <= max_age_s else None


def raw_signer(secret: str, *, timestamp: int, recipient: bytes) -> hmac.HMAC:
    """The raw endpoint's HMAC-SHA256, fed so far with `timestamp LF recipient LF`; the body follows.

    Unambiguous: the timestamp is digits only and an HTTP header value holds no LF, so no two (timestamp,
    recipient, body) triples sign the same bytes. `recipient` is the `X-Audit-Recipient` header's bytes as
    sent (empty without one).
    """
    signer = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)
    signer.update(b"%d\n%s\n" % (timestamp, recipient))
    return signer


def raw_signature(secret: str, *, timestamp: int, recipient: bytes, body: bytes) -> str:
    """The `X-Audit-Signature` value for a raw post (what a sender computes; the README shows it in shell)."""
    signer = raw_signer(secret, timestamp=timestamp, recipient=recipient)
    signer.update(body)
    return RAW_SIGNATURE_PREFIX + signer.hexdigest()


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(user, password) from an `Authorization: Basic ...` header, or None if absent or garbled."""
    if authorization is None:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:  # a header arrives as latin-1 text: non-ASCII is no base64 (ValueError, as binascii.Error is)
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:
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
