"""`audit demo`: the whole pipeline against the bundled local sites."""

from __future__ import annotations

import click

from audit.cli.common import console
from audit.demo.run import run_demo
from audit.languages import LANGUAGES
from audit.settings import Settings


@click.command()
@click.option("--dry-run", is_flag=True, help="Fill the demo forms, click nothing: no replies, no report.")
@click.option("--keep-serving", is_flag=True, help="Keep the demo sites up afterwards, to look at them.")
@click.option(
    "--lang", type=click.Choice(LANGUAGES), default="en", show_default=True, help="The report's language."
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
    run_demo(settings, console=console, dry_run=dry_run, keep_serving=keep_serving, lang=lang)
