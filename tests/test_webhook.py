"""The webhook app under a real uvicorn server on 127.0.0.1, driven with httpx.

One server per module; each test swaps in a fresh app over a SQLite file and a data directory of its own, and
runs that app's lifespan (its background spool worker) on the server's event loop. The app answers once the
raw bytes and a spool row are stored; tests that look at messages ingest the spool first (`site.drain()`)
or wait for the worker (`site.wait_for`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, func
from sqlmodel import Session, col, select
from starlette.types import Receive, Scope, Send

import audit.collect.spool
from audit.collect.spool import process_spool
from audit.collect.store import IngestResult
from audit.db import open_database
from audit.models import InboundSpool, Message, WebhookReplay, utcnow
from audit.webhooks import WebhookSecrets, create_webhook_app
from tests.dbutil import sqlite_url
from tests.uvicorn_thread import uvicorn_in_thread

SECRETS = WebhookSecrets(
    mailgun_signing_key="mg-signing-key-0123456789",
    sendgrid_secret="sg-path-secret-0123456789",
    postmark_username="postmark-user",
    postmark_password="pm-password-0123456789",
    generic_hmac_secret="raw-hmac-secret-0123456789",
)
RECIPIENT = "dana.k7q29fxm3@r.audit.example"
MB = 1024 * 1024


class SwappableApp:
    """The ASGI app the server runs; tests point it at an app of their own (and run its lifespan)."""

    def __init__(self) -> None:
        self.app: FastAPI | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # the server's own: note its loop, where apps' lifespans will run
            self.loop = asyncio.get_running_loop()
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert self.app is not None, "no app installed"
        await self.app(scope, receive, send)

    def start_lifespan(self, app: FastAPI) -> Callable[[], None]:
        """Enter `app`'s lifespan on the server's loop (starting its spool worker); returns its stop."""
        loop = self.loop
        assert loop is not None
        started = threading.Event()
        stop_event: list[asyncio.Event] = []

        async def hold() -> None:
            stop_event.append(asyncio.Event())
            async with app.router.lifespan_context(app):
                started.set()
                await stop_event[0].wait()

        held = asyncio.run_coroutine_threadsafe(hold(), loop)
        deadline = time.monotonic() + 15
        while not started.wait(0.05):
            if held.done():
                held.result()  # raises what startup raised
            assert time.monotonic() < deadline, "the app's lifespan did not start"

        def stop() -> None:
            loop.call_soon_threadsafe(stop_event[0].set)
            held.result(timeout=30)

        return stop


@dataclass
class Server:
    base_url: str
    holder: SwappableApp


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    holder = SwappableApp()
    with uvicorn_in_thread(holder, name="webhook-test", lifespan="on") as base_url:
        yield Server(base_url, holder)


@dataclass
class Site:
    """One app under test: its database, its data directory and a client pointed at it."""

    engine: Engine
    data_dir: Path
    client: httpx.Client
    stop: Callable[[], None] | None = None  # stops the app's lifespan (its spool worker), if it runs

    def drain(self, *, retry_failed: bool = False) -> int:
        """Ingest what the app accepted and its worker has not processed yet (as `audit collect` does)."""
        return process_spool(self.engine, self.data_dir, retry_failed=retry_failed)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "the spool worker did not get there in time"
            time.sleep(0.02)

    def spool(self) -> list[InboundSpool]:
        with Session(self.engine) as session:
            return list(session.exec(select(InboundSpool).order_by(col(InboundSpool.id))).all())

    def messages(self) -> list[Message]:
        with Session(self.engine) as session:
            return list(session.exec(select(Message).order_by(col(Message.id))).all())

    def count(self) -> int:
        with Session(self.engine) as session:
            return session.exec(select(func.count()).select_from(Message)).one()

    def replays(self) -> int:
        with Session(self.engine) as session:
            return session.exec(select(func.count()).select_from(WebhookReplay)).one()

    def raw_files(self) -> list[Path]:
        return sorted(path for path in (self.data_dir / "raw").rglob("*") if path.is_file())

    def stored_raw(self) -> bytes:
        (message,) = self.messages()
        assert message.raw_path is not None
        return (self.data_dir / message.raw_path).read_bytes()

    def assert_nothing_stored(self) -> None:
        assert self.spool() == []
        assert self.drain() == 0
        assert self.count() == 0
        assert self.raw_files() == []


@pytest.fixture
def make_site(server: Server, tmp_path: Path) -> Iterator[Callable[..., Site]]:
    """A fresh app on the server; `lifespan=False` leaves its spool worker off (a crash right after answering)."""
    made: list[Site] = []

    def make(
        engine: Engine | None = None, *, data_dir: Path | None = None, lifespan: bool = True, **options: Any
    ) -> Site:
        engine = engine or open_database(sqlite_url(tmp_path))
        data_dir = data_dir or tmp_path / f"data{len(made)}"
        options.setdefault("secrets", SECRETS)
        app = create_webhook_app(engine, data_dir=data_dir, **options)
        server.holder.app = app
        site = Site(engine, data_dir, httpx.Client(base_url=server.base_url, timeout=30))
        if lifespan:
            site.stop = server.holder.start_lifespan(app)
        made.append(site)
        return site

    yield make
    for site in made:
        if site.stop is not None:
            site.stop()
        site.client.close()
        site.engine.dispose()
    server.holder.app = None


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site()


def email(
    subject: str = "Re: your question about monthly plans", *, body: bytes = b"", size: int = 0
) -> bytes:
    """A reply with a unique Message-ID, an 8-bit Hebrew line (bytes must survive exactly) and CRLF endings."""
    lines = [
        b"From: Support <support@acme.test>",
        f"To: {RECIPIENT}".encode(),
        f"Subject: {subject}".encode(),
        b"Date: Thu, 26 Nov 2026 09:30:00 +0200",
        f"Message-ID: <{uuid.uuid4().hex}@acme.test>".encode(),
        b"MIME-Version: 1.0",
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Transfer-Encoding: 8bit",
        b"",
        body or "Hello Dana, yes we do. שלום".encode(),
    ]
    raw = b"\r\n".join(lines) + b"\r\n"
    if size > len(raw):
        filler = (b"x" * 76 + b"\r\n") * ((size - len(raw)) // 78 + 1)
        raw += filler
    return raw


def multipart(fields: dict[str, bytes | str]) -> tuple[bytes, str]:
    """A multipart/form-data body of plain fields (no filename), as Mailgun and SendGrid send them."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        data = value.encode() if isinstance(value, str) else value
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + data + b"\r\n"
        )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def mailgun_fields(raw: bytes, *, timestamp: float | None = None, token: str | None = None) -> dict[str, Any]:
    stamp = str(int(time.time() if timestamp is None else timestamp))
    token = token or uuid.uuid4().hex + uuid.uuid4().hex[:18]
    assert SECRETS.mailgun_signing_key is not None
    signature = hmac.new(
        SECRETS.mailgun_signing_key.encode(), (stamp + token).encode(), hashlib.sha256
    ).hexdigest()
    return {
        "recipient": RECIPIENT,
        "sender": "support@acme.test",
        "timestamp": stamp,
        "token": token,
        "signature": signature,
        "body-mime": raw,
    }


def post_mailgun(site: Site, fields: dict[str, Any], path: str = "/webhooks/mailgun/mime") -> httpx.Response:
    body, content_type = multipart(fields)
    return site.client.post(path, content=body, headers={"Content-Type": content_type})


_USED_STAMPS: dict[tuple[str, str], set[int]] = {}
_USED_STAMPS_LOCK = threading.Lock()


def fresh_stamp(body: bytes, recipient: str) -> int:
    """A signing time not used yet for this body and recipient: now, or the latest second before it that
    is free (a sender re-signs each retry, and its clock ticks; ours posts several in one second)."""
    with _USED_STAMPS_LOCK:
        used = _USED_STAMPS.setdefault((hashlib.sha256(body).hexdigest(), recipient), set())
        stamp = int(time.time())
        while stamp in used:
            stamp -= 1
        used.add(stamp)
        return stamp


def raw_signature(
    body: bytes, timestamp: int, recipient: str = "", secret: str | None = SECRETS.generic_hmac_secret
) -> str:
    """The README's recipe, in Python: HMAC-SHA256 over `timestamp LF recipient LF body`."""
    assert secret is not None
    signed = f"{timestamp}\n{recipient}\n".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def raw_headers(
    body: bytes, *, recipient: str | None = None, timestamp: int | None = None, secret: str | None = None
) -> dict[str, str]:
    """Signed headers for a raw post; each call signs afresh, so the same body twice is no replay."""
    stamp = fresh_stamp(body, recipient or "") if timestamp is None else timestamp
    key = SECRETS.generic_hmac_secret if secret is None else secret
    headers = {
        "X-Audit-Timestamp": str(stamp),
        "X-Audit-Signature": raw_signature(body, stamp, recipient or "", key),
        "Content-Type": "message/rfc822",
    }
    if recipient is not None:
        headers["X-Audit-Recipient"] = recipient
    return headers


def post_raw(site: Site, body: bytes, *, recipient: str | None = None, **headers: str) -> httpx.Response:
    all_headers = {**raw_headers(body, recipient=recipient), **headers}
    return site.client.post("/webhooks/raw", content=body, headers=all_headers)


def basic(user: str | None, password: str | None) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


POSTMARK_AUTH = basic(SECRETS.postmark_username, SECRETS.postmark_password)


def postmark_payload(raw: bytes | None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "MessageID": str(uuid.uuid4()),
        "From": "support@acme.test",
        "FromFull": {"Email": "support@acme.test", "Name": "Support"},
        "To": f'"Dana" <{RECIPIENT}>',
        "OriginalRecipient": RECIPIENT,
        "Subject": "Re: monthly plans — תשובה",
        "Date": "Thu, 26 Nov 2026 09:30:00 +02:00",
        "TextBody": "Yes, we have a monthly plan.",
        "HtmlBody": "<p>Yes, we have a monthly plan.</p>",
        "Headers": [
            {"Name": "Received", "Value": "by inbound.postmarkapp.com; Thu, 26 Nov 2026 07:31:00 +0000"},
            {"Name": "Message-ID", "Value": f"<{uuid.uuid4().hex}@acme.test>"},
            {"Name": "MIME-Version", "Value": "1.0"},
        ],
        "Attachments": [
            {"Name": "price list.pdf", "Content": "JVBERi0xLjQ=", "ContentType": "application/pdf"}
        ],
    }
    if raw is not None:
        payload["RawEmail"] = raw.decode()
    return payload


# --- Mailgun ---------------------------------------------------------------------------------------------


def test_mailgun_signed_delivery_is_stored_raw_with_the_envelope_recipient(site: Site) -> None:
    raw = email()
    signed_at = time.time() - 250  # still fresh: inside the 300 s window
    response = post_mailgun(site, mailgun_fields(raw, timestamp=signed_at))
    assert response.status_code == 200, response.text
    assert response.json()["stored"] is True and response.json()["duplicate"] is False
    site.drain()
    (message,) = site.messages()
    assert message.source == "webhook:mailgun"
    assert site.stored_raw() == f"X-Original-To: {RECIPIENT}\r\n".encode() + raw  # 8-bit bytes intact
    assert message.delivery_key == hashlib.sha256(site.stored_raw()).hexdigest()
    assert RECIPIENT in (message.recipients or "")
    # The signing time is never the receipt time; with no Received line, it is when we accepted the post.
    (row,) = site.spool()
    assert (row.message_id, row.delivery_key, row.raw_path) == (
        message.id,
        message.delivery_key,
        message.raw_path,
    )
    assert (message.received_at, message.received_at_source) == (row.received_by_us_at, "webhook_accepted")
    assert message.received_at - datetime.fromtimestamp(signed_at, UTC) > timedelta(seconds=200)
    assert site.replays() == 1


def test_mailgun_forged_signature_stores_nothing(site: Site) -> None:
    fields = mailgun_fields(email())
    fields["signature"] = "0" * 64
    response = post_mailgun(site, fields)
    assert response.status_code == 401
    site.assert_nothing_stored()
    assert site.replays() == 0


def test_mailgun_signature_by_another_key_or_missing_is_refused(site: Site) -> None:
    fields = mailgun_fields(email())
    fields["signature"] = hmac.new(
        b"other", (fields["timestamp"] + fields["token"]).encode(), "sha256"
    ).hexdigest()
    assert post_mailgun(site, fields).status_code == 401
    del fields["signature"]
    assert post_mailgun(site, fields).status_code == 401
    site.assert_nothing_stored()


@pytest.mark.parametrize("offset", [-3600, -301, 3600])
def test_mailgun_stale_or_future_timestamp_is_refused(site: Site, offset: int) -> None:
    response = post_mailgun(site, mailgun_fields(email(), timestamp=time.time() + offset))
    assert response.status_code == 401
    assert "stale" in response.json()["detail"]
    site.assert_nothing_stored()


def test_mailgun_replayed_token_is_refused(site: Site) -> None:
    fields = mailgun_fields(email())
    assert post_mailgun(site, fields).status_code == 200
    replay = post_mailgun(site, fields)
    assert replay.status_code == 401
    assert replay.json()["detail"] == "replayed token"
    # Same token, other content (the signature covers only timestamp + token): refused too.
    fields["body-mime"] = email("forged")
    assert post_mailgun(site, fields).status_code == 401
    site.drain()
    assert site.count() == 1
    assert len(site.spool()) == 1
    assert len(site.raw_files()) == 1


def test_mailgun_retry_with_a_new_token_is_a_duplicate(site: Site) -> None:
    raw = email()
    first = post_mailgun(site, mailgun_fields(raw))
    assert first.json() == {"stored": True, "duplicate": False, "spool_id": 1, "message_id": None}
    again = post_mailgun(site, mailgun_fields(raw))
    assert again.status_code == 200
    assert again.json()["stored"] is False and again.json()["duplicate"] is True
    assert again.json()["spool_id"] == 1
    site.drain()
    assert site.count() == 1
    assert len(site.spool()) == 1
    assert site.replays() == 2


def test_mailgun_accepts_a_one_and_a_half_megabyte_body_mime_part(site: Site) -> None:
    raw = email(size=int(1.5 * MB))
    response = post_mailgun(site, mailgun_fields(raw))
    assert response.status_code == 200, response.text
    site.drain()
    (message,) = site.messages()
    assert message.raw_size > 1.5 * MB
    assert site.stored_raw().endswith(raw)


def test_mailgun_urlencoded_post_keeps_eight_bit_bytes(site: Site) -> None:
    raw = email(body="שלום, windows-1255: ".encode() + bytes([0xF9, 0xEC, 0xE5, 0xED]))
    fields = mailgun_fields(raw)
    body = "&".join(
        f"{name}={quote_from_bytes(value if isinstance(value, bytes) else value.encode())}"
        for name, value in fields.items()
    )
    response = site.client.post(
        "/webhooks/mailgun/mime", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 200, response.text
    site.drain()
    assert site.stored_raw().endswith(raw)


def test_mailgun_route_without_mime_is_rebuilt_from_parsed_fields(site: Site) -> None:
    fields = mailgun_fields(b"")
    del fields["body-mime"]
    fields["message-headers"] = json.dumps(
        [["From", "Support <support@acme.test>"], ["To", RECIPIENT], ["Subject", "Re: plans"]]
    )
    fields["body-plain"] = "Yes, monthly."
    response = post_mailgun(site, fields, path="/webhooks/mailgun")
    assert response.status_code == 200, response.text
    site.drain()
    stored = site.stored_raw()
    assert stored.startswith(f"X-Original-To: {RECIPIENT}\r\nX-Audit-Rebuilt: mailgun".encode())
    assert b"Subject: Re: plans" in stored and b"Yes, monthly." in stored


# --- SendGrid --------------------------------------------------------------------------------------------


def sendgrid_fields(raw: bytes) -> dict[str, bytes | str]:
    envelope = {"to": [RECIPIENT], "from": "support@acme.test"}
    return {"envelope": json.dumps(envelope), "charsets": '{"to":"UTF-8"}', "email": raw}


def post_sendgrid(site: Site, path: str, raw: bytes, **headers: str) -> httpx.Response:
    body, content_type = multipart(sendgrid_fields(raw))
    return site.client.post(path, content=body, headers={"Content-Type": content_type, **headers})


def test_sendgrid_with_the_right_url_secret_is_stored(site: Site) -> None:
    raw = email()
    response = post_sendgrid(site, f"/webhooks/sendgrid/{SECRETS.sendgrid_secret}", raw)
    assert response.status_code == 200, response.text
    site.drain()
    (message,) = site.messages()
    assert message.source == "webhook:sendgrid"
    assert site.stored_raw() == f"X-Original-To: {RECIPIENT}\r\n".encode() + raw


def test_sendgrid_with_a_wrong_url_secret_stores_nothing(site: Site) -> None:
    for path in ("/webhooks/sendgrid/wrong-secret", f"/webhooks/sendgrid/{SECRETS.sendgrid_secret}x"):
        assert post_sendgrid(site, path, email()).status_code == 401
    assert post_sendgrid(site, "/webhooks/sendgrid", email()).status_code == 401
    site.assert_nothing_stored()


def test_sendgrid_basic_auth(site: Site) -> None:
    wrong = post_sendgrid(site, "/webhooks/sendgrid", email(), Authorization=basic("sendgrid", "nope"))
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Basic")
    right = post_sendgrid(
        site, "/webhooks/sendgrid", email(), Authorization=basic("sendgrid", SECRETS.sendgrid_secret)
    )
    assert right.status_code == 200, right.text
    site.drain()
    assert site.count() == 1


def test_sendgrid_accepts_a_one_and_a_half_megabyte_email_part(site: Site) -> None:
    raw = email(size=int(1.5 * MB))
    response = post_sendgrid(site, f"/webhooks/sendgrid/{SECRETS.sendgrid_secret}", raw)
    assert response.status_code == 200, response.text
    site.drain()
    assert site.stored_raw().endswith(raw)


# --- Postmark --------------------------------------------------------------------------------------------


def test_postmark_with_raw_email(site: Site) -> None:
    raw = email()
    payload = postmark_payload(raw)
    response = site.client.post("/webhooks/postmark", json=payload, headers={"Authorization": POSTMARK_AUTH})
    assert response.status_code == 200, response.text
    site.drain()
    (message,) = site.messages()
    assert message.source == "webhook:postmark"
    assert message.delivery_key == payload["MessageID"]
    assert site.stored_raw() == f"X-Original-To: {RECIPIENT}\r\n".encode() + raw


def test_postmark_without_raw_email_is_rebuilt(site: Site) -> None:
    payload = postmark_payload(None)
    response = site.client.post("/webhooks/postmark", json=payload, headers={"Authorization": POSTMARK_AUTH})
    assert response.status_code == 200, response.text
    site.drain()
    (message,) = site.messages()
    stored = site.stored_raw()
    assert stored.startswith(f"X-Original-To: {RECIPIENT}\r\nX-Audit-Rebuilt: postmark".encode())
    assert b"Date: Thu, 26 Nov 2026 09:30:00 +0200\r\n" in stored  # Postmark's "+02:00" made RFC 5322
    assert b'filename="price list.pdf"' in stored
    assert message.subject == "Re: monthly plans — תשובה"
    assert message.date_header == datetime(2026, 11, 26, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        basic(SECRETS.postmark_username, "wrong"),
        basic("someone", SECRETS.postmark_password),
        "Basic !!!notbase64",
        "Bearer " + str(SECRETS.postmark_password),
    ],
)
def test_postmark_with_wrong_basic_auth_stores_nothing(site: Site, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = site.client.post("/webhooks/postmark", json=postmark_payload(email()), headers=headers)
    assert response.status_code == 401
    site.assert_nothing_stored()


def test_postmark_duplicate_message_id_is_stored_once(site: Site) -> None:
    payload = postmark_payload(None)
    first = site.client.post("/webhooks/postmark", json=payload, headers={"Authorization": POSTMARK_AUTH})
    second = site.client.post("/webhooks/postmark", json=payload, headers={"Authorization": POSTMARK_AUTH})
    assert first.json()["stored"] is True
    assert second.status_code == 200
    assert second.json()["duplicate"] is True and second.json()["stored"] is False
    assert second.json()["spool_id"] == first.json()["spool_id"]
    site.drain()
    assert site.count() == 1
    assert len(site.spool()) == 1


def test_postmark_body_that_is_not_json_is_a_bad_request(site: Site) -> None:
    response = site.client.post(
        "/webhooks/postmark", content=b"{not json", headers={"Authorization": POSTMARK_AUTH}
    )
    assert response.status_code == 400
    site.assert_nothing_stored()


# --- Raw, signed with the shared secret ------------------------------------------------------------------


def test_raw_with_a_good_hmac_and_recipient(site: Site) -> None:
    raw = email()
    response = post_raw(site, raw, recipient=RECIPIENT)
    assert response.status_code == 200, response.text
    site.drain()
    (message,) = site.messages()
    assert message.source == "webhook:raw"
    assert site.stored_raw() == f"X-Original-To: {RECIPIENT}\r\n".encode() + raw


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=",
        "sha256=" + "0" * 64,
        "sha256=" + "0" * 63,
        "sha1=" + "0" * 40,
        "body",  # replaced by the signature of another body
        "old",  # replaced by the signature of the body alone, the scheme before issue 11
        "wrong-secret",
    ],
)
def test_raw_with_a_bad_hmac_stores_nothing(site: Site, signature: str | None) -> None:
    raw = email()
    stamp = int(time.time())
    substitutes = {
        "body": raw_signature(b"another body", stamp),
        "old": "sha256=" + hmac.new(str(SECRETS.generic_hmac_secret).encode(), raw, "sha256").hexdigest(),
        "wrong-secret": raw_signature(raw, stamp, secret="wrong"),
    }
    headers = {"X-Audit-Timestamp": str(stamp)}
    if signature is not None:
        headers["X-Audit-Signature"] = substitutes.get(signature, signature)
    response = site.client.post("/webhooks/raw", content=raw, headers=headers)
    assert response.status_code == 401
    assert raw.decode(errors="replace") not in response.text  # never echoes the body
    site.assert_nothing_stored()


def test_raw_signed_with_another_secret_stores_nothing(site: Site) -> None:
    raw = email()
    response = site.client.post("/webhooks/raw", content=raw, headers=raw_headers(raw, secret="not-ours"))
    assert response.status_code == 401
    site.assert_nothing_stored()


@pytest.mark.parametrize("offset", [-3600, -302, 302, 3600])  # whole seconds: 301 may be 300.4
def test_raw_with_a_stale_or_future_timestamp_is_refused(site: Site, offset: int) -> None:
    raw = email()
    response = site.client.post(
        "/webhooks/raw", content=raw, headers=raw_headers(raw, timestamp=int(time.time()) + offset)
    )
    assert response.status_code == 401
    assert "X-Audit-Timestamp" in response.json()["detail"]
    site.assert_nothing_stored()


@pytest.mark.parametrize("stamp", ["", "12.5", "-1", "1e9", "+1", "0x10", "1" * 13])
def test_raw_with_a_malformed_timestamp_is_refused(site: Site, stamp: str) -> None:
    raw = email()
    headers = {**raw_headers(raw), "X-Audit-Timestamp": stamp}
    assert site.client.post("/webhooks/raw", content=raw, headers=headers).status_code == 401
    site.assert_nothing_stored()


@pytest.mark.parametrize("recipient", [RECIPIENT, ""])
def test_raw_readme_recipe_signs_a_post_that_is_accepted(site: Site, tmp_path: Path, recipient: str) -> None:
    """The shell example of README.md ("Inbound-email webhooks"), run as written with openssl and curl."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    recipe = readme.split("<!-- raw-webhook-recipe -->", 2)[1]
    script = recipe.split("```sh\n", 1)[1].split("```", 1)[0]
    raw = email("Re: signed in the shell")
    (tmp_path / "reply.eml").write_bytes(raw)
    environment = {
        "PATH": "/usr/bin:/bin",
        "AUDIT_WEBHOOK_SECRET": str(SECRETS.generic_hmac_secret),
        "URL": f"{site.client.base_url}".rstrip("/") + "/webhooks/raw",
        "RECIPIENT": recipient,  # empty: curl leaves the header out, and the signature covers ""
        "MESSAGE": str(tmp_path / "reply.eml"),
    }
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], env=environment, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout)["stored"] is True
    site.drain()
    envelope = f"X-Original-To: {recipient}\r\n".encode() if recipient else b""
    assert site.stored_raw() == envelope + raw


def test_duplicate_raw_deliveries_are_stored_once(site: Site) -> None:
    raw = email()
    first = post_raw(site, raw)
    second = post_raw(site, raw)
    assert first.json() == {"stored": True, "duplicate": False, "spool_id": 1, "message_id": None}
    assert second.status_code == 200
    assert second.json()["duplicate"] is True and second.json()["spool_id"] == 1
    site.drain()
    assert site.count() == 1
    assert len(site.spool()) == 1
    assert len(site.raw_files()) == 1
    third = post_raw(site, raw)  # once processed, a duplicate's answer names the message
    assert third.json() == {"stored": False, "duplicate": True, "spool_id": 1, "message_id": 1}


def test_the_same_reply_by_two_providers_is_one_message(site: Site) -> None:
    raw = email()
    assert post_raw(site, raw, recipient=RECIPIENT).json()["stored"] is True
    other = post_sendgrid(site, f"/webhooks/sendgrid/{SECRETS.sendgrid_secret}", raw)
    assert (
        other.status_code == 200
    )  # another provider's delivery: accepted, recognised as a copy when ingested
    site.drain()
    # Both deliveries are kept with their bytes; the second is marked a copy of the first and not counted.
    first, copy = sorted(site.messages(), key=lambda message: message.id or 0)
    assert (first.duplicate_of, copy.duplicate_of) == (None, first.id)
    assert copy.duplicate_reason is not None and "same Message-ID and body" in copy.duplicate_reason
    assert {row.message_id for row in site.spool()} == {first.id, copy.id}


def test_malformed_mime_is_stored_raw(site: Site) -> None:
    raw = b"\xff\xfe garbage\r\nno: [headers\r\n\r\n--boundary-without-end\x00\x80"
    response = post_raw(site, raw)
    assert response.status_code == 200, response.text
    site.drain()
    assert site.stored_raw() == raw


def test_concurrent_deliveries_are_all_stored(site: Site) -> None:
    raws = [email(f"reply {n}") for n in range(40)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda raw: post_raw(site, raw).status_code, raws))
    assert statuses == [200] * 40
    site.drain()
    assert site.count() == 40


def test_on_each_database_a_token_or_a_delivery_counts_once_under_concurrency(
    database_url: str, make_site: Callable[..., Site]
) -> None:
    site = make_site(engine=open_database(database_url))
    fields = mailgun_fields(email())
    with ThreadPoolExecutor(8) as pool:
        mailgun = list(pool.map(lambda _: post_mailgun(site, fields).status_code, range(8)))
    assert sorted(mailgun) == [200] + [401] * 7  # one wins the token; the rest are replays
    raw = email()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: post_raw(site, raw).json(), range(8)))
    assert sorted(answer["stored"] for answer in answers) == [False] * 7 + [True]
    assert len({answer["spool_id"] for answer in answers}) == 1
    site.drain()
    assert site.count() == 2
    assert len(site.spool()) == 2
    assert site.replays() == 1 + 8  # one Mailgun token; eight raw signatures, as each post was signed afresh


# --- Limits, configuration, failures ---------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_with_413_and_nothing_stored(make_site: Callable[..., Site]) -> None:
    site = make_site(max_body_bytes=1 * MB)
    big = email(size=int(1.5 * MB))
    assert post_raw(site, big).status_code == 413
    assert post_mailgun(site, mailgun_fields(big)).status_code == 413
    assert post_sendgrid(site, f"/webhooks/sendgrid/{SECRETS.sendgrid_secret}", big).status_code == 413
    postmark = site.client.post(
        "/webhooks/postmark", json=postmark_payload(big), headers={"Authorization": POSTMARK_AUTH}
    )
    assert postmark.status_code == 413
    site.assert_nothing_stored()
    # Just under the limit still goes through.
    assert post_raw(site, email(size=MB - 4096)).status_code == 200


def test_a_chunked_body_over_the_limit_is_cut_off_with_413(make_site: Callable[..., Site]) -> None:
    site = make_site(max_body_bytes=1 * MB)
    big = email(size=3 * MB)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count while reading
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    response = site.client.post("/webhooks/raw", content=chunks(), headers=raw_headers(big))
    assert response.status_code == 413
    site.assert_nothing_stored()


def test_unconfigured_endpoints_answer_404(make_site: Callable[..., Site]) -> None:
    site = make_site(secrets=WebhookSecrets(generic_hmac_secret="only-raw"))
    assert post_mailgun(site, mailgun_fields(email())).status_code == 404
    assert post_sendgrid(site, "/webhooks/sendgrid/anything", email()).status_code == 404
    assert (
        site.client.post("/webhooks/postmark", json={}, headers={"Authorization": POSTMARK_AUTH}).status_code
        == 404
    )
    site.assert_nothing_stored()


def test_database_down_answers_500_so_the_provider_retries(
    make_site: Callable[..., Site], tmp_path: Path
) -> None:
    (tmp_path / "not-a-directory").write_text("")
    down = create_engine(f"sqlite:///{tmp_path / 'not-a-directory' / 'audit.db'}")
    site = make_site(engine=down)
    response = post_raw(site, email())
    assert response.status_code == 500
    assert response.json()["detail"].startswith("could not store")


def test_no_secret_reaches_the_logs(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fields = mailgun_fields(email())
    post_mailgun(site, fields)
    post_mailgun(site, fields)  # replay
    post_sendgrid(site, "/webhooks/sendgrid/wrong", email())
    post_sendgrid(site, f"/webhooks/sendgrid/{SECRETS.sendgrid_secret}", email())
    site.client.post("/webhooks/postmark", json={}, headers={"Authorization": basic("x", "y")})
    # The server's records only: the test client's own log names the URLs it posts to.
    ours = [record for record in caplog.records if record.name.startswith(("audit", "uvicorn", "fastapi"))]
    text = "\n".join(f"{record.getMessage()} {record.exc_text or ''}" for record in ours)
    assert "webhook mailgun" in text
    secrets = [
        SECRETS.mailgun_signing_key,
        SECRETS.sendgrid_secret,
        SECRETS.postmark_password,
        SECRETS.generic_hmac_secret,
        fields["signature"],
    ]
    for secret in secrets:
        assert secret is not None
        assert secret not in text
    assert "sg-path-secret" not in repr(SECRETS)


def test_uvicorn_access_log_hides_the_sendgrid_path_secret(site: Site) -> None:
    path = f"/webhooks/sendgrid/{SECRETS.sendgrid_secret}?x=1"
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", path, "1.1", 200), None,
    )  # fmt: skip
    assert logging.getLogger("uvicorn.access").filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "POST /webhooks/sendgrid/<redacted>?x=1 HTTP/1.1" 200'


def test_empty_secrets_leave_the_endpoints_unconfigured(make_site: Callable[..., Site]) -> None:
    site = make_site(secrets=WebhookSecrets("", "", "", "", ""))
    empty_basic = {"Authorization": basic("", "")}
    assert site.client.post("/webhooks/sendgrid", content=b"", headers=empty_basic).status_code == 404
    assert site.client.post("/webhooks/postmark", json={}, headers=empty_basic).status_code == 404
    assert post_raw(site, email()).status_code == 404
    assert post_mailgun(site, mailgun_fields(email())).status_code == 404
    site.assert_nothing_stored()


# --- Store first, ingest after ---------------------------------------------------------------------------


def flaky_ingest(
    monkeypatch: pytest.MonkeyPatch, fails: Callable[[bytes], bool]
) -> list[tuple[float, bytes]]:
    """Make the spool's ingestion raise while `fails(raw)`; returns every call's (time, raw bytes)."""
    real = audit.collect.spool.ingest_raw
    calls: list[tuple[float, bytes]] = []

    def ingest(session: Session, raw: bytes, arrival: Any, *, data_dir: Path) -> IngestResult:
        calls.append((time.monotonic(), raw))
        if fails(raw):
            raise RuntimeError("parser bug")
        return real(session, raw, arrival, data_dir=data_dir)

    monkeypatch.setattr(audit.collect.spool, "ingest_raw", ingest)
    return calls


def test_the_answer_comes_before_ingestion_and_the_spool_row_holds_the_delivery(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(lifespan=False)  # no worker: exactly what the answer leaves behind
    raw = email()
    response = post_raw(site, raw, recipient=RECIPIENT)
    assert response.json() == {"stored": True, "duplicate": False, "spool_id": 1, "message_id": None}
    assert site.count() == 0
    (row,) = site.spool()
    stored = f"X-Original-To: {RECIPIENT}\r\n".encode() + raw
    digest = hashlib.sha256(stored).hexdigest()
    assert (site.data_dir / row.raw_path).read_bytes() == stored  # on disk before the answer
    assert (row.source, row.delivery_key, row.raw_sha256, row.raw_size) == (
        "webhook:raw",
        digest,
        digest,
        len(stored),
    )
    assert json.loads(row.envelope_recipients) == [RECIPIENT]
    assert (row.processed_at, row.attempts, row.message_id, row.transport_time) == (None, 0, None, None)
    assert abs(row.received_by_us_at - utcnow()) < timedelta(minutes=1)
    assert site.drain() == 1
    (message,) = site.messages()
    (row,) = site.spool()
    assert row.processed_at is not None and (row.attempts, row.message_id) == (1, message.id)
    assert message.received_at == row.received_by_us_at  # not the (later) time it was processed
    assert site.drain() == 0


def test_the_worker_ingests_in_the_background(site: Site) -> None:
    for n in range(5):
        assert post_raw(site, email(f"reply {n}")).status_code == 200
    site.wait_for(lambda: site.count() == 5)  # no drain: the app's own worker
    assert all(row.processed_at is not None for row in site.spool())


def test_a_crash_between_the_answer_and_ingestion_loses_nothing(
    make_site: Callable[..., Site], tmp_path: Path
) -> None:
    first = make_site(lifespan=False)
    raw = email()
    assert post_raw(first, raw).json()["stored"] is True
    assert (len(first.spool()), first.count()) == (1, 0)
    first.engine.dispose()  # the process dies after answering, before ingesting
    restarted = make_site(open_database(sqlite_url(tmp_path)), data_dir=first.data_dir)
    restarted.wait_for(lambda: restarted.count() == 1)  # startup catches up on its own
    (row,) = restarted.spool()
    assert row.processed_at is not None and row.attempts == 1
    assert restarted.drain() == 0
    # The provider retries what it may think failed: still one delivery, one message.
    assert post_raw(restarted, raw).json() == {
        "stored": False,
        "duplicate": True,
        "spool_id": 1,
        "message_id": 1,
    }
    assert (len(restarted.spool()), restarted.count()) == (1, 1)


def test_a_failing_row_is_kept_retried_later_and_does_not_block_the_rows_behind_it(
    make_site: Callable[..., Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = [True]
    flaky_ingest(monkeypatch, lambda raw: broken[0] and b"poison" in raw)
    site = make_site(lifespan=False)
    assert post_raw(site, email("poison")).status_code == 200
    assert post_raw(site, email("fine")).status_code == 200
    assert site.drain() == 1
    (message,) = site.messages()
    assert message.subject == "fine"
    poison, fine = site.spool()
    assert fine.message_id == message.id
    assert (poison.processed_at, poison.message_id, poison.attempts) == (None, None, 1)
    assert poison.last_error == "RuntimeError: parser bug"
    assert poison.next_attempt_at is not None and poison.next_attempt_at > utcnow()
    assert site.drain() == 0  # still waiting out its delay
    broken[0] = False
    assert site.drain(retry_failed=True) == 1
    poison = site.spool()[0]
    assert poison.processed_at is not None and poison.attempts == 2
    assert (poison.last_error, poison.next_attempt_at) == (None, None)
    assert site.count() == 2


def test_the_worker_retries_a_failed_row_after_its_delay(
    make_site: Callable[..., Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit.collect.spool, "RETRY_FIRST_S", 0.5)
    failed: list[bool] = []

    def first_poison_fails(raw: bytes) -> bool:
        if b"poison" in raw and not failed:
            failed.append(True)
            return True
        return False

    calls = flaky_ingest(monkeypatch, first_poison_fails)
    site = make_site()
    assert post_raw(site, email("poison")).status_code == 200
    assert post_raw(site, email("fine")).status_code == 200
    site.wait_for(lambda: site.count() == 2)
    poison = [at for at, raw in calls if b"poison" in raw]
    assert len(poison) == 2 and poison[1] - poison[0] >= 0.5  # retried, after its delay
    assert [row.attempts for row in site.spool()] == [2, 1]
    assert all(row.last_error is None for row in site.spool())


def test_stopping_the_app_stops_its_worker_cleanly(make_site: Callable[..., Site]) -> None:
    site = make_site()
    for n in range(30):
        assert post_raw(site, email(f"reply {n}")).status_code == 200
    assert site.stop is not None
    started = time.monotonic()
    site.stop()  # finishes the row in progress, starts no other
    site.stop = None
    assert time.monotonic() - started < 10
    assert not any(thread.name.startswith("webhook-spool") for thread in threading.enumerate())
    processed = [row for row in site.spool() if row.processed_at is not None]
    assert site.count() == len(processed)  # nothing half done
    site.drain()
    assert (site.count(), len(site.spool())) == (30, 30)
