"""The `audit` command line: thin commands that parse, call the core and map errors to one clear line."""

from __future__ import annotations

import asyncio
import traceback
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from audit import __version__
from audit.cli_common import config_option, console, err_console
from audit.config import AuditConfig, load_config
from audit.datadir import ensure_data_dir
from audit.db import open_database
from audit.errors import AuditError, ConfigError
from audit.logging_setup import redact
from audit.models import Probe
from audit.runner import RunOptions, RunReport, run_wave
from audit.settings import Settings
from audit.status import render_status
from probes import ProbeError


class AuditGroup(click.Group):
    """Turns every expected failure into one line on stderr and exit status 1; tracebacks are for bugs.

    What is printed goes through the redactor first (audit/logging_setup.py): an exception's text may quote
    a server that echoed our LOGIN line, or a URL with its password.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as ex:
            for problem in ex.problems:
                _error(ctx, problem)
            ctx.exit(1)
        except (AuditError, ProbeError) as ex:
            _error(ctx, str(ex))
            ctx.exit(1)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception:  # a bug: its traceback, redacted, since its message may hold a secret all the same
            text = redact(traceback.format_exc(), _settings_secrets(ctx))
            err_console.print(text, markup=False, highlight=False)
            ctx.exit(1)


def _settings_secrets(ctx: click.Context) -> list[str]:
    settings = ctx.obj if isinstance(ctx.obj, Settings) else None
    if settings is None:
        return []
    held = (settings.web_password_hash, settings.web_session_secret)
    return [secret.get_secret_value() for secret in held if secret is not None]


def _error(ctx: click.Context, text: str) -> None:
    line = escape(redact(text, _settings_secrets(ctx)))
    err_console.print(f"[red]error:[/red] {line}", markup=True, highlight=False, soft_wrap=True)


@click.group(cls=AuditGroup)
@click.version_option(__version__, prog_name="audit")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where the database and evidence live (default: $AUDIT_DATA_DIR or ./audit-data).",
)
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None) -> None:
    """Audit how companies answer their website contact forms.

    \b
        audit check                 validate companies.yaml
        audit run --dry-run         fill every form, click nothing
        audit run                   submit one inquiry per company
        audit status                the wave as a table
        audit collect --watch       catch the replies (IMAP, Maildir)
        audit grade                 tiers, reply times on both clocks, the rubric
        audit report --email        the HTML report, emailed to report.recipients
        audit serve                 all of it on a schedule, with a web UI
        audit demo                  the whole thing against bundled local sites
    """
    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    ctx.obj = settings


@cli.command()
@config_option
def check(config_path: Path) -> None:
    """Validate the configuration file and say what a run would do.

    \b
        audit check --config companies.yaml
    """
    config = load_config(config_path)
    enabled = [company for company in config.companies if company.enabled]
    console.print(
        f"[green]ok[/green] {escape(str(config_path))}: audit '{escape(config.audit.name)}', "
        f"{len(enabled)} companies to probe "
        f"({len(config.companies) - len(enabled)} disabled), replies to {config.mailbox.address}",
        highlight=False,
    )
    for warning in config_warnings(config):
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)


def config_warnings(config: AuditConfig) -> list[str]:
    from audit.settings import read_secret  # the one reader of the environment

    warnings = []
    imap = config.mailbox.imap
    if imap is not None:
        for variable in (imap.password_env, imap.oauth2_token_env):
            if variable and read_secret(variable) is None:
                warnings.append(
                    f"mailbox.imap names ${variable}, which is not set (needed to collect replies)"
                )
    if config.audit.allow_private_targets:
        warnings.append("audit.allow_private_targets is on: probes may reach private and loopback addresses")
    return warnings


@cli.command()
@config_option
@click.option("--only", multiple=True, metavar="ID", help="Probe only this company (repeatable).")
@click.option("--dry-run", is_flag=True, help="Fill every form and take screenshots, but never click submit.")
@click.option(
    "--concurrency", type=click.IntRange(1, 16), default=None, help="Probes at once (default: config)."
)
@click.option(
    "--new-wave", is_flag=True, help="Start a new round of inquiries instead of continuing the last."
)
@click.option("--retry", is_flag=True, help="Try again the companies where nothing could be submitted.")
@click.pass_obj
def run(
    settings: Settings,
    config_path: Path,
    only: tuple[str, ...],
    dry_run: bool,
    concurrency: int | None,
    new_wave: bool,
    retry: bool,
) -> None:
    """Submit one inquiry to every company's contact form, in a real browser.

    Re-running continues the current wave: companies that already have an outcome are never contacted again,
    and a run that died mid-submit is resumed without re-sending.

    \b
        audit run --dry-run            # check the forms first: fill, screenshot, no click
        audit run --only acme --only globex
        audit run --new-wave           # the next round (e.g. a month later)
    """
    config = load_config(config_path)
    options = RunOptions(only=only, dry_run=dry_run, concurrency=concurrency, new_wave=new_wave, retry=retry)
    report = run_with_progress(settings, config, options)
    print_run_summary(settings, config, report)


def run_with_progress(settings: Settings, config: AuditConfig, options: RunOptions) -> RunReport:
    ensure_data_dir(settings.data_dir)
    engine = open_database(settings.resolved_database_url())
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"),
        console=console,
        transient=False,
    )
    task_ids: list[Any] = []

    def on_plan(wave_id: int, total: int) -> None:
        mode = "dry run" if options.dry_run else "wave"
        task_ids.append(progress.add_task(f"{mode} {wave_id}", total=total, last=""))

    def on_progress(event: str, probe: Probe) -> None:
        if event == "done" and task_ids:
            progress.update(task_ids[0], advance=1, last=f"{probe.company_id}: {probe.outcome}")

    try:
        with progress:
            return asyncio.run(
                run_wave(
                    settings=settings,
                    config=config,
                    engine=engine,
                    options=options,
                    on_plan=on_plan,
                    on_progress=on_progress,
                )
            )
    finally:
        engine.dispose()


def print_run_summary(settings: Settings, config: AuditConfig, report: RunReport) -> None:
    for company_id in report.recovered_uncertain:
        console.print(
            f"[yellow]{company_id}[/yellow]: the last run stopped mid-submit; marked uncertain, not re-sent",
            highlight=False,
        )
    if report.already_done:
        console.print(
            f"Wave {report.wave_id} already has an outcome for every selected company; nothing was sent. "
            "Use --new-wave for the next round, or --retry for companies where nothing could be submitted.",
            highlight=False,
        )
    engine = open_database(settings.resolved_database_url())
    try:
        render_status(console, engine, wave_id=report.wave_id, timezone=config.audit.timezone)
    finally:
        engine.dispose()
    evidence = settings.data_dir / "evidence" / f"wave-{report.wave_id}"
    console.print(f"Evidence (screenshots, evidence.json): {evidence}/<company id>-1/", highlight=False)


@cli.command()
@config_option
@click.option("--wave", "wave_id", type=int, default=None, help="Wave number (default: the newest).")
@click.pass_obj
def status(settings: Settings, config_path: Path, wave_id: int | None) -> None:
    """Show a wave's probes as a table: outcome, submission time, evidence.

    \b
        audit status
        audit status --wave 3
    """
    timezone = "UTC"
    audit_name: str | None = None
    if config_path.exists():
        config = load_config(config_path)
        timezone, audit_name = config.audit.timezone, config.audit.name
    ensure_data_dir(settings.data_dir)
    engine = open_database(settings.resolved_database_url())
    try:
        render_status(console, engine, wave_id=wave_id, timezone=timezone, audit_name=audit_name)
    finally:
        engine.dispose()


@cli.command()
@click.option("--dry-run", is_flag=True, help="Fill the demo forms, click nothing: no replies, no report.")
@click.option("--keep-serving", is_flag=True, help="Keep the demo sites up afterwards, to look at them.")
@click.option(
    "--lang", type=click.Choice(["en", "he"]), default="en", show_default=True, help="The report's language."
)
@click.pass_obj
def demo(settings: Settings, dry_run: bool, keep_serving: bool, lang: str) -> None:
    """The whole pipeline against bundled local demo sites (nothing leaves 127.0.0.1).

    Submits one inquiry to each demo company, lets the simulated companies reply into a local Maildir (dated
    up to days ahead), collects and grades the replies as of the wave's deadline, and prints the report's
    path. Uses its own data directory, <data-dir>/demo, cleared at the start of every run.

    \b
        audit demo
        audit demo --lang he
        audit --data-dir /tmp/demo-data demo --dry-run
    """
    from audit.demo.run import run_demo

    run_demo(settings, console=console, dry_run=dry_run, keep_serving=keep_serving, lang=lang)


def main() -> None:
    cli(prog_name="audit")


def _register_collector_commands() -> None:
    from audit.cli_collect import collect, inbox, reply
    from audit.cli_grade import grade
    from audit.cli_report import export, report
    from audit.cli_serve import serve

    for command in (collect, inbox, reply, grade, serve, report, export):
        cli.add_command(command)


_register_collector_commands()
from audit.cli_web import hash_password_command  # noqa: E402 - registered like the collector's

cli.add_command(hash_password_command)
