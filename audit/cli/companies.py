"""`audit companies import` and `audit companies export`: the company list to and from a spreadsheet."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from audit.cli.common import config_option, console, err_console
from audit.companies_io import ImportResult, companies_for, export_companies, iter_issues
from audit.config import load_config
from audit.configfile import append_companies
from audit.errors import UsageError


@click.group()
def companies() -> None:
    """Import the company list from a spreadsheet (CSV or XLSX), or export it as CSV.

    \b
        audit companies import companies.xlsx           # what would be added, and every bad row
        audit companies import companies.csv --write    # append them to companies.yaml
        audit companies export --out companies.csv      # the list, to edit in a spreadsheet
    """


@companies.command("import")
@config_option
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--write", is_flag=True, help="Append the new companies to the config (comments and layout kept)."
)
@click.pass_context
def import_command(ctx: click.Context, config_path: Path, file: Path, write: bool) -> None:
    """Read companies from a CSV or XLSX file: show what would be added, and with --write add it.

    Columns (any order, English or Hebrew headers): name, website, contact_url, email, sector, region,
    notes, and optionally id. Every bad row is printed as FILE:ROW: column: problem and skipped; companies
    already in the config are skipped as duplicates. The exit status is 1 when rows were bad and none could
    be added, else 0.

    \b
        audit companies import list.csv
        audit companies import list.xlsx --write --config companies.yaml
    """
    config = load_config(config_path)
    result = companies_for(file, config, source=str(file))
    _print_preview(result)
    for issue in iter_issues(result):
        err_console.print(escape(str(issue)), highlight=False)
    added = len(result.companies)
    skipped = f"{result.bad_rows} bad row(s) and {len(result.duplicates)} duplicate(s) skipped"
    if write and added:
        append_companies(config_path, [company.entry for company in result.companies])
        console.print(
            f"Added {added} compan{'y' if added == 1 else 'ies'} to {escape(str(config_path))}; {skipped}."
        )
    elif added:
        console.print(f"{added} to add, {skipped}. Nothing written: add --write to append them.")
    else:
        console.print(f"Nothing to add: {skipped}.")
    if result.problems and not added:
        ctx.exit(1)


def _print_preview(result: ImportResult) -> None:
    console.print(
        f"{escape(result.source)}: {escape(result.described)}, {result.rows} row(s)", highlight=False
    )
    if not result.companies:
        return
    table = Table("row", "id", "name", "website / contact page / email", "sector")
    for imported in result.companies:
        company = imported.company
        reach = [value for value in (company.website, company.contact_url, company.email) if value]
        table.add_row(
            str(imported.row),
            escape(company.id),
            escape(company.name),
            escape("\n".join(reach)),
            escape(company.sector),
        )
    console.print(table)


@companies.command("export")
@config_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the CSV to this file (default: standard output).",
)
def export_command(config_path: Path, out: Path | None) -> None:
    """Write the config's companies as CSV (UTF-8 with a BOM, so Excel shows Hebrew): the import's columns.

    \b
        audit companies export --out companies.csv
        audit companies export > companies.csv
    """
    config = load_config(config_path)
    data = export_companies(config).encode("utf-8")
    if out is None:
        click.get_binary_stream("stdout").write(data)
        return
    try:
        out.write_bytes(data)
    except OSError as ex:
        raise UsageError(f"{out}: cannot be written: {ex.strerror or ex}") from ex
    count = len(config.companies)
    console.print(
        f"Wrote {count} compan{'y' if count == 1 else 'ies'} to {escape(str(out))}.", highlight=False
    )
