"""`audit serve` as an operator runs it: a real subprocess, the local sites, the real Dovecot, an SMTP sink,
SIGKILL.

One wave with a schedule measured in seconds goes from cron firing to emailed report while the server is
killed with SIGKILL three times (mid-wave, mid-collect, mid-report) and restarted; the replies are APPENDed to
the Dovecot user's INBOX and Junk, which the server reads over IMAP (with its IDLE wake-ups). What the sites
received, the messages and IMAP checkpoints stored and the emails that arrived say that nothing was lost and
nothing was done twice. A second server against the same database refuses to schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from audit.db import open_database
from audit.demo.farm import RunningFarm
from audit.models import (
    ImapCheckpoint,
    Message,
    PlannedSubmission,
    Probe,
    ProbeState,
    ReportDelivery,
    ScheduledWave,
)
from tests.dovecot import DovecotServer

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
SITES = {"plainco": "plain", "wordco": "cf7", "confirmco": "confirm", "slowco": "slow"}
# Enough INBOX replies that reading them takes several 50-message batches (the IMAP source commits each batch
# with its checkpoint), so the pass can be killed between two of them; a few more land in Junk.
INBOX_REPLIES, JUNK_REPLIES = 360, 40
REPLIES = INBOX_REPLIES + JUNK_REPLIES
# The name deploy/audit.env uses; Server puts it in the subprocess's environment.
IMAP_PASSWORD_ENV = "AUDIT_IMAP_PASSWORD"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], what: str, *, timeout: float, server: Server | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if server is not None:
            server.assert_alive()
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{server.output()}" if server else ""))


class SmtpSink:
    """An aiosmtpd handler keeping every accepted message; it can hold the first delivery at RCPT (before
    the server has accepted anything) until the test releases it, to kill the client mid-conversation."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.hold_first = False
        self.holding = threading.Event()
        self._held_once = False
        self._release: asyncio.Event | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.hold_first and not self._held_once:
            self._held_once = True
            self._release = asyncio.Event()
            self.holding.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), timeout=60)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(bytes(envelope.content))
        return "250 Message accepted for delivery"

    def release(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._release is not None:
            loop.call_soon_threadsafe(self._release.set)


@pytest.fixture
def smtp_sink() -> Iterator[tuple[SmtpSink, Controller]]:
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield sink, controller
    finally:
        sink.release(controller.loop)
        controller.stop()


class Server:
    """One `python -m audit serve` process, its output in a file."""

    def __init__(self, workdir: Path, config: Path, name: str, secrets: dict[str, str]) -> None:
        self.port = free_port()
        self.log_path = workdir / f"{name}.log"
        # Only what the test chooses: nothing from the developer's own AUDIT_* settings leaks in.
        env = {key: value for key, value in os.environ.items() if not key.startswith("AUDIT_")}
        env["AUDIT_DATA_DIR"] = str(workdir / "data")
        env.update(secrets)
        command = [sys.executable, "-m", "audit", "serve", "--config", str(config), "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*command, "--log-format", "json"], env=env, stdout=log, stderr=subprocess.STDOUT,
                cwd=workdir, start_new_session=True,
            )  # fmt: skip

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def assert_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"audit serve exited early ({self.process.returncode}):\n{self.output()}")

    def health(self) -> dict[str, Any] | None:
        try:
            response = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=5)
        except httpx.TransportError:
            return None
        return dict(response.json())

    def wait_ready(self) -> dict[str, Any]:
        body: dict[str, Any] = wait_for(self.health, "/healthz", timeout=60, server=self)
        return body

    def kill(self) -> None:
        """SIGKILL, as a power cut or the OOM killer would: no shutdown code runs."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, as systemd stops it: a graceful shutdown (uvicorn then re-raises the signal)."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=120)
        assert code in (0, -signal.SIGTERM), self.output()
        assert any(line["message"] == "Application shutdown complete." for line in self.log_lines())

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.output().splitlines() if line.startswith("{")]

    def errors(self) -> list[dict[str, Any]]:
        """Every ERROR line: a plain SIGTERM must not log one (a scheduler firing cancelled at shutdown did)."""
        return [line for line in self.log_lines() if line["level"] == "error"]


def write_config(
    path: Path, farm: RunningFarm, *, dovecot: DovecotServer, user: str, smtp_port: int, fire_at: datetime
) -> None:
    companies = "\n".join(
        f'  - {{id: {company}, name: "{company.title()} Ltd", contact_url: "{farm.host_url(f"{company}.localhost", site)}"}}'
        for company, site in SITES.items()
    )
    cron = f"{fire_at.second} {fire_at.minute} {fire_at.hour} * * *"  # once, today, at that second (UTC)
    path.write_text(
        f"""\
audit: {{name: "Serve test", timezone: UTC, deadline: 30s, concurrency: 2, probe_timeout: 45s,
        allow_private_targets: true}}
mailbox:
  address: "dana.{{token}}@replies.example.org"
  imap: {{host: "{dovecot.host}", port: {dovecot.port}, tls: false, starttls: false, username: "{user}",
         password_env: {IMAP_PASSWORD_ENV}, folders: [INBOX, Junk]}}
persona: {{first_name: Dana, last_name: Levi, phone: "050-1234567"}}
inquiry: {{subject: "Monthly plans", message: "Hello {{company}}, do you offer a monthly plan? Thanks, Dana"}}
report:
  recipients: [board@example.org]
  smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none, from_address: audit@example.org, timeout: 90s}}
schedule:
  cron: "{cron}"
  window: 6s
  working_hours_only: false
  jitter: 1s
  min_gap_same_company: 1s
  collect_every: 2s
companies:
{companies}
""",
        encoding="utf-8",
    )


def scalar(engine: Engine, statement: Any) -> Any:
    with Session(engine) as session:
        return session.exec(statement).one()


def stored(engine: Engine, folder: str | None = None) -> int:
    statement = select(func.count()).select_from(Message)
    if folder is not None:
        statement = statement.where(Message.folder == folder)
    return int(scalar(engine, statement))


def reply(probe: Probe, number: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Ruth Cohen <ruth@{probe.company_id}.example>"
    message["To"] = probe.reply_address
    message["Subject"] = f"Re: Monthly plans (Ref: {probe.ref_code})"
    message["Message-ID"] = f"<reply-{number}-{probe.id}@{probe.company_id}.example>"
    message["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    message.set_content(f"Hello Dana,\n\nYes, we offer monthly plans ({number}).\n\nBest regards,\nRuth\n")
    return bytes(message)


def test_serve_survives_sigkill_mid_wave_mid_collect_and_mid_report(
    farm: RunningFarm, dovecot: DovecotServer, smtp_sink: tuple[SmtpSink, Controller], tmp_path: Path
) -> None:
    sink, controller = smtp_sink
    dovecot.start()  # a no-op unless an earlier test left the session's server stopped
    user = dovecot.add_user(password=f"serve-{uuid.uuid4().hex}")  # unique, to look for it in the logs
    secrets = {IMAP_PASSWORD_ENV: dovecot.passwords[user]}
    config = tmp_path / "companies.yaml"
    fire_at = (datetime.now(UTC) + timedelta(seconds=12)).replace(microsecond=0)
    write_config(config, farm, dovecot=dovecot, user=user, smtp_port=controller.port, fire_at=fire_at)
    engine = open_database(f"sqlite:///{tmp_path / 'data' / 'audit.db'}")
    servers: list[Server] = []

    def start(name: str) -> Server:
        server = Server(tmp_path, config, name, secrets)
        servers.append(server)
        server.wait_ready()
        return server

    previous_slow, farm.slow_seconds = farm.slow_seconds, 60.0
    try:
        # 1. The cron fires, the wave is planned; kill -9 while the slow site holds a submitted form.
        first = start("first")
        wait_for(lambda: farm.submissions_for("slow"), "the slow site's submission", timeout=90, server=first)
        planned = scalar(engine, select(func.count()).select_from(PlannedSubmission))
        assert planned == len(SITES)
        slow_state = scalar(engine, select(Probe.state).where(Probe.company_id == "slowco"))
        assert slow_state == ProbeState.SUBMIT_STARTED
        first.kill()
        farm.slow_seconds = previous_slow

        # 2. Restart: the wave goes on; the interrupted submission is never resent.
        second = start("second")
        # A second server against the same database refuses to schedule, and says so.
        other = start("other")
        health = other.wait_ready()
        assert health["scheduler"]["active"] is False
        assert second.wait_ready()["scheduler"]["active"] is True
        refusal = [line for line in other.log_lines() if "will not schedule" in line["message"]]
        assert len(refusal) == 1 and refusal[0]["level"] == "warning"
        other.stop()
        wait_for(
            lambda: scalar(engine, select(func.count()).where(PlannedSubmission.status == "planned")) == 0,
            "every planned submission done",
            timeout=120,
            server=second,
        )
        assert scalar(engine, select(func.count()).where(Probe.state != ProbeState.FINISHED)) == 0

        # 3. Replies arrive in INBOX and Junk; kill -9 in the middle of reading INBOX.
        with Session(engine) as session:
            probes = session.exec(select(Probe).order_by(col(Probe.id))).all()
        arrived = datetime.now(UTC)
        mail = [(reply(probes[number % len(probes)], number), arrived) for number in range(REPLIES)]
        # One MULTIAPPEND per folder, and Dovecot commits a MULTIAPPEND as one transaction: INBOX shows all
        # its replies at once (its IDLE wakes the collect job), so a count strictly between none and all of
        # them can only be seen while a pass is reading INBOX, between two of its committed batches.
        dovecot.append_many(user, "INBOX", mail[:INBOX_REPLIES])
        dovecot.append_many(user, "Junk", mail[INBOX_REPLIES:])
        wait_for(
            lambda: 0 < stored(engine, "INBOX") < INBOX_REPLIES,
            "a collect pass half-way through INBOX",
            timeout=90,
            server=second,
        )
        second.kill()
        inbox_at_kill = stored(engine, "INBOX")
        assert 0 < inbox_at_kill < INBOX_REPLIES and stored(engine) < REPLIES
        # The checkpoint was committed with the messages: it names the last UID stored, no more, no less (a
        # fresh mailbox numbers its messages 1, 2, 3, ... in the order appended).
        inbox_checkpoint = scalar(engine, select(ImapCheckpoint).where(ImapCheckpoint.folder == "INBOX"))
        inbox_uids = scalar(engine, select(func.max(Message.uid)).where(Message.folder == "INBOX"))
        assert inbox_checkpoint.last_uid == inbox_uids == inbox_at_kill

        # 4. Restart: collection completes; the deadline passes; kill -9 in the middle of the SMTP conversation.
        sink.hold_first = True
        third = start("third")
        wait_for(lambda: stored(engine) == REPLIES, "every reply stored", timeout=120, server=third)
        wait_for(sink.holding.is_set, "the report's SMTP conversation", timeout=120, server=third)
        assert scalar(engine, select(ReportDelivery.state)) == "sending"
        third.kill()
        sink.release(controller.loop)
        assert sink.messages == []

        # 5. Restart: the interrupted email is sent again, once.
        fourth = start("fourth")
        wait_for(lambda: sink.messages, "the report email", timeout=60, server=fourth)
        wait_for(
            lambda: scalar(engine, select(ReportDelivery.state)) == "sent", "delivery recorded", timeout=30
        )
        time.sleep(3)  # three more ticks: nothing else may go out
        fourth.stop()
    finally:
        farm.slow_seconds = previous_slow
        for server in servers:
            if server.process.poll() is None:
                server.kill()

    # Exactly one report email, readable, to the configured recipient.
    assert len(sink.messages) == 1
    email = message_from_bytes(sink.messages[0], policy=policy.default)
    assert email["To"] == "board@example.org" and email.get_content_type() == "multipart/alternative"
    # Each company's form received at most one submission; every probe that says "submitted" exactly one.
    with Session(engine) as session:
        probes = session.exec(select(Probe)).all()
        scheduled = session.exec(select(ScheduledWave)).all()
        messages = session.exec(select(Message)).all()
        planned_rows = session.exec(select(PlannedSubmission)).all()
        checkpoints = session.exec(select(ImapCheckpoint)).all()
    engine.dispose()
    assert len(scheduled) == 1 and scheduled[0].closed_at is not None and len(probes) == len(SITES)
    assert {probe.wave_id for probe in probes} == {scheduled[0].wave_id}
    assert {row.status for row in planned_rows} == {"done"}
    received = farm.submissions
    for probe in probes:
        copies = [sub for sub in received if probe.reply_address in sub.fields.values()]
        assert len(copies) <= 1, probe.company_id
        if probe.outcome == "submitted":
            assert len(copies) == 1, probe.company_id
    slow = next(probe for probe in probes if probe.company_id == "slowco")
    assert slow.outcome == "uncertain" and len(farm.submissions_for("slow")) == 1
    # Another probe may have been in flight at the kill too (uncertain, never resent); the rest went out.
    assert sum(1 for probe in probes if probe.outcome == "submitted") >= 2
    assert {probe.outcome for probe in probes} <= {"submitted", "uncertain"}
    # No reply lost, none stored twice: each UID of each folder once, each Message-ID once, all matched.
    assert len(messages) == REPLIES
    assert {message.source for message in messages} == {"imap"}
    assert {(message.folder, message.uid) for message in messages} == {
        *(("INBOX", uid) for uid in range(1, INBOX_REPLIES + 1)),
        *(("Junk", uid) for uid in range(1, JUNK_REPLIES + 1)),
    }
    assert len({message.message_id for message in messages}) == REPLIES
    assert all(message.probe_id is not None for message in messages)
    assert {(row.account, row.folder, row.last_uid) for row in checkpoints} == {
        (f"{user}@{dovecot.host}", "INBOX", INBOX_REPLIES),
        (f"{user}@{dovecot.host}", "Junk", JUNK_REPLIES),
    }
    # The interrupted delivery was logged as such by the server that resent it.
    assert any("sent again (at-least-once)" in line["message"] for line in fourth.log_lines())
    for server in servers:
        assert not server.errors(), server.output()
    # The password reached the servers through the environment only, and no log line shows it.
    assert all(dovecot.passwords[user] not in server.output() for server in servers)


def test_serve_refuses_a_bad_config_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "companies.yaml"
    config.write_text(
        (REPO / "companies.yaml").read_text(encoding="utf-8") + "schedule: {cron: 'not a cron x'}\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("AUDIT_")}
    env["AUDIT_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "audit", "serve", "--config", str(config), "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "schedule.cron" in done.stderr and "Traceback" not in done.stderr
