"""Small multi-page static sites for contact-page discovery (`tests/discovery_sites/<site>/`), each served
from the root of its own port on 127.0.0.1, with a log of every request the server answered.

A site's pages are plain files; `_redirects.txt` in a site's folder lists server-side redirects, one
`PATH STATUS LOCATION` a line. In served text, `__ORIGIN__` becomes the site's own base URL and
`__OFFSITE__` the same server under the host name `localhost`: a different site to the discovery, so a
test can see in the log whether a link to "another site" was followed. HTML answers are held for a moment,
so that two page loads made at once would overlap in the log.
"""

from __future__ import annotations

import mimetypes
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

SITES = Path(__file__).parent / "discovery_sites"
HTML_DELAY_S = 0.05
_NOT_FOUND = (
    b"<!doctype html><html><head><title>Not found</title></head><body><h1>Not found</h1></body></html>"
)


@dataclass(frozen=True)
class Request:
    """One request the server answered: what was asked, under which host name, and when."""

    path: str  # decoded, without the query
    host: str
    status: int
    content_type: str
    started: float  # time.monotonic()
    ended: float

    @property
    def is_page(self) -> bool:
        """A document a browser loads as a page (redirect hops included), not a sitemap or an icon."""
        return not self.path.endswith((".xml", ".ico", ".txt")) and not self.path.startswith("/_")


@dataclass
class Site:
    name: str
    root: Path
    base_url: str = ""
    offsite_url: str = ""
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)
    log: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/") -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def requests(self) -> list[Request]:
        with self.lock:
            return list(self.log)

    def pages(self) -> list[Request]:
        return [r for r in self.requests() if r.is_page]

    def clear(self) -> None:
        with self.lock:
            self.log.clear()


def _read_redirects(root: Path) -> dict[str, tuple[int, str]]:
    path = root / "_redirects.txt"
    if not path.exists():
        return {}
    out: dict[str, tuple[int, str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3 or not parts[1].isdigit():
            raise ValueError(f"{path}:{number}: expected PATH STATUS LOCATION")
        out[parts[0]] = (int(parts[1]), parts[2])
    return out


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            started = time.monotonic()
            path = unquote(urlsplit(self.path).path)
            status, content_type = self._answer(path)
            with site.lock:
                site.log.append(
                    Request(
                        path, self.headers.get("Host", ""), status, content_type, started, time.monotonic()
                    )
                )

        def _answer(self, path: str) -> tuple[int, str]:
            if path in site.redirects:
                status, location = site.redirects[path]
                self.send_response(status)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return status, ""
            file = (site.root / path.lstrip("/")).resolve()
            if file.is_dir():
                file = file / "index.html"
            if site.root.resolve() not in file.parents or not file.is_file() or file.name.startswith("_"):
                return self._send(404, "text/html; charset=utf-8", _NOT_FOUND)
            content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            body = file.read_bytes()
            if content_type.startswith("text/") or content_type.endswith("xml"):
                text = body.decode("utf-8").replace("__ORIGIN__", site.base_url)
                body = text.replace("__OFFSITE__", site.offsite_url).encode("utf-8")
                content_type += "; charset=utf-8"
            return self._send(200, content_type, body)

        def _send(self, status: int, content_type: str, body: bytes) -> tuple[int, str]:
            if content_type.startswith("text/html"):
                time.sleep(HTML_DELAY_S)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            return status, content_type

        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            return

    return Handler


@contextmanager
def serve_sites() -> Iterator[dict[str, Site]]:
    """Every folder of tests/discovery_sites/ as a site of its own, on its own port."""
    sites: dict[str, Site] = {}
    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []
    try:
        for root in sorted(p for p in SITES.iterdir() if p.is_dir()):
            site = Site(root.name, root, redirects=_read_redirects(root))
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
            port = server.server_address[1]
            site.base_url = f"http://127.0.0.1:{port}"
            site.offsite_url = f"http://localhost:{port}"
            thread = threading.Thread(target=server.serve_forever, name=f"site-{root.name}", daemon=True)
            thread.start()
            servers.append((server, thread))
            sites[root.name] = site
        yield sites
    finally:
        for server, thread in servers:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
