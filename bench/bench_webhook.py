"""Webhook deliveries per second: the app on one uvicorn worker with SQLite, beside a trivial floor.

    python bench/bench_webhook.py                 # 2000 signed raw messages, 8 concurrent clients
    python bench/bench_webhook.py --messages 500 --clients 4

Each server runs in a subprocess of its own (one uvicorn worker, 127.0.0.1), so the httpx clients do not
share its interpreter. The tool: `/webhooks/raw` verifies the HMAC, writes the raw file (fsync), ingests it
(parse, match, classify) into SQLite (WAL, synchronous=FULL) and commits before answering. The floor: the
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
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response

GOAL_PER_S = 300
SECRET_VARIABLE = "AUDIT_BENCH_WEBHOOK_SECRET"


def serve(mode: str, fd: int, data_dir: Path) -> None:
    """In the subprocess: serve the tool or the floor on the inherited listening socket."""
    from audit.db import open_database
    from audit.webhook import WebhookSecrets, create_webhook_app

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

    uvicorn.run(app, fd=fd, workers=1, log_level="warning", access_log=False, lifespan="off")


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
    signed = [
        (body, "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()) for body in bodies
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
                    "/webhooks/raw", content=body, headers={"X-Audit-Signature": signature}
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


def measure(mode: str, count: int, clients: int) -> tuple[float, float]:
    """Deliveries per second, and the server's CPU milliseconds per delivery (robust on a busy machine)."""
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix=f"bench-webhook-{mode}-") as folder:
        process, base_url = run_server(mode, Path(folder), secret)
        try:
            asyncio.run(deliver(base_url, [message(-n - 1) for n in range(50)], secret, clients))  # warm-up
            cpu_before = cpu_seconds(process.pid)
            seconds = asyncio.run(deliver(base_url, [message(n) for n in range(count)], secret, clients))
            cpu = cpu_seconds(process.pid) - cpu_before
        finally:
            process.terminate()
            process.wait(timeout=30)
        if mode == "tool":
            check_stored(Path(folder), count + 50)
    return count / seconds, cpu / count * 1000


def check_stored(data_dir: Path, expected: int) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{(data_dir / 'audit.db').as_posix()}")
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM message")).scalar_one()
    engine.dispose()
    if stored != expected:
        raise SystemExit(f"the tool stored {stored} messages, expected {expected}")


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
    floor, floor_cpu = measure("floor", args.messages, args.clients)
    tool, tool_cpu = measure("tool", args.messages, args.clients)
    verdict = "meets" if tool >= GOAL_PER_S else "misses"
    print(f"| {'server':<48} | {'deliveries/s':>12} | {'server CPU ms/delivery':>22} |")
    print(f"| {'-' * 48} | {'-' * 11}: | {'-' * 21}: |")
    print(f"| {'floor: read the body, answer 200':<48} | {floor:>12.0f} | {floor_cpu:>22.2f} |")
    print(f"| {'tool: verify, keep raw, ingest, commit, answer':<48} | {tool:>12.0f} | {tool_cpu:>22.2f} |")
    print(f"tool/floor = {tool / floor:.2f}; goal >= {GOAL_PER_S}/s: {verdict} it")


if __name__ == "__main__":
    main()
