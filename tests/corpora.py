"""Real mail that other projects ship in their PyPI source distributions, fetched once and cached.

`sdist_files("flufl.bounce", "6.0.0", "tests/data", "*.txt")` downloads the sdist with pip (the registry is
reachable in CI too), unpacks it under ~/.cache/contact-audit/corpora/<name>-<version>/ and returns the
matching files, sorted. Only an unreachable registry skips the test; any other failure fails it. Sources and
versions in use are listed in tests/data/corpora.md.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest

CACHE = Path.home() / ".cache" / "contact-audit" / "corpora"
DOWNLOAD_TIMEOUT = 300  # seconds: pip also prepares the sdist's metadata in a throw-away build environment
# What pip prints when it cannot reach the index at all (as opposed to a package or build problem).
_OFFLINE = re.compile(
    r"NewConnectionError|Max retries exceeded|Temporary failure in name resolution|Network is unreachable"
    r"|Name or service not known|ConnectTimeoutError|Could not fetch URL|ProxyError|Connection refused",
)


def sdist_root(name: str, version: str) -> Path:
    """The unpacked top folder of `name`==`version`'s sdist, downloaded on first use."""
    target = CACHE / f"{_normal(name)}-{version}"
    if target.is_dir():
        return _top(target)
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE, prefix=".download-") as tmp:
        work = Path(tmp)
        command = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps"]
        command += ["--disable-pip-version-check", f"{name}=={version}", "-d", str(work / "dist")]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            pytest.skip(
                f"the package registry did not answer within {DOWNLOAD_TIMEOUT} s ({name}=={version})"
            )
        output = done.stdout + done.stderr
        if done.returncode != 0:
            if _OFFLINE.search(output):
                pytest.skip(f"the package registry is unreachable ({name}=={version})")
            raise RuntimeError(f"pip download {name}=={version} failed:\n{output[-3000:]}")
        archives = sorted((work / "dist").iterdir())
        assert len(archives) == 1, f"expected one sdist, pip saved {[a.name for a in archives]}"
        unpacked = work / "unpacked"
        _unpack(archives[0], unpacked)
        try:
            unpacked.rename(target)  # atomic: a concurrent run either sees the whole folder or none
        except OSError:
            if not target.is_dir():
                raise
    return _top(target)


def sdist_files(name: str, version: str, folder: str, pattern: str) -> list[Path]:
    """The files matching `pattern` directly in `folder` (relative to the sdist's top folder)."""
    base = sdist_root(name, version) / folder
    files = sorted(path for path in base.glob(pattern) if path.is_file())
    assert files, f"{name}=={version} has no {folder}/{pattern}: has the sdist's layout changed?"
    return files


def _unpack(archive: Path, into: Path) -> None:
    into.mkdir()
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.namelist():
                _check_member(into, member)
            bundle.extractall(into)
        return
    with tarfile.open(archive) as bundle:
        bundle.extractall(into, filter="data")  # refuses absolute paths, "..", links out and devices


def _check_member(root: Path, member: str) -> None:
    resolved = (root / member).resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise RuntimeError(f"archive member {member!r} would be written outside {root}")


def _top(target: Path) -> Path:
    entries = [entry for entry in target.iterdir() if entry.is_dir()]
    return entries[0] if len(entries) == 1 else target


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
