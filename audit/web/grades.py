"""Grades and the rendered report, as the pages use them: a grading failure never takes the wave page down."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session

from audit.config import AuditConfig
from audit.errors import AuditError
from audit.grading import grade_wave
from audit.grading.types import CompanyResult, ProbeResult
from audit.reporting import build_report_from_db
from audit.reporting.render import render_html

log = logging.getLogger("audit.web")


@dataclass(frozen=True)
class Grades:
    probes: dict[int, ProbeResult]
    companies: dict[str, CompanyResult]
    note: str | None  # why there are none, when there are none; or the grader's notes


def wave_grades(session: Session, config: AuditConfig, wave_id: int, *, as_of: datetime) -> Grades:
    """The wave graded as of `as_of` (an inquiry inside its deadline is `pending`), without storing it."""
    try:
        graded = grade_wave(session, config, wave_id, as_of=as_of, persist=False)
    except AuditError as ex:
        return Grades({}, {}, f"Could not grade this wave: {ex}")
    except Exception:  # a grading bug must not take the evidence page down with it
        log.exception("grading wave %s for the web UI failed", wave_id)
        return Grades({}, {}, "Grading failed; the server log has the details.")
    probes = {probe.probe_id: probe for company in graded.companies for probe in company.probes}
    companies = {company.company_id: company for company in graded.companies}
    return Grades(probes, companies, "; ".join(graded.notes) or None)


def render_report(
    session: Session, config: AuditConfig, wave_id: int, *, as_of: datetime | None, lang: str, data_dir: Path
) -> str:
    """The report as a web page at <data dir>/reports/..., so its evidence links (`../evidence/...`) resolve
    to the files route next to it."""
    report = build_report_from_db(
        session, config, wave_id, as_of=as_of, lang=lang, data_dir=data_dir, links_from=data_dir / "reports"
    )
    return render_html(report, "web")
