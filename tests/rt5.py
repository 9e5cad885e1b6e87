"""A private Request Tracker 5 behind a private Postfix, both real and both on 127.0.0.1 (issue 10).

    def test_help_desk(rt5: Rt5Stack) -> None:
        rt5.postfix.send(raw_inquiry, sender=..., recipient=RT_QUEUE_ADDRESS)  # a customer's mail, by SMTP
        ack = rt5.postfix.wait_for(lambda raw: b"AutoReply" in raw)          # RT's answer, in the Maildir
        ticket = rt5.rt.find_ticket(requestor=...)                            # the rt CLI, as an agent
        rt5.rt.correspond(ticket, "yossi", "Hi Dana, ...")                    # a staff reply, by REST

The mail flows as it does at a company running RT: SMTP into Postfix (port chosen at start), which pipes mail
for rt@acme.test to `rt-mailgate-5`, which posts it to RT's web server (`rt-server`, standalone, on another
free port); RT's scrips (the stock "On Create Autoreply To Requestors" with "Autoreply in HTML", and "On
Correspond Notify Requestors and Ccs") send their mail with Postfix's `sendmail -C <this config>`, and Postfix
delivers everything for @replies.audit.test to one Maildir (`rt5.postfix.maildir`).

Debian's packages are used as installed and unconfigured (scripts/install.sh): Postfix runs from its own
main.cf/master.cf in a temporary folder (`postfix -c DIR start-fg`), never touching /etc/postfix or the
system's instance; RT reads only its own RT_SiteConfig.pm (RT_SITE_CONFIG, with RT_SITE_CONFIG_DIR on an empty
folder, so /etc/request-tracker5 is not read: see RT::Config::LoadConfig in /usr/share/request-tracker5/lib).
The templates are in tests/data/rt5/. The SQLite database is initialised once (`rt-setup-database-5`, then
tests/data/rt5/initialdata.pl) under ~/.cache/contact-audit/rt5/ and copied for each session.

Postfix's master must start as root (it drops to the `postfix` user); the suite runs as root in CI.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pytest

from tests.dovecot import free_port

DATA = Path(__file__).parent / "data" / "rt5"
CACHE = Path.home() / ".cache" / "contact-audit" / "rt5"
PACKAGES = ("request-tracker5", "rt5-clients", "rt5-db-sqlite", "rt5-standalone", "postfix")
HOST = "127.0.0.1"
RT_QUEUE_ADDRESS = "rt@acme.test"
REPLY_DOMAIN = "replies.audit.test"
# The agents of tests/data/rt5/initialdata.pl: login -> (password, e-mail address).
AGENTS = {
    "yossi": ("yossi-test-password", "yossi.levi@acme.test"),
    "ruth": ("ruth-test-password", "ruth.cohen@acme.test"),
}

POSTFIX = "/usr/sbin/postfix"
SENDMAIL = "/usr/sbin/sendmail"
RT_SERVER = "/usr/share/request-tracker5/libexec/rt-server"
RT_SETUP_DATABASE = "/usr/sbin/rt-setup-database-5"
RT_MAILGATE = "/usr/bin/rt-mailgate-5"
RT_CLI = "/usr/bin/rt-5"
COMMAND_TIMEOUT = 120  # seconds for one RT or Postfix command; RT's init takes about 2 s here
MAIL_OWNER = "nobody"  # owns the Maildir and runs rt-mailgate (Postfix refuses root for both)


class _Template(Template):
    # RT's configuration is Perl and Postfix's uses $name: neither uses "%%{", so that marks our values.
    delimiter = "%%"


def _render(name: str, target: Path, values: dict[str, str]) -> None:
    text = (DATA / name).read_text(encoding="utf-8")
    target.write_text(_Template(text).substitute(values), encoding="utf-8")


def package_versions() -> dict[str, str | None]:
    """Each package's installed version from dpkg, or None when it is not installed."""
    versions: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            done = subprocess.run(
                ["dpkg-query", "-W", "-f=${db:Status-Status}\t${Version}", package],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except FileNotFoundError:  # not a Debian system at all
            versions[package] = None
            continue
        status, _, version = done.stdout.partition("\t")
        versions[package] = version if done.returncode == 0 and status == "installed" else None
    return versions


def missing_reason(versions: dict[str, str | None]) -> str | None:
    """Why the stack cannot run here, or None: the Debian packages are missing, or we are not root."""
    missing = [package for package, version in versions.items() if version is None]
    if missing:
        return f"Debian packages not installed: {' '.join(missing)} (apt-get install -y {' '.join(missing)})"
    if os.geteuid() != 0:
        return "Postfix's master daemon must start as root (it drops to the postfix user itself)"
    return None


def _run(command: list[str], *, env: dict[str, str] | None = None, what: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=COMMAND_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(
            f"{what} failed ({done.returncode}): {' '.join(command)}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return done.stdout


def _stop_group(process: subprocess.Popen[bytes], first: signal.Signals) -> None:
    """Signal the process group (`start_new_session`), wait, then SIGKILL whatever is left of it."""
    group = process.pid
    with suppress(ProcessLookupError):
        os.killpg(group, first)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    with suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    process.wait(timeout=15)


def _tail(path: Path, limit: int = 4000) -> str:
    if not path.exists():
        return f"({path.name}: none)"
    return f"--- {path.name} ---\n" + path.read_text(encoding="utf-8", errors="replace")[-limit:]


# --------------------------------------------------------------------------------------------- Postfix


class PrivatePostfix:
    """`postfix -c DIR` on 127.0.0.1:smtp_port, delivering @replies.audit.test to `maildir`."""

    def __init__(self, root: Path, *, smtp_port: int, rt_url: str) -> None:
        self.root, self.port = root, smtp_port
        self.config = root / "etc"
        self.maildir = root / "mail" / "Maildir"  # the trailing "Maildir/" of virtual_mailbox_maps
        self.log = root / "maillog"
        self._process: subprocess.Popen[bytes] | None = None
        owner = pwd.getpwnam(MAIL_OWNER)
        for sub in ("etc", "queue", "mail"):  # `postfix check` makes the rest; it needs the queue folder
            (root / sub).mkdir()
        os.chown(root / "mail", owner.pw_uid, owner.pw_gid)
        values = {
            "root": str(root),
            "smtp_host": HOST,
            "smtp_port": str(smtp_port),
            "rt_url": rt_url,
            "mailgate": RT_MAILGATE,
            "pipe_user": MAIL_OWNER,
            "mail_uid": str(owner.pw_uid),
            "mail_gid": str(owner.pw_gid),
        }
        _render("main.cf.in", self.config / "main.cf", values)
        _render("master.cf.in", self.config / "master.cf", values)

    def start(self, timeout: float = 30) -> None:
        # `check` validates both files and creates the queue's subfolders with Postfix's ownership.
        _run([POSTFIX, "-c", str(self.config), "check"], what="postfix check")
        with open(self.root / "start-fg.out", "ab") as out:
            self._process = subprocess.Popen(
                [POSTFIX, "-c", str(self.config), "start-fg"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"postfix exited at start\n{self.logs()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=2) as sock:
                    sock.settimeout(5)
                    if sock.recv(100).startswith(b"220 "):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"postfix did not answer on {HOST}:{self.port} within {timeout} s\n{self.logs()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        subprocess.run([POSTFIX, "-c", str(self.config), "stop"], capture_output=True, timeout=60)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # The master daemon runs in a session of its own (`master -s`), outside our process group.
            master = self.root / "queue" / "pid" / "master.pid"
            with suppress(OSError, ValueError):
                os.kill(int(master.read_text().split()[0]), signal.SIGKILL)
            _stop_group(process, signal.SIGTERM)

    def send(self, raw: bytes, *, sender: str, recipient: str) -> None:
        """Hand a message to Postfix by SMTP, as the customer's mail server would."""
        with smtplib.SMTP(HOST, self.port, local_hostname="mail.replies.audit.test", timeout=30) as smtp:
            refused = smtp.sendmail(sender, [recipient], raw)
        if refused:
            raise RuntimeError(f"Postfix refused {refused}")

    def mail_files(self) -> list[Path]:
        files = [path for sub in ("new", "cur") for path in (self.maildir / sub).glob("*") if path.is_file()]
        return sorted(files, key=lambda path: (path.stat().st_mtime, path.name))

    def wait_for(self, wanted: Callable[[bytes], bool], *, timeout: float = 60) -> Path:
        """The first delivered file whose bytes `wanted` accepts; fails with both logs after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.maildir.is_dir():
                for path in self.mail_files():
                    if wanted(path.read_bytes()):
                        return path
            time.sleep(0.1)
        raise AssertionError(f"no such mail in {self.maildir} within {timeout} s\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join((_tail(self.root / "start-fg.out", 1000), _tail(self.log)))


# --------------------------------------------------------------------------------------------- RT


def _site_config(target: Path, *, database: Path, web_port: int, postfix_config: Path, state: Path) -> None:
    for sub in ("log", "mason", "session", "site-config.d"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    _render(
        "RT_SiteConfig.pm.in",
        target,
        {
            "database": str(database),
            "web_port": str(web_port),
            "postfix_config": str(postfix_config),
            "log_dir": str(state / "log"),
            "mason_dir": str(state / "mason"),
            "session_dir": str(state / "session"),
        },
    )


def _rt_env(site_config: Path, state: Path) -> dict[str, str]:
    return {
        **os.environ,
        "RT_SITE_CONFIG": str(site_config),
        "RT_SITE_CONFIG_DIR": str(state / "site-config.d"),  # empty: Debian's RT_SiteConfig.d is not read
        "LANG": "C.UTF-8",
    }


def initialised_database(rt_version: str) -> Path:
    """RT's SQLite database after `rt-setup-database-5 --action init` and our initialdata, made once.

    Keyed by RT's version and the two files that decide its content; built in a folder of its own and
    renamed into place, so two sessions building it at once both end with a whole database.
    """
    key = hashlib.sha256(
        rt_version.encode()
        + (DATA / "initialdata.pl").read_bytes()
        + (DATA / "RT_SiteConfig.pm.in").read_bytes()
    ).hexdigest()[:16]
    final = CACHE / f"{rt_version}-{key}"
    database = final / "rt5.db"
    if database.exists():
        return database
    CACHE.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix="building-", dir=CACHE))
    try:
        state = building / "state"
        site_config = building / "RT_SiteConfig.pm"
        _site_config(
            site_config,
            database=building / "rt5.db",
            web_port=80,
            postfix_config=Path("/nonexistent"),  # nothing is mailed while the database is set up
            state=state,
        )
        env = _rt_env(site_config, state)
        _run([RT_SETUP_DATABASE, "--action", "init"], env=env, what="rt-setup-database-5 --action init")
        _run(
            [RT_SETUP_DATABASE, "--action", "insert", "--datafile", str(DATA / "initialdata.pl")],
            env=env,
            what="rt-setup-database-5 --action insert",
        )
        shutil.rmtree(state)
        site_config.unlink()
        try:
            os.replace(building, final)
        except OSError:  # another session finished first (a non-empty target): use its copy
            if not database.exists():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return database


class PrivateRT:
    """RT 5 (`rt-server`, standalone) on 127.0.0.1:web_port, on a copy of the initialised database."""

    def __init__(self, root: Path, *, web_port: int, postfix_config: Path, rt_version: str) -> None:
        self.root, self.port = root, web_port
        self.url = f"http://{HOST}:{web_port}/"
        self.database = root / "rt5.db"
        shutil.copyfile(initialised_database(rt_version), self.database)
        self.site_config = root / "RT_SiteConfig.pm"
        _site_config(
            self.site_config,
            database=self.database,
            web_port=web_port,
            postfix_config=postfix_config,
            state=root,
        )
        self.env = _rt_env(self.site_config, root)
        self.home = root / "cli-home"  # the rt CLI keeps its session cookies in ~/.rt_sessions
        self.home.mkdir()
        (self.home / "rtrc").write_text(f"server {self.url.rstrip('/')}\n", encoding="utf-8")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        with open(self.root / "log" / "rt-server.out", "ab") as out:
            self._process = subprocess.Popen(
                [RT_SERVER, "--server", "Standalone", "--host", HOST, "--port", str(self.port)],
                cwd=self.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"rt-server exited at start\n{self.logs()}")
            try:
                with urllib.request.urlopen(f"{self.url}REST/1.0/", timeout=5) as response:
                    if response.read(20).startswith(b"RT/5"):  # "RT/5.0.3 401 Credentials required"
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"rt-server did not answer on {self.url} within {timeout} s\n{self.logs()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            # SIGTERM, not SIGINT: Debian's rt-server chowns /var/lib/request-tracker5 on SIGINT as root.
            _stop_group(process, signal.SIGTERM)

    def cli(self, agent: str, *args: str) -> str:
        """The rt command-line client (REST 1.0) as one of the agents; its configuration is ours only."""
        password, _ = AGENTS[agent]
        env = {
            **self.env,
            "HOME": str(self.home),
            # An absolute path: the CLI then reads no ./.rtrc, ~/.rtrc or /etc/request-tracker5/rt.conf.
            "RTCONFIG": str(self.home / "rtrc"),
            "RTUSER": agent,
            "RTPASSWD": password,
        }
        return _run([RT_CLI, *args], env=env, what=f"rt {args[0] if args else ''}")

    def find_ticket(self, agent: str, *, requestor: str) -> int:
        """The one ticket of the Sales queue that `requestor` opened, as the agent's ticket list shows it."""
        out = self.cli(agent, "ls", "-i", "-q", "Sales", f"Requestor.EmailAddress = '{requestor}'")
        ids = [int(line.removeprefix("ticket/")) for line in out.split() if line.startswith("ticket/")]
        if len(ids) != 1:
            raise AssertionError(f"expected one ticket from {requestor}, RT lists {out!r}\n{self.logs()}")
        return ids[0]

    def correspond(self, ticket: int, agent: str, text: str) -> None:
        """An agent's reply on the ticket: RT mails it to the requestor (the Correspond scrip)."""
        out = self.cli(agent, "correspond", "-m", text, str(ticket))
        if "Correspondence added" not in out:
            raise AssertionError(f"rt correspond said {out!r}\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(
            (_tail(self.root / "log" / "rt-server.out", 1500), _tail(self.root / "log" / "rt.log"))
        )


# --------------------------------------------------------------------------------------------- fixture


@dataclass
class Rt5Stack:
    postfix: PrivatePostfix
    rt: PrivateRT
    versions: dict[str, str]  # Debian package -> installed version

    def logs(self) -> str:
        return f"{self.postfix.logs()}\n{self.rt.logs()}"


@contextmanager
def running_rt5(versions: dict[str, str]) -> Iterator[Rt5Stack]:
    """Postfix and RT in a fresh temporary folder, both stopped and the folder removed afterwards."""
    # A short path: Postfix's UNIX sockets live under it (108-byte limit); 0755 so that the postfix user
    # and nobody (Maildir, rt-mailgate) can reach their folders in it.
    root = Path(tempfile.mkdtemp(prefix="rt5-"))
    root.chmod(0o755)
    smtp_port, web_port = free_port(), free_port()
    while web_port == smtp_port:
        web_port = free_port()
    rt_url = f"http://{HOST}:{web_port}/"
    postfix: PrivatePostfix | None = None
    rt: PrivateRT | None = None
    try:
        (root / "rt").mkdir()
        (root / "postfix").mkdir()
        postfix = PrivatePostfix(root / "postfix", smtp_port=smtp_port, rt_url=rt_url)
        rt = PrivateRT(
            root / "rt",
            web_port=web_port,
            postfix_config=postfix.config,
            rt_version=versions["request-tracker5"],
        )
        postfix.start()
        rt.start()
        yield Rt5Stack(postfix=postfix, rt=rt, versions=versions)
    finally:
        try:
            if rt is not None:
                rt.stop()
        finally:
            if postfix is not None:
                postfix.stop()
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def rt5(request: pytest.FixtureRequest) -> Iterator[Rt5Stack]:
    """One private RT 5 + Postfix for the session (see the module's docstring)."""
    versions = package_versions()
    reason = missing_reason(versions)
    if reason is not None:
        if os.environ.get("CI"):  # CI installs the packages and runs as root: never skip there
            pytest.fail(reason)
        pytest.skip(reason)
    installed = {package: version for package, version in versions.items() if version is not None}
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    with running_rt5(installed) as stack:
        line = (
            f"rt5: request-tracker5 {installed['request-tracker5']}, postfix {installed['postfix']}; "
            f"SMTP {HOST}:{stack.postfix.port}, RT {stack.rt.url}"
        )
        # Written past pytest's capture, so every run's output names the versions it was tested against.
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(line)
        yield stack
