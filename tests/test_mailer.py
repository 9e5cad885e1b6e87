"""The report email through a real SMTP server (aiosmtpd on 127.0.0.1), parsed back with the email package;
and the export in both formats, parsed back with the csv and json modules.
"""

from __future__ import annotations

import csv
import email
import io
import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from audit.config import SmtpSection
from audit.errors import MailError
from audit.grading.types import Tier
from audit.mailer import send_report_email
from audit.reporting.data import ReportData, WaveFacts, build_report_data
from audit.reporting.export import PROBE_COLUMNS, write_csv, write_json
from tests.report_fixtures import HOSTILE_NAME, make_config, make_previous_wave, make_wave, parse

PASSWORD = "s3cret-Pa55-for-the-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    """What the SMTP server got: each message's envelope, raw bytes and whether its session logged in."""

    messages: list[tuple[str, list[str], bytes, bool]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.content, session.authenticated)
        )
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = data.login.decode(), data.password.decode()
        self.logins.append((user, password))
        return AuthResult(success=(user, password) == ("reports", PASSWORD), handled=False)


@dataclass
class SmtpServer:
    port: int
    received: Received


def _serve(received: Received, **options: Any) -> Iterator[SmtpServer]:
    port = free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield SmtpServer(port, received)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    yield from _serve(Received())


@pytest.fixture
def smtp_auth_server() -> Iterator[SmtpServer]:
    # AUTH offered without TLS (the test has no certificate), and not required: aiosmtpd warns about
    # requiring AUTH without TLS, and warnings are errors here.
    received = Received()
    yield from _serve(received, authenticator=received.authenticate, auth_require_tls=False)


def smtp_section(port: int, **changes: Any) -> SmtpSection:
    base = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": "audit@example.org",
        "timeout": 10,
    }
    return SmtpSection.model_validate({**base, **changes})


@pytest.fixture(scope="module")
def report() -> ReportData:
    grades = make_wave(hostile=True)
    return build_report_data(
        grades,
        make_previous_wave(),
        WaveFacts(generated_at=datetime(2026, 12, 1, tzinfo=UTC)),
        make_config(),
        lang="en",
    )


def _parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


def test_the_report_arrives_as_multipart_alternative(smtp_server: SmtpServer, report: ReportData) -> None:
    send_report_email(report, smtp_section(smtp_server.port), ["board@example.org", "cx@example.org"])
    [(sender, recipients, raw, _)] = smtp_server.received.messages
    assert sender == "audit@example.org"
    assert recipients == ["board@example.org", "cx@example.org"]
    message = _parsed(raw)
    assert message["Subject"] == report.subject
    assert message["Subject"].endswith("4 fast, 14 reasonable, 3 slow or lacking, 20 no reply")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    text, html = (part.get_content() for part in parts)
    assert report.headline.sentence.split(";")[0] in " ".join(text.split())
    page = parse(html)
    assert page.tags("script") == [] and page.tags("style") == [] and page.tags("img") == []
    assert not [name for _, attrs in page.elements for name in attrs if name.startswith("on")]
    styled = [tag for tag, attrs in page.elements if "style" in attrs]
    assert {"body", "h1", "h2", "td", "p"} <= set(styled)
    assert HOSTILE_NAME not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in text and "‹script›alert(1)‹/script›" in text


def test_login_uses_the_password_from_the_environment_and_never_logs_it(
    smtp_auth_server: SmtpServer,
    report: ReportData,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AUDIT_TEST_SMTP_PASSWORD", PASSWORD)
    smtp = smtp_section(smtp_auth_server.port, username="reports", password_env="AUDIT_TEST_SMTP_PASSWORD")
    with caplog.at_level(logging.DEBUG):
        send_report_email(report, smtp, ["board@example.org"])
    assert smtp_auth_server.received.logins == [("reports", PASSWORD)]
    [(_, _, _, authenticated)] = smtp_auth_server.received.messages
    assert authenticated
    assert "report email sent to 1 recipient(s)" in caplog.text
    out, err = capsys.readouterr()
    assert PASSWORD not in caplog.text + out + err

    monkeypatch.setenv("AUDIT_TEST_SMTP_PASSWORD", "wrong-" + PASSWORD)
    caplog.clear()
    with caplog.at_level(logging.DEBUG), pytest.raises(MailError) as failure:
        send_report_email(report, smtp, ["board@example.org"])
    message = str(failure.value)
    assert message.startswith(
        f"the SMTP server 127.0.0.1:{smtp_auth_server.port} refused the login for reports"
    )
    assert "$AUDIT_TEST_SMTP_PASSWORD" in message
    out, err = capsys.readouterr()
    assert PASSWORD not in message + caplog.text + out + err
    assert len(smtp_auth_server.received.messages) == 1


def test_a_missing_password_variable_is_one_clear_line(
    report: ReportData, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUDIT_TEST_SMTP_PASSWORD", raising=False)
    smtp = smtp_section(free_port(), username="reports", password_env="AUDIT_TEST_SMTP_PASSWORD")
    with pytest.raises(MailError, match=r"names \$AUDIT_TEST_SMTP_PASSWORD, which is not set"):
        send_report_email(report, smtp, ["board@example.org"])


def test_starttls_required_but_not_offered(smtp_server: SmtpServer, report: ReportData) -> None:
    with pytest.raises(MailError, match=r"does not offer STARTTLS; set report\.smtp\.security"):
        send_report_email(report, smtp_section(smtp_server.port, security="starttls"), ["board@example.org"])
    assert smtp_server.received.messages == []


def test_an_unreachable_server_and_bad_recipients(report: ReportData) -> None:
    with pytest.raises(MailError, match=r"cannot reach the SMTP server 127\.0\.0\.1:\d+"):
        send_report_email(report, smtp_section(free_port()), ["board@example.org"])
    with pytest.raises(MailError, match="no recipients"):
        send_report_email(report, smtp_section(free_port()), [])
    with pytest.raises(MailError, match="is not an email address"):
        send_report_email(report, smtp_section(free_port()), ["board@example.org\r\nBcc: x@evil.example"])


def test_a_line_break_in_the_audit_name_cannot_add_headers(
    smtp_server: SmtpServer, report: ReportData
) -> None:
    sneaky = replace(report, subject="Wave 7\r\nBcc: spy@evil.example")
    send_report_email(sneaky, smtp_section(smtp_server.port), ["board@example.org"])
    [(_, recipients, raw, _)] = smtp_server.received.messages
    assert recipients == ["board@example.org"]
    message = _parsed(raw)
    assert message["Bcc"] is None and message["Subject"] == "Wave 7 Bcc: spy@evil.example"


# ---------------------------------------------------------------------------------------------------------
# Export


def test_the_csv_export_has_one_row_per_probe_in_a_stable_order() -> None:
    grades = make_wave(hostile=True)
    grades = replace(
        grades,
        companies=tuple(
            replace(company, name='=HYPERLINK("http://evil.example")')
            if company.company_id == "cellnet"
            else company
            for company in grades.companies
        ),
    )
    out = io.StringIO(newline="")
    write_csv(grades, out)
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert tuple(rows[0]) == PROBE_COLUMNS
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert len(records) == 43
    first = records[0]
    assert (first["company_id"], first["tier"], first["human_channel"]) == (
        "mizrah",
        "fast_courteous",
        "email",
    )
    assert first["submitted_at"] == "2026-11-22T07:00:00Z"
    assert float(first["wall_seconds_to_human"]) == 33 * 60
    assert first["score_A"] == "1" and first["score_M"] == "2" and first["reached"] == "true"
    quiet = next(record for record in records if record["company_id"] == "quiet-02")
    assert quiet["first_human_at"] == "" and quiet["quality"] == "" and quiet["tier"] == "no_reply"
    formula = next(record for record in records if record["company_id"] == "cellnet")
    assert formula["company_name"] == '\'=HYPERLINK("http://evil.example")'
    hostile = next(record for record in records if record["company_id"] == "tapuz")
    assert hostile["company_name"] == HOSTILE_NAME
    assert [record["tier"] for record in records].count(Tier.NOT_REACHED.value) == 2


def test_the_json_export_holds_the_wave_the_companies_and_the_probes() -> None:
    grades = make_wave()
    out = io.StringIO()
    write_json(grades, out)
    data = json.loads(out.getvalue(), parse_constant=lambda name: pytest.fail(f"not strict JSON: {name}"))
    assert (data["format"], data["version"]) == ("contact-audit-results", 1)
    assert data["wave"] == {
        "wave_id": 7,
        "audit_name": "Israeli contact forms, winter 2026",
        "as_of": "2026-11-29T13:00:00Z",
        "graded_at": "2026-11-30T07:00:00Z",
        "clock": "wall",
        "notes": [],
    }
    assert len(data["companies"]) == 43 and len(data["probes"]) == 43
    assert list(data["probes"][0])[: len(PROBE_COLUMNS)] == list(PROBE_COLUMNS)
    fast = data["probes"][0]
    assert fast["wall_seconds_to_human"] == 33 * 60 and fast["late"] is False
    assert {c["criterion"]: c["max_score"] for c in fast["criteria"]}["M"] == 2
    assert fast["criteria"][2]["evidence"] == [{"quote": "thank you for contacting", "rule": "thanks"}]
    company = next(c for c in data["companies"] if c["company_id"] == "phoenix")
    assert company["tier"] == "slow_or_lacking" and company["probe_ids"] == [fast["probe_id"] + 18]
    never = next(p for p in data["probes"] if p["company_id"] == "quiet-01")
    assert never["wall_seconds_to_human"] is None and never["tier"] == "no_reply"
    assert next(p for p in data["probes"] if p["company_id"] == "phoenix")["promise_kept"] is False
