"""Where the browser may go: the navigation choke point and the per-request guard (issue 11, part 1).

`safe_goto` is the one way `probes/` navigates (a test greps for stray `.goto(`): http(s) only, and, unless
private targets are allowed, public addresses only. That checks the first hop. Everything after it (redirects,
meta refresh, script navigations, iframes, images, fetch, workers, the form's own POST) is checked by
`RequestGuard`, installed by `probes.session` on every probe context as a route on "**/*":

* the host is resolved once per probe context, every address it resolves to must be public (`is_public`),
  and the answer is pinned for the rest of the probe;
* the request is then made by us, not by Chromium, over a connection to the pinned address (httpcore with a
  network backend that maps the host to it; TLS still verifies the certificate against the host name), and
  the answer is handed to Chromium with `route.fulfill`. Chromium never resolves the name itself, so a DNS
  answer that changes between the check and the connection (rebinding) cannot reach a private address;
* anything else is aborted and recorded in `RequestGuard.refused`, which the probe puts in its evidence.
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeAlias
from urllib.parse import urljoin, urlsplit

import httpcore
from playwright.async_api import BrowserContext, Frame, Page, Response, Route, WebSocketRoute
from playwright.async_api import Error as PlaywrightError

from probes.errors import NavigationFailed, TargetRefused
from probes.types import OUTCOME_OF_DETAIL, Detail, ProbeResult

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")  # RFC 6598 shared address space: an ISP's inside
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix: the low 32 bits are IPv4

# Test-only: loopback addresses a test declares "public" so that a local site can play the outside world.
# Never set from configuration; see `treat_as_public`.
_TEST_PUBLIC: set[IPAddress] = set()

MAX_REDIRECTS = 10
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_BODY_BYTES = 25 * 1024 * 1024  # a contact page's resource is far smaller; larger answers are refused
_TIMEOUTS = {"connect": 10.0, "read": 30.0, "write": 30.0, "pool": 10.0}
# Hop-by-hop headers (RFC 9110 section 7.6.1) and the ones the connection itself sets.
_DROP_REQUEST = frozenset(
    {"host", "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)
_DROP_RESPONSE = frozenset({"connection", "keep-alive", "transfer-encoding", "trailer", "upgrade"})


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: IPv4-mapped, 6to4 (2002::/16) or NAT64 (64:ff9b::/96)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(address: str | IPAddress) -> bool:
    """True for a globally routable unicast address, judged by the IPv4 address inside translated forms.

    `is_global` alone passes 6to4 and NAT64 forms of private addresses (2002:a00:1::, 64:ff9b::c0a8:101), so
    those are unwrapped first; CGNAT is refused explicitly (an ISP's inside network is not the site's).
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
    if ip in _TEST_PUBLIC:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return is_public(inner)
    elif ip in _CGNAT:
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_loopback)


@contextmanager
def treat_as_public(addresses: Iterable[str]) -> Iterator[None]:
    """Test-only: within the block, these (loopback) addresses count as public.

    Tests use it to run a "public" site on 127.0.0.2 that attacks a "private" one on 127.0.0.1, never a real
    outside address."""
    added = {ipaddress.ip_address(a) for a in addresses} - _TEST_PUBLIC
    _TEST_PUBLIC.update(added)
    try:
        yield
    finally:
        _TEST_PUBLIC.difference_update(added)


def _check_scheme(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused(f"Refused {url[:200]!r}: only http and https URLs are probed.", url=url)
    host = parts.hostname
    if not host:
        raise TargetRefused(f"Refused {url[:200]!r}: the URL has no host.", url=url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as ex:
        raise TargetRefused(f"Refused {url[:200]!r}: the port is not valid.", url=url) from ex
    return parts.scheme, host, port


async def _resolve(host: str, port: int, url: str) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as ex:
        raise NavigationFailed(f"Could not resolve {host} ({ex.strerror}).", url=url) from ex
    # Deduplicated, in the resolver's order (the first is the one a client would try first).
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))


def _private_reason(host: str, addresses: list[IPAddress]) -> str | None:
    """Why the host may not be reached (every address it resolves to must be public), or None."""
    bad = next((a for a in addresses if not is_public(a)), None)
    return None if bad is None else f"{host} resolves to the non-public address {bad}"


def _refuse_private(host: str, addresses: list[IPAddress], url: str) -> None:
    reason = _private_reason(host, addresses)
    if reason is not None:
        raise TargetRefused(f"Refused {url[:200]!r}: {reason}.", url=url)


async def check_target_url(url: str, *, allow_private: bool) -> None:
    """Refuse anything but http(s) URLs whose host resolves only to public addresses."""
    _, host, port = _check_scheme(url)
    if allow_private:
        return
    _refuse_private(host, await _resolve(host, port, url), url)


@dataclass(frozen=True, slots=True)
class Refusal:
    """One request the guard did not let out."""

    url: str
    method: str
    resource_type: str
    navigation: bool  # a document request of the main frame: the page itself would have gone there
    reason: str
    at: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url[:500],
            "method": self.method,
            "type": self.resource_type,
            "navigation": self.navigation,
            "reason": self.reason,
        }


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the address the guard checked for a host, never to a fresh DNS answer."""

    def __init__(self, pins: dict[str, IPAddress]) -> None:
        self._pins = pins
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        pinned = self._pins.get(host.strip("[]").lower())  # IPv6 literals may come bracketed
        if pinned is None:
            raise httpcore.ConnectError(f"{host} was not checked by the guard")
        return await self._inner.connect_tcp(str(pinned), port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never used by the guard")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class RequestGuard:
    """The route on "**/*" of one probe context: check, pin, fetch, fulfil; or abort and record why."""

    MAX_REFUSALS = 200  # a hostile page can trigger endless refusals; the evidence keeps the first ones

    def __init__(self) -> None:
        self.refused: list[Refusal] = []
        self.refused_count = 0
        self._pins: dict[str, IPAddress] = {}
        self._verdicts: dict[str, str | None] = {}  # host -> None (public) or the refusal reason
        self._locks: dict[str, asyncio.Lock] = {}
        self._goto_expected: set[str] = set()  # URLs `safe_goto` is loading (it follows their redirects)
        self._goto_redirects: dict[str, str] = {}
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(),
            network_backend=_PinnedBackend(self._pins),
            max_connections=16,
            retries=0,
        )

    async def install(self, context: BrowserContext) -> None:
        _GUARDS[id(context)] = self
        await context.route("**/*", self._handle)
        # Chat widgets are not contact forms: no WebSocket leaves a guarded context (see the README).
        await context.route_web_socket("**/*", self._refuse_websocket)

    async def close(self, context: BrowserContext) -> None:
        _GUARDS.pop(id(context), None)
        await self._pool.aclose()

    def _record(self, refusal: Refusal) -> None:
        self.refused_count += 1
        if len(self.refused) < self.MAX_REFUSALS:
            self.refused.append(refusal)

    def refused_navigation(self, since: float = 0.0) -> Refusal | None:
        """The first refused main-frame navigation at or after `since` (monotonic), if any."""
        return next((r for r in self.refused if r.navigation and r.at >= since), None)

    def refused_since(self, since: float, *, methods_other_than: str) -> Refusal | None:
        """The first refusal at or after `since` (monotonic) of a request not made with the given method."""
        return next((r for r in self.refused if r.at >= since and r.method != methods_other_than), None)

    def note(self, result: ProbeResult) -> list[str]:
        """Log lines for the refusals; a refused main-frame navigation before the click decides the outcome
        (whatever followed it, a missing form or an error page, is its consequence)."""
        lines = [f"refused {r.resource_type} {r.method} {r.url[:200]}: {r.reason}" for r in self.refused]
        if self.refused_count > len(self.refused):
            lines.append(f"... and {self.refused_count - len(self.refused)} more refused requests")
        navigation = self.refused_navigation()
        if (
            navigation is not None
            and not result.submit_started
            and result.detail is not Detail.TARGET_REFUSED
        ):
            result.detail = Detail.TARGET_REFUSED
            result.outcome = OUTCOME_OF_DETAIL[Detail.TARGET_REFUSED]
            result.reason = (
                f"The page tried to go to a non-public address and was stopped: {navigation.reason}"
            )
        return lines

    async def check(self, url: str) -> IPAddress:
        """The pinned, checked address for the URL's host; raises TargetRefused or NavigationFailed."""
        _, host, port = _check_scheme(url)
        key = host.lower()
        if key not in self._verdicts:
            async with self._locks.setdefault(key, asyncio.Lock()):  # one resolution per host, however
                if key not in self._verdicts:  # many resources a page asks for at once
                    addresses = await _resolve(host, port, url)
                    reason = _private_reason(host, addresses)
                    self._verdicts[key] = reason
                    if reason is None:
                        self._pins[key] = addresses[0]
        reason = self._verdicts[key]
        if reason is not None:
            raise TargetRefused(f"Refused {url[:200]!r}: {reason}.", url=url)
        return self._pins[key]

    async def _handle(self, route: Route) -> None:
        try:
            await self._guarded(route)
        except Exception as ex:
            # An error escaping a route handler only reaches Playwright's log and leaves the request hanging:
            # whatever went wrong, refuse the request (it must not go out unchecked) and say why.
            request = route.request
            reason = f"The guard failed on this request ({type(ex).__name__}: {str(ex)[:200]})."
            self._record(Refusal(request.url, request.method, request.resource_type, False, reason))
            await _quietly(route.abort("failed"))

    async def _guarded(self, route: Route) -> None:
        request = route.request
        try:
            navigation = request.is_navigation_request()
            main_frame = navigation and request.frame.parent_frame is None
        except PlaywrightError:
            navigation = main_frame = False  # a worker's request has no frame
        method, url, body = request.method, request.url, request.post_data_buffer
        if not await self._allowed(route, url, method, request.resource_type, main_frame):
            return
        headers = await request.all_headers()
        # Chromium does not route the request a fulfilled redirect leads to (Playwright's page-route tests:
        # "should not work with redirects"), so redirects never reach Chromium: each hop is checked here.
        for _ in range(MAX_REDIRECTS + 1):
            try:
                status, answer, content = await self._fetch(method, url, headers, body)
            except _TooLarge:
                reason = f"The answer from {url[:200]} is larger than {MAX_BODY_BYTES} bytes."
                self._record(Refusal(url, method, request.resource_type, main_frame, reason))
                await _quietly(route.abort("blockedbyclient"))
                return
            except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as ex:
                timed_out = isinstance(ex, httpcore.TimeoutException)
                await _quietly(route.abort("timedout" if timed_out else "connectionfailed"))
                return
            location = answer.get("location") if status in _REDIRECTS else None
            if location is None:
                await _quietly(route.fulfill(status=status, headers=answer, body=content))
                return
            target = urljoin(url, location)
            if not await self._allowed(route, target, method, request.resource_type, main_frame, via=url):
                return
            if navigation:
                await self._redirect_navigation(route, url, target, answer, from_goto=main_frame)
                return
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, body = "GET", None
                headers = {
                    k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")
                }
            if _origin(target) != _origin(url):
                headers = {k: v for k, v in headers.items() if k.lower() not in ("cookie", "authorization")}
            url = target
        reason = f"{request.url[:200]} redirects more than {MAX_REDIRECTS} times."
        self._record(Refusal(request.url, method, request.resource_type, main_frame, reason))
        await _quietly(route.abort("blockedbyclient"))

    async def _redirect_navigation(
        self, route: Route, url: str, target: str, answer: dict[str, str], *, from_goto: bool
    ) -> None:
        """Answer a navigation's checked redirect with a page of our own at the original URL.

        A redirect handed to Chromium would be followed unrouted, and Playwright's internal redirect call
        crashes its driver when the next hop fails, so the frame is sent on by a meta refresh (a new, routed
        navigation); a navigation `safe_goto` is waiting for gets no refresh: `safe_goto` goes on itself, so
        that it returns the final page's response. Cookies the redirect sets are kept (they are on our page).
        """
        if from_goto and url in self._goto_expected:
            self._goto_expected.discard(url)
            self._goto_redirects[url] = target
            refresh = ""
        else:
            refresh = f'<meta http-equiv="refresh" content="0; url={html.escape(target, quote=True)}">'
        headers = {"content-type": "text/html; charset=utf-8", "cache-control": "no-store"}
        if "set-cookie" in answer:
            headers["set-cookie"] = answer["set-cookie"]
        body = f"<!doctype html>{refresh}<title>Redirect</title><p>Redirected to {html.escape(target)}</p>"
        await _quietly(route.fulfill(status=200, headers=headers, body=body))

    def expect_goto(self, url: str) -> None:
        self._goto_expected.add(url)

    def take_redirect(self, url: str) -> str | None:
        self._goto_expected.discard(url)
        return self._goto_redirects.pop(url, None)

    async def _allowed(
        self, route: Route, url: str, method: str, kind: str, main_frame: bool, via: str | None = None
    ) -> bool:
        """Check one hop; a refusal is recorded and the request aborted."""
        try:
            await self.check(url)
        except (TargetRefused, NavigationFailed) as ex:
            reason = str(ex) if via is None else f"{ex} (a redirect from {via[:200]})"
            self._record(Refusal(url, method, kind, main_frame, reason))
            await _quietly(route.abort("blockedbyclient"))
            return False
        return True

    async def _fetch(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        # Chromium's own content decoding does not apply to fulfilled bodies: ask for an identity encoding.
        out = [
            (name, value)
            for name, value in headers.items()
            if name.lower() not in _DROP_REQUEST
            and name.lower() != "accept-encoding"
            and not name.startswith(":")
        ]
        out.append(("Accept-Encoding", "identity"))
        async with self._pool.stream(
            method, url, headers=out, content=body or b"", extensions={"timeout": _TIMEOUTS}
        ) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_stream():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise _TooLarge
                chunks.append(chunk)
            merged: dict[str, str] = {}
            for raw_name, raw_value in response.headers:
                name = raw_name.decode("latin-1").lower()
                value = raw_value.decode("latin-1")
                if name in _DROP_RESPONSE or name == "content-length":
                    continue
                # Playwright splits a joined Set-Cookie on newlines; other repeated headers join with commas.
                if name in merged:
                    merged[name] += ("\n" if name == "set-cookie" else ", ") + value
                else:
                    merged[name] = value
            return response.status, merged, b"".join(chunks)

    async def _refuse_websocket(self, ws: WebSocketRoute) -> None:
        self._record(
            Refusal(ws.url, "GET", "websocket", False, f"WebSockets are not opened ({ws.url[:200]}).")
        )
        await _quietly(ws.close(code=1008, reason="refused by contact-audit"))


class _TooLarge(Exception):
    pass


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


async def _quietly(action: Any) -> None:
    with suppress(PlaywrightError):  # the page or context went away while we answered: nothing to protect
        await action


# The guard of each live probe context, so that `safe_goto` (given only a page) can say why a load failed.
_GUARDS: dict[int, RequestGuard] = {}


def guard_of(page_or_frame: Page | Frame) -> RequestGuard | None:
    page = page_or_frame if isinstance(page_or_frame, Page) else page_or_frame.page
    return _GUARDS.get(id(page.context))


async def safe_goto(
    page_or_frame: Page | Frame, url: str, *, allow_private: bool, timeout_ms: float
) -> Response | None:
    """Check the URL, then navigate (waiting for DOMContentLoaded), following redirects hop by hop when the
    context is guarded; load failures become NavigationFailed, a hop the guard refused TargetRefused."""
    await check_target_url(url, allow_private=allow_private)
    guard = guard_of(page_or_frame)
    started = time.monotonic()
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        if guard is not None:
            guard.expect_goto(current)
        try:
            response = await page_or_frame.goto(current, wait_until="domcontentloaded", timeout=timeout_ms)
        except PlaywrightError as ex:
            if page_or_frame.is_closed() if isinstance(page_or_frame, Page) else page_or_frame.is_detached():
                raise
            refused = guard.refused_navigation(started) if guard is not None else None
            if refused is not None:
                raise TargetRefused(f"Loading {url[:200]} was refused: {refused.reason}", url=url) from ex
            first_line = (str(ex).strip().splitlines() or ["unknown error"])[0]
            raise NavigationFailed(f"Could not load {current} ({first_line}).", url=url) from ex
        following = guard.take_redirect(current) if guard is not None else None
        if following is None:
            return response
        current = following  # checked by the guard already, and checked again when it is requested
    raise TargetRefused(f"Refused {url[:200]!r}: more than {MAX_REDIRECTS} redirects.", url=url)
