"""How fast the CLI answers: `audit --help` and `audit status` against the interpreter's own start-up.

    python bench/bench_cli_startup.py              # 9 runs of each, medians and fastest
    python bench/bench_cli_startup.py --runs 21

Each command is a fresh process (what a user types), timed on the wall clock from spawn to exit, with the CPU
seconds it used (less disturbed by other work on a busy machine). The floors, measured in the same run:
`python -c pass` (the interpreter alone), `python -c "import click"` (the least any click CLI can cost) and
importing the libraries `audit status` cannot do without. `audit status` reads a throw-away SQLite database
that is already at the newest migration, with one wave of 20 probes, and the example companies.yaml, as a
user's second command would. The checkout is put first on PYTHONPATH, so an installed copy elsewhere is not
what gets measured. Goals (issue 15, part 4): `audit --help` under 0.3 s, `audit status` under 0.8 s. No
timing is asserted in tests; this prints the numbers for the README and the issue.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The libraries `audit status` cannot do without (the models, the config's and settings' pydantic, the YAML
# reader, the table): a floor for it, as `import click` is for `audit --help`.
STATUS_LIBRARIES = "import click, pydantic_settings, rich.table, sqlmodel, yaml"


def seed_database(data_dir: Path) -> None:
    """A migrated database with one wave of the example config's audit, so `audit status` prints a table."""
    sys.path.insert(0, str(REPO))
    from sqlmodel import Session

    from audit.config import load_config
    from audit.db import open_database
    from audit.models import Company, Probe, Wave

    config = load_config(REPO / "companies.yaml")
    engine = open_database(f"sqlite:///{(data_dir / 'audit.db').as_posix()}")
    with Session(engine) as session:
        wave = Wave(audit_name=config.audit.name)
        session.add(wave)
        session.flush()
        assert wave.id is not None
        for n in range(20):
            company = f"company-{n:02d}"
            session.add(
                Company(
                    id=company,
                    name=f"Company {n}",
                    contact_url="https://example.test/",
                    domain="example.test",
                )
            )
            session.add(
                Probe(
                    wave_id=wave.id,
                    company_id=company,
                    token=f"tok{n:06d}",
                    ref_code=f"AB{n:02d}-1X",
                    reply_address=f"k{n}@replies.example.org",
                    contact_url="https://example.test/contact",
                    outcome="submitted",
                    detail="SUBMITTED_CONFIRMED",
                )
            )
        session.commit()
    engine.dispose()


def time_runs(argv: list[str], runs: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (user + system, the child's own) of each run."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    python = sys.executable
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("AUDIT_DATABASE_URL", None)
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as folder:
        data_dir = Path(folder) / "data"
        data_dir.mkdir()
        seed_database(data_dir)
        status = ["--data-dir", str(data_dir), "status", "--config", str(REPO / "companies.yaml")]
        cases: list[tuple[str, list[str], str]] = [
            ("python -c pass", [python, "-c", "pass"], "floor"),
            ('python -c "import click"', [python, "-c", "import click"], "floor"),
            ("import what `status` must load", [python, "-c", STATUS_LIBRARIES], "floor"),
            ("python -m audit --help", [python, "-m", "audit", "--help"], "< 0.3 s"),
            ("python -m audit status", [python, "-m", "audit", *status], "< 0.8 s"),
        ]
        script = Path(python).parent / "audit"  # the console script pip installed, if it is next to python
        if script.exists():
            cases.insert(4, ("audit --help (console script)", [str(script), "--help"], "< 0.3 s"))
        for _label, argv, _goal in cases:  # warm the page cache and write the .pyc files first
            time_runs(argv, 1, env)
        machine = f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}"
        print(f"{machine}, load {os.getloadavg()[0]:.2f} (1-minute average)")
        print(f"{'command':34} {'median s':>9} {'fastest s':>10} {'CPU s':>7}  goal")
        for label, argv, goal in cases:
            walls, cpus = time_runs(argv, args.runs, env)
            wall, cpu = statistics.median(walls), statistics.median(cpus)
            print(f"{label:34} {wall:9.3f} {min(walls):10.3f} {cpu:7.3f}  {goal}")
        print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
