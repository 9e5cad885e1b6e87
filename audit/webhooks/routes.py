"""The webhook endpoints under /webhooks/: one module-level router, its state from a typed dependency.

Each app that serves them (`create_webhook_app`, or `audit serve`'s app) keeps one `Webhooks` in
`app.state.webhooks` (`audit.webhooks.app.install`); the endpoints take it as `Hooks`. No endpoint declares a
body parameter: FastAPI would read the whole body into memory before the sender is known, and the bodies are
read by `audit.webhooks.bodies` at a bounded cost instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from audit.webhooks.auth import (
    WebhookSecrets,
    basic_auth_ok,
    mailgun_fresh,
    mailgun_signature_ok,
    raw_signature_hex,
    raw_signer,
    raw_timestamp,
    same,
)
from audit.webhooks.bodies import BodySlots, spooled_body, spooled_form
from audit.webhooks.providers import mailgun_delivery, postmark_delivery, raw_delivery, sendgrid_delivery
from audit.webhooks.receiver import Receiver, refuse

log = logging.getLogger("audit.webhooks")

PREFIX = "/webhooks"
MAX_TOKEN_CHARS = 255
MAILGUN_SIGNED = frozenset({"timestamp", "token", "signature"})
_BASIC = {"WWW-Authenticate": 'Basic realm="audit webhooks"'}


@dataclass(frozen=True, slots=True)
class Webhooks:
    """What the endpoints of one app share: its secrets, limits, body slots and receiver."""

    engine: Engine
    data_dir: Path
    secrets: WebhookSecrets
    receiver: Receiver
    slots: BodySlots
    incoming: Path  # where bodies are spooled while they are read
    max_body_bytes: int
    body_timeout_s: float
    mailgun_max_age_s: int
    raw_max_age_s: int
    spool_poll_s: float

    @property
    def limits(self) -> dict[str, Any]:
        """The keyword arguments of `spooled_body` and `spooled_form`."""
        return {"limit": self.max_body_bytes, "timeout_s": self.body_timeout_s, "directory": self.incoming}


async def webhooks_of(request: Request) -> Webhooks:
    """The app's `Webhooks` (async: a sync dependency would cost each delivery a thread-pool hop)."""
    hooks: Webhooks = request.app.state.webhooks
    return hooks


Hooks = Annotated[Webhooks, Depends(webhooks_of)]
router = APIRouter(prefix=PREFIX)


def configured(secret: str | None) -> str:
    if not secret:  # an empty secret would let an empty password in
        refuse(404, "not configured")
    return secret


def unauthorized(
    provider: str, request: Request, why: str, headers: dict[str, str] | None = None
) -> NoReturn:
    client = request.client.host if request.client else "?"
    log.warning("webhook %s: refused a request from %s: %s", provider, client, why)
    refuse(401, why, headers)


def single(request: Request, name: str) -> str | None:
    """A header that must not be repeated (a second copy could say something the signature did not)."""
    values = request.headers.getlist(name)
    if len(values) > 1:
        refuse(400, f"more than one {name} header")
    return values[0] if values else None


@router.post("/mailgun")
@router.post("/mailgun/mime")  # Mailgun posts `body-mime` only to a URL ending in "mime"
async def mailgun(request: Request, hooks: Hooks) -> JSONResponse:
    key = configured(hooks.secrets.mailgun_signing_key)

    def signed(fields: Mapping[str, bytes]) -> str | None:
        """Mailgun's token once its signature checks out; None while a field is missing; else 401."""
        if not fields.keys() >= MAILGUN_SIGNED:
            return None
        timestamp, token, signature = (
            fields[name].decode("utf-8", "replace") for name in ("timestamp", "token", "signature")
        )
        if not (timestamp and token and signature):
            unauthorized("mailgun", request, "missing timestamp, token or signature")
        if not mailgun_signature_ok(key, timestamp=timestamp, token=token, signature=signature):
            unauthorized("mailgun", request, "bad signature")
        if not mailgun_fresh(timestamp, now=time.time(), max_age_s=hooks.mailgun_max_age_s):
            unauthorized("mailgun", request, "stale timestamp")
        if len(token) > MAX_TOKEN_CHARS:
            unauthorized("mailgun", request, "token too long")
        return token

    # Mailgun signs inside the form: the body is needed, but spooled (on disk past 1 MB) and checked
    # the moment the three signed fields are in, so a forged post is refused before its message.
    reading = spooled_form(request, wanted=MAILGUN_SIGNED, check=signed, **hooks.limits)
    async with hooks.slots.taken(), reading as form:
        token = signed(form.early)
        if token is None:
            unauthorized("mailgun", request, "missing timestamp, token or signature")
        return await hooks.receiver.accept(lambda: mailgun_delivery(form.fields(), token=token))


async def sendgrid(request: Request, hooks: Webhooks, path_secret: str | None) -> JSONResponse:
    secret = configured(hooks.secrets.sendgrid_secret)
    by_path = path_secret is not None and same(secret, path_secret)
    by_basic = basic_auth_ok(request.headers.get("authorization"), username=None, password=secret)
    if not (by_path or by_basic):
        unauthorized("sendgrid", request, "bad credentials", _BASIC)
    async with hooks.slots.taken(), spooled_form(request, **hooks.limits) as form:
        return await hooks.receiver.accept(lambda: sendgrid_delivery(form.fields()))


@router.post("/sendgrid")
async def sendgrid_basic(request: Request, hooks: Hooks) -> JSONResponse:
    return await sendgrid(request, hooks, None)


@router.post("/sendgrid/{secret}")
async def sendgrid_path(request: Request, hooks: Hooks, secret: str) -> JSONResponse:
    return await sendgrid(request, hooks, secret)


@router.post("/postmark")
async def postmark(request: Request, hooks: Hooks) -> JSONResponse:
    password = configured(hooks.secrets.postmark_password)
    username = configured(hooks.secrets.postmark_username)
    if not basic_auth_ok(request.headers.get("authorization"), username=username, password=password):
        unauthorized("postmark", request, "bad credentials", _BASIC)
    async with hooks.slots.taken(), spooled_body(request, **hooks.limits) as body:
        return await hooks.receiver.accept(lambda: postmark_delivery(body.read()))


@router.post("/raw")
async def raw(request: Request, hooks: Hooks) -> JSONResponse:
    secret = configured(hooks.secrets.generic_hmac_secret)
    signature = raw_signature_hex(single(request, "x-audit-signature"))
    if signature is None:
        unauthorized("raw", request, "missing or malformed X-Audit-Signature (sha256=<64 hex digits>)")
    max_age_s = hooks.raw_max_age_s
    stamp = raw_timestamp(single(request, "x-audit-timestamp"), now=time.time(), max_age_s=max_age_s)
    if stamp is None:
        unauthorized("raw", request, f"missing or stale X-Audit-Timestamp (within {max_age_s} s)")
    # Header values arrive as latin-1 text: encoding back gives the bytes sent, which were signed.
    header = single(request, "x-audit-recipient")
    recipient = b"" if header is None else header.encode("latin-1")
    signer = raw_signer(secret, timestamp=stamp, recipient=recipient)
    async with hooks.slots.taken(), spooled_body(request, observe=signer.update, **hooks.limits) as body:
        if not same(signer.hexdigest(), signature):
            unauthorized("raw", request, "bad signature")
        # An address may be UTF-8 (RFC 6531)
        to = recipient.decode("utf-8", "replace") if header is not None else None
        return await hooks.receiver.accept(lambda: raw_delivery(body.read(), to, signature=signature))
