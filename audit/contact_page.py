"""A company given by its website: find its contact page once, keep it, forget it when it has no form.

The search itself is the browser layer's (probes/discover.py, docs/probing.md, "Finding the contact page");
this module decides when to search and keeps what was found: a company's found page is stored on its row and
reused by later waves, so a site is searched once, not once a wave, until a probe finds no form there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Browser
from sqlalchemy import Engine, update
from sqlmodel import Session, col

from audit.config import AuditConfig, CompanySection
from audit.models import Company, utcnow
from audit.targets import browser_locale
from probes.discover import DiscoveryResult, discover_contact_page


@dataclass(frozen=True, slots=True)
class FoundPage:
    url: str | None
    summary: str
    """One line for the probe's reason: where the page came from, or why none was found."""
    discovery: DiscoveryResult | None = None  # None when the page was kept from an earlier wave


def discovery_summary(result: DiscoveryResult) -> str:
    if result.contact_url is not None:
        return f"contact page found from {result.website} after {result.pages_loaded} page(s)"
    return (
        f"no contact page with a form found from {result.website} in {result.pages_loaded} page(s) "
        "(the path taken is in discovery.json)"
    )


async def discover(browser: Browser, config: AuditConfig, company: CompanySection) -> DiscoveryResult:
    """Search the company's website now (nothing stored): `audit discover` and the runner share this."""
    assert company.website is not None
    return await discover_contact_page(
        browser,
        company.website,
        max_pages=config.audit.discovery.max_pages,
        locale=browser_locale(config, company),
        timezone=config.audit.timezone,
        allow_private=config.audit.allow_private_targets,
        budget_s=config.audit.probe_timeout.total_seconds(),
    )


async def find_contact_page(
    *, engine: Engine, browser: Browser, config: AuditConfig, company: CompanySection, evidence_dir: Path
) -> FoundPage:
    """The page kept from an earlier wave, else a new search (written to `discovery.json` in the evidence)."""
    with Session(engine) as session:
        row = session.get(Company, company.id)
        kept = row.discovered_url if row is not None and row.website == company.website else None
    if kept:
        return FoundPage(kept, f"contact page kept from an earlier wave's discovery: {kept}")
    result = await discover(browser, config, company)
    evidence_dir.mkdir(parents=True, exist_ok=True)
    (evidence_dir / "discovery.json").write_text(
        json.dumps(result.as_dict(), ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    if result.contact_url is not None:
        with Session(engine) as session:
            session.execute(
                update(Company)
                .where(col(Company.id) == company.id)
                .values(discovered_url=result.contact_url, discovered_at=utcnow())
            )
            session.commit()
    return FoundPage(result.contact_url, discovery_summary(result), result)


def forget_contact_page(engine: Engine, company_id: str, url: str) -> None:
    """The kept page had no form this time: the next wave searches again."""
    with Session(engine) as session:
        session.execute(
            update(Company)
            .where(col(Company.id) == company_id, col(Company.discovered_url) == url)
            .values(discovered_url=None, discovered_at=None)
        )
        session.commit()
