"""Results for scripts: one row per probe as CSV, or JSON with the wave, the companies and the probes.

Columns come in a fixed order (`PROBE_COLUMNS`), times are ISO 8601 in UTC, latencies are seconds, empty
means unknown or not applicable. Values are the same in both formats; JSON adds each criterion's maximum
and evidence, the companies' combined results and the wave.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from audit.grading.types import CompanyResult, ProbeResult, WaveGrades

FORMAT_NAME = "contact-audit-results"
FORMAT_VERSION = 1
CRITERIA = ("A", "P1", "P2", "Q", "V", "E", "M")

PROBE_COLUMNS: tuple[str, ...] = (
    "wave_id",
    "company_id",
    "company_name",
    "sector",
    "probe_id",
    "seq",
    "channel",
    "outcome",
    "reached",
    "not_reached_reason",
    "submitted_at",
    "submit_time_class",
    "deadline_at",
    "first_reply_at",
    "first_ack_at",
    "first_human_at",
    "first_complete_at",
    "human_channel",
    "human_folder",
    "wall_seconds_to_ack",
    "wall_seconds_to_human",
    "business_seconds_to_human",
    "late",
    "human_replies",
    "followed_up",
    "promise_text",
    "promise_due_at",
    "promise_kept",
    "quality",
    *(f"score_{criterion}" for criterion in CRITERIA),
    "reply_language",
    "tier",
    "tier_reason",
    "tier_overridden",
    "company_tier",
    "company_inconsistent",
    "excerpt",
)
# Free text from companies' replies and from the config, which a spreadsheet could take for a formula.
_TEXT_COLUMNS = frozenset(
    {"company_name", "sector", "not_reached_reason", "human_folder", "promise_text", "tier_reason", "excerpt"}
)

Scalar = str | int | float | bool | None


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def probe_row(grades: WaveGrades, company: CompanyResult, probe: ProbeResult) -> dict[str, Scalar]:
    """One probe's facts and grades, keyed by `PROBE_COLUMNS`, in that order."""
    scores = {criterion.criterion: criterion.score for criterion in probe.criteria}
    promise = probe.promise
    row: dict[str, Scalar] = {
        "wave_id": grades.wave_id,
        "company_id": company.company_id,
        "company_name": company.name,
        "sector": company.sector,
        "probe_id": probe.probe_id,
        "seq": probe.seq,
        "channel": probe.channel,
        "outcome": probe.outcome,
        "reached": probe.reached,
        "not_reached_reason": probe.not_reached_reason,
        "submitted_at": iso(probe.submitted_at),
        "submit_time_class": None if probe.submit_time_class is None else probe.submit_time_class.value,
        "deadline_at": iso(probe.deadline_at),
        "first_reply_at": iso(probe.first_reply_at),
        "first_ack_at": iso(probe.first_ack_at),
        "first_human_at": iso(probe.first_human_at),
        "first_complete_at": iso(probe.first_complete_at),
        "human_channel": probe.human_channel,
        "human_folder": probe.human_folder,
        "wall_seconds_to_ack": probe.wall_seconds_to_ack,
        "wall_seconds_to_human": probe.wall_seconds_to_human,
        "business_seconds_to_human": probe.business_seconds_to_human,
        "late": probe.late,
        "human_replies": probe.human_replies,
        "followed_up": probe.followed_up,
        "promise_text": None if promise is None else promise.text,
        "promise_due_at": None if promise is None else iso(promise.due_at),
        "promise_kept": None if promise is None else promise.kept,
        "quality": probe.quality,
        **{f"score_{criterion}": scores.get(criterion) for criterion in CRITERIA},
        "reply_language": probe.reply_language,
        "tier": probe.tier.value,
        "tier_reason": probe.tier_reason,
        "tier_overridden": probe.tier_overridden,
        "company_tier": company.tier.value,
        "company_inconsistent": company.inconsistent,
        "excerpt": probe.excerpt,
    }
    return row


def probe_rows(grades: WaveGrades) -> list[dict[str, Scalar]]:
    return [probe_row(grades, company, probe) for company in grades.companies for probe in company.probes]


def _csv_cell(column: str, value: Scalar) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    # OWASP's CSV-injection advice: a leading quote keeps =, +, -, @ from being run as a formula. Only free
    # text gets it; numbers and times stay numbers. JSON carries the text unchanged.
    if column in _TEXT_COLUMNS and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def write_csv(grades: WaveGrades, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PROBE_COLUMNS)
    for row in probe_rows(grades):
        writer.writerow([_csv_cell(column, row[column]) for column in PROBE_COLUMNS])


def _company_json(company: CompanyResult) -> dict[str, Any]:
    return {
        "company_id": company.company_id,
        "name": company.name,
        "sector": company.sector,
        "tier": company.tier.value,
        "inconsistent": company.inconsistent,
        "wall_seconds_to_human": company.wall_seconds_to_human,
        "business_seconds_to_human": company.business_seconds_to_human,
        "quality": company.quality,
        "quality_spread": None if company.quality_spread is None else list(company.quality_spread),
        "tier_overridden": company.tier_overridden,
        "override_notes": list(company.override_notes),
        "probe_ids": [probe.probe_id for probe in company.probes],
    }


def _probe_json(grades: WaveGrades, company: CompanyResult, probe: ProbeResult) -> dict[str, Any]:
    row: dict[str, Any] = dict(probe_row(grades, company, probe))
    row["criteria"] = [
        {
            "criterion": criterion.criterion,
            "score": criterion.score,
            "max_score": criterion.max_score,
            "overridden": criterion.overridden,
            "note": criterion.note,
            "evidence": [{"quote": item.quote, "rule": item.rule} for item in criterion.evidence],
        }
        for criterion in probe.criteria
    ]
    row["override_notes"] = list(probe.override_notes)
    return row


def results_json(grades: WaveGrades) -> dict[str, Any]:
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "wave": {
            "wave_id": grades.wave_id,
            "audit_name": grades.audit_name,
            "as_of": iso(grades.as_of),
            "graded_at": iso(grades.graded_at),
            "clock": grades.clock,
            "notes": list(grades.notes),
        },
        "companies": [_company_json(company) for company in grades.companies],
        "probes": [
            _probe_json(grades, company, probe) for company in grades.companies for probe in company.probes
        ],
    }


def write_json(grades: WaveGrades, out: TextIO) -> None:
    # allow_nan=False: "never" is null, not Infinity, which strict JSON parsers refuse.
    json.dump(results_json(grades), out, ensure_ascii=False, indent=2, allow_nan=False)
    out.write("\n")


WRITERS: dict[str, Callable[[WaveGrades, TextIO], None]] = {"csv": write_csv, "json": write_json}
