"""`audit serve`: the webhook endpoints, the web UI, /healthz, /metrics and the scheduler in one process."""

from __future__ import annotations

import logging
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy.engine import make_url

from audit.cli.common import config_option
from audit.config import AuditConfig, load_config
from audit.datadir import ensure_data_dir
from audit.db import open_database
from audit.logging_setup import LogFormat, configure_logging
from audit.scheduler.cron import parse_cron
from audit.settings import Settings, read_secret

log = logging.getLogger("audit.serve")


def known_secrets(settings: Settings, config: AuditConfig) -> list[str]:
    """Every secret this process may hold, for the log redactor: the values behind the config's `*_env`
    names, the web UI's secrets and the database password."""
    names: list[str | None] = []
    imap, hooks, smtp = config.mailbox.imap, config.mailbox.webhooks, config.report.smtp
    if imap is not None:
        names += [imap.password_env, imap.oauth2_token_env]
    if hooks is not None:
        names += [
            hooks.mailgun_signing_key_env,
            hooks.sendgrid_secret_env,
            hooks.postmark_username_env,
            hooks.postmark_password_env,
            hooks.generic_secret_env,
        ]
    if smtp is not None:
        names.append(smtp.password_env)
    values = [secret.get_secret_value() for name in names if name and (secret := read_secret(name))]
    for setting in (settings.web_password_hash, settings.web_session_secret):
        if setting is not None:
            values.append(setting.get_secret_value())
    password = make_url(settings.resolved_database_url()).password
    if password:
        values.append(str(password))
    return values


@click.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on."
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object a line (for journald, Loki, Elasticsearch).",
)
@click.pass_obj
def serve(settings: Settings, config_path: Path, host: str, port: int, log_format: LogFormat) -> None:
    """Run the server: scheduled waves, reply collection, deadlines and emailed reports, webhooks, web UI.

    Runs until stopped (Ctrl-C or SIGTERM: probes in flight finish first). Only one server schedules per
    database; a second one serves the web side and says it is passive. Put it behind a reverse proxy with
    TLS (see the README, "Running as a server").

    \b
        audit serve
        audit --data-dir /srv/audit serve --config /etc/audit/companies.yaml --port 8000 --log-format json
    """
    import uvicorn

    from audit.scheduler import AuditScheduler
    from audit.web import create_server_app

    config = load_config(config_path)
    if config.schedule is not None:  # a bad cron expression is one clear line now, not a failed startup later
        parse_cron(config.schedule.cron, ZoneInfo(config.audit.timezone))
    configure_logging(log_format, secrets=known_secrets(settings, config))
    ensure_data_dir(settings.data_dir)
    engine = open_database(settings.resolved_database_url())
    try:
        scheduler = AuditScheduler(settings, config, engine) if config.schedule is not None else None
        if scheduler is None:
            log.info("no schedule: section in %s; serving the web UI and webhooks only", config_path)
        app = create_server_app(settings, config, engine, scheduler=scheduler)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_config=None,  # our handlers (JSON, redaction) for uvicorn's loggers too
                lifespan="on",
                server_header=False,
                # The app reads X-Forwarded-* itself, only from AUDIT_WEB_TRUSTED_PROXY; uvicorn rewriting the
                # client address would hide which hop sent the request and break header login.
                proxy_headers=False,
            )
        )
        log.info("audit serve: listening on http://%s:%d (data in %s)", host, port, settings.data_dir)
        server.run()
    finally:
        engine.dispose()
