"""IMAP ingest against its floor: collect_imap_once (fetch, parse, classify, match, store) vs a bare fetch.

    python bench/bench_imap.py                 # 10,000 messages; prints a table for the README
    python bench/bench_imap.py --messages 300

A throw-away local Dovecot (tests/dovecot.py) gets N small, varied replies by MULTIAPPEND. The floor is a bare
imapclient loop: EXAMINE, UID SEARCH, UID FETCH (BODY.PEEK[] INTERNALDATE RFC822.SIZE) in batches, bytes
dropped. The tool is one `collect_imap_once` pass into a fresh SQLite database and data folder, with the same
batch size. Goal (issue 3): the tool within 2x of the floor.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.header import Header
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.dovecot when run as a script

from audit.collect.imap import collect_imap_once
from audit.db import open_database
from tests.dovecot import DovecotServer, running_dovecot

FETCH_ITEMS = [b"BODY.PEEK[]", b"INTERNALDATE", b"RFC822.SIZE"]
SENDERS = [
    "support@acme.test",
    "noreply@shop.example",
    "dana.cohen@mail.example.co.il",
    "help@zendesk.example",
]


def message(n: int, rng: random.Random, moment: datetime) -> bytes:
    """One of a few shapes: plain, with our MX's Received line, HTML-only, Hebrew, an auto-reply."""
    token = f"k{n:06d}q"
    shape = n % 5
    headers = [
        f"Delivered-To: dana.{token}@replies.example.org",
        f"From: {SENDERS[n % len(SENDERS)]}",
        f"To: dana.{token}@replies.example.org",
        f"Date: {moment.strftime('%a, %d %b %Y %H:%M:%S +0000')}",
        f"Message-ID: <{n}.{rng.getrandbits(64):x}@bench.example>",
        "MIME-Version: 1.0",
    ]
    paragraph = " ".join(
        rng.choice(["thanks", "we", "will", "call", "your", "request", "plan"]) for _ in range(40)
    )
    if shape == 1:
        received = moment + timedelta(seconds=3)
        headers.insert(
            0,
            f"Received: from mx.acme.test by mx.replies.example.org; {received:%a, %d %b %Y %H:%M:%S +0000}",
        )
    if shape == 2:
        headers += [f"Subject: Re: inquiry {n}", "Content-Type: text/html; charset=utf-8"]
        body = f"<html><body><p>Hello Dana,</p><p>{paragraph}</p><img src='https://t.example/p.gif'></body></html>"
    elif shape == 3:
        subject = Header(f"תשובה לפנייתך {n}", "utf-8").encode()
        headers += [f"Subject: {subject}", "Content-Type: text/plain; charset=utf-8"]
        body = "שלום דנה,\nתודה על פנייתך, נחזור אלייך בהקדם.\n" + paragraph
    elif shape == 4:
        headers += [
            f"Subject: Automatic reply: inquiry {n}",
            "Auto-Submitted: auto-replied",
            "Content-Type: text/plain",
        ]
        body = "I am out of the office until Monday.\n"
    else:
        headers += [f"Subject: Re: your inquiry {n}", "Content-Type: text/plain; charset=utf-8"]
        body = f"Hello Dana,\n\n{paragraph}\n\n> On Monday you wrote:\n> Do you offer a monthly plan?\n"
    return ("\r\n".join(headers) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode()


def floor(server: DovecotServer, user: str, batch_size: int) -> tuple[float, int]:
    started = time.perf_counter()
    total = 0
    with server.client(user) as client:
        client.select_folder("INBOX", readonly=True)
        uids = sorted(u for u in client.search(["UID", "1:*"]) if u > 0)
        for start in range(0, len(uids), batch_size):
            for data in client.fetch(uids[start : start + batch_size], FETCH_ITEMS).values():
                total += len(data[b"BODY[]"])
    return time.perf_counter() - started, total


def tool(server: DovecotServer, user: str, batch_size: int, work: Path) -> tuple[float, int]:
    engine = open_database(f"sqlite:///{work / 'bench.db'}")
    try:
        started = time.perf_counter()
        stats = collect_imap_once(
            engine,
            server.imap_section(user, folders=("INBOX",)),
            server.credentials(user),
            data_dir=work / "data",
            batch_size=batch_size,
            timeout_s=120,
        )
        elapsed = time.perf_counter() - started
    finally:
        engine.dispose()
    if stats.errors:
        print(f"warning: {stats.errors} messages failed to ingest", file=sys.stderr)
    return elapsed, stats.stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=50)
    args = parser.parse_args()
    rng = random.Random(20260301)
    start = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    batch = [
        (message(n, rng, start + timedelta(seconds=37 * n)), start + timedelta(seconds=37 * n))
        for n in range(args.messages)
    ]
    with running_dovecot() as server, tempfile.TemporaryDirectory(prefix="bench-imap-") as work:
        user = server.add_user()
        began = time.perf_counter()
        server.append_many(user, "INBOX", batch)
        print(f"appended {args.messages} messages in {time.perf_counter() - began:.1f} s")
        floor(server, user, args.batch_size)  # warm Dovecot's index and the page cache for both runs
        floor_s, size = floor(server, user, args.batch_size)
        tool_s, stored = tool(server, user, args.batch_size, Path(work))
    print()
    print(f"| {args.messages:,} messages ({size / 1024:,.0f} KiB) | seconds | messages/s |")
    print("|---|---:|---:|")
    print(f"| floor: bare imapclient fetch | {floor_s:.2f} | {args.messages / floor_s:,.0f} |")
    print(f"| collect_imap_once, SQLite ({stored:,} stored) | {tool_s:.2f} | {args.messages / tool_s:,.0f} |")
    print(f"\nratio tool/floor: {tool_s / floor_s:.1f}x (goal: within 2x)")


if __name__ == "__main__":
    main()
