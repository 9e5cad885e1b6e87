"""The fixture-site farm: fake company contact pages on 127.0.0.1 that validate and record what they receive.

Tests and `audit demo` drive these pages with a real Chromium, then assert on `RunningFarm.submissions`: on
what the server got, never on what the tool says it sent. Each site imitates one real pattern from
docs/probing.md: vendor markup (Contact Form 7, Gravity Forms), honeypots, hidden tokens, a cross-origin
iframe, Hebrew RTL, JS-rendered inputs, steps, a cookie overlay, required consent next to a marketing box, a
CAPTCHA, dialogs, broken and slow endpoints and a bot challenge.

Two servers run: origin A serves every page; origin B (another port) serves only the iframe's form, so the
`iframe` site really is cross-origin. `python -m audit.demo.farm --port 8000` serves them for a person.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

SITES: tuple[str, ...] = (
    "plain", "cf7", "gravity", "iframe", "hebrew", "react", "multistep", "cookie",
    "select-consent", "captcha", "noform", "broken", "confirm", "slow", "challenge",
)  # fmt: skip

_SITES_DIR = Path(__file__).parent / "sites"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_TOKEN_CHANGED = "hidden_token_changed"
_OPTIN = "marketing_optin_ticked"
# CF7 posts these hidden inputs back unchanged; a changed one means the tool touched what it must not.
_CF7_HIDDEN = {
    "_wpcf7": "42",
    "_wpcf7_version": "5.9.8",
    "_wpcf7_locale": "en_US",
    "_wpcf7_unit_tag": "wpcf7-f42-o1",
    "_wpcf7_container_post": "0",
}
_FRAME = "iframe_form.html"  # the iframe site's form, on origin B
_HEBREW_THANKS = "/hebrew/תודה"  # a percent-encoded success URL, as Israeli sites have


@dataclass(frozen=True)
class Submission:
    """One request a site received at its form endpoint, and what a real back end would have made of it."""

    site: str
    fields: dict[str, str]  # exactly what was posted; an unticked checkbox is absent
    accepted: bool  # validation passed and not dropped as spam
    violations: tuple[str, ...]  # e.g. "honeypot_filled", "missing:email", "marketing_optin_ticked"
    received_at: datetime  # UTC
    cookie_consent: str | None  # the "consent" cookie the browser sent, if any

    def to_json(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "fields": self.fields,
            "accepted": self.accepted,
            "violations": list(self.violations),
            "received_at": self.received_at.isoformat(),
            "cookie_consent": self.cookie_consent,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Submission:
        """The inverse of `to_json`, for reading `/__farm/submissions` from a farm in another process."""
        return cls(
            site=str(data["site"]),
            fields={str(k): str(v) for k, v in data["fields"].items()},
            accepted=bool(data["accepted"]),
            violations=tuple(str(v) for v in data["violations"]),
            received_at=datetime.fromisoformat(data["received_at"]),
            cookie_consent=data["cookie_consent"],
        )


@dataclass(frozen=True)
class _Rules:
    """What one site's back end checks, in the order a real one would."""

    required: tuple[str, ...]
    email: str = "email"
    honeypots: tuple[str, ...] = ()
    optins: tuple[str, ...] = ()
    always: tuple[str, ...] = ()  # what every post here is, whatever its content (e.g. "captcha_bypassed")

    def check(self, fields: Mapping[str, str], *, token_ok: bool) -> tuple[str, ...]:
        found = [] if token_ok else [_TOKEN_CHANGED]
        found += [f"missing:{name}" for name in self.required if not fields.get(name, "").strip()]
        email = fields.get(self.email, "").strip()
        if email and not _EMAIL.fullmatch(email):
            found.append(f"invalid:{self.email}")
        if any(fields.get(name, "") for name in self.honeypots):
            found.append("honeypot_filled")
        if any(name in fields for name in self.optins):
            found.append(_OPTIN)
        return (*found, *self.always)


_BASIC = _Rules(("name", "email", "message"))
_RULES: dict[str, _Rules] = {
    "plain": _BASIC,
    "cf7": _Rules(
        ("your-name", "your-email", "your-message", "acceptance-terms"),
        email="your-email",
        honeypots=("honeypot-781",),  # the "Honeypot for Contact Form 7" plugin's field
    ),
    "gravity": _Rules(
        ("input_1", "input_2", "input_3"), email="input_2", honeypots=("input_4", "email_confirm", "website")
    ),
    "iframe": _Rules(("full_name", "email", "question")),
    "hebrew": _Rules(("f1", "f2", "f5", "f6"), email="f2", optins=("f7",)),
    "react": _BASIC,
    "multistep": _BASIC,
    "cookie": _BASIC,
    "select-consent": _Rules(("name", "email", "topic", "message", "terms"), optins=("newsletter",)),
    "captcha": _Rules(("name", "email", "message"), always=("captcha_bypassed",)),
    "noform": _Rules((), always=("not_a_contact_form",)),
    "broken": _Rules(("name", "email", "message"), always=("server_error",)),
    "confirm": _BASIC,
    "slow": _BASIC,
    "challenge": _Rules((), always=("blocked_by_challenge",)),
}


def _field_errors(violations: tuple[str, ...]) -> dict[str, str]:
    """{"email": "missing"} from ("missing:email",): what the page highlights."""
    return {
        v.split(":", 1)[1]: v.split(":", 1)[0] for v in violations if v.startswith(("missing:", "invalid:"))
    }


class _FarmState:
    """What both servers share. They run on different threads, so every access takes the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._log: list[Submission] = []
        self._tokens: dict[str, str] = {}  # issued token -> the site that issued it
        self.slow_seconds = 20.0
        self.frame_base_url = ""
        self.stopping = threading.Event()  # at shutdown a pending `slow` answer ends, not gets cancelled

    def issue_token(self, site: str) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = site
        return token

    def token_ok(self, site: str, token: str | None) -> bool:
        with self._lock:
            return token is not None and self._tokens.get(token) == site

    def record(
        self, site: str, fields: Mapping[str, str], *, token_ok: bool, consent: str | None
    ) -> Submission:
        violations = _RULES[site].check(fields, token_ok=token_ok)
        accepted = all(v == _OPTIN for v in violations)  # an opt-in is a tool bug, not a reason to reject
        sub = Submission(site, dict(fields), accepted, violations, datetime.now(UTC), consent)
        with self._lock:
            self._log.append(sub)
        return sub

    def submissions(self) -> list[Submission]:
        with self._lock:
            return list(self._log)

    def clear(self) -> None:
        with self._lock:
            self._log.clear()


@cache
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(_SITES_DIR), undefined=StrictUndefined, autoescape=select_autoescape(["html"])
    )


def _render(
    template: str, status_code: int = 200, headers: Mapping[str, str] | None = None, **ctx: Any
) -> HTMLResponse:
    return HTMLResponse(_env().get_template(template).render(**ctx), status_code=status_code, headers=headers)


@cache
def _script_text(name: str) -> str:
    return (_SITES_DIR / name).read_text(encoding="utf-8")


def _script(name: str) -> Response:
    return Response(_script_text(name), media_type="text/javascript")


async def _form_fields(request: Request) -> dict[str, str]:
    async with request.form() as form:
        return {key: value for key, value in form.multi_items() if isinstance(value, str)}


def _expired() -> HTMLResponse:
    # What CSRF middleware answers for a changed or missing token: a bare framework page, not the site's.
    return _render("_expired.html", 403)


class _Pages:
    """Rendering and the common full-page form flow, shared by both origins."""

    def __init__(self, state: _FarmState) -> None:
        self.state = state

    def page(
        self, site: str, request: Request, *, status_code: int = 200, template: str = "", **ctx: Any
    ) -> HTMLResponse:
        context: dict[str, Any] = {
            "site": site,
            "token": self.state.issue_token(site),
            "values": {},
            "errors": {},
            "outcome": None,
            "query": None,
            "consent": request.cookies.get("consent"),
            "frame_url": self.state.frame_base_url,
        }
        return _render(template or f"{site}.html", status_code, **(context | ctx))

    async def receive(
        self,
        site: str,
        request: Request,
        *,
        token_field: str | None = "_token",
        expected: Mapping[str, str] | None = None,
        also_ok: bool = True,
    ) -> Submission:
        """Record a form post; the token and the `expected` hidden values must come back unchanged."""
        fields = await _form_fields(request)
        token_ok = also_ok and (token_field is None or self.state.token_ok(site, fields.get(token_field)))
        token_ok = token_ok and all(fields.get(k) == v for k, v in (expected or {}).items())
        return self.state.record(site, fields, token_ok=token_ok, consent=request.cookies.get("consent"))

    def answer(
        self, sub: Submission, request: Request, success: Response | None = None, *, template: str = ""
    ) -> Response:
        """Token changed: 403. Errors: the form again, highlighted. Else `success` (default: the page saying
        so), also when a honeypot caught it, because real honeypots drop silently."""
        if _TOKEN_CHANGED in sub.violations:
            return _expired()
        errors = _field_errors(sub.violations)
        if errors:
            return self.page(sub.site, request, template=template, values=sub.fields, errors=errors)
        return success or self.page(sub.site, request, template=template, outcome="sent")


def _add_site_routes(app: FastAPI, pages: _Pages) -> None:
    """Each site's form endpoint, recording every post before it answers."""
    state = pages.state

    @app.post("/plain/submit")
    async def plain_submit(request: Request) -> Response:
        sub = await pages.receive("plain", request)
        return pages.answer(sub, request, RedirectResponse("/plain/thanks", status_code=303))

    @app.get("/plain/thanks")
    async def plain_thanks(request: Request) -> Response:
        return pages.page("plain", request, outcome="sent")

    @app.post("/wp-json/contact-form-7/v1/contact-forms/{form_id}/feedback")
    async def cf7_feedback(form_id: str, request: Request) -> Response:
        sub = await pages.receive(
            "cf7", request, token_field=None, expected=_CF7_HIDDEN, also_ok=form_id == "42"
        )
        return JSONResponse(_cf7_reply(sub))

    @app.post("/gravity/")
    async def gravity_submit(request: Request) -> Response:
        expected = {"gform_submit": "1", "is_submit_1": "1"}
        sub = await pages.receive("gravity", request, token_field="state_1", expected=expected)
        errors = _field_errors(sub.violations)
        if _TOKEN_CHANGED in sub.violations:
            errors["state_1"] = "changed"  # Gravity shows a tampered state as a failed validation, no 403
        if errors:
            return pages.page("gravity", request, values=sub.fields, errors=errors)
        return pages.page("gravity", request, outcome="sent")

    @app.post("/hebrew/")
    async def hebrew_submit(request: Request) -> Response:
        sub = await pages.receive("hebrew", request)
        return pages.answer(sub, request, RedirectResponse(quote(_HEBREW_THANKS), status_code=303))

    @app.get(_HEBREW_THANKS)
    async def hebrew_thanks(request: Request) -> Response:
        return pages.page("hebrew", request, outcome="sent")

    @app.post("/api/react/contact")
    async def react_contact(request: Request) -> Response:
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        items = body.items() if isinstance(body, dict) else ()
        fields = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in items}
        token_ok = state.token_ok("react", request.headers.get("x-csrf-token"))
        sub = state.record("react", fields, token_ok=token_ok, consent=request.cookies.get("consent"))
        if not token_ok:
            return JSONResponse({"ok": False, "error": "CSRF token mismatch."}, status_code=403)
        errors = _field_errors(sub.violations)
        if errors:
            return JSONResponse({"ok": False, "errors": errors}, status_code=422)
        return JSONResponse({"ok": True, "message": "Thanks, we got your message!"})

    def simple(site: str) -> Callable[[Request], Awaitable[Response]]:
        async def submit(request: Request) -> Response:
            return pages.answer(await pages.receive(site, request), request)

        return submit

    for site in ("multistep", "cookie", "select-consent", "confirm"):
        app.add_api_route(f"/{site}/submit", simple(site), methods=["POST"], name=f"{site}_submit")

    @app.post("/captcha/submit")
    async def captcha_submit(request: Request) -> Response:
        sub = await pages.receive("captcha", request)
        # No post can pass here: this farm never serves a solvable CAPTCHA.
        errors = _field_errors(sub.violations) | {"captcha": "missing"}
        return pages.page("captcha", request, values=sub.fields, errors=errors)

    @app.api_route("/noform/search", methods=["GET", "POST"])
    async def noform_search(request: Request) -> Response:
        query = request.query_params.get("q")
        if request.method == "POST":
            query = (await _form_fields(request)).get("q", "")
        if query is not None:
            state.record("noform", {"q": query}, token_ok=True, consent=request.cookies.get("consent"))
        return pages.page("noform", request, query=query)

    @app.post("/noform/subscribe")
    async def noform_subscribe(request: Request) -> Response:
        sub = await pages.receive("noform", request)
        return (
            _expired() if _TOKEN_CHANGED in sub.violations else pages.page("noform", request, outcome="sent")
        )

    @app.post("/broken/submit")
    async def broken_submit(request: Request) -> Response:
        await pages.receive("broken", request)
        return _render("_server_error.html", 500)

    @app.post("/slow/submit")
    async def slow_submit(request: Request) -> Response:
        sub = await pages.receive("slow", request)  # recorded before the wait: the crash test relies on it
        deadline = time.monotonic() + state.slow_seconds
        while not state.stopping.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(min(0.1, deadline - time.monotonic()))
        return pages.answer(sub, request)


def _cf7_reply(sub: Submission) -> dict[str, Any]:
    """The JSON Contact Form 7's REST endpoint answers (contact-form-7 includes/rest-api.php)."""
    reply: dict[str, Any] = {
        "contact_form_id": 42,
        "into": "#wpcf7-f42-o1",
        "invalid_fields": [],
        "posted_data_hash": "",
    }
    tips = {
        "missing": "Please fill out this field.",
        "invalid": "Please enter an email address.",
    }
    invalid = [
        {
            "field": field,
            "message": (
                "You must accept the terms and conditions before sending your message."
                if field == "acceptance-terms"
                else tips[kind]
            ),
            "idref": None,
            "error_id": f"wpcf7-f42-o1-ve-{field}",
        }
        for field, kind in _field_errors(sub.violations).items()
    ]
    if invalid:
        return reply | {
            "status": "validation_failed",
            "message": "One or more fields have an error. Please check and try again.",
            "invalid_fields": invalid,
        }
    if not sub.accepted:
        # CF7 shows the same text for spam and for a mail failure (docs/probing.md, "Deciding the outcome").
        return reply | {
            "status": "spam",
            "message": "There was an error trying to send your message. Please try again later.",
        }
    digest = hashlib.md5(json.dumps(sub.fields, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
    return reply | {
        "status": "mail_sent",
        "message": "Thank you for your message. It has been sent.",
        "posted_data_hash": digest,
    }


def _make_site_app(state: _FarmState) -> FastAPI:
    """Origin A: the index, every site's page and its endpoints, and the stub scripts the pages load."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)  # the docs pages load CDN assets
    pages = _Pages(state)

    @app.get("/")
    async def index() -> Response:
        return _render("index.html", sites=SITES)

    @app.get("/__farm/submissions")
    async def farm_log() -> Response:
        return JSONResponse([sub.to_json() for sub in state.submissions()])

    @app.delete("/__farm/submissions")
    async def farm_clear() -> Response:
        state.clear()
        return Response(status_code=204)

    @app.api_route("/challenge/", methods=["GET", "POST"])
    async def challenge(request: Request) -> Response:
        if request.method == "POST":
            await pages.receive("challenge", request, token_field=None)
        ray = secrets.token_hex(8)
        headers = {
            "cf-mitigated": "challenge",
            "cf-ray": f"{ray}-TLV",
            "server": "cloudflare",
            "cache-control": "no-store",
        }
        return _render("challenge.html", 403, headers, host=request.url.hostname or "", ray=ray)

    @app.get("/cdn-cgi/challenge-platform/{rest:path}")
    async def challenge_script(rest: str) -> Response:
        # The real orchestration script is Cloudflare's; its absence is what a probe sees here.
        return PlainTextResponse("Not Found", status_code=404)

    @app.get("/wp-content/plugins/contact-form-7/includes/js/index.js")
    async def cf7_js() -> Response:
        return _script("cf7.js")

    @app.get("/static/js/main.js")
    async def react_js() -> Response:
        return _script("react.js")

    @app.get("/recaptcha/api.js")
    async def recaptcha_js() -> Response:
        return _script("recaptcha.js")  # a harmless stub: never reach Google

    @app.get("/recaptcha/api2/anchor")
    async def recaptcha_anchor() -> Response:
        return _render("recaptcha_anchor.html")

    _add_site_routes(app, pages)

    @app.get("/{site}/")
    async def site_page(site: str, request: Request) -> Response:
        if site not in SITES:
            return PlainTextResponse("Not Found", status_code=404)
        return pages.page(site, request)

    return app


def _make_frame_app(state: _FarmState) -> FastAPI:
    """Origin B: the embedded form vendor that the `iframe` site frames."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    pages = _Pages(state)

    @app.get("/")
    async def index() -> Response:
        return PlainTextResponse("FormBox embed host")

    @app.get("/iframe/form")
    async def frame_form(request: Request) -> Response:
        return pages.page("iframe", request, template=_FRAME)

    @app.post("/iframe/form")
    async def frame_submit(request: Request) -> Response:
        sub = await pages.receive("iframe", request)
        return pages.answer(sub, request, template=_FRAME)

    return app


class _ServerThread:
    """One uvicorn server on a pre-bound socket, in a daemon thread (as httpx's own test suite does)."""

    def __init__(self, app: FastAPI, sock: socket.socket, name: str) -> None:
        # A short graceful timeout so a pending `slow` request cannot hold up shutdown.
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._sock = sock
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=name, daemon=True
        )

    def start(self, timeout: float = 15.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self._thread.name} did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._sock.close()


def _bind(host: str, port: int) -> socket.socket:
    # Binding here, before uvicorn starts, tells us the ephemeral port, which the pages need (the iframe URL).
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


class RunningFarm:
    """A started farm: its URLs and what its sites received."""

    SITES: ClassVar[tuple[str, ...]] = SITES

    def __init__(self, state: _FarmState, *, host: str, port: int, frame_port: int) -> None:
        self._state = state
        self.port = port
        self.frame_port = frame_port
        self.base_url = f"http://{host}:{port}"
        self.frame_base_url = f"http://{host}:{frame_port}"

    def url(self, site: str) -> str:
        return f"{self.base_url}/{site}/"

    def host_url(self, host: str, site: str) -> str:
        """The page under another host name, e.g. "shop-7.localhost" (Chromium: *.localhost is loopback)."""
        return f"http://{host}:{self.port}/{site}/"

    @property
    def slow_seconds(self) -> float:
        """How long the `slow` site waits after recording a post before it answers."""
        return self._state.slow_seconds

    @slow_seconds.setter
    def slow_seconds(self, seconds: float) -> None:
        self._state.slow_seconds = seconds

    @property
    def submissions(self) -> list[Submission]:
        return self._state.submissions()

    def submissions_for(self, site: str) -> list[Submission]:
        return [sub for sub in self._state.submissions() if sub.site == site]

    def clear(self) -> None:
        self._state.clear()


@contextmanager
def serve_farm(host: str = "127.0.0.1", port: int = 0, frame_port: int = 0) -> Iterator[RunningFarm]:
    """Start both servers (ephemeral ports when 0), wait until they listen, yield, then shut them down."""
    state = _FarmState()
    sockets = [_bind(host, port), _bind(host, frame_port)]
    farm = RunningFarm(
        state, host=host, port=sockets[0].getsockname()[1], frame_port=sockets[1].getsockname()[1]
    )
    state.frame_base_url = farm.frame_base_url
    servers = [
        _ServerThread(_make_site_app(state), sockets[0], "farm-sites"),
        _ServerThread(_make_frame_app(state), sockets[1], "farm-frames"),
    ]
    started: list[_ServerThread] = []
    try:
        for server in servers:
            server.start()
            started.append(server)
        yield farm
    finally:
        state.stopping.set()
        for server in started:
            server.stop()
        for sock in sockets:
            sock.close()


def main() -> None:
    """Serve the farm in the foreground until Ctrl-C: `python -m audit.demo.farm --port 8000`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--frame-port", type=int, default=None, help="the iframe origin's port (default: port + 1)"
    )
    args = parser.parse_args()
    frame_port = args.port + 1 if args.frame_port is None and args.port else (args.frame_port or 0)
    with serve_farm(args.host, args.port, frame_port) as farm:
        sys.stdout.write(
            f"Sites:        {farm.base_url}/\nIframe forms: {farm.frame_base_url}/\nCtrl-C stops.\n"
        )
        sys.stdout.flush()
        with suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
