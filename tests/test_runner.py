"""`audit run` end to end: real Chromium, the local sites, a real database, and what the sites received."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from audit.config import AuditConfig, parse_config
from audit.db import open_database
from audit.demo.farm import RunningFarm
from audit.errors import WaveError
from audit.models import Probe, ProbeState, Wave
from audit.runner import RunOptions, acquire_lease, release_lease, run_wave
from audit.settings import Settings
from tests.conftest import BrowserHost

pytestmark = pytest.mark.browser


def make_config(farm: RunningFarm, sites: dict[str, str], *, name: str = "Runner test") -> str:
    companies = "\n".join(
        f'  - {{id: {company_id}, name: "{company_id.title()} Ltd", contact_url: "{farm.url(site)}"}}'
        for company_id, site in sites.items()
    )
    return f"""\
audit:
  {{name: "{name}", timezone: Asia/Jerusalem, probe_timeout: 60s, allow_private_targets: true}}
mailbox: {{address: "dana.{{token}}@replies.example.org"}}
persona: {{first_name: Dana, last_name: Levi, phone: "050-1234567"}}
inquiry: {{subject: "Monthly plans", message: "Hello {{company}}, do you offer a monthly plan? Thanks, Dana"}}
companies:
{companies}
"""


def probes_of(engine_url: str, wave_id: int) -> dict[str, Probe]:
    engine = open_database(engine_url)
    with Session(engine) as session:
        rows = session.exec(select(Probe).where(Probe.wave_id == wave_id)).all()
    engine.dispose()
    return {probe.company_id: probe for probe in rows}


def run(host: BrowserHost, settings: Settings, config: AuditConfig, **options: object):  # type: ignore[no-untyped-def]
    engine = open_database(settings.resolved_database_url())
    try:
        return host.run(
            run_wave, settings=settings, config=config, engine=engine,
            options=RunOptions(**options), browser=host.browser,  # type: ignore[arg-type]
        )  # fmt: skip
    finally:
        engine.dispose()


def test_a_wave_submits_once_per_company_and_resumes_without_resending(
    farm: RunningFarm, browser_host: BrowserHost, database_url: str, tmp_path: Path
) -> None:
    sites = {"plainco": "plain", "wordco": "cf7", "hebco": "hebrew", "capco": "captcha", "noco": "noform",
             "brokeco": "broken"}  # fmt: skip
    config = parse_config(make_config(farm, sites))
    settings = Settings(data_dir=tmp_path, database_url=database_url)

    report = run(browser_host, settings, config)
    probes = probes_of(database_url, report.wave_id)

    outcomes = {company: probe.outcome for company, probe in probes.items()}
    assert outcomes == {"plainco": "submitted", "wordco": "submitted", "hebco": "submitted",
                        "capco": "blocked_captcha", "noco": "no_form", "brokeco": "error"}  # fmt: skip
    for company, site in (("plainco", "plain"), ("wordco", "cf7"), ("hebco", "hebrew")):
        received = farm.submissions_for(site)
        assert len(received) == 1, site
        probe = probes[company]
        assert received[0].accepted and received[0].violations == ()
        assert probe.reply_address in received[0].fields.values()
        assert any(f"Ref: {probe.ref_code}" in value for value in received[0].fields.values())
        assert probe.submitted_at is not None and probe.submitted_at_source == "request"
        assert probe.submit_started_at is not None and probe.submit_started_at <= probe.submitted_at
        assert (tmp_path / str(probe.evidence_dir) / "before-submit.png").is_file()
        assert (tmp_path / str(probe.evidence_dir) / "after-submit.png").is_file()
    assert farm.submissions_for("captcha") == [] and farm.submissions_for("noform") == []
    assert probes["brokeco"].post_status == 500 and probes["brokeco"].detail == "SERVER_ERROR"
    assert len(farm.submissions_for("broken")) == 1
    tokens = {probe.token for probe in probes.values()}
    assert len(tokens) == len(probes)

    again = run(browser_host, settings, config)
    assert again.wave_id == report.wave_id and again.already_done and again.attempted == 0
    assert len(farm.submissions) == 4  # nothing was sent a second time


def test_dry_run_fills_and_photographs_but_sends_nothing(
    farm: RunningFarm, browser_host: BrowserHost, tmp_path: Path
) -> None:
    config = parse_config(make_config(farm, {"plainco": "plain", "reactco": "react", "gravco": "gravity"}))
    settings = Settings(data_dir=tmp_path)
    report = run(browser_host, settings, config, dry_run=True)
    probes = probes_of(settings.resolved_database_url(), report.wave_id)
    assert {probe.outcome for probe in probes.values()} == {"dry_run"}
    assert all(probe.submit_started_at is None for probe in probes.values())
    assert all((tmp_path / str(p.evidence_dir) / "before-submit.png").is_file() for p in probes.values())
    assert farm.submissions == []
    # A dry run is a wave of its own: the live wave that follows still contacts everyone.
    live = run(browser_host, settings, config, only=("plainco",))
    assert live.wave_id != report.wave_id and live.outcomes == {"plainco": "submitted"}


def test_only_names_must_exist(farm: RunningFarm, browser_host: BrowserHost, tmp_path: Path) -> None:
    config = parse_config(make_config(farm, {"plainco": "plain"}))
    with pytest.raises(WaveError, match="unknown company id"):
        run(browser_host, Settings(data_dir=tmp_path), config, only=("nope",))
    assert farm.submissions == []


def test_one_runner_per_wave(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    engine = open_database(settings.resolved_database_url())
    with Session(engine) as session:
        wave = Wave(audit_name="t")
        session.add(wave)
        session.commit()
        assert wave.id is not None
        wave_id = wave.id
    import socket

    mine = f"{socket.gethostname()}:{os.getpid()}:aaaa"
    acquire_lease(engine, wave_id, mine)
    with pytest.raises(WaveError, match="being run by another process"):
        acquire_lease(engine, wave_id, f"{socket.gethostname()}:{os.getpid()}:bbbb")
    release_lease(engine, wave_id, mine)
    acquire_lease(engine, wave_id, "other")  # free again
    # A lease left by a process that has died on this host is taken over at once.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    with Session(engine) as session:
        row = session.get(Wave, wave_id)
        assert row is not None
        row.lease_owner = f"{socket.gethostname()}:{dead.stdout.strip()}:cccc"
        session.add(row)
        session.commit()
    acquire_lease(engine, wave_id, mine)
    engine.dispose()


def test_a_run_killed_mid_submit_is_resumed_without_resending(farm: RunningFarm, tmp_path: Path) -> None:
    """Kill -9 after the write-ahead record and the POST, re-run: exactly one submission per company."""
    previous, farm.slow_seconds = farm.slow_seconds, 60
    config_path = tmp_path / "companies.yaml"
    config_path.write_text(make_config(farm, {"slowco": "slow", "plainco": "plain"}), encoding="utf-8")
    env = {**os.environ, "AUDIT_DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-m", "audit", "run", "--config", str(config_path), "--concurrency", "1"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while not farm.submissions_for("slow"):
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "the slow form was never submitted"
            time.sleep(0.2)
        url = Settings(data_dir=tmp_path / "data").resolved_database_url()
        engine = open_database(url)
        with Session(engine) as session:
            slow = session.exec(select(Probe).where(Probe.company_id == "slowco")).one()
            plain = session.exec(select(Probe).where(Probe.company_id == "plainco")).one()
        engine.dispose()
        assert slow.state == ProbeState.SUBMIT_STARTED  # the write-ahead record was committed before the POST
        assert plain.state == ProbeState.PLANNED
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
    farm.slow_seconds = previous

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "stopped mid-submit" in rerun.stdout
    engine = open_database(url)
    with Session(engine) as session:
        rows = {p.company_id: p for p in session.exec(select(Probe).order_by(col(Probe.id))).all()}
    engine.dispose()
    assert rows["slowco"].outcome == "uncertain" and rows["slowco"].detail == "UNKNOWN"
    assert rows["plainco"].outcome == "submitted"
    assert len(farm.submissions_for("slow")) == 1
    assert len(farm.submissions_for("plain")) == 1


def test_one_probe_per_site_domain_at_a_time(
    farm: RunningFarm, browser_host: BrowserHost, tmp_path: Path
) -> None:
    """Two companies on one site domain are probed one after the other; on two domains, side by side."""
    previous, farm.slow_seconds = farm.slow_seconds, 4.0
    try:
        shared = make_config(farm, {"one": "slow", "two": "slow"})
        run(browser_host, Settings(data_dir=tmp_path / "shared"), parse_config(shared), concurrency=2)
        first, second = sorted(s.received_at for s in farm.submissions_for("slow"))
        assert (second - first).total_seconds() >= 4.0  # the second POST waited for the first answer

        farm.clear()
        apart = make_config(farm, {"one": "slow", "two": "slow"}).replace(
            farm.url("slow"), farm.host_url("one.localhost", "slow"), 1
        )
        run(browser_host, Settings(data_dir=tmp_path / "apart"), parse_config(apart), concurrency=2)
        first, second = sorted(s.received_at for s in farm.submissions_for("slow"))
        assert (second - first).total_seconds() < 4.0  # both were in flight at once
    finally:
        farm.slow_seconds = previous
