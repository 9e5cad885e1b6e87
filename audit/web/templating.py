"""The web UI's one Jinja environment and its filters."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import jinja2

from audit.grading.types import Tier
from audit.reporting.render import TEMPLATES_PACKAGE

TIER_NAMES = {
    Tier.FAST_COURTEOUS: "Fast and courteous",
    Tier.REASONABLE: "Reasonable",
    Tier.SLOW_OR_LACKING: "Slow or lacking",
    Tier.NO_REPLY: "No reply",
    Tier.PENDING: "Pending",
    Tier.NOT_REACHED: "Not reached",
}


def web_environment(zone: ZoneInfo) -> jinja2.Environment:
    """Everything escaped, and a missing name is an error, not ''."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(TEMPLATES_PACKAGE, "web"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )

    def local(moment: datetime | None, form: str = "%Y-%m-%d %H:%M") -> str:
        return moment.astimezone(zone).strftime(form) if moment is not None else ""

    env.filters["local"] = local
    env.filters["duration"] = duration
    env.filters["tier_name"] = lambda tier: TIER_NAMES.get(tier, str(tier))
    env.filters["percent"] = lambda value: "" if value is None else f"{round(value * 100)}%"
    return env


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
