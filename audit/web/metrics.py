"""GET /metrics in the Prometheus text exposition format (version 0.0.4), written by hand.

prometheus_client is not among our dependencies, and the format is a few lines of text: `# HELP`, `# TYPE`,
then `name{label="value"} number`. The numbers come from a few GROUP BY queries at scrape time (nothing is
kept in memory, so a restart loses no count) and from the scheduler's health.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, Table, func, select

from audit.models import InboundSpool, Message, Probe
from audit.web.health import SchedulerHealth

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PROBE: Table = Probe.__table__  # type: ignore[attr-defined]
MESSAGE: Table = Message.__table__  # type: ignore[attr-defined]
SPOOL: Table = InboundSpool.__table__  # type: ignore[attr-defined]


def escape_label(value: str) -> str:
    """Label values escape backslash, double quote and line feed (the format's only three)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass
class Metric:
    name: str
    kind: str  # counter | gauge
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {escape_help(self.help)}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in self.samples:
            rendered = ",".join(f'{key}="{escape_label(text)}"' for key, text in sorted(labels.items()))
            yield (
                f"{self.name}{{{rendered}}} {format_value(value)}"
                if rendered
                else (f"{self.name} {format_value(value)}")
            )


def collect_metrics(
    engine: Engine, health: SchedulerHealth | None, now: datetime | None = None
) -> list[Metric]:
    now = now or datetime.now(UTC)
    probes = Metric(
        "audit_probes_total", "counter", "Probes by outcome (planned and in-flight ones by state)."
    )
    messages = Metric("audit_messages_total", "counter", "Messages stored, by source and kind.")
    spool = Metric("audit_webhook_spool_pending", "gauge", "Webhook deliveries accepted, not yet ingested.")
    with engine.connect() as connection:
        outcome = func.coalesce(PROBE.c.outcome, PROBE.c.state)
        for name, count in connection.execute(select(outcome, func.count()).group_by(outcome)):
            probes.samples.append(({"outcome": str(name)}, float(count)))
        by_kind = select(MESSAGE.c.source, MESSAGE.c.kind, func.count()).group_by(
            MESSAGE.c.source, MESSAGE.c.kind
        )
        for source, kind, count in connection.execute(by_kind):
            messages.samples.append(({"source": str(source), "kind": str(kind)}, float(count)))
        pending = connection.execute(
            select(func.count()).select_from(SPOOL).where(SPOOL.c.processed_at.is_(None))
        ).scalar_one()
        spool.samples.append(({}, float(pending)))
    lag = Metric(
        "audit_collector_lag_seconds", "gauge", "Seconds since the last completed collect pass (scheduler)."
    )
    failures = Metric("audit_job_failures_total", "counter", "Scheduled jobs that raised, since this start.")
    active = Metric("audit_scheduler_active", "gauge", "1 when this process holds the scheduling lease.")
    due = Metric("audit_planned_due", "gauge", "Planned submissions of scheduled waves not sent yet.")
    active.samples.append(({}, 1.0 if health is not None and health.active else 0.0))
    if health is not None:
        if health.last_collect_at is not None:
            lag.samples.append(({}, max((now - health.last_collect_at).total_seconds(), 0.0)))
        failures.samples.append(({}, float(health.job_failures)))
        due.samples.append(({}, float(health.planned_due)))
    return [probes, messages, lag, failures, active, due, spool]


def render_metrics(metrics: Iterable[Metric]) -> str:
    return "".join(f"{line}\n" for metric in metrics for line in metric.lines())
