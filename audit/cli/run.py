"""`audit run`: one inquiry per company, with a progress bar; and the summary `audit demo` prints too."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from audit.cli.common import config_option, console
from audit.config import AuditConfig, load_config
from audit.datadir import ensure_data_dir
from audit.db import open_database
from audit.models import Probe
from audit.runner import RunOptions, RunReport, run_wave
from audit.settings import Settings
from audit.status import render_status


@click.command()
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
