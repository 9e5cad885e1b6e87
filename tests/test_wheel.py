"""The tool as a wheel: built from this checkout, installed into a fresh venv outside it, run from there.

An editable install finds the templates whatever the packaging says; a wheel finds only what it ships. So the
wheel is built (offline: setuptools from the dev extras, no build isolation), installed into a venv in a
temporary folder (its dependencies from this interpreter's site-packages, the project itself only from the
wheel), and run with the working directory outside the checkout: `audit demo` must write its report, and
`audit serve` must serve the login page and the stylesheet. `audit.__file__` is checked to be the venv's copy.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from audit.web.auth import hash_password
from tests.dovecot import free_port

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.browser  # `audit demo` drives Chromium


@dataclass(frozen=True)
class Installed:
    wheel: Path
    bin: Path  # the venv's bin/
    home: Path  # a working directory outside the checkout

    def env(self, data_dir: Path) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AUDIT_", "PYTHON"))}
        env["AUDIT_DATA_DIR"] = str(data_dir)
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(REPO)],
        check=True, capture_output=True, timeout=300, cwd=root,
    )  # fmt: skip
    (wheel,) = dist.glob("contact_audit-*.whl")
    venv = root / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120
    )
    # --ignore-installed: this interpreter has the project installed in editable mode; the venv must get its own.
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    home = root / "home"
    home.mkdir()
    return Installed(wheel, venv / "bin", home)


def test_the_wheel_ships_every_template_and_data_file(installed: Installed) -> None:
    shipped = set(zipfile.ZipFile(installed.wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", "audit", "probes", "reports"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout.split()
    missing = [name for name in tracked if name not in shipped and not name.endswith("README.md")]
    assert missing == []
    assert "reports/partials/summary.html.j2" in shipped and "reports/web/web.css" in shipped


def test_the_installed_copy_is_the_one_that_runs(installed: Installed, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(installed.bin / "python"), "-c", "import audit, reports; print(audit.__file__); print(reports.__file__)"],
        capture_output=True, text=True, check=True, cwd=installed.home, env=installed.env(tmp_path),
    )  # fmt: skip
    for line in done.stdout.split():
        assert Path(line).is_relative_to(installed.bin.parent), line
        assert not Path(line).is_relative_to(REPO), line


def test_audit_demo_from_the_wheel_writes_its_report(installed: Installed, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(installed.bin / "audit"), "demo"],
        capture_output=True, text=True, timeout=600, cwd=installed.home, env=installed.env(tmp_path / "data"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    reports = list((tmp_path / "data").rglob("reports/wave-*.html"))
    assert reports, done.stdout[-2000:]
    html = reports[0].read_text(encoding="utf-8")
    assert "<style>" in html and "</html>" in html
    assert re.search(r"Fast and courteous|fast", html, re.IGNORECASE)


@pytest.fixture
def served(installed: Installed, tmp_path: Path) -> Iterator[str]:
    config = tmp_path / "companies.yaml"
    # One company on a port nothing listens on, and no wave due for a year: nothing is ever submitted.
    config.write_text(
        """\
audit: {name: "Wheel test", timezone: UTC, allow_private_targets: true}
mailbox: {address: "dana.{token}@replies.example.org"}
persona: {first_name: Dana, last_name: Levi, phone: "050-1234567"}
inquiry: {subject: "A question", message: "Hello {company}, a question. Thanks, Dana"}
schedule: {cron: "0 0 1 1 *"}
companies:
  - {id: nobody, name: "Nobody Ltd", contact_url: "http://127.0.0.1:9/contact"}
""",
        encoding="utf-8",
    )
    port = free_port()
    env = installed.env(tmp_path / "data")
    env["AUDIT_WEB_SESSION_SECRET"] = "s" * 64
    env["AUDIT_WEB_PASSWORD_HASH"] = hash_password("a password for the wheel test", n=2**10)
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [str(installed.bin / "audit"), "serve", "--config", str(config), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, cwd=installed.home, env=env, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text(errors="replace")
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "audit serve did not answer within 60 s"
                time.sleep(0.2)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have exited on its own (a failed start)
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
        log.close()


def test_audit_serve_from_the_wheel_serves_its_pages(served: str) -> None:
    login = httpx.get(f"{served}/login", timeout=10)
    assert login.status_code == 200 and "<form" in login.text and "/static/web.css" in login.text
    css = httpx.get(f"{served}/static/web.css", timeout=10)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css") and "{" in css.text
