"""`audit collect`, `audit inbox` and `audit reply`: catching replies, and the facts a person adds."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy import distinct, func
from sqlmodel import Session, col, select

from audit.cli.common import config_option, console
from audit.collect.manual import CHANNELS, add_manual_reply, assign
from audit.config import load_config
from audit.datadir import ensure_data_dir
from audit.db import open_database
from audit.errors import AuditError
from audit.logging_setup import redact
from audit.models import Message, Probe
from audit.settings import Settings


@click.command()
@config_option
@click.option("--watch", is_flag=True, help="Keep collecting (IMAP IDLE wakes it; every source is polled).")
@click.option(
    "--interval", type=click.FloatRange(5, 86400), default=300, show_default=True, help="Poll seconds."
)
@click.option(
    "--reparse",
    is_flag=True,
    help="Read no source: recompute every stored message's parse, match and kind from its raw bytes.",
)
@click.pass_obj
def collect(settings: Settings, config_path: Path, watch: bool, interval: float, reparse: bool) -> None:
    """Read every configured reply source once (IMAP folders, a Maildir) and store what is new.

    Mail is never marked read, moved or deleted. Run it as often as you like: nothing is stored twice.
    `--reparse` recomputes what was stored (after an upgrade, or after adding a company whose replies came
    first); raw bytes, arrival times and assignments made by hand are kept.

    \b
        audit collect
        audit collect --watch --interval 120
        audit collect --reparse
    """
    from audit.collect.sources import CollectReport, collect_once
    from audit.collect.sources import watch as watch_sources

    if reparse and watch:
        raise AuditError("--reparse and --watch do not go together: re-parse once, then watch")
    config = load_config(config_path) if not reparse else None
    ensure_data_dir(settings.data_dir)
    engine = open_database(settings.resolved_database_url())
    try:
        if config is None:
            from audit.collect.reparse import reparse_all

            stats = reparse_all(engine, data_dir=settings.data_dir)
            console.print(stats.summary(), markup=False, highlight=False)
            for line in stats.missing_raw:
                console.print(f"  {line}", markup=False, highlight=False)
            return
        if not watch:
            for line in collect_once(engine, config, data_dir=settings.data_dir).lines:
                console.print(redact(line), markup=False, highlight=False)
            return
        stop = threading.Event()

        def show(report: CollectReport) -> None:
            for line in report.lines:
                console.print(redact(line), markup=False, highlight=False)

        try:
            watch_sources(
                engine,
                config,
                data_dir=settings.data_dir,
                poll_interval_s=interval,
                stop=stop,
                on_report=show,
            )
        except KeyboardInterrupt:
            stop.set()
    finally:
        engine.dispose()


def parse_when(text: str, timezone: str) -> datetime:
    """ISO 8601 (`2026-11-26 14:05`, `2026-11-26T14:05+02:00`); without a zone, the audit's zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as ex:
        raise AuditError(f"{text!r} is not a time; write e.g. '2026-11-26 14:05'") from ex
    return moment.replace(tzinfo=ZoneInfo(timezone)) if moment.tzinfo is None else moment


def _zone(config_path: Path) -> str:
    return load_config(config_path).audit.timezone if config_path.exists() else "UTC"


@click.group(invoke_without_command=True)
@config_option
@click.option("--unmatched", is_flag=True, help="Only messages not matched to an inquiry.")
@click.option("--company", "company_id", metavar="ID", default=None, help="Only replies to this company.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option(
    "--duplicates",
    is_flag=True,
    help="Copies of one message by two channels (not counted), and Message-IDs shared by different messages.",
)
@click.pass_context
def inbox(
    ctx: click.Context,
    config_path: Path,
    unmatched: bool,
    company_id: str | None,
    limit: int,
    duplicates: bool,
) -> None:
    """List the collected messages, newest first: when, from whom, which inquiry, what kind.

    \b
        audit inbox
        audit inbox --unmatched
        audit inbox --company acme
        audit inbox --duplicates
        audit inbox assign 17 K7Q2-9F      # message 17 answers the inquiry with that reference
    """
    if ctx.invoked_subcommand is not None:
        return
    settings: Settings = ctx.obj
    zone = ZoneInfo(_zone(config_path))
    ensure_data_dir(settings.data_dir)
    engine = open_database(settings.resolved_database_url())
    if duplicates:
        try:
            with Session(engine) as session:
                _print_duplicates(session, zone, limit)
        finally:
            engine.dispose()
        return
    try:
        with Session(engine) as session:
            query = select(Message, Probe).outerjoin(Probe, col(Probe.id) == col(Message.probe_id))
            if unmatched:
                query = query.where(col(Message.probe_id).is_(None))
            if company_id:
                query = query.where(Probe.company_id == company_id)
            rows = session.exec(query.order_by(col(Message.received_at).desc()).limit(limit)).all()
    finally:
        engine.dispose()
    table = Table(title=Text(f"{len(rows)} message(s)"), title_justify="left")
    for heading in ("#", "Received", "From", "Subject", "Inquiry", "Match", "Kind"):
        table.add_column(heading, overflow="fold")
    for message, probe in rows:
        received = message.received_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        match = "" if probe is None else f"{message.match_method} ({message.match_confidence})"
        flags = " review" if message.needs_review else ""
        table.add_row(
            Text(str(message.id)),
            Text(received),
            Text(message.from_address or message.channel),
            Text((message.subject or message.note or "")[:80]),
            Text("" if probe is None else f"{probe.company_id} {probe.ref_code}"),
            Text(match + flags),
            Text(
                message.kind
                + (" malformed" if message.malformed else "")
                + (f" (copy of #{message.duplicate_of})" if message.duplicate_of is not None else "")
            ),
        )
    console.print(table)


def _print_duplicates(session: Session, zone: ZoneInfo, limit: int) -> None:
    """Recognised copies (same Message-ID and body: counted once) and suspected ones (a Message-ID shared by
    messages whose bodies differ: all counted; a person decides)."""
    copies = session.exec(
        select(Message)
        .where(col(Message.duplicate_of).is_not(None))
        .order_by(col(Message.received_at).desc())
        .limit(limit)
    ).all()
    table = Table(title=Text(f"{len(copies)} copy(ies) of a message stored earlier, not counted"),
                  title_justify="left")  # fmt: skip
    for heading in ("#", "Received", "Source", "Copy of", "Why"):
        table.add_column(heading, overflow="fold")
    for message in copies:
        table.add_row(
            Text(str(message.id)),
            Text(message.received_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")),
            Text(f"{message.source} {message.folder or ''}".strip()),
            Text(f"#{message.duplicate_of}"),
            Text(message.duplicate_reason or ""),
        )
    console.print(table)
    shared = session.exec(
        select(Message.message_id)
        .where(col(Message.duplicate_of).is_(None), col(Message.message_id).is_not(None))
        .group_by(col(Message.message_id))
        .having(func.count(distinct(col(Message.content_key))) > 1)
        .limit(limit)
    ).all()
    suspects = Table(
        title=Text(f"{len(shared)} Message-ID(s) shared by different messages, each counted"),
        title_justify="left",
    )
    for heading in ("Message-ID", "Messages", "Kinds"):
        suspects.add_column(heading, overflow="fold")
    for message_id in shared:
        rows = session.exec(
            select(Message)
            .where(Message.message_id == message_id, col(Message.duplicate_of).is_(None))
            .order_by(col(Message.id))
        ).all()
        suspects.add_row(
            Text(message_id or ""),
            Text(", ".join(f"#{row.id}" for row in rows)),
            Text(", ".join(row.kind for row in rows)),
        )
    console.print(suspects)


@inbox.command("assign")
@click.argument("message_id", type=int)
@click.argument("probe")
@click.pass_obj
def inbox_assign(settings: Settings, message_id: int, probe: str) -> None:
    """Say by hand which inquiry MESSAGE_ID answers (PROBE: its reference code or probe number).

    \b
        audit inbox assign 17 K7Q2-9F
    """
    engine = open_database(settings.resolved_database_url())
    try:
        with Session(engine) as session:
            message = assign(session, message_id, probe, data_dir=settings.data_dir)
            session.commit()
            console.print(
                f"message {message.id} -> probe {message.probe_id}, now classified {escape(message.kind)}",
                highlight=False,
            )
    finally:
        engine.dispose()


@click.group()
def reply() -> None:
    """Replies that came another way than email (a phone call back, an SMS)."""


@reply.command("add")
@config_option
@click.option("--probe", "reference", required=True, help="The inquiry's reference code (or probe number).")
@click.option("--channel", type=click.Choice(CHANNELS), default="phone", show_default=True)
@click.option("--at", "when", required=True, help="When it came, e.g. '2026-11-26 14:05' (audit time zone).")
@click.option("--note", default="", help="What was said, briefly (staff names are masked in reports).")
@click.pass_obj
def reply_add(
    settings: Settings, config_path: Path, reference: str, channel: str, when: str, note: str
) -> None:
    """Record a reply that did not come by email; it counts like any other reply.

    \b
        audit reply add --probe K7Q2-9F --channel phone --at "2026-11-26 14:05" --note "Called back"
    """
    at = parse_when(when, _zone(config_path))
    ensure_data_dir(settings.data_dir)
    engine = open_database(settings.resolved_database_url())
    try:
        with Session(engine) as session:
            message = add_manual_reply(session, reference=reference, channel=channel, at=at, note=note)
            session.commit()
            console.print(f"recorded as message {message.id} for probe {message.probe_id}", highlight=False)
    finally:
        engine.dispose()
