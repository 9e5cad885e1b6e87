"""`audit run`: one inquiry per company, with a progress bar (audit/progress.py, shared with `audit demo`)."""

from __future__ import annotations

from pathlib import Path

import click

from audit.cli.common import config_option, console
from audit.config import load_config
from audit.progress import print_run_summary, run_with_progress
from audit.runner import RunOptions
from audit.settings import Settings


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
    report = run_with_progress(console, settings, config, options)
    print_run_summary(console, settings, config, report)
