"""The only reader of the process environment (docs/style.md, "Configuration and the environment").

Settings come from `AUDIT_*` variables (or a `.env` file in the working directory) and are passed down as one
typed object; secrets named in companies.yaml (`password_env: ...`) are read through `read_secret`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from audit.logging_setup import remember_secret


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUDIT_", env_file=".env", extra="ignore")

    data_dir: Path = Path("audit-data")
    """Database (SQLite), evidence and raw messages live here."""

    database_url: str | None = None
    """SQLAlchemy URL; default `sqlite:///<data_dir>/audit.db`. PostgreSQL: `postgresql+psycopg://user@host/db`."""

    chromium_path: str | None = None
    """A Chromium/Chrome binary to use instead of Playwright's own or the system one."""

    web_password_hash: SecretStr | None = None
    """The web UI's login: `scrypt$n$r$p$salt$hash`, as printed by `audit hash-password`."""

    web_session_secret: SecretStr | None = None
    """Signs the web UI's session cookie (32+ characters); unset: a random one, and a restart logs out."""

    web_trusted_header: str | None = None
    """The header a reverse proxy puts the signed-in user in (X-Forwarded-User), believed from it only."""

    web_trusted_proxy: str = "127.0.0.1"
    """Comma-separated addresses or networks whose `web_trusted_header` and X-Forwarded-Proto are believed."""

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'audit.db').as_posix()}"


def read_secret(variable: str) -> SecretStr | None:
    """The value of the environment variable a config names (e.g. `password_env: AUDIT_IMAP_PASSWORD`)."""
    value = os.environ.get(variable)  # noqa: TID251 - this module is the one allowed reader
    if value:
        remember_secret(value)  # so the CLI's error lines never show it (audit/logging_setup.py)
    return SecretStr(value) if value else None
