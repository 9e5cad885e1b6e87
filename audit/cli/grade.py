"""`audit grade` and `audit grade set`: every company's result for a wave, and a person's override."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from rich.table import Table
from rich.text import Text
from sqlmodel import Session, select

from audit.cli.common import config_option, console
from audit.config import AuditConfig, load_config
from audit.datadir import ensure_data_dir
from audit.db import open_database
from audit.errors import UsageError
from audit.grading import grade_wave, set_override, wave_deadline, wave_to_grade
from audit.grading.rubric import MAX_SCORES
from audit.grading.store import AUTO, SETTABLE_TIERS
from audit.grading.tiers import format_duration
from audit.grading.types import CompanyResult, Tier, WaveGrades
from audit.models import ProbeGrade
from audit.settings import Settings
from audit.when import parse_when

TIER_STYLE = {
    Tier.FAST_COURTEOUS: "green",
    Tier.REASONABLE: "cyan",
    Tier.SLOW_OR_LACKING: "yellow",
    Tier.NO_REPLY: "red",
    Tier.PENDING: "white",
    Tier.NOT_REACHED: "magenta",
}


def _as_of(session: Session, config: AuditConfig, wave_id: int, text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    moment = parse_when(text, config.audit.timezone)
    if moment is not None:
        return moment
    deadline = wave_deadline(session, config, wave_id)
    if deadline is None:
        raise UsageError(f"--as-of deadline: nothing in wave {wave_id} was submitted, so it has no deadline")
    return deadline


@click.group(invoke_without_command=True)
@config_option
@click.option("--wave", "wave_id", type=int, default=None, help="Wave number (default: the newest).")
@click.option(
    "--as-of",
    "as_of_text",
    metavar="TIME",
    default=None,
    help="Grade as if it were TIME (ISO 8601 in the audit's zone), or 'deadline'. Default: now.",
)
@click.pass_context
def grade(ctx: click.Context, config_path: Path, wave_id: int | None, as_of_text: str | None) -> None:
    """Grade a wave: reply times, rubric, tiers; stores the results and prints them.

    \b
        audit grade
        audit grade --as-of deadline          # as if every inquiry's deadline had passed
        audit grade --wave 3 --as-of "2026-12-08 09:00"
        audit grade set acme --tier reasonable --note "called back; logged by hand"
    """
    if ctx.invoked_subcommand is not None:
        return
    settings: Settings = ctx.obj
    config = load_config(config_path)
    ensure_data_dir(settings.data_dir)
    engine = open_database(settings.resolved_database_url())
    try:
        with Session(engine, expire_on_commit=False) as session:
            wave = wave_to_grade(session, wave_id, config.audit.name)
            assert wave.id is not None
            grades = grade_wave(session, config, wave.id, as_of=_as_of(session, config, wave.id, as_of_text))
            session.commit()
    finally:
        engine.dispose()
    render_grades(grades, config.audit.timezone)


def _duration(seconds: float | None) -> str:
    return "" if seconds is None else format_duration(seconds)


def _notes(company: CompanyResult) -> str:
    notes: list[str] = []
    if company.inconsistent:
        notes.append("inconsistent: " + ", ".join(probe.tier.value for probe in company.probes))
    if company.tier_overridden:
        notes.append("tier set by a person")
    for probe in company.probes:
        if not probe.reached and probe.not_reached_reason:
            notes.append(probe.not_reached_reason)
        if probe.late:
            notes.append(f"late reply after {_duration(probe.wall_seconds_to_human)}")
        if probe.human_folder and probe.human_folder.lower().startswith(("junk", "spam", "bulk")):
            notes.append(f"reply in {probe.human_folder}")
        if probe.human_channel in ("phone", "sms", "other"):
            notes.append(f"{probe.human_channel} reply")
        if probe.promise is not None:
            kept = {True: "kept", False: "broken", None: "open"}[probe.promise.kept]
            notes.append(f"promised '{probe.promise.text}': {kept}")
    if company.quality_spread is not None:
        low, high = company.quality_spread
        notes.append(f"quality {low:.2f} to {high:.2f}")
    return "; ".join(dict.fromkeys(notes))


def render_grades(grades: WaveGrades, timezone: str) -> None:
    zone = ZoneInfo(timezone)
    as_of = grades.as_of.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    title = (
        f"Wave {grades.wave_id} of '{grades.audit_name}' as of {as_of} {timezone} "
        f"(tiers on the {grades.clock} clock)"
    )
    table = Table(title=Text(title), title_justify="left")
    for heading in ("Company", "Tier", "First ack", "First human (wall / business)", "Quality", "Notes"):
        table.add_column(heading, overflow="fold")
    for company in grades.companies:
        acks = [
            probe.wall_seconds_to_ack for probe in company.probes if probe.wall_seconds_to_ack is not None
        ]
        human = ""
        if company.wall_seconds_to_human is not None:
            human = (
                f"{_duration(company.wall_seconds_to_human)} / {_duration(company.business_seconds_to_human)}"
            )
        # Text() cells: company names and notes come from outside and are never read as rich markup.
        table.add_row(
            Text(company.name),
            Text(company.tier.value, style=TIER_STYLE[company.tier]),
            Text(_duration(min(acks)) if acks else ""),
            Text(human),
            Text("" if company.quality is None else f"{company.quality:.2f}"),
            Text(_notes(company)),
        )
    console.print(table)
    counts = Counter(company.tier for company in grades.companies)
    console.print(
        Text("  ".join(f"{tier.value}: {counts.get(tier, 0)}" for tier in Tier)),
        highlight=False,
    )
    for note in grades.notes:
        console.print(Text(f"note: {note}"), highlight=False)


@grade.command("set")
@config_option
@click.argument("company_id", metavar="COMPANY")
@click.option("--tier", type=click.Choice((*SETTABLE_TIERS, AUTO)), default=None, help="The tier to give.")
@click.option(
    "--criterion",
    type=click.Choice(tuple(MAX_SCORES), case_sensitive=False),
    default=None,
    help="A rubric item: A, P1, P2, Q, V, E or M (README, Grading).",
)
@click.option("--score", default=None, help="The criterion's score (0 to its maximum), or auto.")
@click.option("--note", required=True, help="Why (shown in the report next to the result).")
@click.option("--wave", "wave_id", type=int, default=None, help="Wave number (default: the newest).")
@click.option("--seq", "probe_seq", type=int, default=None, help="Only this probe of the company (1, 2...).")
@click.option("--author", default="cli", show_default=True, help="Who decided.")
@click.pass_obj
def grade_set(
    settings: Settings,
    config_path: Path,
    company_id: str,
    tier: str | None,
    criterion: str | None,
    score: str | None,
    note: str,
    wave_id: int | None,
    probe_seq: int | None,
    author: str,
) -> None:
    """Override a company's tier or one rubric criterion, with a note; kept through every re-grading.

    `--tier auto` or `--score auto` hands the judgement back to the grader.

    \b
        audit grade set acme --tier reasonable --note "called back the next morning"
        audit grade set globex --criterion P1 --score 2 --note "signed by name in the HTML part"
        audit grade set globex --tier auto --note "back to the computed tier"
    """
    if (tier is None) == (criterion is None) or (tier is not None and score is not None):
        raise UsageError("give either --tier T, or --criterion ID with --score N")
    if criterion is not None and score is None:
        raise UsageError(f"--criterion {criterion} needs --score N (0 to {MAX_SCORES[criterion.upper()]})")
    config = load_config(config_path)
    ensure_data_dir(settings.data_dir)
    engine = open_database(settings.resolved_database_url())
    try:
        with Session(engine, expire_on_commit=False) as session:
            wave = wave_to_grade(session, wave_id, config.audit.name)
            assert wave.id is not None
            row = set_override(
                session,
                wave_id=wave.id,
                company_id=company_id,
                criterion="tier" if tier is not None else str(criterion),
                value=tier if tier is not None else str(score),
                note=note,
                probe_seq=probe_seq,
                author=author,
            )
            # Re-grade as of the last grading, so the stored results show the override at once.
            last = session.exec(
                select(ProbeGrade.as_of).where(ProbeGrade.wave_id == wave.id).limit(1)
            ).first()
            grades = grade_wave(session, config, wave.id, as_of=last) if last is not None else None
            session.commit()
    finally:
        engine.dispose()
    target = company_id if probe_seq is None else f"{company_id} probe {probe_seq}"
    console.print(
        Text(f"recorded: {row.criterion} of {target} in wave {row.wave_id} set to {row.value}"),
        highlight=False,
    )
    if grades is None:
        console.print(Text("not graded yet: `audit grade` applies it"), highlight=False)
        return
    result = next(company for company in grades.companies if company.company_id == company_id)
    quality = "" if result.quality is None else f", quality {result.quality:.2f}"
    console.print(Text(f"{result.name}: now {result.tier.value}{quality}"), highlight=False)
