"""Memory of `audit serve` across many probes, and the browser processes it leaves behind.

    python bench/bench_serve_memory.py                 # 1,000 probes (about 40 minutes per run on 2 cores)
    python bench/bench_serve_memory.py --probes 200    # what the README's figures used

A real `python -m audit serve` subprocess runs a wave of N companies (the demo farm's plain contact page, each
under its own host name, so each is a separate site) whose schedule submits them as fast as the probes go:
the cron fires a few seconds after start and the window is N x 2.5 s, so the submit job wakes every window/100
and sends the few that are due each time, each batch in a browser of its own, as a server does all year. The
memory of the whole process tree (the Python server, Playwright's driver and every Chromium process) is
sampled at start, after 100 probes and after N: RSS summed over the tree (what the issue asks for; it counts
pages shared between Chromium's processes once per process) and PSS (each shared page divided among its
sharers: the honest total). After a graceful stop (SIGTERM, as systemd sends), the processes of the tree still
alive are counted: leftover browsers.

The floor is the same N probes run by a plain script (`audit run`, one browser, no server, no scheduler),
sampled the same way. Goal (issue 5): no growth beyond 100 MB after warm-up (after 100 -> after N), browser
processes included, and no leftover browser process.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from audit.db import open_database
from audit.demo.farm import RunningFarm, serve_farm
from audit.models import Probe, ProbeState

PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


# ------------------------------------------------------------------------------------ process-tree memory


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state, past "(comm)"
        tree.setdefault(parent, []).append(int(entry))
    return tree


def tree_pids(root: int) -> list[int]:
    tree, found, stack = _children(), [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(tree.get(pid, []))
    return found


def _rss_and_pss(pid: int) -> tuple[int, int]:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            rss = int(handle.read().split()[1]) * PAGE
        pss = 0
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1]) * 1024
                    break
        return rss, pss
    except (OSError, ValueError, IndexError):
        return 0, 0  # it ended while we looked


@dataclass(frozen=True)
class Sample:
    processes: int
    rss: int
    pss: int
    browsers: int  # chromium / headless_shell processes in the tree
    root_rss: int  # the Python process alone (the server, or the plain script)


def sample(root: int) -> Sample:
    rss = pss = browsers = 0
    pids = tree_pids(root)
    root_rss = _rss_and_pss(root)[0]
    for pid in pids:
        one_rss, one_pss = _rss_and_pss(pid)
        rss, pss = rss + one_rss, pss + one_pss
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as handle:
                name = handle.read().strip()
        except OSError:
            name = ""
        browsers += name.startswith(("chrom", "headless_shell"))
    return Sample(len(pids), rss, pss, browsers, root_rss)


def alive(pids: list[int]) -> list[int]:
    living = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.append(pid)
    return living


# ------------------------------------------------------------------------------------------------ the runs


@dataclass
class Run:
    name: str
    samples: dict[str, Sample] = field(default_factory=dict)
    """At each mark: the tree as it was then."""
    peaks: dict[str, Sample] = field(default_factory=dict)
    """At each mark: the largest tree (by PSS) since the previous mark; browsers come and go between."""
    seconds: float = 0.0
    leftover: int = 0
    submitted: int = 0
    _segment: Sample | None = None

    def watch(self, root: int) -> Sample:
        current = sample(root)
        if self._segment is None or current.pss > self._segment.pss:
            self._segment = current
        return current

    def mark(self, name: str, current: Sample) -> None:
        self.samples[name] = current
        self.peaks[name] = self._segment or current
        self._segment = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config_text(farm: RunningFarm, count: int, schedule: str) -> str:
    urls = [farm.host_url(f"mem-{n}.localhost", "plain") for n in range(count)]
    companies = "\n".join(
        f'  - {{id: shop{n}, name: "Shop {n}", contact_url: "{url}"}}' for n, url in enumerate(urls)
    )
    return f"""\
audit: {{name: bench-serve, timezone: UTC, deadline: 30d, allow_private_targets: true, probe_timeout: 60s}}
mailbox: {{address: "dana.{{token}}@replies.example.org"}}
persona: {{first_name: Dana, last_name: Levi, phone: "050-1234567"}}
inquiry: {{subject: "Monthly plans", message: "Do you offer a monthly plan?"}}
{schedule}companies:
{companies}
"""


def finished(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).where(Probe.state == ProbeState.FINISHED)).one())


def submitted(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).where(Probe.outcome == "submitted")).one())


@contextmanager
def process(command: list[str], workdir: Path, log_name: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AUDIT_")}
    env["AUDIT_DATA_DIR"] = str(workdir / "data")
    with (workdir / log_name).open("wb") as log:
        child = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def follow(
    run: Run, child: subprocess.Popen[bytes], engine: Engine, count: int, workdir: Path, log: str
) -> None:
    """Sample the tree after 100 and after `count` finished probes (and its peak all along)."""
    marks = sorted({min(100, count), count})
    started = time.monotonic()
    while marks:
        if child.poll() is not None and finished(engine) < marks[0]:
            raise SystemExit(f"{run.name} exited early; see {workdir / log}")
        current = run.watch(child.pid)
        done = finished(engine)
        while marks and done >= marks[0]:
            run.mark(f"after {marks.pop(0)}", current)
        time.sleep(0.5)
    run.seconds = time.monotonic() - started


def stop_and_count_leftovers(run: Run, child: subprocess.Popen[bytes]) -> None:
    last_tree = tree_pids(child.pid)
    child.send_signal(signal.SIGTERM)
    child.wait(timeout=300)
    time.sleep(5)  # a browser that is still closing gets the time to go
    run.leftover = len(alive([pid for pid in last_tree if pid != child.pid]))


def serve_run(farm: RunningFarm, count: int, workdir: Path) -> Run:
    run = Run("`audit serve` (scheduled, one browser per batch)")
    fire = datetime.now(UTC) + timedelta(seconds=20)
    window = max(int(count * 2.5), 10)
    schedule = (
        f'schedule: {{cron: "{fire.second} {fire.minute} {fire.hour} * * *", window: {window}s, '
        "working_hours_only: false, jitter: 1s, min_gap_same_company: 1s}\n"
    )
    config = workdir / "companies.yaml"
    config.write_text(config_text(farm, count, schedule), encoding="utf-8")
    engine = open_database(f"sqlite:///{workdir / 'data' / 'audit.db'}")
    command = [sys.executable, "-m", "audit", "serve", "--config", str(config), "--port", str(free_port())]
    with process(command, workdir, "serve.log") as child:
        time.sleep(12)  # started and idle, before the cron fires
        run.mark("start", run.watch(child.pid))
        follow(run, child, engine, count, workdir, "serve.log")
        run.submitted = submitted(engine)
        stop_and_count_leftovers(run, child)
    engine.dispose()
    return run


def floor_run(farm: RunningFarm, count: int, workdir: Path) -> Run:
    run = Run("floor: `audit run` (plain script, one browser)")
    config = workdir / "companies.yaml"
    config.write_text(config_text(farm, count, ""), encoding="utf-8")
    engine = open_database(f"sqlite:///{workdir / 'data' / 'audit.db'}")
    command = [sys.executable, "-m", "audit", "run", "--config", str(config)]
    with process(command, workdir, "run.log") as child:
        time.sleep(3)
        run.mark("start", run.watch(child.pid))
        follow(run, child, engine, count, workdir, "run.log")
        run.submitted = submitted(engine)
        last_tree = tree_pids(child.pid)
        child.wait(timeout=600)
        time.sleep(5)
        run.leftover = len(alive([pid for pid in last_tree if pid != child.pid]))
    engine.dispose()
    return run


def table(runs: list[Run], count: int) -> str:
    warm, last = f"after {min(100, count)}", f"after {count}"
    lines = [
        "| run | Python process RSS (MB): start / "
        + f"{warm} / {last} | whole tree, peak PSS (MB): up to {warm} / {warm} to {last} "
        + "| growth after warm-up (MB) | peak tree RSS summed (MB), processes | submitted | seconds "
        + "| leftover processes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        roots = " / ".join(
            f"{run.samples[mark].root_rss / MB:.0f}" if mark in run.samples else "-"
            for mark in ("start", warm, last)
        )
        early, late = run.peaks.get(warm), run.peaks.get(last)
        peaks = f"{early.pss / MB:.0f} / {late.pss / MB:.0f}" if early and late else "-"
        growth = f"{(late.pss - early.pss) / MB:+.0f}" if early and late else "-"
        biggest = max(run.peaks.values(), key=lambda found: found.rss, default=None)
        rss = f"{biggest.rss / MB:.0f}, {biggest.processes}" if biggest else "-"
        lines.append(
            f"| {run.name} | {roots} | {peaks} | {growth} | {rss} | {run.submitted}/{count} "
            f"| {run.seconds:.0f} | {run.leftover} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--skip-floor", action="store_true", help="Measure the server only.")
    args = parser.parse_args()
    with serve_farm() as farm, tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch:
        runs = []
        serve_dir = Path(scratch) / "serve"
        serve_dir.mkdir()
        runs.append(serve_run(farm, args.probes, serve_dir))
        if not args.skip_floor:
            floor_dir = Path(scratch) / "floor"
            floor_dir.mkdir()
            runs.append(floor_run(farm, args.probes, floor_dir))
    print(f"{args.probes} probes against the local farm; process-tree memory (RSS summed, and PSS)")
    print(table(runs, args.probes))


if __name__ == "__main__":
    main()
