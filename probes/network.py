"""The form's own request: a context-level log of requests (iframe traffic included) and the match rule.

Listeners sit on the context, not the page, so a form inside a cross-origin iframe is seen too. Only requests
made after the click are candidates, and only their bodies are read.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import BrowserContext, Request, Response
from playwright.async_api import Error as PlaywrightError

_SUBMIT_TYPES = frozenset({"document", "xhr", "fetch"})
_BODY_LIMIT = 4000


@dataclass(slots=True)
class RequestRecord:
    method: str
    url: str
    resource_type: str
    frame_url: str
    seen_at: float  # monotonic
    after_click: bool
    post_data: str | None = None
    status: int | None = None
    body: str | None = None
    failure: str | None = None
    start_time_ms: float | None = None  # request.timing startTime: ms since the epoch
    redirected_to: str | None = None

    @property
    def started_at(self) -> datetime | None:
        if self.start_time_ms is None or self.start_time_ms <= 0:
            return None
        return datetime.fromtimestamp(self.start_time_ms / 1000, UTC)

    def json_body(self) -> dict[str, Any] | None:
        if not self.body:
            return None
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "type": self.resource_type,
            "frame_url": self.frame_url,
            "after_click": self.after_click,
            "status": self.status,
            "failure": self.failure,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "body_excerpt": (self.body or "")[:500] or None,
        }


class NetworkLog:
    """Records requests for the evidence and finds the form's submission among them."""

    def __init__(self, context: BrowserContext) -> None:
        self.records: list[RequestRecord] = []
        self._by_request: dict[int, RequestRecord] = {}
        self._armed_at: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        context.on("request", self._on_request)
        context.on("response", self._on_response)
        context.on("requestfailed", self._on_failed)

    def arm(self) -> None:
        """From now on requests are submission candidates (called just before the click)."""
        self._armed_at = time.monotonic()

    def _on_request(self, request: Request) -> None:
        try:
            frame_url = request.frame.url
        except PlaywrightError:
            frame_url = ""  # service-worker or detached-frame requests have no usable frame
        record = RequestRecord(
            method=request.method,
            url=request.url,
            resource_type=request.resource_type,
            frame_url=frame_url,
            seen_at=time.monotonic(),
            after_click=self._armed_at is not None,
        )
        if record.after_click and request.method != "GET":
            record.post_data = (request.post_data or "")[:_BODY_LIMIT]
        if len(self.records) < 2000:
            self.records.append(record)
        self._by_request[id(request)] = record

    def _on_response(self, response: Response) -> None:
        record = self._by_request.get(id(response.request))
        if record is None:
            return
        record.status = response.status
        timing = response.request.timing
        start = timing.get("startTime") if isinstance(timing, dict) else None
        record.start_time_ms = float(start) if isinstance(start, int | float) else None
        if 300 <= response.status < 400:
            record.redirected_to = response.headers.get("location")
        if record.after_click and record.method != "GET" and record.resource_type in _SUBMIT_TYPES:
            task = asyncio.ensure_future(self._read_body(record, response))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _read_body(self, record: RequestRecord, response: Response) -> None:
        try:
            record.body = (await response.text())[:_BODY_LIMIT]
        except PlaywrightError:
            record.body = None  # redirects and aborted loads have no body

    def _on_failed(self, request: Request) -> None:
        record = self._by_request.get(id(request))
        if record is not None:
            record.failure = request.failure or "failed"

    async def settle(self) -> None:
        """Let pending body reads finish (they are short; the context may close under them)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=3)

    def submission(
        self, *, action_url: str, frame_url: str, response_url: str | None
    ) -> RequestRecord | None:
        """The form's POST/XHR after the click: by configured URL, then form action, then frame, then any."""
        candidates = [
            r
            for r in self.records
            if r.after_click and r.method != "GET" and r.resource_type in _SUBMIT_TYPES
        ]
        if response_url:
            return next((r for r in candidates if response_url in r.url), None)

        def strip(url: str) -> str:
            parts = urlsplit(url)
            return f"{parts.scheme}://{parts.netloc}{parts.path}"

        action = strip(action_url) if action_url else ""
        for rule in (
            lambda r: bool(action) and strip(r.url) == action,
            lambda r: r.frame_url == frame_url and r.resource_type == "document",
            lambda r: r.frame_url == frame_url,
            lambda r: True,
        ):
            found = next((r for r in candidates if rule(r)), None)
            if found is not None:
                return found
        return None

    def submissions_count(self) -> int:
        return sum(
            1
            for r in self.records
            if r.after_click and r.method != "GET" and r.resource_type in _SUBMIT_TYPES
        )
