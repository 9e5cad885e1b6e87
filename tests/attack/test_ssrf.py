"""SSRF past the first hop (issue 11, part 1): a hostile "public" site tries to make the probe reach a private one.

The "public" site listens on 127.0.0.2 and is declared public with the test-only `treat_as_public` hook; the
"private admin" server listens on 127.0.0.1 and records every connection and request it gets. Each page tries
one way in (HTTP redirects, a redirect chain, meta refresh, `location=` in script, iframe, img, fetch, a
worker, a popup, preconnect, an IPv4-mapped address, a name that resolves to loopback, a form posting to it);
each test runs the real probe in the shared Chromium and asserts that the admin server saw nothing at all, and
that the outcome and the evidence say why. The address rules themselves are unit-tested at the top.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from probes import Detail, Inquiry, Outcome, Persona, ProbeResult, ProbeTarget, run_probe
from probes.errors import TargetRefused
from probes.safety import check_target_url, is_public, treat_as_public
from tests.conftest import BrowserHost

# --- the address check ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("2002:a00:1::", "6to4 of 10.0.0.1"),
        ("2002:7f00:1::1", "6to4 of 127.0.0.1"),
        ("64:ff9b::c0a8:101", "NAT64 of 192.168.1.1"),
        ("64:ff9b::a9fe:a9fe", "NAT64 of the metadata address 169.254.169.254"),
        ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
        ("::ffff:10.1.2.3", "IPv4-mapped private"),
        ("100.64.1.1", "CGNAT"),
        ("100.127.255.254", "CGNAT, top of the range"),
        ("::10.0.0.1", "IPv4-compatible (deprecated) form"),
        ("2001::1", "Teredo"),
        ("fc00::1", "unique local"),
        ("fe80::1%eth0", "link-local with a zone"),
        ("169.254.169.254", "link-local metadata"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::", "unspecified IPv6"),
    ],
)
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    assert not is_public(address), why


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "2606:4700:4700::1111", "2002:808:808::", "64:ff9b::808:808", "::ffff:1.1.1.1"]
)
def test_public_addresses_pass_also_in_translated_forms(address: str) -> None:
    assert is_public(address)


@pytest.mark.parametrize(
    "url",
    [
        "http://[2002:a00:1::]/",
        "http://[64:ff9b::c0a8:101]/",
        "http://[::ffff:127.0.0.1]/",
        "http://100.64.1.1/",
        "data:text/html,<form>",
        "javascript:location='http://127.0.0.1/'",
        "file:///etc/passwd",
    ],
)
def test_first_hop_check_refuses_translated_and_non_http_urls(url: str) -> None:
    with pytest.raises(TargetRefused):
        asyncio.run(check_target_url(url, allow_private=False))


def test_treat_as_public_is_scoped() -> None:
    with treat_as_public(["127.0.0.3"]):
        assert is_public("127.0.0.3") and not is_public("127.0.0.1")
    assert not is_public("127.0.0.3")


# --- the two sites ---------------------------------------------------------------------------------------

FORM = """<form method="post" action="{action}">
  <label>Your name <input name="your-name" autocomplete="name" required></label>
  <label>Email <input type="email" name="your-email" autocomplete="email" required></label>
  <label>Message <textarea name="your-message" required></textarea></label>
  <button type="submit">Send message</button>
</form>"""


@dataclass
class Servers:
    public: str  # http://127.0.0.2:PORT
    private: str  # http://127.0.0.1:PORT
    admin_hits: list[str] = field(default_factory=list)  # every request the admin server answered
    admin_connections: int = 0  # every TCP connection it accepted, with or without a request
    public_posts: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.admin_hits.clear()
            self.admin_connections = 0
            self.public_posts.clear()


def _pages(servers: Servers) -> dict[str, tuple[int, dict[str, str], str]]:
    admin = servers.private + "/admin"
    port = servers.private.rsplit(":", 1)[1]
    html = {"Content-Type": "text/html; charset=utf-8"}
    contact = FORM.format(action="/thanks")
    return {
        "/contact": (200, html, f"<h1>Contact us</h1>{contact}"),
        "/to-contact": (302, {"Location": "/contact"}, ""),
        "/redirect": (302, {"Location": f"{admin}/redirect"}, ""),
        "/chain": (301, {"Location": "/chain-2"}, ""),
        "/chain-2": (307, {"Location": f"{admin}/chain"}, ""),
        "/meta": (200, html, f'<meta http-equiv="refresh" content="0; url={admin}/meta"><p>Moving</p>'),
        "/script": (200, html, f"<p>Moving</p><script>location = '{admin}/script';</script>"),
        "/img-redirect": (302, {"Location": f"{admin}/img-redirect"}, ""),
        "/worker.js": (
            200,
            {"Content-Type": "text/javascript"},
            f"fetch('{admin}/worker').catch(() => {{}});",
        ),
        "/embed": (
            200,
            html,
            f"""<h1>Contact us</h1>{contact}
<link rel="preconnect" href="{servers.private}">
<link rel="stylesheet" href="{admin}/style.css">
<iframe src="{admin}/iframe"></iframe>
<img src="{admin}/img"><img src="/img-redirect">
<img src="http://[::ffff:127.0.0.1]:{port}/admin/mapped">
<img src="http://localhost:{port}/admin/by-name">
<script>
  fetch('{admin}/fetch', {{method: 'POST', body: 'x'}}).catch(() => {{}});
  new Worker('/worker.js');
  navigator.sendBeacon('{admin}/beacon', 'x');
  window.open('{admin}/popup');
  const ws = new WebSocket('ws://127.0.0.1:{port}/admin/ws'); ws.onerror = () => {{}};
</script>""",
        ),
        "/form-private": (200, html, "<h1>Contact us</h1>" + FORM.format(action=f"{admin}/post")),
        "/schemes": (
            200,
            html,
            "<h1>Contact us</h1>"
            + contact
            + "<script>setTimeout(() => { location = 'file:///etc/passwd'; }, 50);"
            "setTimeout(() => { location = 'data:text/html,<h1>data</h1>'; }, 150);</script>",
        ),
    }


def _handler(servers: Servers, private: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            if private:
                with servers.lock:
                    servers.admin_hits.append(f"{self.command} {self.path}")
                self._send(
                    200, {"Content-Type": "text/html"}, "<h1>Admin</h1>" + FORM.format(action="/admin/x")
                )
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            if self.path == "/thanks" and self.command == "POST":
                with servers.lock:
                    servers.public_posts.append(body)
                self._send(200, {"Content-Type": "text/html"}, "<h1>Thank you, your message was sent.</h1>")
                return
            status, headers, text = _pages(servers).get(self.path, (404, {}, "not here"))
            self._send(status, headers, text)

        def _send(self, status: int, headers: dict[str, str], text: str) -> None:
            data = text.encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class _Recording(ThreadingHTTPServer):
    """Records every accepted connection, so that a preconnect without a request shows up too."""

    daemon_threads = True
    servers: Servers

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.servers.lock:
            self.servers.admin_connections += 1
        super().process_request(request, client_address)


@pytest.fixture(scope="module")
def sites() -> Iterator[Servers]:
    private = _Recording(("127.0.0.1", 0), BaseHTTPRequestHandler)
    public = ThreadingHTTPServer(("127.0.0.2", 0), BaseHTTPRequestHandler)
    public.daemon_threads = True
    servers = Servers(
        f"http://127.0.0.2:{public.server_address[1]}", f"http://127.0.0.1:{private.server_address[1]}"
    )
    private.servers = servers
    private.RequestHandlerClass = _handler(servers, private=True)
    public.RequestHandlerClass = _handler(servers, private=False)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (private, public)]
    for thread in threads:
        thread.start()
    with treat_as_public(["127.0.0.2"]):
        yield servers
    for server in (private, public):
        server.shutdown()
        server.server_close()


@pytest.fixture
def clean(sites: Servers) -> Servers:
    sites.clear()
    return sites


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1


def _target(url: str, evidence: Path, *, dry_run: bool) -> ProbeTarget:
    return ProbeTarget(
        key="hostile",
        url=url,
        persona=Persona("Dana", "Levi", "dana.k7q29f@replies.example.org", "+972 50 123 4567", "Levi Design"),
        inquiry=Inquiry(subject="A question", message="Hello, could someone call me back? Ref: K7Q2-9F"),
        evidence_dir=evidence,
        dry_run=dry_run,
        allow_private=False,
        timeout_s=30.0,
    )


def _probe(host: BrowserHost, url: str, evidence: Path, *, dry_run: bool = True) -> tuple[ProbeResult, int]:
    counter = Counter()
    result = host.run(run_probe, host.browser, _target(url, evidence, dry_run=dry_run), counter)
    return result, counter.calls


def _refused(result: ProbeResult) -> list[dict[str, Any]]:
    assert result.evidence_path is not None
    data = json.loads(result.evidence_path.read_text(encoding="utf-8"))
    refused: list[dict[str, Any]] = data["refused_requests"]
    assert all(f"refused {r['type']}" in " ".join(data["log"]) for r in refused)
    return refused


def _settle(servers: Servers) -> list[str]:
    # A request Chromium had already sent would arrive within milliseconds; give stragglers a moment.
    threading.Event().wait(0.3)
    with servers.lock:
        return list(servers.admin_hits)


def _connections(servers: Servers) -> int:
    with servers.lock:
        return servers.admin_connections


# --- navigations -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "needle"),
    [("/redirect", "/admin/redirect"), ("/chain", "/admin/chain"), ("/meta", "/admin/meta"), ("/script", "/admin/script")],
)  # fmt: skip
def test_navigation_to_a_private_address_is_refused(
    clean: Servers, browser_host: BrowserHost, tmp_path: Path, path: str, needle: str
) -> None:
    result, calls = _probe(browser_host, clean.public + path, tmp_path)
    assert _settle(clean) == []
    # An HTTP redirect never reaches Chromium, so nothing connects. A navigation the page starts itself (meta
    # refresh, script) makes Chromium open a bare TCP connection to the target before the request is routed
    # (its navigation preconnect); not a byte of HTTP is sent on it. The README lists this.
    assert _connections(clean) == (0 if path in ("/redirect", "/chain") else 1)
    assert (result.outcome, result.detail) == (Outcome.ERROR, Detail.TARGET_REFUSED), result.reason
    assert "127.0.0.1" in result.reason and "non-public" in result.reason
    assert calls == 0 and not result.submit_started
    refused = _refused(result)
    assert any(needle in r["url"] and r["navigation"] for r in refused), refused


def test_public_redirects_are_followed_and_the_final_page_is_used(
    clean: Servers, browser_host: BrowserHost, tmp_path: Path
) -> None:
    result, _ = _probe(browser_host, clean.public + "/to-contact", tmp_path)
    assert (result.outcome, result.detail) == (Outcome.DRY_RUN, Detail.DRY_RUN_OK), result.reason
    assert result.final_url == clean.public + "/contact"
    assert _refused(result) == [] and _settle(clean) == []


def test_file_and_data_navigations_from_the_page_go_nowhere(
    clean: Servers, browser_host: BrowserHost, tmp_path: Path
) -> None:
    result, _ = _probe(browser_host, clean.public + "/schemes", tmp_path)
    # Chromium refuses both navigations from an http page: the page stays, and its form is still probed.
    assert result.final_url == clean.public + "/schemes", result.final_url
    assert (result.outcome, result.detail) == (Outcome.DRY_RUN, Detail.DRY_RUN_OK), result.reason
    assert _settle(clean) == []


# --- subresources ----------------------------------------------------------------------------------------


def test_subresources_workers_popups_and_sockets_to_private_addresses_are_refused(
    clean: Servers, browser_host: BrowserHost, tmp_path: Path
) -> None:
    result, _ = _probe(browser_host, clean.public + "/embed", tmp_path)
    hits = _settle(clean)
    assert hits == [], hits
    assert _connections(clean) <= 2  # the iframe's and the popup's navigation preconnects (see above)
    # The page itself is public and its form fine: the probe goes on, and lists what it refused.
    assert (result.outcome, result.detail) == (Outcome.DRY_RUN, Detail.DRY_RUN_OK), result.reason
    refused = {r["url"].split("/admin/", 1)[-1]: r for r in _refused(result)}
    for name in (
        "iframe",
        "img",
        "img-redirect",
        "style.css",
        "fetch",
        "worker",
        "beacon",
        "mapped",
        "by-name",
    ):
        assert name in refused, (name, sorted(refused))
    assert "redirect from" in refused["img-redirect"]["reason"]
    assert refused["fetch"]["method"] == "POST"
    assert any(r["type"] == "websocket" for r in refused.values())


# --- the form's own request ------------------------------------------------------------------------------


def test_a_form_posting_to_a_private_address_is_refused_after_the_click(
    clean: Servers, browser_host: BrowserHost, tmp_path: Path
) -> None:
    result, calls = _probe(browser_host, clean.public + "/form-private", tmp_path, dry_run=False)
    assert _settle(clean) == []
    assert _connections(clean) <= 1  # the form's navigation preconnect, at most (see above)
    assert calls == 1 and result.submit_started  # clicked once, as ever; the request never left
    assert (result.outcome, result.detail) == (Outcome.ERROR, Detail.TARGET_REFUSED), result.reason
    assert "/admin/post" in result.reason and "non-public" in result.reason
    refused = _refused(result)
    assert any(r["url"].endswith("/admin/post") and r["method"] == "POST" for r in refused), refused


def test_a_public_form_is_submitted_through_the_guard(
    clean: Servers, browser_host: BrowserHost, tmp_path: Path
) -> None:
    """The guard makes every request itself (pinned to the checked address): a real submission still works."""
    result, calls = _probe(browser_host, clean.public + "/contact", tmp_path, dry_run=False)
    assert (result.outcome, result.detail) == (Outcome.SUBMITTED, Detail.SUBMITTED_CONFIRMED), result.reason
    assert calls == 1 and len(clean.public_posts) == 1
    assert "Ref%3A+K7Q2-9F" in clean.public_posts[0]
    assert result.post_url == clean.public + "/thanks" and result.post_status == 200
    assert _refused(result) == [] and _settle(clean) == []


def test_the_check_is_on_the_address_not_the_name() -> None:
    # `localhost` is refused because of what it resolves to, and 127.0.0.2 only passes inside the hook.
    with pytest.raises(TargetRefused, match="non-public address"):
        asyncio.run(check_target_url("http://localhost:1/", allow_private=False))
    assert not ipaddress.ip_address("127.0.0.2").is_global
