"""A local static site for markup written by others (themes, form libraries, CAPTCHA widgets from npm).

It serves `tests/data/sites/` on 127.0.0.1 and records every POST, so a test can assert on what a probe sent
(or that it sent nothing). A POST is answered with a plain confirmation page, as most hosted form back ends
do. The standard library's threaded HTTP server is enough here: the pages are files and nothing is secret.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

SITES = Path(__file__).parent / "data" / "sites"
CONFIRMATION = b"<!doctype html><html><body><h1>Thank you! Your message has been sent.</h1></body></html>"


@dataclass
class Post:
    path: str
    content_type: str
    body: bytes

    def fields(self) -> dict[str, str]:
        """The form fields of a urlencoded POST (the last value wins), or {} for other bodies."""
        if "application/x-www-form-urlencoded" not in self.content_type:
            return {}
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


@dataclass
class StaticSite:
    base_url: str
    posts: list[Post] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def posts_to(self, prefix: str) -> list[Post]:
        with self.lock:
            return [post for post in self.posts if post.path.startswith(prefix)]


def _handler(site: StaticSite) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(SITES), **kwargs)  # type: ignore[arg-type]

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with site.lock:
                site.posts.append(Post(self.path, self.headers.get("Content-Type", ""), body))
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(CONFIRMATION)))
            self.end_headers()
            self.wfile.write(CONFIRMATION)

        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            return

    return Handler


@pytest.fixture(scope="session")
def static_site() -> Iterator[StaticSite]:
    site = StaticSite(base_url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    site.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="static-site", daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
