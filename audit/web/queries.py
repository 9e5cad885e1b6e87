"""What the pages show, read from the database in a few grouped queries (no query per row)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import case, distinct, func
from sqlmodel import Session, col, or_, select

from audit.models import Company, Message, MessageKind, Probe, ProbeGrade, Wave

PAGE_SIZE = 100
CHOICE_WAVES = 3  # the assign and reply forms offer the inquiries of the newest waves
INBOX_LIMIT = 200
SCREENSHOT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class WaveProgress:
    wave: Wave
    planned: int
    submitted: int
    not_reached: int  # finished without a submission (no form, CAPTCHA, error ...)
    replied: int  # inquiries with at least one human reply
    messages: int  # messages matched to the wave's inquiries
    graded: int  # inquiries with a stored grade (`audit grade`, or the server at the deadline)


def waves_progress(session: Session) -> list[WaveProgress]:
    waves = session.exec(select(Wave).order_by(col(Wave.id).desc())).all()
    counts = {
        wave_id: (planned, submitted, finished)
        for wave_id, planned, submitted, finished in session.exec(
            select(
                Probe.wave_id,
                func.count(),
                func.sum(case((col(Probe.outcome) == "submitted", 1), else_=0)),
                func.sum(case((col(Probe.state) == "finished", 1), else_=0)),
            ).group_by(col(Probe.wave_id))
        )
    }
    replies = {
        wave_id: (messages, replied)
        for wave_id, messages, replied in session.exec(
            select(
                Probe.wave_id,
                func.count(col(Message.id)),
                func.count(distinct(case((col(Message.kind) == MessageKind.HUMAN, col(Message.probe_id))))),
            )
            .join(Probe, col(Probe.id) == col(Message.probe_id))
            .where(col(Message.duplicate_of).is_(None))  # a copy by a second channel is not a reply
            .group_by(col(Probe.wave_id))
        )
    }
    graded = dict(
        session.exec(select(ProbeGrade.wave_id, func.count()).group_by(col(ProbeGrade.wave_id))).all()
    )
    rows = []
    for wave in waves:
        assert wave.id is not None
        planned, submitted, finished = counts.get(wave.id, (0, 0, 0))
        messages, replied = replies.get(wave.id, (0, 0))
        dry = wave.mode == "dry_run"
        rows.append(
            WaveProgress(
                wave=wave,
                planned=int(planned or 0),
                submitted=int(submitted or 0),
                not_reached=0 if dry else int(finished or 0) - int(submitted or 0),
                replied=int(replied or 0),
                messages=int(messages or 0),
                graded=int(graded.get(wave.id, 0)),
            )
        )
    return rows


@dataclass(frozen=True)
class ProbeView:
    probe: Probe
    company: Company
    messages: list[Message]
    screenshots: list[str]  # relative to the data directory, for /files/...
    files: list[str]  # the other evidence files (evidence.json, trace.zip)


def evidence_files(data_dir: Path, evidence_dir: str | None) -> tuple[list[str], list[str]]:
    if not evidence_dir:
        return [], []
    folder = data_dir / evidence_dir
    try:
        names = sorted(entry.name for entry in folder.iterdir() if entry.is_file())
    except OSError:
        return [], []  # deleted by retention, or never written
    # before-submit first, then after-submit: the order a reader follows
    shots = [name for name in names if name.lower().endswith(SCREENSHOT_SUFFIXES)]
    shots.sort(key=lambda name: (not name.startswith("before"), name))
    others = [name for name in names if name not in shots and not name.startswith(".")]
    return [f"{evidence_dir}/{name}" for name in shots], [f"{evidence_dir}/{name}" for name in others]


def wave_page(session: Session, wave_id: int, *, data_dir: Path, page: int) -> tuple[list[ProbeView], int]:
    """One page of a wave's inquiries, by company name, with their messages; and the number of pages."""
    total = session.exec(select(func.count()).select_from(Probe).where(Probe.wave_id == wave_id)).one()
    rows = session.exec(
        select(Probe, Company)
        .join(Company, col(Company.id) == col(Probe.company_id))
        .where(Probe.wave_id == wave_id)
        .order_by(col(Company.name), col(Company.id), col(Probe.seq))
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    by_probe: dict[int, list[Message]] = defaultdict(list)
    probe_ids = [probe.id for probe, _company in rows if probe.id is not None]
    if probe_ids:
        for message in session.exec(
            select(Message)
            .where(col(Message.probe_id).in_(probe_ids), col(Message.duplicate_of).is_(None))
            .order_by(col(Message.received_at))
        ):
            assert message.probe_id is not None
            by_probe[message.probe_id].append(message)
    views = []
    for probe, company in rows:
        assert probe.id is not None
        shots, files = evidence_files(data_dir, probe.evidence_dir)
        views.append(ProbeView(probe, company, by_probe[probe.id], shots, files))
    pages = max(1, -(-int(total) // PAGE_SIZE))
    return views, pages


@dataclass(frozen=True)
class ProbeChoice:
    id: int
    label: str
    wave_id: int


def probe_choices(session: Session, waves: int = CHOICE_WAVES) -> list[ProbeChoice]:
    """Inquiries that were (or may have been) sent, in the newest waves: what a reply can answer."""
    wave_ids = session.exec(
        select(Wave.id).where(Wave.mode != "dry_run").order_by(col(Wave.id).desc()).limit(waves)
    ).all()
    if not wave_ids:
        return []
    rows = session.exec(
        select(Probe, Company)
        .join(Company, col(Company.id) == col(Probe.company_id))
        .where(
            col(Probe.wave_id).in_(wave_ids),
            col(Probe.dry_run).is_(False),
            or_(col(Probe.submitted_at).is_not(None), col(Probe.outcome).in_(("submitted", "uncertain"))),
        )
        .order_by(col(Probe.wave_id).desc(), col(Company.name), col(Probe.seq))
    ).all()
    choices = []
    for probe, company in rows:
        assert probe.id is not None
        label = f"{company.name} · wave {probe.wave_id} · {probe.ref_code}"
        choices.append(ProbeChoice(probe.id, label, probe.wave_id))
    return choices


@dataclass(frozen=True)
class ReviewItem:
    message: Message
    probe: Probe
    company: Company


def unmatched_messages(session: Session, limit: int = INBOX_LIMIT) -> list[Message]:
    return list(
        session.exec(
            select(Message)
            .where(col(Message.probe_id).is_(None), col(Message.duplicate_of).is_(None))
            .order_by(col(Message.received_at).desc())
            .limit(limit)
        ).all()
    )


def messages_to_review(session: Session, limit: int = INBOX_LIMIT) -> list[ReviewItem]:
    """Low-confidence matches (by the sender's domain) that a person should confirm or move."""
    rows = session.exec(
        select(Message, Probe, Company)
        .join(Probe, col(Probe.id) == col(Message.probe_id))
        .join(Company, col(Company.id) == col(Probe.company_id))
        .where(
            col(Message.needs_review).is_(True),
            col(Message.assigned_by_hand).is_(False),
            col(Message.duplicate_of).is_(None),
        )
        .order_by(col(Message.received_at).desc())
        .limit(limit)
    ).all()
    return [ReviewItem(message, probe, company) for message, probe, company in rows]


def unmatched_count(session: Session) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(Message)
            .where(col(Message.probe_id).is_(None), col(Message.duplicate_of).is_(None))
        ).one()
    )
