"""Collect one Maildir in a process of its own and report time, peak memory and what was stored (JSON).

Run by tests/attack/test_bounds.py as `python -m tests.attack.bounds_worker MAILDIR DATA_DIR DB_URL`, so that
each figure is this collection's alone: VmHWM is the peak resident size of this process, imports included.
(Not ru_maxrss: Linux carries it over fork and exec, so it would report the pytest process that started us.)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from sqlmodel import Session, select

from audit.collect.maildir import collect_maildir_once
from audit.db import open_database
from audit.models import Message


def peak_rss_mb() -> float:
    """The high-water mark of this process's resident memory (kernel's VmHWM, of this address space only)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(maildir: Path, data_dir: Path, url: str) -> None:
    engine = open_database(url)
    before_mb = peak_rss_mb()
    started = time.monotonic()
    stats = collect_maildir_once(engine, maildir, data_dir=data_dir)
    seconds = time.monotonic() - started
    peak_mb = peak_rss_mb()
    with Session(engine) as session:
        rows = [
            {
                "delivery_key": row.delivery_key,
                "raw_path": row.raw_path,
                "raw_size": row.raw_size,
                "parse_error": row.parse_error or "",
                "malformed": row.malformed,
                "kind": row.kind,
                "subject": (row.subject or "")[:200],
                "text_head": " ".join((row.text or "").split())[:200],
                "text_chars": len(row.text or ""),
                "html_chars": len(row.html_sanitized or ""),
            }
            for row in session.exec(select(Message))
        ]
    engine.dispose()
    report = {"seconds": seconds, "peak_mb": peak_mb, "before_mb": before_mb, "stored": stats.stored,
              "errors": stats.errors, "rows": rows}  # fmt: skip
    print(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
