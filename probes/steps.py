"""Explicit browser steps from the config (FormSpec.steps), run before the form is located.

The vocabulary follows changedetection.io's Browser Steps: goto, click, click_if_exists, fill, select, check,
wait_for_text, wait. `goto` goes through the safety choke point like every navigation.
"""

from __future__ import annotations

import asyncio

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from probes.safety import safe_goto
from probes.types import Inquiry, Persona, Slot, Step
from probes.values import slot_value


class StepFailed(Exception):
    """Internal: a configured step could not run (turned into FILL_FAILED by the probe)."""


def _expand(value: str, persona: Persona, inquiry: Inquiry) -> str:
    for slot in Slot:
        token = "{" + slot.value + "}"
        if token in value:
            value = value.replace(token, slot_value(slot, persona, inquiry) or "")
    return value


async def run_steps(
    page: Page,
    steps: tuple[Step, ...],
    *,
    persona: Persona,
    inquiry: Inquiry,
    allow_private: bool,
    timeout_ms: float,
) -> list[str]:
    """Run the steps in order; returns one log line per step. Raises StepFailed on the first failure."""
    log: list[str] = []
    for number, step in enumerate(steps, start=1):
        where = f"step {number} ({step.action})"
        value = _expand(step.value or "", persona, inquiry)
        try:
            if step.action == "goto":
                await safe_goto(
                    page, value or step.selector or "", allow_private=allow_private, timeout_ms=timeout_ms
                )
            elif step.action == "wait":
                await asyncio.sleep(min(float(value or 1), 30.0))
            elif step.action == "wait_for_text":
                await page.get_by_text(value).first.wait_for(timeout=timeout_ms)
            elif step.selector is None:
                raise StepFailed(f"{where} needs a selector")
            elif step.action == "click":
                await page.locator(step.selector).first.click(timeout=timeout_ms)
            elif step.action == "click_if_exists":
                target = page.locator(step.selector).first
                if await target.count() and await target.is_visible():
                    await target.click(timeout=timeout_ms)
            elif step.action == "fill":
                await page.locator(step.selector).first.fill(value, timeout=timeout_ms)
            elif step.action == "select":
                await page.locator(step.selector).first.select_option(label=value, timeout=timeout_ms)
            elif step.action == "check":
                await page.locator(step.selector).first.check(timeout=timeout_ms)
            else:
                raise StepFailed(f"{where}: unknown action {step.action!r}")
        except (PlaywrightError, ValueError) as ex:
            first = (str(ex).strip().splitlines() or ["failed"])[0][:200]
            raise StepFailed(f"{where} on {step.selector or value!r} failed: {first}") from ex
        log.append(f"{where}: {step.selector or value}")
    return log
