"""The server app of `audit serve`: the web UI, login, CSRF, /healthz, /metrics and the mounted webhooks.

One real uvicorn on 127.0.0.1 for the module; each test builds its own app over a SQLite file or a PostgreSQL
schema (the `database_url` fixture) and a data directory of its own, and installs it in that server. httpx
drives the HTTP tests; the last test drives the real Chromium through the same pages a person uses.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from starlette.types import Receive, Scope, Send

from audit.cli import cli
from audit.collect.store import Arrival, ingest_raw
from audit.config import parse_config
from audit.db import open_database
from audit.errors import AuditError
from audit.models import Company, Message, Probe, Wave
from audit.settings import Settings
from audit.tokens import _check_char
from audit.web import create_server_app
from audit.web.auth import PasswordHash, hash_password
from tests.conftest import BrowserHost
from tests.uvicorn_thread import uvicorn_in_thread

PASSWORD = "correct horse battery staple"
FAST_HASH = hash_password(PASSWORD, n=2**10)  # the format carries its cost: tests pick a cheap one
SESSION_SECRET = "s" * 40
RAW_SECRET = "raw-hmac-secret-for-the-web-tests"
RAW_SECRET_ENV = "AUDIT_TEST_WEB_RAW_SECRET"
SUBMITTED = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
EVIL_NAME = "Acme <script>alert('name')</script>"
EVIL_SUBJECT = "Re: <img src=x onerror=alert('subject')>"
TOKEN = "k7q29fxm" + _check_char("k7q29fxm")
REF = "K7Q2-9F"
PNG = (
    b"\x89PNG\r\n\x1a\n"
    + struct.pack(">I", 13)
    + b"IHDR"
    + struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    + struct.pack(">I", zlib.crc32(b"IHDR" + struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)))
    + struct.pack(">I", len(zlib.compress(b"\x00\xff\xff\xff")))
    + b"IDAT"
    + zlib.compress(b"\x00\xff\xff\xff")
    + struct.pack(">I", zlib.crc32(b"IDAT" + zlib.compress(b"\x00\xff\xff\xff")))
    + struct.pack(">I", 0)
    + b"IEND"
    + struct.pack(">I", zlib.crc32(b"IEND"))
)


# --- the server and the app under test ----------------------------------------------------------------


class SwappableApp:
    """The ASGI app the server runs; each test installs its own."""

    def __init__(self) -> None:
        self.app: FastAPI | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no app installed"
        await self.app(scope, receive, send)


@dataclass
class Server:
    base_url: str
    holder: SwappableApp


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    holder = SwappableApp()
    # proxy_headers off: the app itself decides whom to believe about X-Forwarded-* (AUDIT_WEB_TRUSTED_PROXY).
    with uvicorn_in_thread(holder, name="web-test", lifespan="off", proxy_headers=False) as base_url:
        yield Server(base_url, holder)


@dataclass(frozen=True)
class FakeHealth:
    active: bool = True
    running: bool = True
    lease_owner: str | None = "host:1"
    last_collect_at: datetime | None = None
    last_collect_error: str | None = None
    next_wave_at: datetime | None = None
    job_failures: int = 0
    planned_due: int = 0


@dataclass
class FakeScheduler:
    state: FakeHealth = field(default_factory=FakeHealth)
    calls: list[str] = field(default_factory=list)

    async def start(self) -> None:
        self.calls.append("start")

    async def shutdown(self) -> None:
        self.calls.append("shutdown")

    def health(self) -> FakeHealth:
        return self.state


def config_text(imap_port: int) -> str:
    return f"""
audit: {{name: web-test, timezone: Asia/Jerusalem}}
mailbox:
  address: "dana.{{token}}@replies.example.org"
  imap: {{host: 127.0.0.1, port: {imap_port}, tls: false, username: dana, password_env: AUDIT_TEST_WEB_IMAP}}
  webhooks: {{generic_secret_env: {RAW_SECRET_ENV}}}
persona: {{first_name: Dana, last_name: Levi, phone: "050-1234567"}}
inquiry: {{subject: A question, message: "Hello {{company}}"}}
schedule: {{cron: "0 9 1-7 * sun", collect_every: 5m}}
companies:
  - {{id: acme, name: Acme, contact_url: "https://acme.example/contact"}}
  - {{id: globex, name: Globex, contact_url: "https://globex.example/contact"}}
"""


@pytest.fixture(scope="module")
def imap_listener() -> Iterator[int]:
    """A port that accepts TCP connections, standing in for the IMAP server in the reachability check."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    listener.close()


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def email(
    *, to: str, subject: str, body: str, html: str | None = None, sender: str = "Ruth <ruth@acme.example>"
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(SUBMITTED + timedelta(hours=2))
    message["Message-ID"] = f"<{hashlib.sha256((to + subject).encode()).hexdigest()[:16]}@acme.example>"
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return bytes(message)


@dataclass
class Seeded:
    wave_id: int
    acme_probe: int
    globex_probe: int
    unmatched: int
    matched: int


def seed(engine: Engine, data_dir: Path) -> Seeded:
    with Session(engine, expire_on_commit=False) as session:
        session.add(
            Company(id="acme", name=EVIL_NAME, contact_url="https://acme.example/c", domain="acme.example")
        )
        session.add(
            Company(
                id="globex", name="Globex", contact_url="https://globex.example/c", domain="globex.example"
            )
        )
        wave = Wave(audit_name="web-test", status="submitted")
        session.add(wave)
        session.flush()
        assert wave.id is not None
        acme = Probe(wave_id=wave.id, company_id="acme", token=TOKEN, ref_code=REF, contact_url="u",
                     reply_address=f"dana.{TOKEN}@replies.example.org", submitted_at=SUBMITTED, state="finished",
                     outcome="submitted", evidence_dir=f"evidence/wave-{wave.id}/acme-1")  # fmt: skip
        globex = Probe(wave_id=wave.id, company_id="globex", token="zzzzzzzzz", ref_code="GLBX-22", contact_url="u",
                       reply_address="x", submitted_at=SUBMITTED, state="finished", outcome="submitted")  # fmt: skip
        session.add_all([acme, globex])
        session.flush()
        evidence = data_dir / "evidence" / f"wave-{wave.id}" / "acme-1"
        evidence.mkdir(parents=True)
        (evidence / "before-submit.png").write_bytes(PNG)
        (evidence / "evidence.json").write_text('{"outcome": "submitted"}', encoding="utf-8")
        loose = ingest_raw(session, email(to="info@replies.example.org", subject=EVIL_SUBJECT,
                                          body="Hello,\n<script>alert('body')</script>\nWe can help.",
                                          sender="Someone <desk@helpdesk.example>"),
                           Arrival(source="maildir", delivery_key="loose"), data_dir=data_dir)  # fmt: skip
        matched = ingest_raw(session, email(to=f"dana.{TOKEN}@replies.example.org", subject="Re: A question",
                                            body="Hi Dana, thanks for asking.",
                                            html="<p onclick=\"alert('x')\">Hi Dana</p><script>alert('html')</script>"),
                             Arrival(source="maildir", delivery_key="matched"), data_dir=data_dir)  # fmt: skip
        session.commit()
        assert acme.id and globex.id and loose.message.id and matched.message.id
        assert loose.message.probe_id is None and matched.message.probe_id == acme.id
        return Seeded(wave.id, acme.id, globex.id, loose.message.id, matched.message.id)


@dataclass
class Site:
    base_url: str
    engine: Engine
    data_dir: Path
    seeded: Seeded
    app: FastAPI
    scheduler: FakeScheduler
    install: Callable[..., FastAPI]
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self) -> httpx.Client:
        client = httpx.Client(base_url=self.base_url, follow_redirects=False, timeout=30)
        self.clients.append(client)
        return client

    def logged_in(self) -> httpx.Client:
        client = self.client()
        token = csrf_of(client.get("/login"))
        answer = client.post("/login", data={"password": PASSWORD, "csrf_token": token, "next": "/waves"})
        assert answer.status_code == 303, answer.text
        return client


def csrf_of(response: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    assert match, "no CSRF field on the page"
    return match.group(1)


@pytest.fixture
def site(
    server: Server, database_url: str, tmp_path: Path, imap_listener: int, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Site]:
    monkeypatch.setenv(RAW_SECRET_ENV, RAW_SECRET)
    engine = open_database(database_url)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    seeded = seed(engine, data_dir)
    scheduler = FakeScheduler(FakeHealth(last_collect_at=datetime.now(UTC)))
    base: dict[str, Any] = {"data_dir": data_dir, "database_url": database_url, "web_password_hash": FAST_HASH,
                            "web_session_secret": SESSION_SECRET}  # fmt: skip

    def install(*, imap_port: int = imap_listener, **changes: Any) -> FastAPI:
        settings = Settings(_env_file=None, **{**base, **changes})  # type: ignore[call-arg]
        app = create_server_app(settings, parse_config(config_text(imap_port)), engine, scheduler=scheduler)
        server.holder.app = app
        return app

    app = install()
    running = Site(server.base_url, engine, data_dir, seeded, app, scheduler, install)
    yield running
    for client in running.clients:
        client.close()
    server.holder.app = None
    engine.dispose()


def raw_webhook_headers(raw: bytes) -> dict[str, str]:
    """Signed as README.md says: HMAC-SHA256 over `timestamp LF recipient LF body` (no recipient here)."""
    stamp = str(int(time.time()))
    signed = f"{stamp}\n\n".encode() + raw
    signature = "sha256=" + hmac.new(RAW_SECRET.encode(), signed, hashlib.sha256).hexdigest()
    return {"X-Audit-Timestamp": stamp, "X-Audit-Signature": signature}


# --- login ------------------------------------------------------------------------------------------------


def test_every_page_needs_a_login_but_webhooks_health_and_metrics_do_not(site: Site) -> None:
    client = site.client()
    for path in ("/waves", f"/waves/{site.seeded.wave_id}", "/inbox", "/replies/new", "/reports",
                 f"/files/evidence/wave-{site.seeded.wave_id}/acme-1/before-submit.png",
                 f"/messages/{site.seeded.matched}/html"):  # fmt: skip
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=/"), path
    assert client.get("/waves?x=1").headers["location"] == "/login?next=/waves%3Fx%3D1"
    assert client.post(f"/inbox/{site.seeded.unmatched}/assign", data={"probe": "1"}).status_code == 303
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200
    # The webhook app answers with its own authentication: no login, no cookie, its own 401 and 200.
    assert client.post("/webhooks/raw", content=b"x").status_code == 401
    raw = email(to=f"dana.{TOKEN}@replies.example.org", subject="Re: by webhook", body="Hello Dana")
    stored = client.post("/webhooks/raw", content=raw, headers=raw_webhook_headers(raw))
    assert stored.status_code == 200 and stored.json()["stored"] is True
    assert "set-cookie" not in stored.headers


def test_a_wrong_password_is_refused_and_the_right_one_signs_in(site: Site) -> None:
    client = site.client()
    page = client.get("/login?next=/inbox")
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    wrong = client.post("/login", data={"password": "guess", "csrf_token": csrf_of(page), "next": "/inbox"})
    assert wrong.status_code == 401 and "Wrong password." in wrong.text
    assert client.get("/inbox").status_code == 303
    right = client.post("/login", data={"password": PASSWORD, "csrf_token": csrf_of(page), "next": "/inbox"})
    assert (right.status_code, right.headers["location"]) == (303, "/inbox")
    assert client.get("/inbox").status_code == 200
    # Only paths on this site are followed after login.
    again = site.client()
    token = csrf_of(again.get("/login"))
    away = again.post("/login", data={"password": PASSWORD, "csrf_token": token, "next": "//evil.example/"})
    assert away.headers["location"] == "/waves"
    # Signing out ends the session.
    assert client.post("/logout", data={"csrf_token": csrf_of(client.get("/waves"))}).status_code == 303
    assert client.get("/inbox").status_code == 303


def test_the_session_cookie_is_secure_over_https_from_a_trusted_proxy_only(site: Site) -> None:
    https = {"X-Forwarded-Proto": "https"}
    assert "Secure" in site.client().get("/login", headers=https).headers["set-cookie"]
    site.install(web_trusted_proxy="10.9.9.9")
    assert "Secure" not in site.client().get("/login", headers=https).headers["set-cookie"]


def test_a_forged_or_stale_session_is_no_session(site: Site) -> None:
    client = site.logged_in()
    cookie = client.cookies["audit_session"]
    payload, signature = cookie.split(".")
    forged = site.client()
    flipped = "B" if signature[0] == "A" else "A"  # always another signature (its last characters may be AA)
    forged.cookies.set("audit_session", f"{payload}.{flipped}{signature[1:]}")
    assert forged.get("/waves").status_code == 303
    # A new password ends the sessions made with the old one.
    site.install(web_password_hash=hash_password("another password entirely", n=2**10))
    assert client.get("/waves").status_code == 303


def test_repeated_wrong_passwords_are_throttled(site: Site) -> None:
    client = site.client()
    token = csrf_of(client.get("/login"))
    for _ in range(5):
        assert client.post("/login", data={"password": "nope", "csrf_token": token}).status_code == 401
    blocked = client.post("/login", data={"password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429 and "Too many wrong passwords" in blocked.text


def test_a_trusted_proxy_header_signs_in_only_from_the_proxy(site: Site) -> None:
    site.install(web_trusted_header="X-Forwarded-User", web_password_hash=None)
    client = site.client()
    page = client.get("/waves", headers={"X-Forwarded-User": "ruth"})
    assert page.status_code == 200 and ">ruth<" in page.text
    assert client.get("/waves").status_code == 303  # no header, no user
    site.install(web_trusted_header="X-Forwarded-User", web_trusted_proxy="10.9.9.9", web_password_hash=None)
    assert client.get("/waves", headers={"X-Forwarded-User": "ruth"}).status_code == 303


def test_without_any_login_configured_every_page_stays_closed(site: Site) -> None:
    site.install(web_password_hash=None)
    client = site.client()
    page = client.get("/login")
    assert page.status_code == 200 and "audit hash-password" in page.text
    assert 'name="password"' not in page.text
    assert client.post("/login", data={"password": PASSWORD}).status_code == 403
    assert client.get("/waves").status_code == 303


def test_bad_auth_settings_are_one_clear_error(site: Site) -> None:
    with pytest.raises(AuditError, match="scrypt\\$n\\$r\\$p\\$salt\\$hash"):
        site.install(web_password_hash="plain-text-password")
    with pytest.raises(AuditError, match="at least 32 characters"):
        site.install(web_session_secret="short")
    with pytest.raises(AuditError, match="not a header name"):
        site.install(web_trusted_header="X User: admin")
    with pytest.raises(AuditError, match="not an address"):
        site.install(web_trusted_proxy="proxy.example")


def test_password_hashes_verify_and_carry_their_cost() -> None:
    parsed = PasswordHash.parse(FAST_HASH)
    assert (parsed.n, parsed.r, parsed.p) == (2**10, 8, 1)
    assert parsed.verify(PASSWORD) and not parsed.verify(PASSWORD + " ")
    assert hash_password(PASSWORD, n=2**10) != FAST_HASH  # salted
    with pytest.raises(AuditError, match="out of range"):
        PasswordHash.parse(FAST_HASH.replace("scrypt$1024$", "scrypt$1000$"))


def test_hash_password_prints_an_environment_line(tmp_path: Path) -> None:
    runner = CliRunner()
    secret = "a long enough password"
    done = runner.invoke(cli, ["hash-password"], input=f"{secret}\n{secret}\n")
    assert done.exit_code == 0, done.output
    line = done.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"AUDIT_WEB_PASSWORD_HASH='(scrypt\$131072\$8\$1\$[\w-]+\$[\w-]+)'", line)
    assert match and PasswordHash.parse(match.group(1)).verify(secret)
    assert secret not in done.stdout
    short = runner.invoke(cli, ["hash-password"], input="short\nshort\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.stderr


# --- CSRF -------------------------------------------------------------------------------------------------


def test_a_post_without_the_csrf_token_is_refused(site: Site) -> None:
    client = site.logged_in()
    path = f"/inbox/{site.seeded.unmatched}/assign"
    for data in ({"probe": str(site.seeded.acme_probe)},
                 {"probe": str(site.seeded.acme_probe), "csrf_token": "x" * 43}):  # fmt: skip
        refused = client.post(path, data=data)
        assert refused.status_code == 403 and "Form refused" in refused.text
    assert (
        client.post(
            "/replies", data={"probe": str(site.seeded.acme_probe), "at": "2026-11-22 12:00"}
        ).status_code
        == 403
    )
    other = site.client()  # a token from another session does not work either
    stranger = csrf_of(other.get("/login"))
    assert (
        client.post(path, data={"probe": str(site.seeded.acme_probe), "csrf_token": stranger}).status_code
        == 403
    )
    assert site.client().post("/login", data={"password": PASSWORD}).status_code == 403
    with Session(site.engine) as session:
        message = session.get(Message, site.seeded.unmatched)
        assert message is not None and message.probe_id is None  # nothing happened
    token = csrf_of(client.get("/inbox"))
    assert (
        client.post(path, data={"probe": str(site.seeded.acme_probe), "csrf_token": token}).status_code == 303
    )


# --- the pages --------------------------------------------------------------------------------------------


def test_assign_and_manual_reply_use_the_collectors_core(site: Site) -> None:
    client = site.logged_in()
    inbox = client.get("/inbox")
    assert f'id="message-{site.seeded.unmatched}"' in inbox.text
    token = csrf_of(inbox)
    moved = client.post(
        f"/inbox/{site.seeded.unmatched}/assign", data={"reference": "glbx-22", "csrf_token": token}
    )
    assert (moved.status_code, moved.headers["location"]) == (303, "/inbox")
    after = client.get("/inbox")
    assert (
        "answers globex GLBX-22" in after.text and f'id="message-{site.seeded.unmatched}"' not in after.text
    )
    with Session(site.engine) as session:
        message = session.get(Message, site.seeded.unmatched)
        assert message is not None
        assert (message.probe_id, message.assigned_by_hand) == (site.seeded.globex_probe, True)
    unknown = client.post(
        f"/inbox/{site.seeded.unmatched}/assign", data={"reference": "ZZZZ-ZZ", "csrf_token": token}
    )
    assert unknown.status_code == 303 and "no inquiry has the reference code" in client.get("/inbox").text

    form = client.get(f"/replies/new?probe={site.seeded.acme_probe}")
    assert f'<option value="{site.seeded.acme_probe}" selected>' in form.text
    early = client.post("/replies", data={"probe": str(site.seeded.acme_probe), "channel": "phone",
                                          "at": "2026-11-20T10:00", "note": "Too early", "csrf_token": token})  # fmt: skip
    assert early.status_code == 400 and "before the inquiry was submitted" in early.text
    added = client.post("/replies", data={"probe": str(site.seeded.acme_probe), "channel": "sms",
                                          "at": "2026-11-22T14:05", "note": "Called back", "csrf_token": token})  # fmt: skip
    assert added.status_code == 303
    assert added.headers["location"] == f"/waves/{site.seeded.wave_id}#company-acme"
    with Session(site.engine) as session:
        manual = session.exec(select(Message).where(Message.source == "manual")).one()
        # 14:05 in Asia/Jerusalem (UTC+2 in November) is 12:05 UTC
        assert (manual.channel, manual.received_at, manual.probe_id) == (
            "sms", datetime(2026, 11, 22, 12, 5, tzinfo=UTC), site.seeded.acme_probe)  # fmt: skip
    page = client.get(added.headers["location"])
    assert "Recorded a sms reply from acme" in page.text and "Called back" in page.text


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse_tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_untrusted_text_comes_out_inert(site: Site) -> None:
    client = site.logged_in()
    for path in (f"/waves/{site.seeded.wave_id}", "/inbox", "/replies/new"):
        page = client.get(path)
        assert page.status_code == 200, path
        tags = parse_tags(page.text)
        assert not [tag for tag, _ in tags if tag in ("script", "img") and _.get("src") == "x"], path
        assert not [tag for tag, _ in tags if tag == "script"], path
        assert not [name for _, attrs in tags for name in attrs if name.startswith("on")], path
        assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none' covers it
    wave = client.get(f"/waves/{site.seeded.wave_id}").text
    assert "Acme &lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in wave
    inbox = client.get("/inbox").text
    assert "Re: &lt;img src=x onerror=alert(&#39;subject&#39;)&gt;" in inbox
    assert "&lt;script&gt;alert(&#39;body&#39;)&lt;/script&gt;" in inbox
    # The HTML version is the sanitised one, served sandboxed: no script, no event handler survives.
    iframe = [attrs for tag, attrs in parse_tags(wave) if tag == "iframe"]
    assert (
        iframe
        and "sandbox" in iframe[0]
        and not iframe[0]["sandbox"]
        and iframe[0]["src"] == f"/messages/{site.seeded.matched}/html"
    )
    html = client.get(f"/messages/{site.seeded.matched}/html")
    assert html.status_code == 200 and "Hi Dana" in html.text
    assert "<script" not in html.text and "onclick" not in html.text
    assert html.headers["content-security-policy"].startswith("sandbox;")


def test_files_are_served_from_the_evidence_and_raw_folders_only(site: Site) -> None:
    client = site.logged_in()
    shot = f"/files/evidence/wave-{site.seeded.wave_id}/acme-1/before-submit.png"
    image = client.get(shot)
    assert image.status_code == 200 and image.content == PNG and image.headers["content-type"] == "image/png"
    assert image.headers["x-content-type-options"] == "nosniff"
    with Session(site.engine) as session:
        raw_path = session.get(Message, site.seeded.unmatched).raw_path  # type: ignore[union-attr]
    raw = client.get(f"/files/{raw_path}")
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("text/plain")
    (site.data_dir / "secret.txt").write_text("not for the web", encoding="utf-8")
    (site.data_dir / "evidence" / ".hidden").write_text("hidden", encoding="utf-8")
    (site.data_dir / "evidence" / "link.txt").symlink_to(site.data_dir / "secret.txt")
    for attempt in ("/files/secret.txt", "/files/audit.db", "/files/evidence/../secret.txt",
                    "/files/evidence/%2e%2e/secret.txt", "/files/evidence/..%2fsecret.txt",
                    "/files/evidence%2f..%2fsecret.txt", "/files/%2fetc%2fpasswd", "/files//etc/passwd",
                    "/files/evidence/link.txt", "/files/evidence/.hidden", "/files/evidence/..%5csecret.txt",
                    "/files/evidence", "/files/raw/"):  # fmt: skip
        refused = client.get(httpx.URL(site.base_url + attempt))
        assert refused.status_code == 404, attempt
        assert "not for the web" not in refused.text


def test_waves_page_shows_progress(site: Site) -> None:
    client = site.logged_in()
    page = client.get("/waves")
    row = re.search(
        rf'<a href="/waves/{site.seeded.wave_id}">Wave {site.seeded.wave_id}</a>.*?</tr>', page.text, re.S
    )
    assert row is not None
    numbers = re.findall(r'<td class="num"[^>]*>(\d+|–)</td>', row.group(0))
    assert numbers[:4] == ["2", "2", "0", "1"]  # planned, submitted, not reached, replied (a human reply)
    assert "Scheduler:" in page.text and "active" in page.text
    assert client.get("/waves/99999").status_code == 404
    assert client.get("/waves/abc").status_code == 404
    assert client.get("/nowhere").status_code == 404


def test_the_report_page_renders_and_its_evidence_links_resolve(site: Site) -> None:
    client = site.logged_in()
    listing = client.get("/reports")
    assert listing.status_code == 200 and f'href="/reports/{site.seeded.wave_id}?as_of=now"' in listing.text
    moved = client.get(f"/reports/{site.seeded.wave_id}?lang=he")
    assert (moved.status_code, moved.headers["location"]) == (
        303,
        f"/files/reports/wave-{site.seeded.wave_id}.html?lang=he",
    )
    hebrew = client.get(moved.headers["location"])
    assert hebrew.status_code == 200 and 'dir="rtl"' in hebrew.text
    page = client.get(f"/files/reports/wave-{site.seeded.wave_id}.html")
    assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    assert not [tag for tag, _ in parse_tags(page.text) if tag == "script"]
    hrefs = [attrs["href"] for tag, attrs in parse_tags(page.text) if tag == "a" and attrs.get("href")]
    local = [href for href in hrefs if href and not href.startswith(("http:", "https:", "#", "mailto:"))]
    assert local, "the web report links no evidence"
    for href in local:
        target = page.url.join(href)
        assert client.get(target).status_code == 200, href
    assert client.get("/files/reports/wave-99999.html").status_code == 404
    assert client.get(f"/files/reports/wave-{site.seeded.wave_id}.html?lang=xx").status_code == 404


# --- health and metrics -----------------------------------------------------------------------------------


def test_healthz_reports_each_part_and_fails_when_one_does(site: Site) -> None:
    client = site.client()
    healthy = client.get("/healthz")
    assert healthy.status_code == 200, healthy.text
    body = healthy.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True, "imap": True, "scheduler": True, "collect": True}  # fmt: skip
    assert body["checks"]["imap"]["status"] == "reachable"
    assert body["last_collect_at"] is not None and body["last_message_at"] is not None
    assert "127.0.0.1" not in healthy.text and "dana" not in healthy.text  # no host names or user names
    assert "set-cookie" not in healthy.headers

    site.install(imap_port=closed_port())
    down = client.get("/healthz")
    assert down.status_code == 503 and down.json()["checks"]["imap"]["ok"] is False
    site.install()
    site.scheduler.state = FakeHealth(last_collect_at=datetime.now(UTC), last_collect_error="login refused")
    failing = client.get("/healthz")
    assert failing.status_code == 503 and failing.json()["checks"]["collect"]["ok"] is False
    assert "login refused" not in failing.text
    site.scheduler.state = FakeHealth(last_collect_at=datetime.now(UTC) - timedelta(hours=1))
    assert client.get("/healthz").json()["checks"]["collect"]["status"] == "no collect pass for too long"
    site.scheduler.state = FakeHealth(active=False, running=False, lease_owner="other-host:7")
    standby = client.get("/healthz")
    assert standby.status_code == 200 and standby.json()["checks"]["scheduler"]["status"].startswith(
        "standby"
    )
    site.scheduler.state = FakeHealth(active=True, running=False)
    assert client.get("/healthz").status_code == 503


SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+]+|NaN|[+-]Inf)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


def parse_exposition(text: str) -> tuple[dict[str, str], dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    """A strict reader of the text format: every line is HELP, TYPE or a sample, and labels unescape."""
    types: dict[str, str] = {}
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge")
            types[name] = kind
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels_text, value = match.groups()
        assert name in types, f"{name} has no TYPE line before it"
        labels: list[tuple[str, str]] = []
        rest = labels_text or ""
        while rest:
            label = LABEL.match(rest)
            assert label, f"bad labels in {line!r}"
            unescaped = re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), label.group(2))
            labels.append((label.group(1), unescaped))
            rest = rest[label.end() :]
        samples[(name, frozenset(labels))] = float(value)
    return types, samples


def test_metrics_are_prometheus_text_with_escaped_labels(site: Site) -> None:
    with Session(site.engine) as session:
        session.add(Message(source='we"ird\\src\nx', content_key="k" * 64, received_at=SUBMITTED,
                            received_at_source="test", kind="human"))  # fmt: skip
        session.commit()
    site.scheduler.state = FakeHealth(last_collect_at=datetime.now(UTC) - timedelta(seconds=30), job_failures=3,
                                      planned_due=7)  # fmt: skip
    answer = site.client().get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    types, samples = parse_exposition(answer.text)
    assert types["audit_probes_total"] == "counter" and types["audit_scheduler_active"] == "gauge"
    assert samples[("audit_probes_total", frozenset({("outcome", "submitted")}))] == 2
    assert samples[("audit_messages_total", frozenset({("source", "maildir"), ("kind", "human")}))] == 2
    assert (
        samples[("audit_messages_total", frozenset({("source", 'we"ird\\src\nx'), ("kind", "human")}))] == 1
    )
    assert 30 <= samples[("audit_collector_lag_seconds", frozenset())] < 120
    assert samples[("audit_job_failures_total", frozenset())] == 3
    assert samples[("audit_scheduler_active", frozenset())] == 1
    assert samples[("audit_planned_due", frozenset())] == 7
    assert samples[("audit_webhook_spool_pending", frozenset())] == 0


# --- the lifespan -----------------------------------------------------------------------------------------


def test_lifespan_runs_the_spool_worker_and_the_scheduler(site: Site) -> None:
    raw = email(to=f"dana.{TOKEN}@replies.example.org", subject="Re: during the lifespan", body="Hello Dana")

    def count() -> int:
        with Session(site.engine) as session:
            return int(session.exec(select(func.count()).select_from(Message).where(
                col(Message.subject) == "Re: during the lifespan")).one())  # fmt: skip

    async def during() -> None:
        async with site.app.router.lifespan_context(site.app):
            assert site.scheduler.calls == ["start"]
            transport = httpx.ASGITransport(app=site.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://server") as client:
                answer = await client.post("/webhooks/raw", content=raw, headers=raw_webhook_headers(raw))
                assert answer.status_code == 200
            deadline = time.monotonic() + 20
            while count() == 0:  # the worker, started by our lifespan, ingests it
                assert time.monotonic() < deadline, "the spool worker did not run"
                await asyncio.sleep(0.05)
        assert site.scheduler.calls == ["start", "shutdown"]

    asyncio.run(during())
    assert count() == 1


# --- in the real browser ----------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_person_assigns_a_message_and_records_a_call_in_chromium(
    site: Site, browser_host: BrowserHost, tmp_path: Path
) -> None:
    async def session() -> list[str]:
        problems: list[str] = []
        context = await browser_host.browser.new_context(locale="en-US", timezone_id="Asia/Jerusalem")
        try:
            page = await context.new_page()
            page.on(
                "console", lambda message: problems.append(message.text) if message.type == "error" else None
            )
            page.on("pageerror", lambda error: problems.append(str(error)))
            await page.goto(f"{site.base_url}/inbox")
            assert "/login" in page.url
            await page.fill("#password", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url("**/inbox")
            item = page.locator(f"#message-{site.seeded.unmatched}")
            assert EVIL_SUBJECT in await item.inner_text()  # shown as text, not run
            await item.locator("select[name=probe]").select_option(str(site.seeded.globex_probe))
            await item.locator("button[type=submit]").click()
            await page.wait_for_url("**/inbox")
            assert "answers globex GLBX-22" in await page.locator(".flash").inner_text()
            assert await page.locator(f"#message-{site.seeded.unmatched}").count() == 0

            await page.click("text=Add a reply")
            await page.select_option("#probe", str(site.seeded.acme_probe))
            await page.select_option("#channel", "phone")
            await page.fill("#at", "2026-11-22T15:30")
            await page.fill("#note", "Ruth called back about the plans")
            await page.click("button:has-text('Record the reply')")
            await page.wait_for_url(f"**/waves/{site.seeded.wave_id}#company-acme")
            acme = page.locator("#company-acme")
            text = await acme.inner_text()
            assert "Ruth called back about the plans" in text and "2026-11-22 15:30" in text
            assert EVIL_NAME in text
            assert await page.locator("#company-acme img").first.evaluate("img => img.naturalWidth") == 1
            await page.locator("#company-acme details summary").first.click()
            frame = page.frame_locator(f"#message-{site.seeded.matched} iframe")
            assert "Hi Dana" in await frame.locator("body").inner_text()
            await page.screenshot(path=str(tmp_path / "wave.png"), full_page=True)
        finally:
            await context.close()
        return problems

    problems = browser_host.run(session)
    assert problems == []
    with Session(site.engine) as db:
        assigned = db.get(Message, site.seeded.unmatched)
        assert assigned is not None and assigned.probe_id == site.seeded.globex_probe
        call = db.exec(select(Message).where(Message.source == "manual")).one()
        assert (call.channel, call.probe_id) == ("phone", site.seeded.acme_probe)


def test_settings_defaults_trust_only_the_local_proxy() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.web_trusted_proxy == "127.0.0.1" and settings.web_trusted_header is None
