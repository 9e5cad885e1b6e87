"""`--as-of TIME` for the commands that grade: ISO 8601 in the audit's zone, or the word "deadline"."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime

from audit.errors import UsageError


def parse_when(text: str, timezone: str) -> datetime | None:
    """An aware UTC datetime, or None for "deadline" (the caller then uses the wave's own deadline).

    A time without a zone is read in the audit's zone, as a user typing "2026-12-01 09:00" means it.
    """
    cleaned = text.strip()
    if cleaned.lower() == "deadline":
        return None
    if cleaned.lower() == "now":
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--as-of: '{text}' is not a time; use ISO 8601 such as 2026-12-01T09:00 or the word deadline"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zoneinfo.ZoneInfo(timezone))
    return parsed.astimezone(UTC)
