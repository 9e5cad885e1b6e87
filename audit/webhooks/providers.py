"""What each provider posts, turned into one `Delivery`: the MIME bytes, the envelope, the provider's ids.

Pure functions of what arrived (no I/O), run after authentication. A payload we cannot read raises
`BadPayload` (answered 400); a message that is merely malformed MIME is no concern here: it is stored raw.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from audit.webhooks.mime import Attachment, clean_recipients, header_block, rebuild_message

MAX_EVENT_ID_CHARS = 255


class BadPayload(ValueError):
    """An authenticated request whose body is not what the provider sends (the message says what is wrong)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    provider: str  # "mailgun" | "sendgrid" | "postmark" | "raw"
    mime: bytes  # as posted, or rebuilt from parsed parts
    recipients: tuple[str, ...]  # the envelope recipients the provider reported
    event_id: str | None = None  # the provider's own id for this delivery (Postmark MessageID)
    replay_token: str | None = (
        None  # Mailgun's signed token, the raw post's signature: refused when seen twice
    )


@dataclass(frozen=True, slots=True)
class FormFields:
    """A form post with every value as the exact bytes sent (no charset guessing on raw MIME)."""

    values: Mapping[str, Sequence[bytes]]
    files: Mapping[str, Sequence[Attachment]] = field(default_factory=dict)

    def raw(self, name: str) -> bytes | None:
        if self.values.get(name):
            return self.values[name][0]
        if self.files.get(name):
            return self.files[name][0].data
        return None

    def text(self, name: str, charset: str = "utf-8") -> str | None:
        value = self.raw(name)
        if value is None:
            return None
        try:
            return value.decode(charset, "replace")
        except LookupError:
            return value.decode("utf-8", "replace")

    def attachments(self, prefix: str) -> list[Attachment]:
        def number(name: str) -> int:
            digits = name[len(prefix) :].lstrip("-")
            return int(digits) if digits.isdigit() else 0

        names = sorted((name for name in self.files if name.startswith(prefix)), key=number)
        return [attachment for name in names for attachment in self.files[name]]


def _json(text: str | None, what: str) -> Any:
    if text is None:
        return None
    return _loads(text, what)


def _loads(text: str | bytes, what: str) -> Any:
    """JSON, or `BadPayload`: invalid, or nested past the interpreter's recursion limit (RecursionError)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as ex:
        raise BadPayload(f"{what} is not valid JSON") from ex


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _event_id(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:MAX_EVENT_ID_CHARS]


def _not_empty(mime: bytes, provider: str) -> bytes:
    if not mime.strip():
        raise BadPayload(f"{provider}: the message is empty")
    return mime


def mailgun_delivery(fields: FormFields, *, token: str) -> Delivery:
    """A Mailgun route: `body-mime` when the route URL ends in `mime`, else the parsed fields, rebuilt."""
    recipients = clean_recipients(_strings(fields.text("recipient")))
    mime = fields.raw("body-mime")
    if mime is None:
        pairs = _json(fields.text("message-headers"), "message-headers")
        headers = [
            (p[0], p[1])
            for p in (pairs if isinstance(pairs, list) else [])
            if isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], str)
        ]
        if not headers and fields.raw("body-plain") is None and fields.raw("body-html") is None:
            raise BadPayload("mailgun: neither body-mime nor message-headers/body-plain/body-html")
        mime = rebuild_message(
            headers,
            text=fields.text("body-plain"),
            html=fields.text("body-html"),
            attachments=fields.attachments("attachment-"),
            rebuilt_from="mailgun parsed fields (route URL not ending in mime)",
        )
    return Delivery("mailgun", _not_empty(mime, "mailgun"), recipients, replay_token=token)


def sendgrid_delivery(fields: FormFields) -> Delivery:
    """SendGrid Inbound Parse: raw MIME in `email` ("POST the raw, full MIME message"), else parsed parts."""
    envelope = _json(fields.text("envelope"), "envelope")
    to = envelope.get("to") if isinstance(envelope, dict) else None
    recipients = clean_recipients(_strings(to))
    mime = fields.raw("email")
    if mime is None:
        charsets = _json(fields.text("charsets"), "charsets")
        charsets = charsets if isinstance(charsets, dict) else {}

        def decoded(name: str) -> str | None:
            charset = charsets.get(name)
            return fields.text(name, charset if isinstance(charset, str) and _known(charset) else "utf-8")

        headers_text = decoded("headers")
        if headers_text is None and fields.raw("text") is None and fields.raw("html") is None:
            raise BadPayload("sendgrid: neither email nor headers/text/html")
        info = _json(fields.text("attachment-info"), "attachment-info")
        mime = rebuild_message(
            header_block(headers_text or ""),
            text=decoded("text"),
            html=decoded("html"),
            attachments=_named_like(fields.attachments("attachment"), info),
            rebuilt_from="sendgrid parsed fields (raw MIME posting is off)",
        )
    return Delivery("sendgrid", _not_empty(mime, "sendgrid"), recipients)


def _known(charset: str) -> bool:
    try:
        codecs.lookup(charset)
    except LookupError:
        return False
    return True


def _named_like(attachments: list[Attachment], info: Any) -> list[Attachment]:
    """SendGrid describes each file in `attachment-info` ({"attachment1": {"filename", "type"}})."""
    if not isinstance(info, dict):
        return attachments
    described = [value for _key, value in sorted(info.items()) if isinstance(value, dict)]
    named = []
    for index, attachment in enumerate(attachments):
        about = described[index] if index < len(described) else {}
        filename = about.get("filename") if isinstance(about.get("filename"), str) else None
        kind = about.get("type") if isinstance(about.get("type"), str) else None
        named.append(
            Attachment(filename or attachment.filename, kind or attachment.content_type, attachment.data)
        )
    return named


def postmark_delivery(body: bytes) -> Delivery:
    """Postmark inbound JSON: `RawEmail` when "include raw email" is on, else the message rebuilt."""
    payload = _loads(body, "postmark: the body")
    if not isinstance(payload, dict):
        raise BadPayload("postmark: the body is not a JSON object")
    recipients = clean_recipients(_strings(payload.get("OriginalRecipient")))
    event_id = _event_id(payload.get("MessageID"))
    raw_email = payload.get("RawEmail")
    if isinstance(raw_email, str) and raw_email.strip():
        mime = raw_email.encode("utf-8", "replace")
    else:
        mime = rebuild_message(
            _postmark_headers(payload),
            text=payload.get("TextBody") if isinstance(payload.get("TextBody"), str) else None,
            html=payload.get("HtmlBody") if isinstance(payload.get("HtmlBody"), str) else None,
            attachments=_postmark_attachments(payload.get("Attachments")),
            rebuilt_from="postmark JSON (RawEmail not included)",
        )
    return Delivery("postmark", _not_empty(mime, "postmark"), recipients, event_id=event_id)


def _postmark_headers(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    listed = payload.get("Headers")
    headers = [
        (item["Name"], item["Value"])
        for item in (listed if isinstance(listed, list) else [])
        if isinstance(item, dict) and isinstance(item.get("Name"), str) and isinstance(item.get("Value"), str)
    ]
    present = {name.strip().lower() for name, _value in headers}
    for name, key in (
        ("From", "From"),
        ("To", "To"),
        ("Cc", "Cc"),
        ("Reply-To", "ReplyTo"),
        ("Subject", "Subject"),
        ("Date", "Date"),
    ):
        value = payload.get(key)
        if isinstance(value, str) and value and name.lower() not in present:
            headers.append((name, value))
    event_id = _event_id(payload.get("MessageID"))
    if event_id is not None:
        headers.append(("X-Postmark-MessageID", event_id))
    return headers


def _postmark_attachments(items: Any) -> list[Attachment]:
    attachments = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("Content"), str):
            continue
        name = item.get("Name") if isinstance(item.get("Name"), str) else None
        kind = item.get("ContentType") if isinstance(item.get("ContentType"), str) else None
        try:
            data = base64.b64decode(item["Content"])
        except (binascii.Error, ValueError):  # keep what came, undecoded, rather than drop it
            data, kind = item["Content"].encode("utf-8", "replace"), "application/octet-stream"
        attachments.append(Attachment(name, kind, data))
    return attachments


def raw_delivery(body: bytes, recipient_header: str | None, *, signature: str) -> Delivery:
    """The generic endpoint: the body is the message; `X-Audit-Recipient` (optional) is the envelope.

    Its signature is its replay token: the same signed post twice is refused, within the timestamp window.
    """
    recipients = clean_recipients([recipient_header] if recipient_header else [])
    return Delivery("raw", _not_empty(body, "raw"), recipients, replay_token=signature)
