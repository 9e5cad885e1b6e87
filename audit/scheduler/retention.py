"""Retention: delete raw message files and evidence folders `schedule.retention` after their wave's report.

What goes: the raw `.eml` files of the messages matched to the wave's probes, and each probe's evidence folder
(screenshots, evidence.json, traces), which hold staff names, cookies and personal data
(docs/method.md, "Ethics"). What stays: every database row (probes with their outcomes and times, messages
with their parsed facts, grades), so reports and results can still be rebuilt. What was deleted is recorded
per wave in `WavePruning`.

"After the report": a scheduled wave's `closed_at`; a wave run by hand is taken as reported at its last
outcome plus `audit.deadline`. Messages matched to no inquiry go `retention` after they were received. A raw
file is deleted only when no message outside the pruned set still points at it (files are content-addressed,
so two messages can share one). The job is idempotent: a late reply to a pruned wave is pruned next time.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, or_
from sqlmodel import Session, col, select

from audit.config import AuditConfig
from audit.db import session_scope
from audit.models import Message, Probe, ScheduledWave, Wave, WavePruning, utcnow

log = logging.getLogger("audit.scheduler")

_CHUNK = 500  # bound parameters per IN list


@dataclass(slots=True)
class PruneReport:
    waves: int = 0
    raw_files: int = 0
    evidence_dirs: int = 0
    bytes_freed: int = 0
    unmatched_raw_files: int = 0


def _inside(data_dir: Path, relative: str) -> Path | None:
    """The path under data_dir, or None if it would leave it (a stored path is never trusted blindly)."""
    root = data_dir.resolve()
    candidate = (root / relative).resolve()
    return candidate if candidate.is_relative_to(root) and candidate != root else None


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def reported_waves(session: Session, config: AuditConfig, before: datetime) -> list[int]:
    """This audit's waves whose report is older than `before` (now - retention)."""
    scheduled = session.exec(
        select(ScheduledWave.wave_id).where(
            ScheduledWave.audit_name == config.audit.name,
            col(ScheduledWave.closed_at).is_not(None),
            col(ScheduledWave.closed_at) <= before,
        )
    ).all()
    by_hand = session.exec(
        select(Wave.id).where(
            Wave.audit_name == config.audit.name,
            col(Wave.finished_at).is_not(None),
            col(Wave.finished_at) <= before - config.audit.deadline,
            col(Wave.id).not_in(select(ScheduledWave.wave_id)),
        )
    ).all()
    return sorted({*scheduled, *(wave_id for wave_id in by_hand if wave_id is not None)})


def _raw_paths_to_delete(
    session: Session, wave_ids: list[int], received_before: datetime
) -> tuple[set[str], int]:
    """Raw files of the pruned waves' messages and of old unmatched ones that nothing else still uses."""
    in_waves = select(Probe.id).where(col(Probe.wave_id).in_(wave_ids))
    wave_paths = set(
        session.exec(
            select(Message.raw_path).where(
                col(Message.probe_id).in_(in_waves), col(Message.raw_path).is_not(None)
            )
        ).all()
    )
    unmatched_paths = set(
        session.exec(
            select(Message.raw_path).where(
                col(Message.probe_id).is_(None),
                col(Message.received_at) <= received_before,
                col(Message.raw_path).is_not(None),
            )
        ).all()
    )
    candidates = sorted(path for path in wave_paths | unmatched_paths if path)
    still_used: set[str] = set()
    for chunk in _chunks(candidates):
        still_used |= {
            path
            for path in session.exec(
                select(Message.raw_path).where(
                    col(Message.raw_path).in_(chunk),
                    or_(
                        col(Message.probe_id).not_in(in_waves) & col(Message.probe_id).is_not(None),
                        col(Message.probe_id).is_(None) & (col(Message.received_at) > received_before),
                    ),
                )
            ).all()
            if path
        }
    keep = set(candidates) - still_used
    unmatched_only = len((unmatched_paths - wave_paths) & keep)
    return keep, unmatched_only


def _delete(path: Path) -> int:
    """Delete a file or a folder; the bytes freed (0 if it was already gone)."""
    try:
        size = _size(path)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return 0
    return size


def prune(
    config: AuditConfig, engine: Engine, data_dir: Path, now: datetime, retention: timedelta
) -> PruneReport:
    report = PruneReport()
    before = now - retention
    with Session(engine) as session:
        wave_ids = reported_waves(session, config, before)
        raw_paths, report.unmatched_raw_files = _raw_paths_to_delete(session, wave_ids, before)
        evidence = session.exec(
            select(Probe.wave_id, Probe.evidence_dir).where(
                col(Probe.wave_id).in_(wave_ids), col(Probe.evidence_dir).is_not(None)
            )
        ).all()
        owner = {
            path: wave_id
            for wave_id, path in session.exec(
                select(Probe.wave_id, Message.raw_path)
                .join(Probe, col(Probe.id) == col(Message.probe_id))
                .where(col(Probe.wave_id).in_(wave_ids), col(Message.raw_path).is_not(None))
            ).all()
            if path
        }
    counts: dict[int, list[int]] = {wave_id: [0, 0, 0] for wave_id in wave_ids}  # raw, evidence, bytes
    for relative in sorted(raw_paths):
        target = _inside(data_dir, relative)
        if target is None or not target.exists():
            continue
        freed = _delete(target)
        report.raw_files += 1
        report.bytes_freed += freed
        if relative in owner:
            counts[owner[relative]][0] += 1
            counts[owner[relative]][2] += freed
    for wave_id, folder in evidence:
        target = _inside(data_dir, folder or "")
        if target is None or not target.exists():
            continue
        freed = _delete(target)
        report.evidence_dirs += 1
        report.bytes_freed += freed
        counts[wave_id][1] += 1
        counts[wave_id][2] += freed
        parent = target.parent  # evidence/wave-N, removed once empty
        if parent != data_dir.resolve() and not any(parent.iterdir()):
            os.rmdir(parent)
    with session_scope(engine) as session:
        for wave_id, (raw, dirs, freed) in counts.items():
            row = session.get(WavePruning, wave_id)
            if row is not None and raw == dirs == 0:
                continue  # pruned before, nothing new
            row = row or WavePruning(wave_id=wave_id)  # also when nothing was left: the wave is marked pruned
            row.last_pruned_at = utcnow()
            row.raw_files += raw
            row.evidence_dirs += dirs
            row.bytes_freed += freed
            session.add(row)
            report.waves += 1
    if report.raw_files or report.evidence_dirs:
        log.info(
            "retention: deleted %d raw message files (%d unmatched) and %d evidence folders (%d bytes) of %d "
            "wave(s) reported before %s",
            report.raw_files,
            report.unmatched_raw_files,
            report.evidence_dirs,
            report.bytes_freed,
            report.waves,
            before.isoformat(),
        )
    return report
