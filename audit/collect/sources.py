"""`audit collect`: one pass over every configured source, or keep watching."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from audit.collect.imap import ImapCredentials, ImapStats, collect_imap_once, imap_watch
from audit.collect.maildir import collect_maildir_once
from audit.collect.spool import process_spool
from audit.config import AuditConfig, ImapSection
from audit.errors import AuditError
from audit.settings import read_secret


@dataclass(slots=True)
class CollectReport:
    lines: list[str] = field(default_factory=list)  # one per source: what it did


def imap_credentials(imap: ImapSection) -> ImapCredentials:
    password = read_secret(imap.password_env) if imap.password_env else None
    token = read_secret(imap.oauth2_token_env) if imap.oauth2_token_env else None
    if password is None and token is None:
        named = imap.password_env or imap.oauth2_token_env
        raise AuditError(
            f"mailbox.imap has no password (set ${named})" if named else "mailbox.imap names no password_env"
        )
    return ImapCredentials(
        password=password.get_secret_value() if password else None,
        oauth2_token=token.get_secret_value() if token else None,
    )


def _sources_or_fail(config: AuditConfig) -> None:
    if config.mailbox.imap is None and config.mailbox.maildir is None:
        raise AuditError(
            "no reply source is configured: add mailbox.imap or mailbox.maildir to the config "
            "(webhooks are received by `audit serve`)"
        )


def collect_once(engine: Engine, config: AuditConfig, *, data_dir: Path) -> CollectReport:
    _sources_or_fail(config)
    report = CollectReport()
    # Webhook deliveries accepted by `audit serve` but not yet ingested (say it was stopped mid-way).

    if (ingested := process_spool(engine, data_dir)) > 0:
        report.lines.append(f"webhook spool: {ingested} accepted deliveries ingested")
    if config.mailbox.maildir is not None:
        stats = collect_maildir_once(engine, Path(config.mailbox.maildir), data_dir=data_dir)
        report.lines.append(
            f"maildir {config.mailbox.maildir}: {stats.stored} new, {stats.duplicates} already stored"
            + (f", {len(stats.errors)} errors: {'; '.join(stats.errors[:3])}" if stats.errors else "")
        )
    if config.mailbox.imap is not None:
        imap = config.mailbox.imap
        stats_imap = collect_imap_once(engine, imap, imap_credentials(imap), data_dir=data_dir)
        report.lines.append(f"imap {imap.username}@{imap.host}: {stats_imap.summary()}")
    return report


def watch(
    engine: Engine,
    config: AuditConfig,
    *,
    data_dir: Path,
    poll_interval_s: float,
    stop: threading.Event,
    on_report: Callable[[CollectReport], None],
) -> None:
    """Collect until `stop` is set: IMAP IDLE wakes us early, and every source is polled regardless."""
    _sources_or_fail(config)
    imap = config.mailbox.imap
    if imap is None:
        while not stop.is_set():
            on_report(collect_once(engine, config, data_dir=data_dir))
            stop.wait(poll_interval_s)
        return

    maildir = config.mailbox.maildir

    def after_imap_pass(stats: ImapStats) -> None:
        report = CollectReport([f"imap {imap.username}@{imap.host}: {stats.summary()}"])
        if maildir is not None:
            found = collect_maildir_once(engine, Path(maildir), data_dir=data_dir)
            report.lines.append(f"maildir {maildir}: {found.stored} new, {found.duplicates} already stored")
        on_report(report)

    imap_watch(
        engine,
        imap,
        imap_credentials(imap),
        data_dir=data_dir,
        poll_interval_s=poll_interval_s,
        stop=stop,
        on_pass=after_imap_pass,
    )
