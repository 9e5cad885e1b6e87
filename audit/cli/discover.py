"""`audit discover`: which contact page each company given by its website would get; nothing is submitted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from audit.cli.common import config_option, console, err_console
from audit.config import AuditConfig, CompanySection, load_config
from audit.configfile import set_company_field
from audit.contact_page import discover
from audit.errors import AuditError
from audit.settings import Settings
from probes import launch_browser
from probes.discover import DiscoveryResult


def _targets(config: AuditConfig, only: tuple[str, ...]) -> list[CompanySection]:
    known = {company.id for company in config.companies}
    unknown = [company_id for company_id in only if company_id not in known]
    if unknown:
        raise AuditError(f"--only names unknown company id(s): {', '.join(unknown)}")
    chosen = [config.company(company_id) for company_id in only] if only else list(config.companies)
    return [company for company in chosen if company.website and not company.contact_url]


async def _discover_all(
    settings: Settings, config: AuditConfig, companies: list[CompanySection]
) -> list[DiscoveryResult]:
    # One company after another: discovery loads one page at a time, and so does this command.
    results = []
    async with launch_browser(settings.chromium_path) as browser:
        for company in companies:
            results.append(await discover(browser, config, company))
    return results


@click.command()
@config_option
@click.option("--only", multiple=True, metavar="ID", help="Only this company (repeatable).")
@click.option(
    "--write", is_flag=True, help="Write each found page into the config as the company's contact_url."
)
@click.option("--verbose", "-v", is_flag=True, help="Show every page loaded and every candidate refused.")
@click.pass_obj
def discover_command(
    settings: Settings, config_path: Path, only: tuple[str, ...], write: bool, verbose: bool
) -> None:
    """Find the contact page of each company given by its website, without submitting anything.

    Only companies with a `website` and no `contact_url` are searched (at most audit.discovery.max_pages
    pages each, one at a time). With --write the pages found become their `contact_url` in the config,
    which keeps its comments and layout.

    \b
        audit discover                   # preview
        audit discover --only acme -v    # every page loaded, and why
        audit discover --write
    """
    config = load_config(config_path)
    companies = _targets(config, only)
    if not companies:
        console.print("No company is given by a website without a contact_url: nothing to discover.")
        return
    results = asyncio.run(_discover_all(settings, config, companies))
    table = Table("company", "website", "contact page", "pages")
    for company, result in zip(companies, results, strict=True):
        page = escape(result.contact_url) if result.contact_url else "[yellow]none found[/yellow]"
        table.add_row(escape(company.id), escape(result.website), page, str(result.pages_loaded))
    console.print(table)
    if verbose:
        for company, result in zip(companies, results, strict=True):
            console.print(f"[bold]{escape(company.id)}[/bold]")
            for step in result.steps:
                console.print(f"  {escape(step.url)}: {escape(step.reason_chosen)} -> {escape(step.outcome)}")
            for refused in result.refused:
                console.print(f"  [dim]not loaded: {escape(refused)}[/dim]")
    found = [(c, r.contact_url) for c, r in zip(companies, results, strict=True) if r.contact_url]
    if write:
        for company, url in found:
            assert url is not None
            set_company_field(config_path, company.id, "contact_url", url)
        console.print(f"Wrote {len(found)} contact_url line(s) into {escape(str(config_path))}.")
    elif found:
        console.print("Add --write to keep these pages in the config.")
    missing = len(companies) - len(found)
    if missing:
        err_console.print(
            f"{missing} compan{'y' if missing == 1 else 'ies'} without a contact page found: "
            "give a contact_url by hand, or an email with email_fallback: true."
        )
