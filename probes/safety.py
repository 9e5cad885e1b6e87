"""The one navigation choke point (style.md rule 6): http(s) only, and public addresses only.

Every navigation in `probes/` goes through `safe_goto`; a test greps for stray `.goto(`. Redirects and the
form's own POST are not re-checked here (that would need request routing, which leaks memory in the Python
client); the first hop is what a config or a hostile page controls most directly.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Frame, Page, Response

from probes.errors import NavigationFailed, TargetRefused


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


async def check_target_url(url: str, *, allow_private: bool) -> None:
    """Refuse anything but http(s) URLs whose host resolves only to public addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused(f"Refused {url!r}: only http and https URLs are probed.", url=url)
    host = parts.hostname
    if not host:
        raise TargetRefused(f"Refused {url!r}: the URL has no host.", url=url)
    if allow_private:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as ex:
        raise NavigationFailed(f"Could not resolve {host} ({ex.strerror}).", url=url) from ex
    for info in infos:
        address = str(info[4][0])
        if not _is_public(address):
            raise TargetRefused(
                f"Refused {url!r}: {host} resolves to the non-public address {address}.", url=url
            )


async def safe_goto(
    page_or_frame: Page | Frame, url: str, *, allow_private: bool, timeout_ms: float
) -> Response | None:
    """Check the URL, then navigate (waiting for DOMContentLoaded); load failures become NavigationFailed."""
    await check_target_url(url, allow_private=allow_private)
    try:
        return await page_or_frame.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    except PlaywrightError as ex:
        if page_or_frame.is_closed() if isinstance(page_or_frame, Page) else page_or_frame.is_detached():
            raise
        first_line = (str(ex).strip().splitlines() or ["unknown error"])[0]
        raise NavigationFailed(f"Could not load {url} ({first_line}).", url=url) from ex
