"""Who holds a lease, and whether that holder is gone: shared by a wave's lease (audit/runner.py) and the
scheduler's (audit/scheduler/lease.py), which store their leases in different rows but name holders alike.

A holder is `host:pid:nonce`. A holder of this host whose process no longer exists has died (kill -9, a
crash): its lease may be taken at once instead of after its expiry. One of another host is judged only by
the expiry, which the caller checks.
"""

from __future__ import annotations

import os
import socket
import uuid


def new_owner() -> str:
    """A fresh holder name for this process, `host:pid:nonce`; the nonce tells two of its leases apart."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str | None) -> bool:
    """True for no holder, or a holder of this host whose process is gone."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine: only its expiry tells
    if int(pid_text) == os.getpid():
        return False  # this process, under another nonce: alive
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # a process of another user has that id: alive
        return False
    return False
