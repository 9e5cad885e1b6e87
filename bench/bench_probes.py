"""Forms per minute: the tool (evidence capture on) against a minimal hand-written Playwright script.

    python bench/bench_probes.py            # 100 forms; prints a table for the README
    python bench/bench_probes.py --forms 20

Every form is the demo farm's plain contact page under its own host name (shop-N.localhost, which Chromium
resolves to 127.0.0.1), so each is a separate site domain and concurrency is not serialised by the per-domain
lock. The floor fills the same five fields by fixed selectors, clicks, waits for the thank-you page and closes
the context: what anyone would write by hand with no detection, no safety checks and no evidence.
Goals (issue 2): tool at concurrency 1 within 1.5x of the floor's per-form time; concurrency 4 at least 2x the
tool's own concurrency-1 throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from playwright.async_api import Browser

from audit.config import parse_config
from audit.db import open_database
from audit.demo.farm import RunningFarm, serve_farm
from audit.runner import RunOptions, run_wave
from audit.settings import Settings
from probes import launch_browser


def urls(farm: RunningFarm, count: int, prefix: str) -> list[str]:
    return [farm.host_url(f"{prefix}-{n}.localhost", "plain") for n in range(count)]


async def floor(browser: Browser, targets: list[str]) -> float:
    started = time.perf_counter()
    for url in targets:
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(url)
        await page.fill("#name", "Dana Levi")
        await page.fill("#email", "dana.bench@replies.example.org")
        await page.fill("#phone", "050-1234567")
        await page.fill("#subject", "Monthly plans")
        await page.fill("#message", "Do you offer a monthly plan?")
        async with page.expect_navigation():
            await page.click("button[type=submit]")
        await context.close()
    return time.perf_counter() - started


def config_text(targets: list[str]) -> str:
    companies = "\n".join(
        f'  - {{id: shop{n}, name: "Shop {n}", contact_url: "{url}"}}' for n, url in enumerate(targets)
    )
    return f"""\
audit: {{name: bench, allow_private_targets: true, probe_timeout: 60s}}
mailbox: {{address: "dana.{{token}}@replies.example.org"}}
persona: {{first_name: Dana, last_name: Levi, phone: "050-1234567"}}
inquiry: {{subject: "Monthly plans", message: "Do you offer a monthly plan?"}}
companies:
{companies}
"""


async def tool(browser: Browser, targets: list[str], concurrency: int, data_dir: Path) -> float:
    settings = Settings(data_dir=data_dir)
    engine = open_database(settings.resolved_database_url())
    config = parse_config(config_text(targets))
    started = time.perf_counter()
    report = await run_wave(
        settings=settings, config=config, engine=engine,
        options=RunOptions(concurrency=concurrency), browser=browser,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    engine.dispose()
    bad = {company: outcome for company, outcome in report.outcomes.items() if outcome != "submitted"}
    if bad:
        raise SystemExit(f"the tool did not submit every form: {bad}")
    return elapsed


async def main(count: int) -> None:
    with serve_farm() as farm, tempfile.TemporaryDirectory() as scratch:
        async with launch_browser() as browser:
            await floor(browser, urls(farm, 3, "warm"))  # warm the browser and the server
            results: list[tuple[str, float]] = []
            results.append(
                (
                    "minimal Playwright script (floor), concurrency 1",
                    await floor(browser, urls(farm, count, "f")),
                )
            )
            for concurrency in (1, 4):
                elapsed = await tool(
                    browser,
                    urls(farm, count, f"t{concurrency}"),
                    concurrency,
                    Path(scratch) / str(concurrency),
                )
                results.append((f"audit run, concurrency {concurrency} (evidence on)", elapsed))
        received = len(farm.submissions)
    print(f"{count} forms each; {received} submissions received in all\n")
    print("| run | seconds | per form (s) | forms per minute |")
    print("|---|---|---|---|")
    for label, elapsed in results:
        print(f"| {label} | {elapsed:.1f} | {elapsed / count:.2f} | {count / elapsed * 60:.1f} |")
    floor_s, tool1, tool4 = (elapsed for _, elapsed in results)
    print(f"\ntool c1 / floor per-form time: {tool1 / floor_s:.2f}x (goal <= 1.5x)")
    print(f"tool c4 / tool c1 throughput: {tool1 / tool4:.2f}x (goal >= 2x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--forms", type=int, default=100)
    asyncio.run(main(parser.parse_args().forms))
