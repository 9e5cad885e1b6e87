"""`audit hash-password`: the line that turns on the web UI's login, for the server's environment file."""

from __future__ import annotations

import click

from audit.errors import UsageError
from audit.web.auth import hash_password

MIN_PASSWORD_CHARS = 12


@click.command("hash-password")
def hash_password_command() -> None:
    """Ask for the web UI's password (twice) and print the AUDIT_WEB_PASSWORD_HASH line to keep.

    The password itself is never stored or printed: put the printed line in the server's environment file
    (e.g. /etc/contact-audit/env) and restart `audit serve`.

    \b
        audit hash-password >> /etc/contact-audit/env
    """
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    if len(password) < MIN_PASSWORD_CHARS:
        raise UsageError(f"use a password of at least {MIN_PASSWORD_CHARS} characters")
    # Single quotes: a shell, systemd's EnvironmentFile and a .env file all take the `$` signs literally.
    click.echo(f"AUDIT_WEB_PASSWORD_HASH='{hash_password(password)}'")
