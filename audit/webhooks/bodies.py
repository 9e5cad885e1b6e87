"""Reading a request body at a bounded cost while its sender may still be a stranger (issue 11, part 3).

- `BodySlots`: at most N bodies are read at once; one more request waits a few seconds for a slot, then is
  answered 503 with Retry-After (`Busy`), without a byte of its body read.
- `spooled_body`: the body streamed into one temporary file (in memory up to `SPOOL_MEMORY_BYTES`, then on
  disk in the data directory), counted against the size limit and the time limit, each chunk shown to an
  observer (the raw endpoint's HMAC) as it arrives.
- `spooled_form`: a multipart or urlencoded form parsed as it streams, every part's bytes into that one
  temporary file. The few small fields a caller names (Mailgun's signature) are readable as soon as they
  arrive, so a forged post can be refused before the rest; all parts are read into memory only when the
  caller asks (`SpooledForm.fields`), after authenticating.

Why not Starlette's own `Request.form()`: it keeps every part without a file name in memory (Mailgun posts
`body-mime`, up to 25 MB, as such a part) and gives no way to look at a field before the whole form is in.
The parser underneath is the same (python-multipart); only what is done with each part differs.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote_to_bytes

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, QuerystringParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from audit.webhooks.mime import Attachment
from audit.webhooks.providers import BadPayload, FormFields

SPOOL_MEMORY_BYTES = 1024 * 1024  # per request, for all its parts together; past it the spool is on disk
SMALL_FIELD_BYTES = 4096  # a field the caller wants early (a signature, a timestamp) is at most this long
MAX_FORM_FIELDS = 1000
MAX_FORM_FILES = 1000  # attachments, when a provider posts parsed parts; the body limit bounds them anyway
MAX_PART_HEADERS = 16
MAX_PART_HEADER_BYTES = 8192
MAX_FIELD_NAME_BYTES = 1024
SPOOL_FOLDER = "incoming"  # under the data directory: /tmp may be a tmpfs, i.e. memory after all


class BodyTooLarge(Exception):
    """Raised while reading a request body that passes the limit."""


class BodyTooSlow(Exception):
    """The body did not arrive within the time limit (a slow sender holding a slot)."""


class Busy(Exception):
    """Every body slot is taken: answered 503 with Retry-After, the body left unread."""


class BodySlots:
    """At most `limit` request bodies in flight at once, across every webhook endpoint.

    A request that finds every slot taken waits up to `wait_s` for one (a burst of small deliveries is
    served, not refused), with at most `max_waiting` waiting; past either it is `Busy`. A waiting request
    has read nothing of its body: uvicorn holds at most 64 KB of it before it stops reading the socket.
    """

    def __init__(self, limit: int, *, wait_s: float, max_waiting: int) -> None:
        if limit < 1:
            raise ValueError("max_bodies_in_flight must be at least 1")
        self.limit = limit
        self.wait_s = wait_s
        self.max_waiting = max_waiting
        self.in_use = 0
        self.waiting = 0
        self._free = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def taken(self) -> AsyncIterator[None]:
        if self._free.locked():
            if self.waiting >= self.max_waiting or self.wait_s <= 0:
                raise Busy
            self.waiting += 1
            try:
                await asyncio.wait_for(self._free.acquire(), self.wait_s)
            except TimeoutError as ex:
                raise Busy from ex
            finally:
                self.waiting -= 1
        else:
            await self._free.acquire()  # free: returns at once
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1
            self._free.release()


class Spool:
    """One request's bytes, appended in order; in memory up to `SPOOL_MEMORY_BYTES`, then an unnamed file."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        # An unnamed temporary file (O_TMPFILE or unlinked at once): nothing is left behind by a crash.
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by close()
            max_size=SPOOL_MEMORY_BYTES, dir=str(directory)
        )
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        # Written from the event loop: a chunk is at most uvicorn's read size (64 KB) and goes to the page
        # cache, which costs less than handing it to a thread.
        self._file.write(data)
        self.size += len(data)

    def read(self, offset: int = 0, length: int | None = None) -> bytes:
        self._file.seek(offset)
        data = self._file.read(self.size - offset if length is None else length)
        self._file.seek(0, 2)
        return data

    def close(self) -> None:
        self._file.close()


async def _chunks(request: Request, limit: int) -> AsyncIterator[bytes]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge
        if chunk:
            yield chunk


@asynccontextmanager
async def spooled_body(
    request: Request,
    *,
    limit: int,
    timeout_s: float,
    directory: Path,
    observe: Callable[[bytes], None] | None = None,
) -> AsyncIterator[Spool]:
    """The whole body in a `Spool` (closed when the block ends); `observe` sees each chunk as it arrives."""
    spool = Spool(directory)
    try:
        try:
            async with asyncio.timeout(timeout_s):
                async for chunk in _chunks(request, limit):
                    if observe is not None:
                        observe(chunk)
                    spool.write(chunk)
        except TimeoutError as ex:
            raise BodyTooSlow from ex
        except ClientDisconnect as ex:
            raise BadPayload("the client went away before the body was complete") from ex
        yield spool
    finally:
        spool.close()


@dataclass(frozen=True, slots=True)
class _Part:
    name: str
    filename: str | None
    content_type: str | None
    offset: int
    length: int
    encoded: bool  # urlencoded: the spool holds the value still percent-encoded


def _text(value: bytes) -> str:
    """A field name or file name: UTF-8 as browsers and providers send it, else latin-1 (lossless)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _form_decode(value: bytes) -> bytes:
    return unquote_to_bytes(value.replace(b"+", b" "))


class SpooledForm:
    """A form read to its end: `early` holds the wanted small fields, `fields()` reads every part."""

    def __init__(self, spool: Spool, wanted: frozenset[str]) -> None:
        self.spool = spool
        self.wanted = wanted
        self.parts: list[_Part] = []
        self.early: dict[str, bytes] = {}
        self._fields = 0
        self._files = 0
        self.ended = False

    def add(self, part: _Part, small: bytes | None) -> None:
        if part.filename is None:
            self._fields += 1
            if self._fields > MAX_FORM_FIELDS:
                raise BadPayload(f"more than {MAX_FORM_FIELDS} form fields")
        else:
            self._files += 1
            if self._files > MAX_FORM_FILES:
                raise BadPayload(f"more than {MAX_FORM_FILES} files in the form")
        self.parts.append(part)
        if small is not None and part.name not in self.early:
            self.early[part.name] = _form_decode(small) if part.encoded else small

    def fields(self) -> FormFields:
        """Every part's exact bytes, in memory: call it only once the sender is known."""
        values: dict[str, list[bytes]] = {}
        files: dict[str, list[Attachment]] = {}
        for part in self.parts:
            data = self.spool.read(part.offset, part.length)
            if part.encoded:
                data = _form_decode(data)
            if part.filename is None:
                values.setdefault(part.name, []).append(data)
            else:
                files.setdefault(part.name, []).append(Attachment(part.filename, part.content_type, data))
        return FormFields(values, files)


class _MultipartSink:
    """python-multipart's callbacks: part headers bounded, part data appended to the spool."""

    def __init__(self, form: SpooledForm) -> None:
        self.form = form
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._content_type: bytes | None = None
        self._name = ""
        self._filename: str | None = None
        self._offset = 0
        self._small: bytearray | None = None

    def on_part_begin(self) -> None:
        self._disposition, self._content_type = b"", None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        name = self._header_name.strip().lower()
        if name == b"content-disposition":
            self._disposition = self._header_value
        elif name == b"content-type":
            self._content_type = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        _disposition, options = parse_options_header(self._disposition)
        name = options.get(b"name")
        if name is None:
            raise BadPayload('a form part has no Content-Disposition "name"')
        self._name = _text(name)
        filename = options.get(b"filename")
        self._filename = None if filename is None else _text(filename)
        self._offset = self.form.spool.size
        wanted = self._filename is None and self._name in self.form.wanted
        self._small = bytearray() if wanted else None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = memoryview(data)[start:end]
        if self._small is not None:
            if len(self._small) + len(chunk) <= SMALL_FIELD_BYTES:
                self._small += chunk
            else:
                self._small = None  # too long for what the caller wanted early: it is not that field
        self.form.spool.write(chunk)

    def on_part_end(self) -> None:
        content_type = None if self._content_type is None else self._content_type.decode("latin-1").strip()
        part = _Part(
            self._name,
            self._filename,
            content_type,
            self._offset,
            self.form.spool.size - self._offset,
            encoded=False,
        )
        self.form.add(part, None if self._small is None else bytes(self._small))

    def on_end(self) -> None:
        self.form.ended = True


class _QuerystringSink:
    """The urlencoded form's callbacks: names bounded, values appended (still encoded) to the spool."""

    def __init__(self, form: SpooledForm) -> None:
        self.form = form
        self._name = bytearray()
        self._offset = 0
        self._small: bytearray | None = None

    def on_field_start(self) -> None:
        self._name = bytearray()
        self._offset = self.form.spool.size
        self._small = bytearray()

    def on_field_name(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]
        if len(self._name) > MAX_FIELD_NAME_BYTES:
            raise BadPayload(f"a form field name is longer than {MAX_FIELD_NAME_BYTES} bytes")

    def on_field_data(self, data: bytes, start: int, end: int) -> None:
        chunk = memoryview(data)[start:end]
        if self._small is not None:
            if len(self._small) + len(chunk) <= 3 * SMALL_FIELD_BYTES:  # percent-encoded: up to 3 bytes each
                self._small += chunk
            else:
                self._small = None
        self.form.spool.write(chunk)

    def on_field_end(self) -> None:
        name = _form_decode(bytes(self._name)).decode("latin-1")  # as parse_qsl(encoding="latin-1") did
        part = _Part(name, None, None, self._offset, self.form.spool.size - self._offset, encoded=True)
        wanted = self._small is not None and name in self.form.wanted
        self.form.add(part, bytes(self._small) if wanted and self._small is not None else None)

    def on_end(self) -> None:
        self.form.ended = True


def _parser(request: Request, form: SpooledForm) -> MultipartParser | QuerystringParser:
    content_type = request.headers.get("content-type", "")
    media_type, options = parse_options_header(content_type)
    if media_type == b"application/x-www-form-urlencoded":
        sink = _QuerystringSink(form)
        return QuerystringParser(
            {
                "on_field_start": sink.on_field_start,
                "on_field_name": sink.on_field_name,
                "on_field_data": sink.on_field_data,
                "on_field_end": sink.on_field_end,
                "on_end": sink.on_end,
            }
        )
    if media_type != b"multipart/form-data":
        raise BadPayload("expected a form post (multipart/form-data or application/x-www-form-urlencoded)")
    boundary = options.get(b"boundary")
    if not boundary or len(boundary) > 70:  # RFC 2046: 1 to 70 characters
        raise BadPayload("a multipart/form-data post without a valid boundary")
    parts = _MultipartSink(form)
    return MultipartParser(
        boundary,
        {
            "on_part_begin": parts.on_part_begin,
            "on_header_field": parts.on_header_field,
            "on_header_value": parts.on_header_value,
            "on_header_end": parts.on_header_end,
            "on_headers_finished": parts.on_headers_finished,
            "on_part_data": parts.on_part_data,
            "on_part_end": parts.on_part_end,
            "on_end": parts.on_end,
        },
        max_header_count=MAX_PART_HEADERS,
        max_header_size=MAX_PART_HEADER_BYTES,
    )


@asynccontextmanager
async def spooled_form(
    request: Request,
    *,
    limit: int,
    timeout_s: float,
    directory: Path,
    wanted: frozenset[str] = frozenset(),
    check: Callable[[Mapping[str, bytes]], object] | None = None,
) -> AsyncIterator[SpooledForm]:
    """The form read to its end (its spool closed when the block ends).

    `check` sees the `wanted` small fields whenever another of them has arrived, and may raise to stop
    reading there (Mailgun: a forged signature is refused before the message that follows it).
    """
    form = SpooledForm(Spool(directory), wanted)
    try:
        parser = _parser(request, form)
        try:
            async with asyncio.timeout(timeout_s):
                async for chunk in _chunks(request, limit):
                    seen = len(form.early)
                    parser.write(chunk)
                    if check is not None and len(form.early) > seen:
                        check(form.early)
            parser.finalize()
        except TimeoutError as ex:
            raise BodyTooSlow from ex
        except ClientDisconnect as ex:
            raise BadPayload("the client went away before the form was complete") from ex
        except FormParserError as ex:
            raise BadPayload(f"a malformed form: {ex}") from ex
        if not form.ended:
            raise BadPayload("the multipart form ends before its closing boundary")
        yield form
    finally:
        form.spool.close()
