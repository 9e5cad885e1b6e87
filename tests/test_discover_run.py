"""A company given by its website, through the runner and `audit discover`: a real Chromium against a small
site in a temporary folder (so a test can take the form away between waves), the real database.

What the site received (its request log) is the evidence: discovery loads pages one at a time and at most
`audit.discovery.max_pages`, a kept page is not searched for again, and a page that lost its form is.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from audit.config import parse_config
from audit.db import open_database
from audit.models import Company, Probe
from audit.runner import RunOptions, run_wave
from audit.settings import Settings
from tests.conftest import BrowserHost

pytestmark = pytest.mark.browser

HOME = """<!doctype html><html lang="en"><head><title>Acme</title></head><body>
<header><nav><a href="/">Home</a> <a href="/products/">Products</a> <a href="/about/">About us</a>
<a href="/contact/">Contact us</a></nav></header>
<main><h1>Acme kitchens</h1><form action="/subscribe" method="post"><label>Newsletter
<input type="email" name="email"></label><button>Subscribe</button></form></main>
<footer><a href="mailto:info@acme.example">info@acme.example</a></footer></body></html>"""

CONTACT = """<!doctype html><html lang="en"><head><title>Contact us</title></head><body>
<h1>Contact us</h1><form action="/send" method="post">
<label>Full name <input name="name" required></label>
<label>Email <input type="email" name="email" required></label>
<label>Phone <input type="tel" name="phone"></label>
<label>Your message <textarea name="message" required></textarea></label>
<button type="submit">Send message</button></form></body></html>"""

NO_FORM = """<!doctype html><html lang="en"><head><title>Contact us</title></head><body>
<h1>Contact us</h1><p>Call us on 03-1234567.</p></body></html>"""

THANKS = b"<!doctype html><html><body><h1>Thank you! Your message has been sent.</h1></body></html>"


@dataclass
class Site:
    root: Path
    base_url: str = ""
    pages: list[str] = field(default_factory=list)  # GET paths, in order
    posts: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def html_pages(self) -> list[str]:
        with self.lock:
            return [path for path in self.pages if path.endswith("/") or path.endswith(".html")]


@contextmanager
def serve(site: Site) -> Iterator[Site]:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(site.root), **kwargs)  # type: ignore[arg-type]

        def do_GET(self) -> None:
            with site.lock:
                site.pages.append(self.path)
            super().do_GET()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            with site.lock:
                site.posts.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(THANKS)))
            self.end_headers()
            self.wfile.write(THANKS)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def acme(tmp_path: Path) -> Iterator[Site]:
    root = tmp_path / "site"
    for folder, text in (("", HOME), ("contact", CONTACT), ("products", NO_FORM), ("about", NO_FORM)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "index.html").write_text(text, encoding="utf-8")
    with serve(Site(root)) as site:
        yield site


CONFIG = """\
# The audit of kitchen makers.
audit:
  name: "Discovery test"   # kept as it is
  timezone: Asia/Jerusalem
  probe_timeout: 60s
  allow_private_targets: true
  discovery: {{max_pages: 3}}
mailbox: {{address: "dana.{{token}}@replies.example.org"}}
persona: {{first_name: Dana, last_name: Levi, phone: "050-1234567"}}
inquiry: {{subject: "Kitchens", message: "Hello {{company}}, do you install on Fridays?"}}

companies:
  # found from the home page
  - id: acme
    name: "Acme Kitchens"
    website: "{website}"
"""


def run(host: BrowserHost, settings: Settings, text: str, **options: object) -> int:
    config = parse_config(text)
    engine = open_database(settings.resolved_database_url())
    try:
        report = host.run(
            run_wave, settings=settings, config=config, engine=engine,
            options=RunOptions(**options), browser=host.browser,  # type: ignore[arg-type]
        )  # fmt: skip
        return int(report.wave_id)
    finally:
        engine.dispose()


def rows(settings: Settings) -> tuple[list[Probe], Company]:
    engine = open_database(settings.resolved_database_url())
    with Session(engine) as session:
        probes = list(session.exec(select(Probe).order_by(Probe.id)).all())  # type: ignore[arg-type]
        company = session.get(Company, "acme")
    engine.dispose()
    assert company is not None
    return probes, company


def test_the_contact_page_is_found_kept_and_searched_again_when_it_loses_its_form(
    acme: Site, browser_host: BrowserHost, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    text = CONFIG.format(website=acme.base_url + "/")

    run(browser_host, settings, text)
    [probe], company = rows(settings)
    assert probe.outcome == "submitted" and probe.contact_url == acme.base_url + "/contact/"
    assert company.discovered_url == acme.base_url + "/contact/" and acme.posts == ["/send"]
    assert (tmp_path / "data" / str(probe.evidence_dir) / "discovery.json").is_file()
    first_wave_pages = acme.html_pages()
    assert first_wave_pages[0] == "/" and "/contact/" in first_wave_pages
    assert len(set(first_wave_pages)) <= 3 + 1  # discovery's pages, then the probe's own load of the page

    acme.pages.clear()
    run(browser_host, settings, text, new_wave=True)  # the kept page: no search, straight to the form
    assert acme.html_pages() == ["/contact/"] and acme.posts == ["/send", "/send"]

    (acme.root / "contact" / "index.html").write_text(NO_FORM, encoding="utf-8")
    run(browser_host, settings, text, new_wave=True)
    probes, company = rows(settings)
    assert probes[-1].outcome == "no_form" and company.discovered_url is None  # the next wave searches again


def test_discover_previews_and_writes_the_page_keeping_the_file_byte_for_byte(
    acme: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audit.cli import cli

    config_file = tmp_path / "companies.yaml"
    original = CONFIG.format(website=acme.base_url + "/")
    config_file.write_text(original, encoding="utf-8")
    args = ["--data-dir", str(tmp_path / "data"), "discover", "--config", str(config_file), "-v"]

    preview = CliRunner().invoke(cli, args)
    assert preview.exit_code == 0, preview.output
    assert "/contact/" in preview.output and "--write" in preview.output
    assert config_file.read_text(encoding="utf-8") == original and acme.posts == []

    written = CliRunner().invoke(cli, [*args, "--write"])
    assert written.exit_code == 0, written.output
    after = config_file.read_text(encoding="utf-8")
    added = [line for line in after.splitlines() if line not in original.splitlines()]
    assert added == [f"    contact_url: {acme.base_url}/contact/"] or added == [
        f'    contact_url: "{acme.base_url}/contact/"'
    ]
    assert [line for line in after.splitlines() if line not in added] == original.splitlines()
    assert parse_config(after).companies[0].contact_url == acme.base_url + "/contact/"
    assert acme.posts == []  # nothing was ever submitted
