"""Small leaks and 500s (issue 11, part 5), each outcome asserted on the real thing.

A hostile IMAP server that echoes our LOGIN line back (a tiny asyncio server in this file) against `audit
collect`; /healthz with an IMAP server that cannot be reached; huge ids, pages and probe numbers, NUL bytes
and over-long evidence paths against the real app under a real uvicorn (tests/test_web.py's server and site,
on SQLite and PostgreSQL); `{company}` in the inquiry's subject; HSTS over https only.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session

import tests.test_web as web_tests
from audit.cli import cli
from audit.config import parse_config
from audit.logging_setup import REDACTED, SecretRedactor, redact
from audit.models import Message, Probe
from audit.settings import Settings
from audit.targets import build_target
from audit.web import HSTS, create_server_app
from audit.web.health import _reason
from audit.web.views import MAX_ID, MAX_SERVED_PATH_CHARS, served_path
from tests.test_web import FAST_HASH, SESSION_SECRET, Server, Site, closed_port, config_text, csrf_of

# The fixtures of tests/test_web.py (one uvicorn for the module, a fresh app and database per test).
server = web_tests.server
site = web_tests.site
imap_listener = web_tests.imap_listener


# --- the CLI's error line: a server that echoes the password ----------------------------------------------


@dataclass
class EchoingImap:
    """An IMAP server that greets, lists its capabilities and answers every other command with its own
    text: `TAG BAD LOGIN dana "secret"` (or NO), as some servers quote a command they refuse."""

    status: bytes
    port: int = 0
    received: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK IMAP4rev1 ready\r\n")
        while line := await reader.readline():
            self.received.append(line)
            tag, _, command = line.rstrip(b"\r\n").partition(b" ")
            verb = command.split(b" ", 1)[0].upper()
            if verb == b"CAPABILITY":
                writer.write(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
            elif verb == b"LOGOUT":
                writer.write(b"* BYE\r\n" + tag + b" OK bye\r\n")
                break
            else:
                writer.write(tag + b" " + self.status + b" " + command + b"\r\n")
            await writer.drain()
        writer.close()
        await writer.wait_closed()


@contextmanager
def echoing_imap(status: bytes) -> Iterator[EchoingImap]:
    imap = EchoingImap(status)
    loop = asyncio.new_event_loop()
    listening = loop.run_until_complete(asyncio.start_server(imap.handle, "127.0.0.1", 0))
    imap.port = listening.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, name="echoing-imap", daemon=True)
    thread.start()
    try:
        yield imap
    finally:

        async def stop() -> None:
            listening.close()
            await listening.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


COLLECT_CONFIG = """\
audit: {{name: "Echo test"}}
mailbox:
  address: "dana.{{token}}@replies.example.org"
  imap: {{host: 127.0.0.1, port: {port}, tls: false, username: dana, password_env: TEST_ECHO_IMAP_PASSWORD}}
persona: {{first_name: Dana, last_name: Levi, phone: "050-1234567"}}
inquiry: {{subject: "Plans", message: "Do you offer a monthly plan?"}}
companies:
  - {{id: acme, name: Acme, contact_url: "https://acme.example/contact"}}
"""


@pytest.mark.parametrize(
    ("status", "password", "pieces"),
    [
        (b"BAD", "hunter2-imap-secret", ["hunter2"]),
        # imaplib sends it quoted (`"S3cret\"Quote\\Back slash"`) and its error shows it in a bytes repr,
        # backslashes doubled: neither form is the password as read, and the space splits it in two.
        (b"NO", 'S3cret"Quote\\Back slash', ["S3cret", "Quote", "Back", "slash"]),
    ],
)
def test_collect_prints_one_error_line_without_the_password_a_server_echoed(
    tmp_path: Path, status: bytes, password: str, pieces: list[str]
) -> None:
    with echoing_imap(status) as imap:
        config = tmp_path / "c.yaml"
        config.write_text(COLLECT_CONFIG.format(port=imap.port), encoding="utf-8")
        args = ["--data-dir", str(tmp_path / "data"), "collect", "--config", str(config)]
        done = CliRunner().invoke(cli, args, env={"TEST_ECHO_IMAP_PASSWORD": password})
    logins = [line for line in imap.received if b" LOGIN " in line]
    assert logins and all(
        piece.encode() in logins[0] for piece in pieces
    )  # the server did get it, and echoed
    assert done.exit_code == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: IMAP dana@127.0.0.1:{imap.port}: login refused: ")
    assert "[redacted]" in lines[0] and "LOGIN dana" in lines[0]  # the echo is there, its password is not
    for piece in pieces:
        assert piece not in done.stdout + done.stderr, piece


# --- /healthz: no host, no port ---------------------------------------------------------------------------


def install_config(site: Site, server: Server, text: str) -> None:
    """The site's app again, over another companies.yaml."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=site.data_dir,
        database_url=site.engine.url.render_as_string(hide_password=False),
        web_password_hash=FAST_HASH,
        web_session_secret=SESSION_SECRET,
    )
    server.holder.app = create_server_app(settings, parse_config(text), site.engine, scheduler=site.scheduler)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])  # one address; a name (asyncio words it apart)
def test_healthz_with_the_imap_server_unreachable_names_neither_host_nor_port(
    site: Site, server: Server, host: str
) -> None:
    port = closed_port()
    install_config(site, server, config_text(port).replace("host: 127.0.0.1", f"host: {host}"))
    answer = site.client().get("/healthz")
    assert answer.status_code == 503
    imap = answer.json()["checks"]["imap"]
    assert imap["ok"] is False and imap["status"].startswith("unreachable (")
    assert str(port) not in imap["status"]
    assert host not in answer.text and "127.0.0.1" not in answer.text
    assert "Connect call failed" not in answer.text


def test_a_connect_failure_is_worded_without_its_address() -> None:
    refused = ConnectionRefusedError(111, "Connect call failed ('10.1.2.3', 993)")
    assert _reason(refused) == "Connection refused"
    assert _reason(OSError("Multiple exceptions: [Errno 111] Connect call failed ('::1', 993)")) == "OSError"


# --- huge numbers, NUL bytes, long paths: 404 or 400, never 500 -------------------------------------------


def test_huge_ids_and_pages_are_not_found_never_a_500(site: Site) -> None:
    client = site.logged_in()
    wave = site.seeded.wave_id
    # Past 64 bits (SQLite's OverflowError), and past PostgreSQL's 32-bit INTEGER ids ("out of range").
    for number in ("99999999999999999999", "9999999999", str(MAX_ID + 1)):
        for path in (f"/waves/{number}", f"/messages/{number}/html", f"/reports/{number}",
                     f"/files/reports/wave-{number}.html"):  # fmt: skip
            assert client.get(path).status_code == 404, path
    assert client.get(f"/waves/{MAX_ID}").status_code == 404  # the largest id asks the database: no such wave
    assert client.get(f"/waves/{wave}?page=99999999999999").status_code == 404
    assert client.get(f"/waves/{wave}?page=0").status_code == 404
    far = client.get(f"/waves/{wave}?page=1000000")  # in range, past the last page: an empty page
    assert far.status_code == 200


def test_huge_ids_and_probe_numbers_in_forms_are_refused_never_a_500(site: Site) -> None:
    client = site.logged_in()
    token = csrf_of(client.get("/inbox"))
    unmatched = site.seeded.unmatched
    refused = client.post("/inbox/99999999999999999999/assign", data={"probe": "1", "csrf_token": token})
    assert refused.status_code == 400
    assert (
        client.post("/inbox/9999999999/assign", data={"probe": "1", "csrf_token": token}).status_code == 400
    )
    # An all-digit reference is read as a probe number: too large for the column, or a digit int() refuses.
    for number in ("99999999999999999999", "9999999999", "²", "1" * 5000):
        moved = client.post(f"/inbox/{unmatched}/assign", data={"reference": number, "csrf_token": token})
        assert (moved.status_code, moved.headers["location"]) == (303, "/inbox"), number
        assert "there is no probe number" in client.get("/inbox").text
        form = {"probe": number, "channel": "phone", "at": "2026-11-26 14:05", "csrf_token": token}
        answer = client.post("/replies", data=form)
        assert answer.status_code == 400 and "there is no probe number" in answer.text, number
    with Session(site.engine) as session:
        message = session.get(Message, unmatched)
        assert message is not None and message.probe_id is None and not message.assigned_by_hand


def test_nul_bytes_and_over_long_evidence_paths_are_not_found_never_a_500(site: Site) -> None:
    client = site.logged_in()
    shot = f"/files/evidence/wave-{site.seeded.wave_id}/acme-1/before-submit.png"
    assert client.get(shot).status_code == 200  # the folder is served: the refusals below are the paths'
    (site.data_dir / "evidence" / "loop").symlink_to(site.data_dir / "evidence" / "loop")
    for path in ("/files/evidence/a%00b", f"{shot}%00.txt", "/files/evidence/" + "a" * 5000,
                 "/files/evidence/" + "a/" * 2500 + "x.png",
                 "/files/evidence/" + "a" * 300,  # under the length limit, over the file system's 255
                 "/files/raw/%00", "/files/evidence/loop"):  # fmt: skip
        answer = client.get(path)
        assert answer.status_code == 404, path[:60]
        assert "There is nothing at this address." in answer.text


def test_served_path_refuses_what_the_file_system_would_fail_on(tmp_path: Path) -> None:
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "ok.txt").write_text("ok", encoding="utf-8")
    assert served_path(tmp_path, "evidence/ok.txt") == (tmp_path / "evidence" / "ok.txt").resolve()
    assert served_path(tmp_path, "evidence/ok.txt\x00") is None
    assert served_path(tmp_path, "evidence/" + "a" * 300) is None  # ENAMETOOLONG from the file system
    assert served_path(tmp_path, "evidence/" + "a/" * (MAX_SERVED_PATH_CHARS // 2)) is None
    (tmp_path / "evidence" / "loop").symlink_to(tmp_path / "evidence" / "loop")
    assert served_path(tmp_path, "evidence/loop") is None  # a symlink loop


# --- the inquiry's subject ---------------------------------------------------------------------------------

SUBJECT_CONFIG = """\
audit: {name: subject-test}
mailbox: {address: "dana.{token}@replies.example.org"}
persona: {first_name: Dana, last_name: Levi, phone: "050-1234567"}
inquiry:
  subject: "Question for {company}, from {first_name} {last_name} ({ref})"
  message: "Hello {company}, do you offer a monthly plan?"
companies:
  - {id: acme, name: Acme Ltd, contact_url: "https://acme.example/contact"}
  - {id: braces, name: "Braces {ref} & {first_name} Inc", contact_url: "https://braces.example/contact"}
"""


def test_the_subject_has_its_placeholders_filled_in(tmp_path: Path) -> None:
    config = parse_config(SUBJECT_CONFIG)

    def target(index: int, ref: str) -> tuple[str, str]:
        company = config.companies[index]
        probe = Probe(wave_id=1, company_id=company.id, token="k7q29fxm3", ref_code=ref,
                      reply_address="dana.k7q29fxm3@replies.example.org", contact_url=company.contact_url)  # fmt: skip
        built = build_target(config, company, probe, evidence_dir=tmp_path, dry_run=True)
        return built.inquiry.subject, built.inquiry.message

    subject, message = target(0, "K7Q2-9F")
    assert subject == "Question for Acme Ltd, from Dana Levi (K7Q2-9F)"
    assert message == "Hello Acme Ltd, do you offer a monthly plan?\n\nRef: K7Q2-9F"
    # A company's name is filled in as written: braces in it are not placeholders.
    subject, _ = target(1, "ZZ11-22")
    assert subject == "Question for Braces {ref} & {first_name} Inc, from Dana Levi (ZZ11-22)"


# --- HSTS ----------------------------------------------------------------------------------------------------


def test_hsts_only_on_responses_that_went_out_over_https(site: Site) -> None:
    https = {"X-Forwarded-Proto": "https"}
    client = site.client()
    for path in ("/login", "/healthz", "/waves"):  # a page, an open path, a redirect to the login
        assert client.get(path, headers=https).headers["strict-transport-security"] == HSTS, path
        assert "strict-transport-security" not in client.get(path).headers, path
    assert HSTS == "max-age=31536000"
    # X-Forwarded-Proto from an address that is not the configured proxy is not believed.
    site.install(web_trusted_proxy="10.9.9.9")
    assert "strict-transport-security" not in client.get("/login", headers=https).headers


def test_the_redactor_knows_a_secret_in_the_forms_imap_and_bytes_reprs_print_it() -> None:
    secret = "S3cret\"Quote\\Back 'slash"
    redactor = SecretRedactor([secret])
    quoted = secret.replace("\\", "\\\\").replace('"', '\\"')  # as imaplib sends it in LOGIN
    spellings = (quoted, str(secret.encode()), str(quoted.encode()), str([quoted.encode()]))
    assert not any(secret in shown for shown in spellings)  # a search for the secret as read misses each
    for shown in (secret, *spellings):
        cleaned = redactor.redact(f"refused: {shown} (try again)")
        assert cleaned.startswith("refused: ") and cleaned.endswith(" (try again)") and REDACTED in cleaned
        assert not any(piece in cleaned for piece in ("S3cret", "Quote", "Back", "slash")), shown
    # A password never read (another account's, say) in an echoed LOGIN goes by its shape.
    assert redact('a001 BAD LOGIN ruth "never-read-pw"') == f"a001 BAD LOGIN ruth {REDACTED}"
    assert redact("LOGIN command error: BAD") == "LOGIN command error: BAD"  # imaplib's words stay
