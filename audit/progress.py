"""A wave run shown on a terminal: the progress bar while it runs and the summary after it.

Shared by `audit run` (audit/cli/run.py) and `audit demo` (audit/demo/run.py); it sits below both, so the
demo does not import the CLI (the layers in pyproject.toml's import-linter contracts).
"""

from __future__ import annotations

import asyncio
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from audit.config import AuditConfig
from audit.datadir import ensure_data_dir
from audit.db import open_database
from audit.models import Probe
from audit.runner import RunOptions, RunReport, run_wave
from audit.settings import Settings
from audit.status import render_status


def run_with_progress(
    console: Console, settings: Settings, config: AuditConfig, options: RunOptions
) -> RunReport:
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


def print_run_summary(console: Console, settings: Settings, config: AuditConfig, report: RunReport) -> None:
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
