"""The report: grades and stored facts in, a TACK-style report out (audit/reporting/files.py does the
database and file work; data.py builds the report's content, render.py lays it out, i18n.py its words).

    report = build_report_from_db(session, config, wave_id, as_of=None, lang="he")
    path = write_report_file(session, config, wave_id, data_dir=settings.data_dir)
"""

from __future__ import annotations

from audit.reporting.files import (
    EVIDENCE_FILES,
    build_report_from_db,
    evidence_links,
    report_language,
    write_atomically,
    write_report_file,
)

__all__ = [
    "EVIDENCE_FILES",
    "build_report_from_db",
    "evidence_links",
    "report_language",
    "write_atomically",
    "write_report_file",
]
