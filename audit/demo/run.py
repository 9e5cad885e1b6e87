"""`audit demo`: the whole pipeline against the bundled local sites, with nothing outside 127.0.0.1.

Submit a wave to the demo sites, let the simulated companies answer (mail dated into the future in a local
Maildir, one phone call entered by hand), collect the Maildir as `audit collect` does, grade as of the wave's
deadline and write the report.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from sqlmodel import col, select

from audit.collect.sources import collect_once
from audit.config import AuditConfig, parse_config
from audit.datadir import ensure_data_dir
from audit.db import open_database, session_scope
from audit.demo.farm import serve_farm
from audit.demo.replies import DeliveredReply, deliver_replies
from audit.errors import DataDirError
from audit.grading import grade_wave, wave_deadline
from audit.grading.types import Tier, WaveGrades
from audit.models import Probe
from audit.progress import print_run_summary, run_with_progress
from audit.reporting import write_report_file
from audit.runner import RunOptions
from audit.settings import Settings
from probes import Outcome

MARKER = ".audit-demo"
# What a demo run leaves in its folder; a folder holding anything else is not ours to clear.
_DEMO_ENTRIES = frozenset(
    {MARKER, "audit.db", "audit.db-wal", "audit.db-shm", "audit.db-journal", "companies.yaml", "Maildir"}
    | {"raw", "evidence", "reports"}
)
TIER_WORDS = {
    Tier.FAST_COURTEOUS: "fast and courteous",
    Tier.REASONABLE: "reasonable",
    Tier.SLOW_OR_LACKING: "slow or lacking",
    Tier.NO_REPLY: "no reply",
    Tier.PENDING: "pending",
    Tier.NOT_REACHED: "not reached",
}


@dataclass(frozen=True, slots=True)
class DemoResult:
    data_dir: Path
    config_path: Path
    wave_id: int
    maildir: Path
    replies: tuple[DeliveredReply, ...] = ()
    as_of: datetime | None = None  # the wave's deadline, which the grades and the report are as of
    grades: WaveGrades | None = None
    report_path: Path | None = None  # None for a dry run


def demo_config_text(port: int, maildir: Path | None = None) -> str:
    template = (resources.files("audit.demo") / "companies.yaml").read_text(encoding="utf-8")
    # A JSON string is a valid YAML double-quoted scalar, whatever the path holds.
    where = json.dumps(str(maildir if maildir is not None else Path("Maildir")))
    return template.replace("{{PORT}}", str(port)).replace('"{{MAILDIR}}"', where)


def start_afresh(demo_dir: Path) -> Path:
    """Clear the previous demo run: each run starts from an empty database and Maildir.

    A second run in the same database would be graded against the first: the collector calls a reply
    near-identical to an earlier reply from the same company "templated", and every simulated company sends
    the same text each run. Only a folder holding nothing but what a demo run writes is cleared.
    """
    if demo_dir.is_dir():
        strangers = sorted(entry.name for entry in demo_dir.iterdir() if entry.name not in _DEMO_ENTRIES)
        if strangers and not (demo_dir / MARKER).exists():
            raise DataDirError(
                f"{demo_dir} holds files the demo did not write ({', '.join(strangers[:3])}); "
                "move them, or choose another --data-dir"
            )
        try:
            shutil.rmtree(demo_dir)
        except OSError as ex:
            raise DataDirError(f"cannot clear the previous demo in {demo_dir}: {ex.strerror or ex}") from ex
    ensure_data_dir(demo_dir)
    (demo_dir / MARKER).write_text("Written by `audit demo`, which clears this folder on every run.\n")
    return demo_dir


def run_demo(
    settings: Settings,
    *,
    console: Console,
    dry_run: bool,
    keep_serving: bool,
    lang: str | None = None,
) -> DemoResult:
    demo_dir = start_afresh(settings.data_dir / "demo")
    demo_settings = settings.model_copy(update={"data_dir": demo_dir, "database_url": None})
    maildir = demo_dir / "Maildir"
    with serve_farm() as farm:
        text = demo_config_text(farm.port, maildir)
        config_path = demo_dir / "companies.yaml"
        config_path.write_text(text, encoding="utf-8")
        config = parse_config(text, source=str(config_path))
        console.print(
            f"Demo sites at {farm.base_url}/ ; {len(config.companies)} fictional companies; "
            f"data in {demo_dir}",
            highlight=False,
        )
        report = run_with_progress(console, demo_settings, config, RunOptions(dry_run=dry_run))
        print_run_summary(console, demo_settings, config, report)
        received = farm.submissions
        accepted = sum(1 for submission in received if submission.accepted)
        console.print(
            f"The demo sites received {len(received)} submissions ({accepted} accepted as valid).",
            highlight=False,
        )
        result = DemoResult(demo_dir, config_path, report.wave_id, maildir)
        if dry_run:  # nothing was sent, so there is nothing to answer, grade or report
            console.print(
                "A dry run sends nothing: no replies, no grades, no report (run `audit demo` for those).",
                highlight=False,
                markup=False,
            )
        else:
            result = _answer_grade_report(result, demo_settings, config, console=console, lang=lang)
        console.print(
            f"Look again with: audit --data-dir {demo_dir} status --config {config_path}", highlight=False
        )
        if keep_serving:
            console.print(f"Serving the demo sites at {farm.base_url}/ until Ctrl-C.", highlight=False)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return result


def _answer_grade_report(
    result: DemoResult, settings: Settings, config: AuditConfig, *, console: Console, lang: str | None
) -> DemoResult:

    engine = open_database(settings.resolved_database_url())
    try:
        with session_scope(engine) as session:
            probes = session.exec(
                select(Probe)
                .where(Probe.wave_id == result.wave_id, Probe.outcome == Outcome.SUBMITTED.value)
                .order_by(col(Probe.id))
            ).all()
            replies = tuple(deliver_replies(session, result.maildir, config, probes))
        _print_replies(console, replies, config)
        for line in collect_once(engine, config, data_dir=settings.data_dir).lines:
            console.print(f"Collected: {line}", markup=False, highlight=False)
        with session_scope(engine) as session:
            # The replies are dated up to days ahead: graded now, they would not have arrived yet. The
            # deadline is the moment the wave is judged (nothing submitted: now, everything not reached).
            as_of = wave_deadline(session, config, result.wave_id) or datetime.now(UTC)
            grades = grade_wave(session, config, result.wave_id, as_of=as_of, persist=True)
        with session_scope(engine) as session:
            report_path = write_report_file(
                session, config, result.wave_id, data_dir=settings.data_dir, as_of=as_of, lang=lang
            )
    finally:
        engine.dispose()
    _print_grades(console, grades, config)
    report_path = report_path.resolve()
    console.print(f"Report: {escape(str(report_path))}", highlight=False)
    console.print(f"        {report_path.as_uri()}", highlight=False)
    return DemoResult(
        result.data_dir,
        result.config_path,
        result.wave_id,
        result.maildir,
        replies=replies,
        as_of=as_of,
        grades=grades,
        report_path=report_path,
    )


def _print_replies(console: Console, replies: tuple[DeliveredReply, ...], config: AuditConfig) -> None:
    emails = [reply for reply in replies if reply.path is not None]
    calls = len(replies) - len(emails)
    latest = max((reply.at for reply in replies), default=None)
    zone = ZoneInfo(config.audit.timezone)
    until = f", dated up to {latest.astimezone(zone):%Y-%m-%d %H:%M}" if latest else ""
    console.print(
        f"The simulated companies sent {len(emails)} emails into the demo Maildir{until}, "
        f"and made {calls} phone call{'s' if calls != 1 else ''} (entered as a manual reply).",
        highlight=False,
    )


def _print_grades(console: Console, grades: WaveGrades, config: AuditConfig) -> None:
    counts = Counter(company.tier for company in grades.companies)
    zone = ZoneInfo(config.audit.timezone)
    parts = [f"{TIER_WORDS[tier]} {counts[tier]}" for tier in Tier if counts[tier]]
    console.print(
        f"Graded as of the deadline, {grades.as_of.astimezone(zone):%Y-%m-%d %H:%M} {config.audit.timezone}: "
        + ", ".join(parts),
        highlight=False,
    )
