"""`audit check`: the configuration file validated, and what a run would do."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from audit.cli.common import config_option, console
from audit.config import AuditConfig, load_config
from audit.settings import read_secret


@click.command()
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
