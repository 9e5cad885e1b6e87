"""`audit status`: one wave as a table, in the audit's time zone."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from audit.errors import WaveError
from audit.models import Company, Probe, Wave

OUTCOME_STYLE = {
    "submitted": "green",
    "dry_run": "cyan",
    "validation_error": "yellow",
    "uncertain": "yellow",
    "blocked_captcha": "magenta",
    "no_form": "magenta",
    "error": "red",
}


def find_wave(session: Session, wave_id: int | None, audit_name: str | None) -> Wave:
    if wave_id is not None:
        wave = session.get(Wave, wave_id)
        if wave is None:
            raise WaveError(f"there is no wave {wave_id} in this database")
        return wave
    query = select(Wave).order_by(col(Wave.id).desc())
    if audit_name is not None:
        query = query.where(Wave.audit_name == audit_name)
    wave = session.exec(query).first()
    if wave is None:
        raise WaveError("no wave has been run yet; start one with `audit run` (or `audit run --dry-run`)")
    return wave


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return "" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def render_status(
    console: Console, engine: Engine, *, wave_id: int | None, timezone: str, audit_name: str | None = None
) -> None:
    zone = ZoneInfo(timezone)
    with Session(engine) as session:
        wave = find_wave(session, wave_id, audit_name)
        rows = session.exec(
            select(Probe, Company)
            .join(Company, col(Company.id) == col(Probe.company_id))
            .where(Probe.wave_id == wave.id)
            .order_by(col(Company.name), col(Probe.seq))
        ).all()
    emailed = any(probe.channel == "email" for probe, _ in rows)
    title = (
        f"Wave {wave.id} ({'dry run' if wave.mode == 'dry_run' else 'live'}, {wave.status}) of "
        f"'{wave.audit_name}', started {_local(wave.created_at, zone)} {timezone}"
    )
    table = Table(title=Text(title), title_justify="left", expand=False)
    table.add_column("Company", overflow="fold", ratio=2)
    if emailed:  # named only when the wave wrote to some company by email
        table.add_column("Channel", no_wrap=True)
    table.add_column("Outcome", no_wrap=True)
    table.add_column("Detail", overflow="fold", ratio=1)
    table.add_column(f"Submitted ({timezone})", overflow="fold")
    table.add_column("HTTP", no_wrap=True)
    table.add_column("Ref", no_wrap=True)
    for probe, company in rows:
        outcome = probe.outcome or probe.state
        # Text() cells: names and texts are shown as they are, never read as rich markup.
        table.add_row(
            Text(company.name),
            *([Text(probe.channel)] if emailed else []),
            Text(outcome, style=OUTCOME_STYLE.get(outcome, "white")),
            Text((probe.detail or "").lower().replace("_", " ")),
            Text(_local(probe.submitted_at, zone)),
            Text("" if probe.post_status is None else str(probe.post_status)),
            Text(probe.ref_code),
        )
    console.print(table)
    counts = Counter(probe.outcome or probe.state for probe, _ in rows)
    console.print(", ".join(f"{count} {outcome}" for outcome, count in counts.most_common()), markup=False)
    for probe, company in rows:
        if probe.outcome in {"uncertain", "error", "validation_error"} and probe.reason:
            console.print(f"  {company.name}: {probe.reason}", markup=False, highlight=False, soft_wrap=True)
