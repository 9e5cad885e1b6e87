"""The report for a large audit: 5,000 companies, 12 waves; build and render time and peak memory.

    python bench/bench_report.py                       # 5,000 companies x 12 waves, all three cases
    python bench/bench_report.py --companies 500 --no-db

Three cases, each in a fresh subprocess (so each one's peak memory is its own, measured as ru_maxrss):
- floor: a minimal hand-written f-string HTML table of the latest wave's ranked rows (the same columns as the
  report's table), from the same in-memory grades;
- report (in memory): synthetic WaveGrades for every wave; the report for the latest wave with the previous
  one for the trend: build (pure), then render the web HTML, the email HTML (CSS inlined) and the text;
- report (database): a SQLite database of the same size with a few messages per inquiry, then
  `build_report_from_db` (which grades the latest and the previous wave with the real grader) and the web
  render. Skipped when `audit.grading.grade_wave` is not there. The database is built once, outside the
  timing, and kept with --db-path.
Goal (issue 4): grade + render under 10 s and under 500 MB.
"""

from __future__ import annotations

import argparse
import html
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GOAL_SECONDS = 10.0
GOAL_MB = 500.0
START = datetime(2026, 1, 4, 7, 0, tzinfo=UTC)  # a Sunday, 09:00 in Jerusalem
SECTORS = ("banking", "insurance", "telecom", "food", "health", "retail", "energy", "travel", "automotive")
AUDIT_NAME = "bench audit"
CONFIG_YAML = f"""
audit: {{name: "{AUDIT_NAME}", timezone: Asia/Jerusalem, language: en, country: IL}}
persona: {{first_name: Dana, last_name: Levi, phone: "050-1234567"}}
mailbox: {{address: "dana.{{token}}@replies.example.org"}}
inquiry: {{subject: "A monthly plan?", message: "Hello, do you have a monthly plan? Thanks, Dana"}}
companies:
  - {{id: c00000, name: "Company 0", contact_url: "https://c00000.example.com/"}}
"""
HUMAN_TEXTS = (
    "Hi Dana, thank you for contacting us! Yes, we have a monthly plan from 99 NIS; I will call you tomorrow "
    "at 10:00. Best regards, Ruth Cohen, 03-1234567",
    "Dear customer, thank you for your inquiry. A monthly plan is available; details are on our website.",
    "Please call our service centre.",
)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


# ---------------------------------------------------------------------------------------------------------
# Synthetic grades


def synthetic_waves(companies: int, waves: int, seed: int = 7) -> list[Any]:
    """WaveGrades in the TACK proportions (10% fast, 34% reasonable, 7% slow, 45% no reply, 4% not
    reached), each company's tier drifting a little from wave to wave."""
    from audit.grading.types import (
        CompanyResult,
        CriterionScore,
        ProbeResult,
        SubmitTimeClass,
        Tier,
        WaveGrades,
    )

    rng = random.Random(seed)
    tiers = (Tier.FAST_COURTEOUS, Tier.REASONABLE, Tier.SLOW_OR_LACKING, Tier.NO_REPLY, Tier.NOT_REACHED)
    weights = (10, 34, 7, 45, 4)
    result = []
    for wave in range(1, waves + 1):
        start = START + timedelta(days=28 * (wave - 1))
        rows = []
        for index in range(companies):
            tier = rng.choices(tiers, weights)[0]
            submitted = start + timedelta(seconds=20 * index)
            human = {
                Tier.FAST_COURTEOUS: rng.uniform(600, 4 * 3600),
                Tier.REASONABLE: rng.uniform(4 * 3600, 48 * 3600),
                Tier.SLOW_OR_LACKING: rng.uniform(48 * 3600, 6 * 86400),
            }.get(tier)
            quality = {Tier.FAST_COURTEOUS: 0.9, Tier.REASONABLE: 0.62, Tier.SLOW_OR_LACKING: 0.3}.get(tier)
            criteria = tuple(
                CriterionScore(criterion=c, score=rng.randint(0, 2), max_score=2)
                for c in ("A", "P1", "P2", "Q", "V", "E", "M")
            )
            reached = tier is not Tier.NOT_REACHED
            probe = ProbeResult(
                probe_id=wave * 1_000_000 + index,
                company_id=f"c{index:05d}",
                seq=1,
                outcome="submitted" if reached else "no_form",
                reached=reached,
                not_reached_reason=None if reached else "no_form",
                submitted_at=submitted if reached else None,
                submit_time_class=SubmitTimeClass.BUSINESS if reached else None,
                deadline_at=submitted + timedelta(days=7) if reached else None,
                first_reply_at=None,
                first_ack_at=submitted + timedelta(minutes=1) if index % 3 == 0 else None,
                first_human_at=submitted + timedelta(seconds=human) if human else None,
                first_complete_at=None,
                human_channel="email" if human else None,
                human_message_id=None,
                human_folder="INBOX" if human else None,
                wall_seconds_to_ack=60.0 if index % 3 == 0 else None,
                wall_seconds_to_human=human,
                business_seconds_to_human=human * 0.4 if human else None,
                late=False,
                human_replies=1 if human else 0,
                followed_up=False,
                promise=None,
                quality=quality,
                criteria=criteria if human else (),
                excerpt=HUMAN_TEXTS[index % 3] if human else None,
                reply_language="en" if human else None,
                tier=tier,
                tier_reason="synthetic",
            )
            rows.append(
                CompanyResult(
                    company_id=probe.company_id,
                    name=f"Company {index}",
                    sector=SECTORS[index % len(SECTORS)],
                    probes=(probe,),
                    tier=tier,
                    inconsistent=False,
                    wall_seconds_to_human=human,
                    business_seconds_to_human=probe.business_seconds_to_human,
                    quality=quality,
                    quality_spread=None,
                )
            )
        result.append(WaveGrades(wave, AUDIT_NAME, start + timedelta(days=7), "wall", tuple(rows), start))
    return result


def _config() -> Any:
    from audit.config import parse_config

    return parse_config(CONFIG_YAML)


# ---------------------------------------------------------------------------------------------------------
# The cases (each runs in a child process)


def case_floor(companies: int, waves: int) -> dict[str, float]:
    grades = synthetic_waves(companies, waves)
    baseline = peak_mb()
    began = time.perf_counter()
    latest = grades[-1]
    rows = []
    for rank, company in enumerate(sorted(latest.companies, key=lambda c: (c.tier.rank, c.name)), 1):
        probe = company.probes[0]
        rows.append(
            f"<tr><td>{rank}</td><td>{html.escape(company.name)}</td><td>{html.escape(company.sector)}</td>"
            f"<td>{probe.submitted_at}</td><td>{probe.wall_seconds_to_ack}</td>"
            f"<td>{company.wall_seconds_to_human}</td><td>{company.business_seconds_to_human}</td>"
            f"<td>{company.quality}</td><td>{company.tier.value}</td></tr>"
        )
    page = f"<!DOCTYPE html><html><body><table>{''.join(rows)}</table></body></html>"
    return {
        "render_s": time.perf_counter() - began,
        "bytes": len(page),
        "baseline_mb": baseline,
        "peak_mb": peak_mb(),
    }


def case_memory(companies: int, waves: int) -> dict[str, float]:
    from audit.reporting.data import WaveFacts, build_report_data
    from audit.reporting.render import render_html, render_text

    config = _config()
    grades = synthetic_waves(companies, waves)
    baseline = peak_mb()
    began = time.perf_counter()
    report = build_report_data(
        grades[-1], grades[-2] if waves > 1 else None, WaveFacts(START), config, lang="en"
    )
    built = time.perf_counter()
    web = render_html(report, "web")
    rendered = time.perf_counter()
    mail = render_html(report, "email")
    emailed = time.perf_counter()
    text = render_text(report)
    done = time.perf_counter()
    return {
        "build_s": built - began,
        "web_s": rendered - built,
        "email_s": emailed - rendered,
        "text_s": done - emailed,
        "total_s": done - began,
        "web_bytes": len(web),
        "email_bytes": len(mail),
        "text_bytes": len(text),
        "baseline_mb": baseline,
        "peak_mb": peak_mb(),
    }


def build_database(path: Path, companies: int, waves: int, seed: int = 11) -> None:
    """5,000 companies x 12 waves of probes, each reached probe with 0 to 3 messages, by bulk inserts."""
    from sqlalchemy import insert

    from audit.db import open_database
    from audit.models import Company, Message, Probe, Wave

    rng = random.Random(seed)
    engine = open_database(f"sqlite:///{path.as_posix()}")
    now = datetime.now(UTC)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(Company),
                [
                    {
                        "id": f"c{i:05d}",
                        "name": f"Company {i}",
                        "sector": SECTORS[i % len(SECTORS)],
                        "contact_url": f"https://c{i:05d}.example.com/",
                        "domain": f"c{i:05d}.example.com",
                        "updated_at": now,
                    }
                    for i in range(companies)
                ],
            )
            message_id = 0
            for wave in range(1, waves + 1):
                start = START + timedelta(days=28 * (wave - 1))
                connection.execute(
                    insert(Wave),
                    [
                        {
                            "id": wave,
                            "audit_name": AUDIT_NAME,
                            "mode": "live",
                            "status": "submitted",
                            "created_at": start,
                        }
                    ],
                )
                probes, messages = [], []
                for i in range(companies):
                    probe_id = wave * 1_000_000 + i
                    submitted = start + timedelta(seconds=20 * i)
                    reached = rng.random() > 0.04
                    probes.append(
                        {
                            "id": probe_id,
                            "wave_id": wave,
                            "company_id": f"c{i:05d}",
                            "seq": 1,
                            "token": f"t{probe_id}",
                            "ref_code": f"R{probe_id % 100000:05d}",
                            "reply_address": f"dana.t{probe_id}@replies.example.org",
                            "contact_url": f"https://c{i:05d}.example.com/",
                            "dry_run": False,
                            "state": "finished",
                            "attempts": 1,
                            "outcome": "submitted" if reached else "no_form",
                            "planned_at": start,
                            "submitted_at": submitted if reached else None,
                            "evidence_dir": f"evidence/wave-{wave}/c{i:05d}-1",
                        }
                    )
                    if not reached:
                        continue
                    kinds = []
                    if rng.random() < 0.4:
                        kinds.append(("auto_reply", 60.0, "We received your message."))
                    if rng.random() < 0.55:
                        delay = rng.choice(
                            (rng.uniform(600, 14400), rng.uniform(14400, 172800), rng.uniform(2e5, 5e5))
                        )
                        kinds.append(("human", delay, HUMAN_TEXTS[i % 3]))
                        if rng.random() < 0.2:
                            kinds.append(("human", delay + 7200, "Following up on my last message. Ruth"))
                    for kind, delay, text in kinds:
                        message_id += 1
                        messages.append(
                            {
                                "id": message_id,
                                "source": "maildir",
                                "channel": "email",
                                "content_key": f"k{message_id}",
                                "raw_size": 0,
                                "received_at": submitted + timedelta(seconds=delay),
                                "received_at_source": "received",
                                "date_suspicious": False,
                                "ingested_at": now,
                                "probe_id": probe_id,
                                "match_method": "token",
                                "match_confidence": "high",
                                "needs_review": False,
                                "assigned_by_hand": False,
                                "kind": kind,
                                "text": text,
                                "reply_text": text,
                                "malformed": False,
                                "subject": "Re: A monthly plan?",
                            }
                        )
                connection.execute(insert(Probe), probes)
                if messages:
                    connection.execute(insert(Message), messages)
    finally:
        engine.dispose()


def case_database(path: str) -> dict[str, float]:
    from sqlmodel import Session, col, func, select

    from audit.db import open_database
    from audit.models import Wave
    from audit.reporting import build_report_from_db
    from audit.reporting.render import render_html

    config = _config()
    engine = open_database(f"sqlite:///{path}")
    baseline = peak_mb()
    try:
        with Session(engine) as session:
            latest = session.exec(select(func.max(col(Wave.id)))).one()
            began = time.perf_counter()
            report = build_report_from_db(session, config, latest, as_of=None, lang="en")
            built = time.perf_counter()
            web = render_html(report, "web")
            done = time.perf_counter()
    finally:
        engine.dispose()
    return {
        "grade_build_s": built - began,
        "web_s": done - built,
        "total_s": done - began,
        "web_bytes": len(web),
        "baseline_mb": baseline,
        "peak_mb": peak_mb(),
    }


def run_isolated(case: Callable[..., dict[str, float]], *args: Any) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(case, args)


def grader_available() -> bool:
    try:
        from audit.grading import grade_wave  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--companies", type=int, default=5000)
    parser.add_argument("--waves", type=int, default=12)
    parser.add_argument("--no-db", action="store_true", help="Skip the database case.")
    parser.add_argument("--db-path", type=Path, default=None, help="Keep (or reuse) the database here.")
    args = parser.parse_args()
    waves = args.waves
    print(f"{args.companies} companies x {waves} waves; the report for wave {waves} with wave {waves - 1}")

    floor = run_isolated(case_floor, args.companies, args.waves)
    print(
        f"floor, f-string table:      {floor['render_s']:7.3f} s   {floor['bytes'] / 1e6:6.2f} MB of HTML   "
        f"peak {floor['peak_mb']:6.0f} MB (after building the grades: {floor['baseline_mb']:.0f} MB)"
    )
    memory = run_isolated(case_memory, args.companies, args.waves)
    print(f"report from memory, build:  {memory['build_s']:7.3f} s")
    print(f"  render web:               {memory['web_s']:7.3f} s   {memory['web_bytes'] / 1e6:6.2f} MB")
    print(f"  render email (inlined):   {memory['email_s']:7.3f} s   {memory['email_bytes'] / 1e6:6.2f} MB")
    print(f"  render text:              {memory['text_s']:7.3f} s   {memory['text_bytes'] / 1e6:6.2f} MB")
    print(
        f"  total:                    {memory['total_s']:7.3f} s   peak {memory['peak_mb']:6.0f} MB "
        f"(after building the grades: {memory['baseline_mb']:.0f} MB)"
    )
    totals = [memory["total_s"]]
    peaks = [memory["peak_mb"]]
    if not args.no_db and grader_available():
        with tempfile.TemporaryDirectory() as folder:
            path = args.db_path or Path(folder) / "bench.db"
            if not path.exists():
                began = time.perf_counter()
                build_database(path, args.companies, args.waves)
                size = path.stat().st_size / 1e6
                print(f"(database built in {time.perf_counter() - began:.1f} s: {size:.0f} MB)")
            database = run_isolated(case_database, str(path))
        print(f"report from the database, grade 2 waves + build: {database['grade_build_s']:7.3f} s")
        print(f"  render web:               {database['web_s']:7.3f} s")
        print(
            f"  total:                    {database['total_s']:7.3f} s   peak {database['peak_mb']:6.0f} MB"
        )
        totals.append(database["total_s"])
        peaks.append(database["peak_mb"])
    elif not args.no_db:
        print("report from the database: skipped (audit.grading.grade_wave is not available)")
    met = max(totals) < GOAL_SECONDS and max(peaks) < GOAL_MB
    print(
        f"goal: under {GOAL_SECONDS:.0f} s and {GOAL_MB:.0f} MB: {'met' if met else 'NOT met'} "
        f"(slowest {max(totals):.2f} s, largest peak {max(peaks):.0f} MB)"
    )


if __name__ == "__main__":
    main()
