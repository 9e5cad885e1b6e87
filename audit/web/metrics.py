"""GET /metrics: the Prometheus text exposition format (version 0.0.4), by prometheus_client.

Each app has a `CollectorRegistry` of its own holding one custom collector, `AuditCollector`, which reads the
numbers at scrape time: a few GROUP BY queries (nothing is kept in memory, so a restart loses no count) and
the scheduler's health. Not the process-wide default registry: it would add the process and platform metrics
and keep a collector for every app ever made (tests make many). prometheus_client writes every value as a
float (`2.0` where we wrote `2`): the same number to every Prometheus parser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import Engine, Table, func, select

from audit.models import InboundSpool, Message, Probe
from audit.web.health import SchedulerLike

# The text format 0.0.4, which Prometheus has always read and we served before: spelled out, as
# prometheus_client's CONTENT_TYPE_LATEST is 1.0.0 in recent releases (our names are plain ASCII, so the
# text is the same) and older releases have no constant for 0.0.4.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PROBE: Table = Probe.__table__  # type: ignore[attr-defined]
MESSAGE: Table = Message.__table__  # type: ignore[attr-defined]
SPOOL: Table = InboundSpool.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Families:
    """The families /metrics shows, in the order README.md lists them."""

    probes: CounterMetricFamily
    messages: CounterMetricFamily
    lag: GaugeMetricFamily
    failures: CounterMetricFamily
    active: GaugeMetricFamily
    due: GaugeMetricFamily
    spool: GaugeMetricFamily

    @classmethod
    def empty(cls) -> _Families:
        return cls(
            probes=CounterMetricFamily(
                "audit_probes_total",
                "Probes by outcome (planned and in-flight ones by state).",
                labels=["outcome"],
            ),
            messages=CounterMetricFamily(
                "audit_messages_total", "Messages stored, by source and kind.", labels=["kind", "source"]
            ),
            lag=GaugeMetricFamily(
                "audit_collector_lag_seconds",
                "Seconds since the last completed collect pass (scheduler).",
                labels=[],
            ),
            failures=CounterMetricFamily(
                "audit_job_failures_total", "Scheduled jobs that raised, since this start.", labels=[]
            ),
            active=GaugeMetricFamily(
                "audit_scheduler_active", "1 when this process holds the scheduling lease.", labels=[]
            ),
            due=GaugeMetricFamily(
                "audit_planned_due", "Planned submissions of scheduled waves not sent yet.", labels=[]
            ),
            spool=GaugeMetricFamily(
                "audit_webhook_spool_pending", "Webhook deliveries accepted, not yet ingested.", labels=[]
            ),
        )

    def in_order(self) -> list[Metric]:
        return [self.probes, self.messages, self.lag, self.failures, self.active, self.due, self.spool]


class AuditCollector:
    """A custom collector: the audit's numbers, read from the database and the scheduler at each scrape."""

    def __init__(
        self,
        engine: Engine,
        scheduler: SchedulerLike | None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.scheduler = scheduler
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        """The families without samples: the registry checks names with it, and never queries at startup."""
        return _Families.empty().in_order()

    def collect(self) -> Iterable[Metric]:
        """Called by `generate_latest` (in a worker thread); a database error propagates (503)."""
        now = self.clock()
        health = self.scheduler.health() if self.scheduler is not None else None
        families = _Families.empty()
        with self.engine.connect() as connection:
            outcome = func.coalesce(PROBE.c.outcome, PROBE.c.state)
            for name, count in connection.execute(select(outcome, func.count()).group_by(outcome)):
                families.probes.add_metric([str(name)], float(count))
            by_kind = select(MESSAGE.c.kind, MESSAGE.c.source, func.count()).group_by(
                MESSAGE.c.source, MESSAGE.c.kind
            )
            for kind, source, count in connection.execute(by_kind):
                families.messages.add_metric([str(kind), str(source)], float(count))
            pending = connection.execute(
                select(func.count()).select_from(SPOOL).where(SPOOL.c.processed_at.is_(None))
            ).scalar_one()
            families.spool.add_metric([], float(pending))
        families.active.add_metric([], 1.0 if health is not None and health.active else 0.0)
        if health is not None:  # the scheduler's figures: only in the process that runs it
            if health.last_collect_at is not None:
                lag = max((now - health.last_collect_at).total_seconds(), 0.0)
                families.lag.add_metric([], lag)
            families.failures.add_metric([], float(health.job_failures))
            families.due.add_metric([], float(health.planned_due))
        return families.in_order()


def metrics_registry(engine: Engine, scheduler: SchedulerLike | None) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(AuditCollector(engine, scheduler))
    return registry


def render_metrics(registry: CollectorRegistry) -> str:
    """The exposition text (blocking: the collector queries the database)."""
    return generate_latest(registry).decode("utf-8")
