"""The `audit` command line: thin commands that parse, call the core and map errors to one clear line.

The root group loads a subcommand's module only when that command runs or shows its own help (click's
"Lazily Loading Subcommands" pattern, https://click.palletsprojects.com/en/stable/complex/). `audit --help`
reads the command list and the short help lines from `COMMANDS` below, so it imports click and nothing
heavy: no database, web, browser or template libraries (tests/test_cli_startup.py checks both).
"""

from __future__ import annotations

import importlib
import sys
import traceback
from gettext import gettext as _
from pathlib import Path
from typing import Any, NamedTuple

import click
from click.utils import make_default_short_help

from audit import __version__
from audit.errors import AuditError, ConfigError


class LazyCommand(NamedTuple):
    target: str
    """"module:attribute" of the click command."""
    short_help: str
    """The first sentence of the command's docstring, for `audit --help` (a test keeps the two equal)."""


COMMANDS: dict[str, LazyCommand] = {
    "check": LazyCommand(
        "audit.cli.check:check", "Validate the configuration file and say what a run would do."
    ),
    "companies": LazyCommand(
        "audit.cli.companies:companies",
        "Import the company list from a spreadsheet (CSV or XLSX), or export it as CSV.",
    ),
    "discover": LazyCommand(
        "audit.cli.discover:discover_command",
        "Find the contact page of each company given by its website, without submitting anything.",
    ),
    "run": LazyCommand(
        "audit.cli.run:run", "Submit one inquiry to every company's contact form, in a real browser."
    ),
    "status": LazyCommand(
        "audit.cli.status:status", "Show a wave's probes as a table: outcome, submission time, evidence."
    ),
    "collect": LazyCommand(
        "audit.cli.collect:collect",
        "Read every configured reply source once (IMAP folders, a Maildir) and store what is new.",
    ),
    "inbox": LazyCommand(
        "audit.cli.collect:inbox",
        "List the collected messages, newest first: when, from whom, which inquiry, what kind.",
    ),
    "reply": LazyCommand(
        "audit.cli.collect:reply", "Replies that came another way than email (a phone call back, an SMS)."
    ),
    "grade": LazyCommand(
        "audit.cli.grade:grade",
        "Grade a wave: reply times, rubric, tiers; stores the results and prints them.",
    ),
    "report": LazyCommand(
        "audit.cli.report:report",
        "Write the wave's report as one HTML file and print its path; optionally email it.",
    ),
    "export": LazyCommand(
        "audit.cli.report:export",
        "The wave's results for scripts: one row per inquiry (CSV), or the wave, companies and inquiries "
        "(JSON).",
    ),
    "serve": LazyCommand(
        "audit.cli.serve:serve",
        "Run the server: scheduled waves, reply collection, deadlines and emailed reports, webhooks, web UI.",
    ),
    "hash-password": LazyCommand(
        "audit.cli.web:hash_password_command",
        "Ask for the web UI's password (twice) and print the AUDIT_WEB_PASSWORD_HASH line to keep.",
    ),
    "demo": LazyCommand(
        "audit.cli.demo:demo",
        "The whole pipeline against bundled local demo sites (nothing leaves 127.0.0.1).",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are named in a table and imported on first use."""

    def __init__(
        self, *args: Any, lazy_commands: dict[str, LazyCommand] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = self.lazy_commands.get(cmd_name)
        if lazy is None:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = lazy.target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{lazy.target} is not a click command")
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as ex:
            # click suggests from the commands it holds, and it holds none of ours until one is loaded.
            raise click.exceptions.NoSuchCommand(
                ex.command_name, possibilities=self.list_commands(ctx), ctx=ctx
            ) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's own version calls get_command for every name, which would import every command's module
        # to print one line each. The table's sentence is shortened the way click shortens a docstring.
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            lazy = self.lazy_commands.get(name)
            if lazy is not None:
                rows.append((name, make_default_short_help(lazy.short_help, limit)))
                continue
            command = super().get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section(_("Commands")):  # translated as click translates it
            formatter.write_dl(rows)


class AuditGroup(LazyGroup):
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
        except AuditError as ex:
            _error(ctx, str(ex))
            ctx.exit(1)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as ex:
            probe_error = _loaded_probe_error()
            if probe_error is not None and isinstance(ex, probe_error):  # the browser's, e.g. no Chromium
                _error(ctx, str(ex))
                ctx.exit(1)
            # A bug: its traceback, redacted, since its message may hold a secret all the same.
            from audit.cli.common import err_console
            from audit.logging_setup import redact

            text = redact(traceback.format_exc(), _settings_secrets(ctx))
            err_console.print(text, markup=False, highlight=False)
            ctx.exit(1)


def _loaded_probe_error() -> type[Exception] | None:
    """`probes.ProbeError`, if the probes are loaded. Importing them to ask would load Playwright into every
    command, and a command that never loaded them cannot have raised one."""
    error: type[Exception] | None = getattr(sys.modules.get("probes.errors"), "ProbeError", None)
    return error


def _settings_secrets(ctx: click.Context) -> list[str]:
    from audit.settings import Settings

    settings = ctx.obj if isinstance(ctx.obj, Settings) else None
    if settings is None:
        return []
    held = (settings.web_password_hash, settings.web_session_secret)
    return [secret.get_secret_value() for secret in held if secret is not None]


def _error(ctx: click.Context, text: str) -> None:
    # rich and the redactor are imported when there is something to print, not for every `--help`.
    from rich.markup import escape

    from audit.cli.common import err_console
    from audit.logging_setup import redact

    line = escape(redact(text, _settings_secrets(ctx)))
    err_console.print(f"[red]error:[/red] {line}", markup=True, highlight=False, soft_wrap=True)


@click.group(cls=AuditGroup, lazy_commands=COMMANDS)
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
    # Here, not at the top: pydantic-settings is not needed to print the help, and `audit --help` exits
    # before this runs.
    from audit.settings import Settings

    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    ctx.obj = settings


def main() -> None:
    cli(prog_name="audit")


__all__ = ["COMMANDS", "AuditGroup", "LazyCommand", "LazyGroup", "cli", "main"]
