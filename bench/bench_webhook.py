"""Webhook deliveries per second: the app on one uvicorn worker with SQLite, beside a trivial floor.

    python bench/bench_webhook.py                 # 2000 signed raw messages, 8 concurrent clients
    python bench/bench_webhook.py --messages 500 --clients 4

Each server runs in a subprocess of its own (one uvicorn worker, 127.0.0.1), so the httpx clients do not
share its interpreter. The tool: `/webhooks/raw` verifies the HMAC, writes the raw file (fsync), commits one
spool row into SQLite (WAL, synchronous=FULL) and answers; the app's background worker then ingests each
spool row (parse, match, classify, store). Deliveries per second counts answers; the drain is how long the
worker took to ingest them all (measured until no spool row is pending), reported beside it. The floor: the
same uvicorn and FastAPI serving an endpoint that only reads the body and answers 200.
Goal (issue 3): at least 300 deliveries per second.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response

GOAL_PER_S = 300
SECRET_VARIABLE = "AUDIT_BENCH_WEBHOOK_SECRET"


def serve(mode: str, fd: int, data_dir: Path) -> None:
    """In the subprocess: serve the tool or the floor on the inherited listening socket."""
    from audit.db import open_database
    from audit.webhooks import WebhookSecrets, create_webhook_app

    if mode == "tool":
        engine = open_database(f"sqlite:///{(data_dir / 'audit.db').as_posix()}")
        app = create_webhook_app(
            engine, data_dir=data_dir, secrets=WebhookSecrets(generic_hmac_secret=os.environ[SECRET_VARIABLE])
        )
    else:
        app = FastAPI()

        @app.post("/webhooks/raw")
        async def floor(request: Request) -> Response:
            await request.body()
            return Response(status_code=200)

    # uvicorn.run(fd=...) wraps the descriptor as an AF_UNIX socket, so asyncio leaves Nagle on for the
    # connections it accepts and every response with a body waits ~40 ms for a delayed ACK. socket(fileno=)
    # reads the real family, as `uvicorn --host` serving would have it.
    sock = socket.socket(fileno=fd)
    config = uvicorn.Config(app, workers=1, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


def message(n: int) -> bytes:
    token = f"k7q{n:06d}"
    body = ("Hello Dana,\r\nthank you for your inquiry about our monthly plans. " * 30).encode()
    return (
        f"Received: from mx.acme.test by mx.r.audit.example; Thu, 26 Nov 2026 09:{n % 60:02d}:00 +0000\r\n"
        f"From: Support <support@acme.test>\r\nTo: dana.{token}@r.audit.example\r\n"
        f"Subject: Re: monthly plans ({n})\r\nDate: Thu, 26 Nov 2026 11:00:00 +0200\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@acme.test>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode() + body


async def deliver(base_url: str, bodies: list[bytes], secret: str, clients: int) -> float:
    """Post every body with `clients` concurrent senders; return the seconds taken. Any non-200 aborts."""
    stamp = str(int(time.time()))  # HMAC-SHA256 over `timestamp LF recipient LF body` (README, Webhooks)
    signed = [
        (
            body,
            "sha256=" + hmac.new(secret.encode(), f"{stamp}\n\n".encode() + body, hashlib.sha256).hexdigest(),
        )
        for body in bodies
    ]
    queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()
    for item in signed:
        queue.put_nowait(item)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:

        async def sender() -> None:
            while not queue.empty():
                body, signature = queue.get_nowait()
                response = await client.post(
                    "/webhooks/raw",
                    content=body,
                    headers={"X-Audit-Timestamp": stamp, "X-Audit-Signature": signature},
                )
                if response.status_code != 200:
                    raise SystemExit(f"delivery failed: {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(clients)))
        return time.perf_counter() - started


def run_server(mode: str, data_dir: Path, secret: str) -> tuple[subprocess.Popen[bytes], str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    # The server imports `audit` from this checkout, whatever copy happens to be installed.
    paths = [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")]
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", mode, "--fd", str(sock.fileno()), "--data-dir", str(data_dir)],
        pass_fds=[sock.fileno()],
        env={**os.environ, SECRET_VARIABLE: secret, "PYTHONPATH": os.pathsep.join(filter(None, paths))},
    )
    sock.close()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:  # the socket already listens: wait until the app answers
        if process.poll() is not None:
            raise SystemExit(f"the {mode} server exited with {process.returncode}")
        try:
            httpx.post(f"{base_url}/webhooks/none", timeout=2)
            return process, base_url
        except httpx.TransportError:
            if time.monotonic() > deadline:
                process.kill()
                raise SystemExit(f"the {mode} server did not start") from None
            time.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), or NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Figures:
    per_s: float  # deliveries answered per second
    cpu_ms: float  # server CPU per delivery while answering (the worker's share included)
    drain_s: float = 0.0  # after the last answer, until every delivery was ingested (tool only)
    pending: int = 0  # deliveries not yet ingested when the last answer went out (tool only)
    total_cpu_ms: float = 0.0  # server CPU per delivery, answering and ingesting (tool only)


PENDING = "SELECT count(*) FROM inboundspool WHERE processed_at IS NULL"


def pending(data_dir: Path) -> int:
    database = sqlite3.connect(f"file:{(data_dir / 'audit.db').as_posix()}?mode=ro", uri=True)
    try:
        return int(database.execute(PENDING).fetchone()[0])
    finally:
        database.close()


def wait_drained(data_dir: Path, timeout_s: float = 1800) -> None:
    """Until the tool's worker has ingested every spool row (read-only, beside the server)."""
    database = sqlite3.connect(f"file:{(data_dir / 'audit.db').as_posix()}?mode=ro", uri=True)
    try:
        deadline = time.monotonic() + timeout_s
        while database.execute(PENDING).fetchone()[0]:
            failed = database.execute("SELECT id, last_error FROM inboundspool WHERE last_error IS NOT NULL")
            for spool_id, error in failed.fetchmany(1):
                raise SystemExit(f"ingesting spool row {spool_id} failed: {error}")
            if time.monotonic() > deadline:
                raise SystemExit("the spool did not drain")
            time.sleep(0.05)
    finally:
        database.close()


def measure(mode: str, count: int, clients: int) -> Figures:
    """Deliveries answered per second and the server's CPU per delivery; for the tool, the drain too."""
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix=f"bench-webhook-{mode}-") as folder:
        data_dir = Path(folder)
        process, base_url = run_server(mode, data_dir, secret)
        try:
            asyncio.run(deliver(base_url, [message(-n - 1) for n in range(50)], secret, clients))  # warm-up
            if mode == "tool":
                wait_drained(data_dir)
            cpu_before = cpu_seconds(process.pid)
            seconds = asyncio.run(deliver(base_url, [message(n) for n in range(count)], secret, clients))
            cpu = cpu_seconds(process.pid) - cpu_before
            figures = Figures(count / seconds, cpu / count * 1000)
            if mode == "tool":
                answered = time.perf_counter()
                figures.pending = pending(data_dir)
                wait_drained(data_dir)
                figures.drain_s = time.perf_counter() - answered
                figures.total_cpu_ms = (cpu_seconds(process.pid) - cpu_before) / count * 1000
        finally:
            process.terminate()
            process.wait(timeout=30)
        if mode == "tool":
            check_stored(data_dir, count + 50)
    return figures


def check_stored(data_dir: Path, expected: int) -> None:
    database = sqlite3.connect((data_dir / "audit.db").as_posix())
    try:
        stored = database.execute("SELECT count(*) FROM message").fetchone()[0]
        done = "SELECT count(*) FROM inboundspool WHERE message_id IS NOT NULL"
        spooled = database.execute(done).fetchone()[0]
    finally:
        database.close()
    if (stored, spooled) != (expected, expected):
        raise SystemExit(f"the tool stored {stored} messages from {spooled} spool rows, expected {expected}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--serve", choices=["tool", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.fd, args.data_dir)
        return
    size = len(message(0))
    print(
        f"Webhook deliveries: {args.messages} signed raw messages of {size / 1024:.1f} KB, "
        f"{args.clients} concurrent httpx clients, one uvicorn worker, SQLite (WAL, synchronous=FULL), "
        f"{os.cpu_count()} CPUs"
    )
    floor = measure("floor", args.messages, args.clients)
    tool = measure("tool", args.messages, args.clients)
    verdict = "meets" if tool.per_s >= GOAL_PER_S else "misses"
    print(f"| {'server':<48} | {'deliveries/s':>12} | {'server CPU ms/delivery':>22} |")
    print(f"| {'-' * 48} | {'-' * 11}: | {'-' * 21}: |")
    print(f"| {'floor: read the body, answer 200':<48} | {floor.per_s:>12.0f} | {floor.cpu_ms:>22.2f} |")
    tool_name = "tool: verify, keep raw, spool row, answer"
    print(f"| {tool_name:<48} | {tool.per_s:>12.0f} | {tool.cpu_ms:>22.2f} |")
    answering = args.messages / tool.per_s
    print(
        f"background ingestion: {tool.pending} of {args.messages} still to ingest at the last answer, "
        f"all stored {tool.drain_s:.1f} s after it "
        f"({answering + tool.drain_s:.1f} s from the first post, "
        f"{args.messages / (answering + tool.drain_s):.0f} messages/s end to end; "
        f"server CPU {tool.total_cpu_ms:.2f} ms/delivery in all)"
    )
    print(f"tool/floor = {tool.per_s / floor.per_s:.2f}; goal >= {GOAL_PER_S}/s answered: {verdict} it")


if __name__ == "__main__":
    main()
