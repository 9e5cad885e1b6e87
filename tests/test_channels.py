"""The email channel through the runner: a real SMTP server (aiosmtpd on 127.0.0.1), the real database, the
write-ahead rule under kill -9, bounces graded as not reached, and a wave that used both channels.

The SMTP server's handler records every command it was sent, so "never twice" is checked from the server's
side, as the form tests check it from the sites' request logs.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from rich.console import Console
from sqlmodel import Session, select

import audit.email_probe
from audit.collect.sources import collect_once
from audit.config import AuditConfig, parse_config
from audit.db import open_database
from audit.demo.farm import RunningFarm
from audit.grading import grade_wave
from audit.models import Channel, Message, Probe, ProbeState
from audit.reporting import build_report_from_db
from audit.reporting.export import probe_rows
from audit.runner import RunOptions, run_wave
from audit.settings import Settings
from audit.status import render_status
from tests.conftest import BrowserHost
from tests.dovecot import free_port


@dataclass
class Handler:
    """An SMTP server that answers as told: refuse the first N RCPTs (451 or 550), stall in DATA, accept."""

    refuse_rcpt: list[str] = field(default_factory=list)  # replies for the next RCPTs, then 250
    data_delay_s: float = 0.0
    commands: list[str] = field(default_factory=list)
    messages: list[tuple[str, list[str], bytes, float]] = field(default_factory=list)
    in_data: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.commands.append(f"RCPT {address}")
        if self.refuse_rcpt:
            return self.refuse_rcpt.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.commands.append("DATA")
        self.in_data.set()
        if self.data_delay_s:
            await asyncio.sleep(self.data_delay_s)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content, time.time()))
        return "250 2.0.0 Ok: queued as 4XyZ12AbC"


@pytest.fixture
def smtp() -> Any:
    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def config_text(port: int, companies: str, *, maildir: Path | None = None, name: str = "Email test") -> str:
    mail = f'\n  maildir: "{maildir.as_posix()}"' if maildir else ""
    return f"""\
audit: {{name: "{name}", timezone: Asia/Jerusalem, probe_timeout: 60s, allow_private_targets: true}}
mailbox:
  address: "dana.{{token}}@replies.example.org"
  smtp: {{host: 127.0.0.1, port: {port}, security: none, from_address: "dana@replies.example.org"}}{mail}
persona: {{first_name: Dana, last_name: Levi, phone: "050-1234567"}}
inquiry: {{subject: "Monthly plans at {{company}}", message: "Hello {{company}}, do you offer a monthly plan?"}}
companies:
{companies}
"""


EMAIL_ONLY = '  - {id: mailco, name: "Mail Co", email: "service@mailco.example"}'


def run(settings: Settings, config: AuditConfig, browser: Any = None, **options: Any) -> Any:
    engine = open_database(settings.resolved_database_url())
    try:
        if browser is None:
            return asyncio.run(
                run_wave(settings=settings, config=config, engine=engine, options=RunOptions(**options))
            )
        return browser.run(
            run_wave, settings=settings, config=config, engine=engine, options=RunOptions(**options),
            browser=browser.browser,
        )  # fmt: skip
    finally:
        engine.dispose()


def probes(settings: Settings) -> list[Probe]:
    engine = open_database(settings.resolved_database_url())
    with Session(engine) as session:
        rows = list(session.exec(select(Probe).order_by(Probe.id)).all())  # type: ignore[arg-type]
    engine.dispose()
    return rows


def test_an_email_inquiry_is_sent_once_from_the_reply_address(
    smtp: Any, database_url: str, tmp_path: Path
) -> None:
    handler, port = smtp
    config = parse_config(config_text(port, EMAIL_ONLY))
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    before = time.time()
    report = run(settings, config)
    after = time.time()

    [probe] = probes(settings)
    assert (
        probe.channel == Channel.EMAIL
        and probe.outcome == "submitted"
        and probe.contact_url == "mailto:service@mailco.example"
    )
    assert probe.submitted_at_source == "smtp" and probe.submit_started_at is not None
    assert probe.submit_started_at <= probe.submitted_at  # type: ignore[operator]
    [(mail_from, rcpt_tos, content, handled_at)] = handler.messages
    assert mail_from == probe.reply_address and rcpt_tos == ["service@mailco.example"]
    assert before <= probe.submitted_at.timestamp() <= after  # type: ignore[union-attr]
    assert probe.submitted_at.timestamp() >= handled_at - 0.001  # type: ignore[union-attr]  # after the 250
    sent = email.message_from_bytes(content, policy=email.policy.default)
    assert probe.reply_address in str(sent["From"]) and sent["Subject"] == "Monthly plans at Mail Co"
    assert str(sent["Message-ID"]).endswith("@replies.example.org>")
    body = sent.get_body(("plain",))
    assert body is not None and f"Ref: {probe.ref_code}" in body.get_content()
    evidence = tmp_path / str(probe.evidence_dir)
    assert (evidence / "inquiry.eml").read_bytes().count(probe.ref_code.encode()) >= 1
    assert report.outcomes == {"mailco/email": "submitted"}

    again = run(settings, config)
    assert again.already_done and len(handler.messages) == 1 and handler.commands.count("DATA") == 1


def test_a_temporary_refusal_is_tried_again_and_a_permanent_one_is_not(
    smtp: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, port = smtp
    monkeypatch.setattr(audit.email_probe, "FIRST_RETRY_S", 0.05)
    handler.refuse_rcpt = ["451 4.7.1 Greylisted, try again later"]
    companies = EMAIL_ONLY + '\n  - {id: goneco, name: "Gone Co", email: "nobody@goneco.example"}'
    config = parse_config(config_text(port, companies))
    settings = Settings(data_dir=tmp_path)

    run(settings, config, only=("mailco",))
    handler.refuse_rcpt = ["550 5.1.1 <nobody@goneco.example>: Recipient address rejected: User unknown"]
    run(settings, config, only=("goneco",))

    by_company = {probe.company_id: probe for probe in probes(settings)}
    assert by_company["mailco"].outcome == "submitted" and by_company["mailco"].attempts == 2
    gone = by_company["goneco"]
    assert gone.outcome == "error" and gone.detail == "EMAIL_REFUSED" and gone.attempts == 1
    assert "550" in (gone.reason or "") and "User unknown" in (gone.reason or "")
    assert gone.submit_started_at is None  # nothing went out: --retry may try again
    assert [rcpts for _, rcpts, _, _ in handler.messages] == [["service@mailco.example"]]


def test_a_run_killed_between_data_and_the_commit_is_uncertain_and_never_resent(
    smtp: Any, tmp_path: Path
) -> None:
    handler, port = smtp
    handler.data_delay_s = 30.0  # the server holds the message; the run is killed while it waits
    config_file = tmp_path / "companies.yaml"
    config_file.write_text(config_text(port, EMAIL_ONLY), encoding="utf-8")
    data_dir = tmp_path / "data"
    command = [
        sys.executable,
        "-m",
        "audit",
        "--data-dir",
        str(data_dir),
        "run",
        "--config",
        str(config_file),
    ]
    env = {**os.environ, "AUDIT_DATABASE_URL": ""}
    env.pop("AUDIT_DATABASE_URL")
    log = (tmp_path / "run.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert handler.in_data.wait(60), "the run never reached DATA"
        settings = Settings(data_dir=data_dir)
        [probe] = probes(settings)
        assert probe.state == ProbeState.SUBMIT_STARTED  # the write-ahead record was committed first
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    handler.data_delay_s = 0.0

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    [probe] = probes(Settings(data_dir=data_dir))
    assert probe.outcome == "uncertain" and "never re-sent" in (probe.reason or "")
    assert handler.commands.count("DATA") == 1  # the killed run's; the rerun sent nothing


POSTFIX_BOUNCE = """\
Return-Path: <>
From: MAILER-DAEMON@mail.mailco.example (Mail Delivery System)
To: {address}
Subject: Undelivered Mail Returned to Sender
Date: {date}
Message-ID: <20261207.bounce@mail.mailco.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system at host mail.mailco.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<service@mailco.example>: host mx.mailco.example said: 550 5.1.1 User unknown

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.mailco.example

Final-Recipient: rfc822; service@mailco.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--B--
"""


def test_a_bounced_email_inquiry_is_graded_not_reached_with_the_servers_reason(
    smtp: Any, tmp_path: Path
) -> None:
    _, port = smtp
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    config = parse_config(config_text(port, EMAIL_ONLY, maildir=maildir))
    settings = Settings(data_dir=tmp_path / "data")
    report = run(settings, config)
    [probe] = probes(settings)
    bounce = POSTFIX_BOUNCE.format(
        address=probe.reply_address, date=email.utils.format_datetime(datetime.now(UTC))
    )
    (maildir / "new" / "1.bounce").write_text(bounce.replace("\n", "\r\n"), encoding="ascii")

    engine = open_database(settings.resolved_database_url())
    try:
        collect_once(engine, config, data_dir=settings.data_dir)
        with Session(engine) as session:
            [message] = session.exec(select(Message)).all()
            assert message.kind == "bounce" and message.probe_id == probe.id
            grades = grade_wave(session, config, report.wave_id, persist=False)
    finally:
        engine.dispose()
    [company] = grades.companies
    [graded] = company.probes
    assert graded.channel == "email" and not graded.reached and company.tier.value == "not_reached"
    assert graded.not_reached_reason is not None and graded.not_reached_reason.startswith("the email bounced")


@pytest.mark.browser
def test_a_company_without_a_form_is_written_to_by_email_and_the_wave_compares_channels(
    smtp: Any, farm: RunningFarm, browser_host: BrowserHost, tmp_path: Path
) -> None:
    handler, port = smtp
    companies = "\n".join([
        f'  - {{id: plainco, name: "Plain Co", contact_url: "{farm.url("plain")}", email: "hi@plain.example",'
        " channels: [form, email]}",
        f'  - {{id: noformco, name: "No Form Co", contact_url: "{farm.url("noform")}",'
        ' email: "hi@noform.example", email_fallback: true}',
    ])  # fmt: skip
    config = parse_config(config_text(port, companies))
    settings = Settings(data_dir=tmp_path)
    report = run(settings, config, browser=browser_host)

    rows = {(probe.company_id, probe.channel): probe for probe in probes(settings)}
    assert {key: probe.outcome for key, probe in rows.items()} == {
        ("plainco", "form"): "submitted",
        ("plainco", "email"): "submitted",
        ("noformco", "form"): "no_form",
        ("noformco", "email"): "submitted",
    }
    assert rows[("noformco", "email")].seq == 2 and len(farm.submissions_for("plain")) == 1
    assert sorted(rcpts[0] for _, rcpts, _, _ in handler.messages) == [
        "hi@noform.example",
        "hi@plain.example",
    ]

    again = run(settings, config, browser=browser_host)  # the fallback is never planned twice
    assert again.already_done and len(handler.messages) == 2

    engine = open_database(settings.resolved_database_url())
    try:
        with Session(engine) as session:
            grades = grade_wave(session, config, report.wave_id, persist=False)
            data = build_report_from_db(session, config, report.wave_id, as_of=None, lang="en")
    finally:
        engine.dispose()
    assert sorted(str(row["channel"]) for row in probe_rows(grades)) == ["email", "email", "form", "form"]
    assert [row.channel for row in data.channels] == ["by contact form", "by email"]
    assert [row.inquiries for row in data.channels] == [2, 2]
    assert {row.channel for row in data.ranking} <= {"by contact form", "by email"}

    console = Console(record=True, width=200)
    engine = open_database(settings.resolved_database_url())
    try:
        render_status(console, engine, wave_id=report.wave_id, timezone="Asia/Jerusalem")
    finally:
        engine.dispose()
    lines = console.export_text().splitlines()
    assert "Channel" in lines[1] + lines[2]
    assert sum(1 for line in lines if "No Form Co" in line and "email" in line and "submitted" in line) == 1


def test_check_says_how_the_companies_would_be_reached(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from audit.cli import cli

    companies = "\n".join([
        EMAIL_ONLY,
        '  - {id: siteco, name: "Site Co", website: "https://www.siteco.example"}',
        '  - {id: bothco, name: "Both Co", website: "https://both.example", email: "hi@both.example",'
        " email_fallback: true}",
    ])  # fmt: skip
    config_file = tmp_path / "companies.yaml"
    config_file.write_text(config_text(2525, companies), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["--data-dir", str(tmp_path / "d"), "check", "--config", str(config_file)]
    )
    assert result.exit_code == 0, result.output
    assert "3 companies to probe" in result.output
    assert "2 contact page(s) to find from the website" in result.output
    assert "1 inquiry(ies) by email" in result.output and "1 email fallback(s)" in result.output
