"""The CLI answers at once: `audit --help` loads no subcommand and no heavy library, `audit status` on a current
database never loads Alembic. What is imported is asserted, never how long it took (bench/bench_cli_startup.py
measures that)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import click
from click.testing import CliRunner
from click.utils import make_default_short_help
from sqlmodel import Session

from audit.cli import COMMANDS, cli
from audit.db import open_database
from audit.models import Wave
from tests.dbutil import sqlite_url

REPO = Path(__file__).resolve().parent.parent

# What `audit --help` must not load: the database, migrations, web, browser, template, HTTP and settings
# libraries, and any subcommand's module.
HEAVY = (
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "playwright",
    "jinja2",
    "tldextract",
    "requests",
    "httpx",
    "apscheduler",
    "pydantic",
    "pydantic_settings",
    "rich",
    "probes",
)


def run_python(*args: str) -> subprocess.CompletedProcess[str]:
    # The checkout first on the path: an installed copy elsewhere must not be what is tested.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def imported_modules(importtime_log: str) -> set[str]:
    """The module names in `-X importtime` output (`import time: self | cumulative | name`)."""
    names = set()
    for line in importtime_log.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    names.discard("imported package")
    return names


def heavy_among(modules: set[str]) -> list[str]:
    return sorted(name for name in modules if name.split(".")[0] in HEAVY)


def test_help_imports_no_subcommand_and_no_heavy_library() -> None:
    done = run_python("-X", "importtime", "-m", "audit", "--help")
    assert done.returncode == 0, done.stderr[-2000:]
    modules = imported_modules(done.stderr)
    assert "audit.cli" in modules  # the log is what it should be
    assert heavy_among(modules) == []
    assert sorted(name for name in modules if name.startswith("audit.cli.")) == []


def test_help_lists_every_command_with_its_short_help() -> None:
    done = run_python("-m", "audit", "--help")
    assert done.returncode == 0, done.stderr[-2000:]
    listed = done.stdout.split("\nCommands:\n", 1)[1].splitlines()
    names = [line.split()[0] for line in listed if line.strip()]
    assert names == sorted(COMMANDS)
    for line in listed:
        name, short = line.split(maxsplit=1)
        shown = short.removesuffix("...")
        assert COMMANDS[name].short_help.startswith(shown), line


def test_the_console_script_and_python_m_audit_both_reach_main() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["audit"] == "audit.cli:main"
    script = "import sys; from audit.cli import main; sys.argv = ['audit', '--version']; main()"
    for done in (run_python("-c", script), run_python("-m", "audit", "--version")):
        assert done.returncode == 0 and "audit, version" in done.stdout, done.stderr[-2000:]


def test_the_table_says_what_each_command_says_of_itself() -> None:
    """COMMANDS is a copy of each command's first docstring sentence: it must not drift from the command."""
    ctx = click.Context(cli, info_name="audit")
    for name, lazy in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name, lazy.target
        own = command.short_help or make_default_short_help(command.help or "", 10_000)
        assert lazy.short_help == own, name


def test_the_lazy_listing_is_the_one_click_would_print_with_every_command_loaded() -> None:
    ctx = click.Context(cli, info_name="audit")
    lazy = click.HelpFormatter()
    cli.format_commands(ctx, lazy)
    eager = click.HelpFormatter()
    click.Group.format_commands(cli, ctx, eager)  # click's own: asks each loaded command for its help
    assert lazy.getvalue() == eager.getvalue()
    assert all(f"  {name}" in lazy.getvalue() for name in COMMANDS)


# Runs the CLI as `audit` would, then reports which Alembic modules the process loaded.
STATUS_SCRIPT = """
import json, sys
from audit.cli import cli
code = 0
try:
    cli.main(sys.argv[1:], prog_name="audit")
except SystemExit as ex:
    code = ex.code
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "alembic")
print("\\n" + json.dumps({"code": code, "alembic": loaded}))
"""


def run_status(data_dir: Path) -> tuple[int, list[str], subprocess.CompletedProcess[str]]:
    """`audit status`'s exit code, the Alembic modules it loaded, and the process."""
    config = REPO / "companies.yaml"
    done = run_python("-c", STATUS_SCRIPT, "--data-dir", str(data_dir), "status", "--config", str(config))
    report = json.loads(done.stdout.rstrip().rsplit("\n", 1)[1])
    return report["code"], report["alembic"], done


def test_status_on_a_current_database_does_not_load_alembic(tmp_path: Path) -> None:
    engine = open_database(sqlite_url(tmp_path))  # migrated here, as by an earlier command
    with Session(engine) as session:
        session.add(Wave(audit_name="Israeli contact forms, winter 2026"))
        session.commit()
    engine.dispose()
    code, alembic, done = run_status(tmp_path)
    assert (code, alembic) == (0, []), done.stderr[-2000:]
    assert "Wave 1 (live, open) of 'Israeli contact forms, winter 2026'" in done.stdout


def test_status_on_a_new_database_runs_the_migrations_once(tmp_path: Path) -> None:
    code, alembic, done = run_status(tmp_path)
    assert code == 1  # nothing run yet: one clear line
    assert "no wave has been run yet" in done.stderr and "Traceback" not in done.stderr
    assert "alembic.command" in alembic
    code, alembic, done = run_status(tmp_path)  # the second command finds the schema current
    assert (code, alembic) == (1, []), done.stderr[-2000:]


def test_a_misspelt_command_is_still_suggested() -> None:
    # click suggests from the commands a group holds; a lazy group holds none until one is loaded.
    result = CliRunner().invoke(cli, ["stauts"])
    assert result.exit_code == 2
    assert "No such command 'stauts'. Did you mean 'status'?" in result.stderr
