"""`audit report` and `audit export`: the graded wave as a report file (and email), or as data for scripts.

Both grade without storing (`persist=False`), as of the wave's deadline unless `--as-of` says otherwise, so
they never change what `audit grade` stored. The report modules are imported inside the commands: Babel,
Jinja and css-inline need not load for every other command.
"""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from rich.markup import escape
from sqlmodel import Session

from audit.cli.common import config_option, console, err_console
from audit.config import AuditConfig, load_config
from audit.datadir import ensure_data_dir
from audit.db import open_database
from audit.errors import UsageError
from audit.grading import wave_to_grade
from audit.languages import LANGUAGES
from audit.settings import Settings
from audit.when import parse_when

_AS_OF_HELP = "Grade as of TIME: ISO 8601 in the audit's time zone, 'now', or 'deadline' (the default)."


def resolve_as_of(session: Session, config: AuditConfig, wave_id: int, text: str | None) -> datetime | None:
    """The moment to grade at; None means the wave's deadline. Warns when that deadline is still ahead."""
    from audit.grading import wave_deadline

    moment = parse_when(text, config.audit.timezone) if text else None
    if moment is None:
        deadline = wave_deadline(session, config, wave_id)
        if deadline is not None and deadline > datetime.now(UTC):
            zone = config.audit.timezone  # the CLI prints times in the audit's zone
            local = deadline.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
            err_console.print(
                f"note: wave {wave_id}'s deadline ({local} {zone}) has not passed; "
                "inquiries without a reply yet count as not answered. Use --as-of now for an interim report.",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    return moment


@click.command()
@config_option
@click.option("--wave", "wave_id", type=int, default=None, help="Wave number (default: the newest).")
@click.option("--as-of", "as_of_text", metavar="TIME", default=None, help=_AS_OF_HELP)
@click.option("--lang", type=click.Choice(LANGUAGES), default=None, help="Default: audit.language.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to write the HTML (default: <data-dir>/reports/wave-<N>-<lang>.html).",
)
@click.option(
    "--email",
    "email",
    is_flag=True,
    help="Email the report to the ADDRESSES that follow, or to report.recipients when none follow.",
)
@click.argument("addresses", nargs=-1, metavar="[ADDRESS]...")
@click.pass_obj
def report(
    settings: Settings,
    config_path: Path,
    wave_id: int | None,
    as_of_text: str | None,
    lang: str | None,
    out: Path | None,
    email: bool,
    addresses: tuple[str, ...],
) -> None:
    """Write the wave's report as one HTML file and print its path; optionally email it.

    The report reads like the TACK survey: a headline, one section per tier with a paragraph per company,
    a ranked table, the numbers, sectors, the change from the previous wave, and the method.

    \b
        audit report
        audit report --wave 3 --lang he --out board.html
        audit report --as-of now                  # an interim report before the deadline
        audit report --email ceo@example.org cx@example.org
        audit report --email                      # to report.recipients
    """
    from audit.mailer import send_report_email
    from audit.reporting import build_report_from_db, report_language, write_atomically
    from audit.reporting.render import render_html

    config = load_config(config_path)
    # `--email a@b c@d` as the issue and the README write it: a flag, then the addresses as arguments.
    if addresses and not email:
        raise UsageError(f"'{addresses[0]}': to email the report, put --email before the addresses")
    recipients = list(dict.fromkeys(addresses or (config.report.recipients if email else ())))
    if email and not recipients:
        raise UsageError("--email: give addresses, or set report.recipients in the configuration")
    if recipients and config.report.smtp is None:
        raise UsageError("to email the report, configure report.smtp (host, from_address) in the config")
    language = report_language(lang, config)
    ensure_data_dir(settings.data_dir)
    engine = open_database(settings.resolved_database_url())
    try:
        with Session(engine) as session:
            wave = wave_to_grade(session, wave_id, config.audit.name).id
            assert wave is not None
            as_of = resolve_as_of(session, config, wave, as_of_text)
            target = out or settings.data_dir / "reports" / f"wave-{wave}-{language}.html"
            data = build_report_from_db(
                session,
                config,
                wave,
                as_of=as_of,
                lang=language,
                data_dir=settings.data_dir,
                links_from=target.parent,
            )
    finally:
        engine.dispose()
    write_atomically(target, render_html(data, "web"))
    console.print(str(target), markup=False, highlight=False)
    if recipients and config.report.smtp is not None:
        send_report_email(data, config.report.smtp, recipients)
        console.print(f"emailed to {escape(', '.join(recipients))}", highlight=False)


@click.command()
@config_option
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), required=True, help="Output format.")
@click.option("--wave", "wave_id", type=int, default=None, help="Wave number (default: the newest).")
@click.option("--as-of", "as_of_text", metavar="TIME", default=None, help=_AS_OF_HELP)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    default=Path("-"),
    show_default=True,
    help="A file, or - for standard output.",
)
@click.pass_obj
def export(
    settings: Settings, config_path: Path, fmt: str, wave_id: int | None, as_of_text: str | None, out: Path
) -> None:
    """The wave's results for scripts: one row per inquiry (CSV), or the wave, companies and inquiries (JSON).

    \b
        audit export --format csv > wave.csv
        audit export --format json --wave 3 --out wave-3.json
    """
    from audit.grading import grade_wave, wave_deadline
    from audit.reporting import write_atomically
    from audit.reporting.export import WRITERS

    config = load_config(config_path)
    ensure_data_dir(settings.data_dir)
    engine = open_database(settings.resolved_database_url())
    try:
        with Session(engine) as session:
            wave = wave_to_grade(session, wave_id, config.audit.name).id
            assert wave is not None
            as_of = resolve_as_of(session, config, wave, as_of_text)
            moment = as_of or wave_deadline(session, config, wave) or datetime.now(UTC)
            grades = grade_wave(session, config, wave, as_of=moment, persist=False)
    finally:
        engine.dispose()
    if str(out) == "-":
        WRITERS[fmt](grades, sys.stdout)
        return
    buffer = io.StringIO(newline="")
    WRITERS[fmt](grades, buffer)
    write_atomically(out, buffer.getvalue())
    console.print(str(out), markup=False, highlight=False)
