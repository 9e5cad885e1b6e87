"""The scheduler of `audit serve` (audit/scheduler/service.py: `AuditScheduler`), and the parts it runs:
cron waves (cron.py, plan.py), working hours (hours.py), its jobs (jobs.py), closing waves (closing.py),
retention (retention.py) and the one-scheduler-per-database lease (lease.py).
"""

from __future__ import annotations

from audit.scheduler.service import AuditScheduler, SchedulerHealth, tick

__all__ = ["AuditScheduler", "SchedulerHealth", "tick"]
