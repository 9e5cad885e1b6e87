"""The web UI's pages: server-rendered HTML, forms that POST and redirect (303), no JavaScript.

Every page here needs a signed-in user (`User`); every POST needs the session's CSRF token (`Csrf`). Database
work runs in sync views (FastAPI runs them in its thread pool), each in one short session. /login and /logout
are `audit.web.login`.
"""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from audit.collect.manual import CHANNELS, add_manual_reply, assign
from audit.errors import AuditError, WaveError
from audit.models import Message, Probe, Wave
from audit.reporting.render import template_file
from audit.web import queries
from audit.web.context import Csrf, NotFound, User, Web, WebContext, flash, render, see_other
from audit.web.grades import render_report, wave_grades

MAX_SERVED_PATH_CHARS = 1024
SERVED_FOLDERS = ("evidence", "raw")  # of the data directory; never the database or anything else
INLINE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
TEXT_TYPES = {".json": "application/json", ".eml": "text/plain; charset=utf-8", ".txt": "text/plain"}
# Served files and sanitised reply HTML may hold anything: no script, no plugin, no navigation, ever.
SANDBOX_CSP = (
    "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
)
REPORT_CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; font-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
# A row id in a URL: at most what the id columns hold (INTEGER, 32-bit on PostgreSQL), else the request is
# refused (404 for a GET, 400 for a POST) before it reaches the database, which fails on a larger number
# (PostgreSQL: "integer out of range"; SQLite past 64 bits: OverflowError), a 500.
MAX_ID = 2**31 - 1
MAX_PAGE = 1_000_000
RowId = Annotated[int, PathParam(ge=1, le=MAX_ID)]

router = APIRouter()


def served_path(data_dir: Path, relative: str) -> Path | None:
    """The file `relative` names inside the data directory's evidence or raw folder, or None.

    Refuses `..`, absolute paths, hidden names and symlinks that lead out (checked on the resolved path).
    """
    if "\x00" in relative or len(relative) > MAX_SERVED_PATH_CHARS:  # the OS refuses them: a 500 otherwise
        return None
    parts = PurePosixPath(relative).parts
    if not parts or parts[0] not in SERVED_FOLDERS or PurePosixPath(relative).is_absolute():
        return None
    if any(part in ("..", ".", "") or part.startswith(".") or "\\" in part for part in parts):
        return None
    try:
        root = (data_dir / parts[0]).resolve()
        candidate = (data_dir / Path(*parts)).resolve()
        if not candidate.is_relative_to(root) or not candidate.is_file():
            return None
    # A name too long for the file system (OSError), a loop of symlinks (RuntimeError from resolve() on
    # Python 3.11, OSError on later ones): no file to serve, not a 500.
    except (OSError, ValueError, RuntimeError):
        return None
    return candidate


def probe_number_problem(reference: str) -> str | None:
    """Why a typed inquiry reference that is all digits cannot be a probe number, or None.

    `find_probe` reads an all-digit reference as a probe id: one too large for the id column (or a digit
    `int()` does not take, such as "²") would fail in the database or in `int()` with a 500.
    """
    text = reference.strip()
    if text.isdigit() and (not text.isascii() or len(text) > 10 or int(text) > MAX_ID):
        return f"there is no probe number {text[:20]}"
    return None


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return see_other("/waves")


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    return Response(status_code=204)  # no icon, and no 404 in the browser console for lack of one


@router.get("/static/web.css", include_in_schema=False)
def stylesheet() -> Response:
    css = template_file("web/web.css").read_bytes()
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


# --- waves ----------------------------------------------------------------------------------------


@router.get("/waves")
def waves(request: Request, web: Web, user: User) -> HTMLResponse:
    with Session(web.engine) as session:
        rows = queries.waves_progress(session)
    health = web.scheduler.health() if web.scheduler is not None else None
    return render(web, request, "waves.html.j2", {"waves": rows, "scheduler": health}, user=user)


@router.get("/waves/{wave_id}")
def wave(
    request: Request,
    web: Web,
    user: User,
    wave_id: RowId,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> HTMLResponse:
    with Session(web.engine) as session:
        found = session.get(Wave, wave_id)
        if found is None:
            raise NotFound
        probes, pages = queries.wave_page(session, wave_id, data_dir=web.settings.data_dir, page=page)
        grades = wave_grades(session, web.config, wave_id, as_of=datetime.now(UTC))
    context = {"wave": found, "probes": probes, "pages": pages, "current": page, "grades": grades}
    return render(web, request, "wave.html.j2", context, user=user)


# --- inbox ----------------------------------------------------------------------------------------


@router.get("/inbox")
def inbox(request: Request, web: Web, user: User) -> HTMLResponse:
    with Session(web.engine) as session:
        context = {
            "messages": queries.unmatched_messages(session),
            "review": queries.messages_to_review(session),
            "choices": queries.probe_choices(session),
        }
    return render(web, request, "inbox.html.j2", context, user=user)


@router.post("/inbox/{message_id}/assign")
def inbox_assign(
    request: Request,
    web: Web,
    user: User,
    _csrf: Csrf,
    message_id: RowId,
    probe: Annotated[str, Form()] = "",
    reference: Annotated[str, Form()] = "",
) -> RedirectResponse:
    chosen = reference.strip() or probe.strip()
    if not chosen:
        flash(request, "error", f"Message {message_id}: choose an inquiry or type its reference code.")
        return see_other("/inbox")
    if problem := probe_number_problem(chosen):
        flash(request, "error", problem)
        return see_other("/inbox")
    try:
        with Session(web.engine) as session:
            message = assign(session, message_id, chosen, data_dir=web.settings.data_dir)
            session.commit()
            target = session.get(Probe, message.probe_id)
            assert target is not None
            text = f"Message {message_id} answers {target.company_id} {target.ref_code} ({message.kind})."
    except AuditError as ex:
        flash(request, "error", str(ex))
    else:
        flash(request, "ok", text)
    return see_other("/inbox")


@router.get("/messages/{message_id}/html")
def message_html(web: Web, user: User, message_id: RowId) -> Response:
    with Session(web.engine) as session:
        message = session.get(Message, message_id)
    if message is None or not message.html_sanitized:
        raise NotFound
    # Sanitised by nh3 when parsed, and still shown sandboxed: the page can run nothing and reach nothing.
    headers = {"Content-Security-Policy": SANDBOX_CSP, "X-Frame-Options": "SAMEORIGIN"}
    return HTMLResponse(message.html_sanitized, headers=headers)


# --- manual replies -------------------------------------------------------------------------------


def reply_form(
    web: WebContext, request: Request, user: str, values: dict[str, str], error: str | None, status: int = 200
) -> HTMLResponse:
    with Session(web.engine) as session:
        choices = queries.probe_choices(session)
    context = {
        "choices": choices,
        "channels": CHANNELS,
        "values": values,
        "error": error,
        "timezone": web.config.audit.timezone,
    }
    return render(web, request, "reply_new.html.j2", context, status=status, user=user)


@router.get("/replies/new")
def reply_new(request: Request, web: Web, user: User, probe: str = "") -> HTMLResponse:
    now = datetime.now(web.zone).strftime("%Y-%m-%dT%H:%M")
    return reply_form(web, request, user, {"probe": probe, "channel": "phone", "at": now, "note": ""}, None)


@router.post("/replies")
def reply_add(
    request: Request,
    web: Web,
    user: User,
    _csrf: Csrf,
    probe: Annotated[str, Form()] = "",
    channel: Annotated[str, Form()] = "phone",
    at: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    values = {"probe": probe, "channel": channel, "at": at, "note": note}
    try:
        when = datetime.fromisoformat(at.strip())
    except ValueError:
        return reply_form(
            web, request, user, values, "Give the time the reply came, e.g. 2026-11-26 14:05.", 400
        )
    if when.tzinfo is None:  # the form's datetime-local field: the audit's time zone
        when = when.replace(tzinfo=web.zone)
    if not probe.strip():
        return reply_form(web, request, user, values, "Choose the inquiry this reply answers.", 400)
    if problem := probe_number_problem(probe):
        return reply_form(web, request, user, values, problem, 400)
    try:
        with Session(web.engine) as session:
            message = add_manual_reply(session, reference=probe, channel=channel, at=when, note=note)
            session.commit()
            answered = session.get(Probe, message.probe_id)
            assert answered is not None
            wave_id, company_id = answered.wave_id, answered.company_id
    except AuditError as ex:
        return reply_form(web, request, user, values, str(ex), 400)
    flash(request, "ok", f"Recorded a {channel} reply from {company_id} as message {message.id}.")
    return see_other(f"/waves/{wave_id}#company-{quote(company_id)}")


# --- reports --------------------------------------------------------------------------------------


@router.get("/reports")
def reports(request: Request, web: Web, user: User) -> HTMLResponse:
    with Session(web.engine) as session:
        rows = queries.waves_progress(session)
    context = {"waves": rows, "language": web.config.audit.language}
    return render(web, request, "reports.html.j2", context, user=user)


@router.get("/reports/{wave_id}")
def report(request: Request, user: User, wave_id: RowId) -> RedirectResponse:
    query = f"?{request.url.query}" if request.url.query else ""
    return see_other(f"/files/reports/wave-{wave_id}.html{query}")


@router.get("/files/reports/wave-{wave_id}.html")
def report_page(
    request: Request,
    web: Web,
    user: User,
    wave_id: RowId,
    lang: Annotated[str | None, Query(pattern="^(en|he)$")] = None,
    as_of: Annotated[str, Query(pattern="^(deadline|now)$")] = "deadline",
) -> Response:
    """Rendered on each visit; its address sits beside the evidence, so the report's links resolve."""
    moment = datetime.now(UTC) if as_of == "now" else None  # None: each inquiry's deadline
    try:
        with Session(web.engine) as session:
            html = render_report(
                session,
                web.config,
                wave_id,
                as_of=moment,
                lang=lang or web.config.audit.language,
                data_dir=web.settings.data_dir,
            )
    except WaveError as ex:
        raise NotFound from ex
    except AuditError as ex:
        context = {"title": "No report", "text": str(ex)}
        return render(web, request, "error.html.j2", context, status=400, user=user)
    return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_CSP})


# --- evidence files -------------------------------------------------------------------------------


@router.get("/files/{relative:path}")
def files(web: Web, user: User, relative: str) -> FileResponse:
    path = served_path(web.settings.data_dir, relative)
    if path is None:
        raise NotFound
    suffix = path.suffix.lower()
    headers = {"Content-Security-Policy": SANDBOX_CSP, "Cache-Control": "private, max-age=300"}
    if suffix in INLINE_TYPES:
        return FileResponse(path, media_type=INLINE_TYPES[suffix], headers=headers)
    if suffix in TEXT_TYPES:
        return FileResponse(path, media_type=TEXT_TYPES[suffix], headers=headers)
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=guessed, filename=path.name, headers=headers)
