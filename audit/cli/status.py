"""`audit status`: a wave's probes as a table. Kept apart from `audit run` so that it never loads the
runner, Playwright or the probes: it only reads the database."""

from __future__ import annotations

from pathlib import Path

import click

from audit.cli.common import config_option, console
from audit.config import load_config
from audit.datadir import ensure_data_dir
from audit.db import open_database
from audit.settings import Settings
from audit.status import render_status


@click.command()
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
