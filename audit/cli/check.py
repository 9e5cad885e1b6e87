"""`audit check`: the configuration file validated, and what a run would do."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from audit.cli.common import config_option, console
from audit.config import AuditConfig, CompanySection, load_config
from audit.datadir import ensure_data_dir
from audit.settings import Settings, read_secret


@click.command()
@config_option
@click.pass_obj
def check(settings: Settings, config_path: Path) -> None:
    """Validate the configuration file and say what a run would do.

    \b
        audit check --config companies.yaml
    """
    config = load_config(config_path)
    ensure_data_dir(settings.data_dir)  # a run would stop here: say so now, not after the first form is sent
    enabled = [company for company in config.companies if company.enabled]
    console.print(
        f"[green]ok[/green] {escape(str(config_path))}: audit '{escape(config.audit.name)}', "
        f"{len(enabled)} companies to probe "
        f"({len(config.companies) - len(enabled)} disabled), replies to {config.mailbox.address}",
        highlight=False,
    )
    ways = _ways(enabled)
    if ways:
        console.print(f"  {escape(ways)}", highlight=False)
    for warning in config_warnings(config):
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)


def _ways(companies: list[CompanySection]) -> str:
    """How the companies would be reached, when it is not simply one form each."""
    found = sum(1 for c in companies if c.contact_url is None and "form" in c.inquiry_channels)
    emailed = sum(1 for c in companies if "email" in c.inquiry_channels)
    fallback = sum(1 for c in companies if c.email_fallback and "email" not in c.inquiry_channels)
    parts = []
    if found:
        parts.append(f"{found} contact page(s) to find from the website (see `audit discover`)")
    if emailed:
        parts.append(f"{emailed} inquiry(ies) by email")
    if fallback:
        parts.append(f"{fallback} email fallback(s) if no form is found")
    return "; ".join(parts)


def config_warnings(config: AuditConfig) -> list[str]:
    warnings = []
    for key, variable, needed_for in _named_secrets(config):
        if read_secret(variable) is None:
            warnings.append(f"{key} names ${variable}, which is not set (needed {needed_for})")
    if config.audit.allow_private_targets:
        warnings.append("audit.allow_private_targets is on: probes may reach private and loopback addresses")
    return warnings


def _named_secrets(config: AuditConfig) -> list[tuple[str, str, str]]:
    """(config key, environment variable, what for) for every secret the file names."""
    named: list[tuple[str, str | None, str]] = []
    if (imap := config.mailbox.imap) is not None:
        named += [
            ("mailbox.imap.password_env", imap.password_env, "to collect replies"),
            ("mailbox.imap.oauth2_token_env", imap.oauth2_token_env, "to collect replies"),
        ]
    if (hooks := config.mailbox.webhooks) is not None:
        for name in (
            "mailgun_signing_key_env",
            "sendgrid_secret_env",
            "postmark_username_env",
            "postmark_password_env",
            "generic_secret_env",
        ):
            named.append((f"mailbox.webhooks.{name}", getattr(hooks, name), "by its webhook endpoint"))
    if config.report.smtp is not None:
        named.append(("report.smtp.password_env", config.report.smtp.password_env, "to email the report"))
    if config.mailbox.smtp is not None:
        named.append(("mailbox.smtp.password_env", config.mailbox.smtp.password_env, "to email inquiries"))
    return [(key, variable, why) for key, variable, why in named if variable]
