"""The report: grades and stored facts in, a TACK-style report out (HTML file, email, plain text).

    report = build_report_from_db(session, config, wave_id, as_of=None, lang="he")
    path = write_report_file(session, config, wave_id, data_dir=settings.data_dir)

The database work happens here; `data.build_report_data` is pure, `render` only lays out.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from sqlmodel import Session, col, select

from audit.config import AuditConfig
from audit.errors import DataDirError, UsageError, WaveError
from audit.grading import grade_wave, previous_wave_id, wave_deadline
from audit.grading.types import WaveGrades
from audit.models import Message, Probe, Wave
from audit.reporting.data import build_report_data
from audit.reporting.i18n import LANGUAGES, Lang
from audit.reporting.render import render_html
from audit.reporting.types import EvidenceLink, ReportData, WaveFacts

__all__ = ["ReportData", "build_report_from_db", "report_language", "write_report_file"]

# What a probe's evidence folder holds (probes/evidence), in the order the report links it.
EVIDENCE_FILES = (("form", "before-submit.png"), ("confirmation", "after-submit.png"))


def report_language(lang: str | None, config: AuditConfig) -> Lang:
    chosen = lang or config.audit.language
    if chosen not in LANGUAGES:
        raise UsageError(f"--lang: '{chosen}' is not a report language; use one of {', '.join(LANGUAGES)}")
    return chosen


def _grade(session: Session, config: AuditConfig, wave_id: int, as_of: datetime | None) -> WaveGrades:

    moment = as_of or wave_deadline(session, config, wave_id) or datetime.now(UTC)
    return grade_wave(session, config, wave_id, as_of=moment, persist=False)


def _href(target: Path, links_from: Path) -> str:
    """A link from the report's folder to a file: relative when both are on one drive, else a file URI."""
    try:
        relative = os.path.relpath(target.resolve(), links_from.resolve())
    except ValueError:  # Windows: another drive
        return target.resolve().as_uri()
    return quote(Path(relative).as_posix())


def evidence_links(
    session: Session, grades: WaveGrades, *, data_dir: Path, links_from: Path
) -> dict[int, tuple[EvidenceLink, ...]]:
    """Per probe: the screenshots its evidence folder holds, and the raw file of its first human reply."""
    # By wave, not by a list of ids: a 5,000-company wave would pass SQLite's bound-parameter limit.
    folder_rows = session.execute(
        select(col(Probe.id), col(Probe.evidence_dir)).where(col(Probe.wave_id) == grades.wave_id)
    )
    folders = {probe_id: folder for probe_id, folder in folder_rows}
    raw_rows = session.execute(
        select(col(Message.id), col(Message.raw_path))
        .join(Probe, col(Probe.id) == col(Message.probe_id))
        .where(
            col(Probe.wave_id) == grades.wave_id,
            col(Message.raw_path).is_not(None),
            col(Message.duplicate_of).is_(None),  # a copy by a second channel is not a reply of its own
        )
    )
    raw_paths = {message_id: raw for message_id, raw in raw_rows}
    links: dict[int, tuple[EvidenceLink, ...]] = {}
    for company in grades.companies:
        for probe in company.probes:
            found = []
            folder = folders.get(probe.probe_id)
            if folder:
                for kind, name in EVIDENCE_FILES:
                    if (data_dir / folder / name).is_file():
                        found.append(EvidenceLink(kind, _href(data_dir / folder / name, links_from)))
            raw = raw_paths.get(probe.human_message_id) if probe.human_message_id is not None else None
            if raw and (data_dir / raw).is_file():
                found.append(EvidenceLink("reply", _href(data_dir / raw, links_from)))
            if found:
                links[probe.probe_id] = tuple(found)
    return links


def build_report_from_db(
    session: Session,
    config: AuditConfig,
    wave_id: int,
    *,
    as_of: datetime | None,
    lang: str | None,
    data_dir: Path | None = None,
    links_from: Path | None = None,
) -> ReportData:
    """Load the wave, grade it and the wave before it (without storing), gather evidence, build the report.

    `as_of` None is the wave's deadline (now, if nothing was submitted). Evidence is linked only when
    `data_dir` is given, relative to `links_from` (the folder the report will be written to).
    """

    language = report_language(lang, config)
    if session.get(Wave, wave_id) is None:
        raise WaveError(f"there is no wave {wave_id} in this database")
    grades = _grade(session, config, wave_id, as_of)
    previous_id = previous_wave_id(session, wave_id)
    previous = _grade(session, config, previous_id, None) if previous_id is not None else None
    evidence = {}
    if data_dir is not None and config.report.evidence_links:
        evidence = evidence_links(session, grades, data_dir=data_dir, links_from=links_from or data_dir)
    facts = WaveFacts(generated_at=datetime.now(UTC), evidence=evidence)
    return build_report_data(grades, previous, facts, config, lang=language)


def write_report_file(
    session: Session,
    config: AuditConfig,
    wave_id: int,
    *,
    data_dir: Path,
    as_of: datetime | None = None,
    lang: str | None = None,
    out: Path | None = None,
) -> Path:
    """Write the web report to `out` (default <data_dir>/reports/wave-<id>-<lang>.html) atomically.

    Returns the path written."""

    language = report_language(lang, config)
    target = out if out is not None else data_dir / "reports" / f"wave-{wave_id}-{language}.html"
    report = build_report_from_db(
        session, config, wave_id, as_of=as_of, lang=language, data_dir=data_dir, links_from=target.parent
    )
    write_atomically(target, render_html(report, "web"))
    return target


def write_atomically(target: Path, text: str) -> None:
    """A reader (a browser, a web server) sees the old file or the new one, never half of one."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)
    except OSError as ex:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise DataDirError(f"cannot write the report to {target}: {ex.strerror or ex}") from ex
