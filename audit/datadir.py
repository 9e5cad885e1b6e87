"""The data directory: created on first use and checked for writing before anything is sent."""

from __future__ import annotations

import uuid
from pathlib import Path

from audit.errors import DataDirError


def ensure_data_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe_file = path / f".write-test-{uuid.uuid4().hex}"
        probe_file.write_bytes(b"ok")
        probe_file.unlink()
    except OSError as ex:
        raise DataDirError(
            f"the data directory {path} is not writable ({ex.strerror or ex}); "
            "set AUDIT_DATA_DIR or --data-dir to a folder you can write"
        ) from ex
    return path
