"""Evidence on disk: capped full-page screenshots and `evidence.json` (the result plus what led to it)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import FloatRect, Page

from probes.types import ProbeResult

# Chromium tiles very tall pages (beyond about 16,384 px); a contact page never needs more than this.
MAX_SHOT_HEIGHT = 8000


async def screenshot(page: Page, path: Path, result: ProbeResult) -> None:
    """A full-page PNG, height capped; failures are noted, never fatal (evidence must not cost the probe)."""
    try:
        height = await page.evaluate(
            "() => Math.max(document.documentElement.scrollHeight, document.body?.scrollHeight ?? 0)"
        )
        width = page.viewport_size["width"] if page.viewport_size else 1280
        if isinstance(height, int | float) and height > MAX_SHOT_HEIGHT:
            clip: FloatRect = {"x": 0.0, "y": 0.0, "width": float(width), "height": float(MAX_SHOT_HEIGHT)}
            await page.screenshot(path=path, full_page=True, clip=clip, timeout=15_000)
        else:
            await page.screenshot(path=path, full_page=True, timeout=15_000)
    except PlaywrightError:
        return
    result.screenshots.append(path)


def _default(value: object) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not serialisable: {type(value).__name__}")


def write_evidence(result: ProbeResult, path: Path, extra: dict[str, Any]) -> None:
    """Write the result and the probe's log as JSON; sets `result.evidence_path`."""
    result.evidence_path = path
    data = {"result": dataclasses.asdict(result), **extra}
    path.write_text(json.dumps(data, default=_default, ensure_ascii=False, indent=2), encoding="utf-8")
