"""A real, throw-away Dovecot 2.3 IMAP server for tests and benchmarks (docs/collection.md, "How it is tested").

    with running_dovecot() as server:
        user = server.add_user()                       # a fresh, empty mailbox; password "testpass"
        server.append(user, "Junk", raw, datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
        collect_imap_once(engine, server.imap_section(user), server.credentials(user), data_dir=...)
        server.restart()                               # same port, same mail
        server.change_uidvalidity(user, "INBOX")

The configuration is written from `dovecot.conf.in` into a temporary folder; `dovecot -F` runs as a child
process on a free 127.0.0.1 port, plain text, a passwd-file per user. Works as root (mail owned by nobody) and
as a normal user (everything owned by you).
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from string import Template

from imapclient import IMAPClient  # type: ignore[import-untyped]

from audit.collect.imap import ImapCredentials
from audit.config import ImapSection

CONF_IN = Path(__file__).with_name("dovecot.conf.in")
DEFAULT_PASSWORD = "testpass"
_APPENDUID = re.compile(rb"APPENDUID (\d+) (\d+)")


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _template_values(root: Path, port: int) -> dict[str, str]:
    if os.geteuid() == 0:
        # Dovecot refuses UID 0 for mail; Debian's package creates dovenull and dovecot.
        return {
            "dir": str(root),
            "port": str(port),
            "first_valid_uid": "500",
            "process_users": "default_login_user = dovenull\ndefault_internal_user = dovecot",
            "login_chroot": "login",
            "mail_user": "nobody",
            "mail_group": "nogroup",
        }
    user = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    return {
        "dir": str(root),
        "port": str(port),
        "first_valid_uid": str(min(os.geteuid(), 500)),
        "process_users": (
            f"default_login_user = {user}\ndefault_internal_user = {user}\n"
            f"default_internal_group = {group}\nservice anvil {{\n  chroot =\n}}"
        ),
        "login_chroot": "",
        "mail_user": user,
        "mail_group": group,
    }


class DovecotServer:
    """One Dovecot instance: `start()`, `stop()`, `restart()` keep the folder, the port and the mail."""

    host = "127.0.0.1"

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.conf = root / "dovecot.conf"
        self.log = root / "log" / "dovecot.log"
        self.passwords: dict[str, str] = {}
        self._process: subprocess.Popen[bytes] | None = None
        values = _template_values(root, port)
        for sub in ("run", "state", "log", "mail", "passwd.d"):
            (root / sub).mkdir(exist_ok=True)
        if os.geteuid() == 0:  # a root-owned mail folder: "mkdir(.../Maildir) failed: Permission denied"
            os.chown(
                root / "mail",
                pwd.getpwnam(values["mail_user"]).pw_uid,
                grp.getgrnam(values["mail_group"]).gr_gid,
            )
        self.conf.write_text(
            Template(CONF_IN.read_text(encoding="utf-8")).substitute(values), encoding="utf-8"
        )

    # -- process ---------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 20) -> None:
        if self.running:
            return
        binary = dovecot_binary()
        if binary is None:
            raise RuntimeError("dovecot is not installed (apt-get install -y dovecot-imapd)")
        # Output goes to a file: the daemon's children keep a stderr pipe open, so a pipe never reaches EOF.
        with open(self.root / "log" / "start.err", "ab") as err:
            self._process = subprocess.Popen(
                [binary, "-F", "-c", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                start_new_session=True,  # a process group of its own, for stop()
            )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                self._process = None
                raise RuntimeError(f"dovecot exited at start:\n{self.logs()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    sock.settimeout(2)
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not answer on port {self.port} within {timeout} s:\n{self.logs()}")

    def stop(self) -> None:
        """Stop the server and every process it started, which drops open connections, and wait for them.

        Dovecot's children outlive a SIGTERM to the master for a moment and keep serving their connections;
        they share the master's process group (`start_new_session`), so the whole group gets the signal.
        """
        process, self._process = self._process, None
        if process is None:
            return
        group = process.pid
        _signal_group(group, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            _signal_group(group, signal.SIGKILL)
            process.wait(timeout=15)
        deadline = time.monotonic() + 10
        while _signal_group(group, 0):
            if time.monotonic() > deadline:
                _signal_group(group, signal.SIGKILL)
            time.sleep(0.02)

    def restart(self) -> None:
        self.stop()
        self.start()

    def logs(self) -> str:
        parts = []
        for name in ("start.err", "dovecot.log"):
            path = self.root / "log" / name
            if path.exists():
                parts.append(path.read_text(encoding="utf-8", errors="replace")[-4000:])
        return "\n".join(parts)

    # -- users and mail --------------------------------------------------------------------------------------

    def add_user(self, name: str | None = None, password: str = DEFAULT_PASSWORD) -> str:
        """A user with an empty mailbox (INBOX and Junk); returns the login name."""
        user = name or f"u{uuid.uuid4().hex[:10]}"
        self.passwords[user] = password
        # One passwd-file per user: a new file is read at first use, with no reload delay.
        temporary = self.root / "passwd.d" / f".{user}.tmp"
        temporary.write_text(f"{user}:{{PLAIN}}{password}::::::\n", encoding="utf-8")
        temporary.chmod(0o644)
        os.replace(temporary, self.root / "passwd.d" / user)
        return user

    @contextmanager
    def client(self, user: str) -> Iterator[IMAPClient]:
        with IMAPClient(self.host, port=self.port, ssl=False, timeout=30) as client:
            client.login(user, self.passwords[user])
            client.normalise_times = False
            yield client

    def append(
        self, user: str, folder: str, raw: bytes, internaldate: datetime, flags: tuple[bytes, ...] = ()
    ) -> int:
        """APPEND one message with this INTERNALDATE (aware datetimes; at most 2 h in the future); its UID."""
        with self.client(user) as client:
            response = client.append(folder, raw, flags=flags, msg_time=internaldate)
        found = _APPENDUID.search(response)
        if found is None:
            raise RuntimeError(f"no APPENDUID in {response!r}")
        return int(found.group(2))

    def append_many(
        self, user: str, folder: str, messages: list[tuple[bytes, datetime]], chunk: int = 500
    ) -> None:
        """APPEND many messages quickly (MULTIAPPEND, RFC 3502, over one connection), in order."""
        with self.client(user) as client:
            for start in range(0, len(messages), chunk):
                client.multiappend(
                    folder, [{"msg": raw, "date": date} for raw, date in messages[start : start + chunk]]
                )

    def flags(self, user: str, folder: str) -> dict[int, tuple[bytes, ...]]:
        with self.client(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            fetched = client.fetch(uids, ["FLAGS"]) if uids else {}
            return {uid: tuple(data[b"FLAGS"]) for uid, data in fetched.items()}

    def uidvalidity(self, user: str, folder: str) -> int:
        with self.client(user) as client:
            return int(client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def change_uidvalidity(self, user: str, folder: str) -> int:
        """Give the folder a new UIDVALIDITY (messages and UIDs stay), as after a server migration."""
        new = self.uidvalidity(user, folder) + 1
        subprocess.run(
            [
                "doveadm",
                "-c",
                str(self.conf),
                "mailbox",
                "update",
                "-u",
                user,
                "--uid-validity",
                str(new),
                folder,
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
            timeout=30,
        )
        return new

    def imap_section(self, user: str, folders: tuple[str, ...] = ("INBOX", "Junk")) -> ImapSection:
        return ImapSection(
            host=self.host, port=self.port, tls=False, starttls=False, username=user, folders=folders
        )

    def credentials(self, user: str) -> ImapCredentials:
        return ImapCredentials(password=self.passwords[user], oauth2_token=None)


def _signal_group(group: int, signum: int) -> bool:
    """Signal a process group; False when no live process is left in it.

    Zombies do not count: orphaned children are reaped by PID 1, which in a container may take seconds.
    """
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        return False
    return signum != 0 or _live_members(group)


def _live_members(group: int) -> bool:
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, pgrp
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False


@contextmanager
def running_dovecot() -> Iterator[DovecotServer]:
    """A started server in a fresh folder; stopped and removed afterwards."""
    # Not pytest's tmp_path: its parents are 0700, and Dovecot's processes run as other users.
    root = Path(tempfile.mkdtemp(prefix="dovecot-"))
    root.chmod(0o755)
    server = DovecotServer(root, free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
