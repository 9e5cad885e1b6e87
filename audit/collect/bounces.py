"""Is this reply a bounce? Delivery-status reports, the mail servers' own formats, and our fallbacks.

A bounce means our inquiry never reached anyone, so taking one for a human reply makes a silent company look
responsive. Order of evidence, the first that fires names the rule (flufl.bounce's finding is added to it):

1. an RFC 3464 report (multipart/report; report-type=delivery-status), "failed" and "delayed" alike;
2. X-Failed-Recipients (Exim, Gmail);
3. a sender that is a mail system: MAILER-DAEMON, postmaster, "Mail Delivery Subsystem" and the like;
4. flufl.bounce (its detectors for DSNs, Postfix, qmail, Exim, Exchange, GroupWise, Yahoo, SMTP32 and more,
   collected by GNU Mailman from real mail since 2000): any permanent or temporary failure it finds;
5. a null return path with a delivery-status report part, an attached original or a non-delivery subject;
6. what flufl.bounce does not know: body phrases of the common servers (Postfix, qmail, Gmail, Exchange and
   Office 365 in English and Hebrew) outside quoted lines, or a non-delivery subject in one of several
   languages together with an attached original message.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from collections.abc import Iterator
from email.message import Message

from flufl.bounce import all_failures

from audit.collect.parse import ParsedMessage, bounded_mime

# --- keyword lists (compared case-insensitively as substrings of bidi-stripped, space-folded text) ----------

BOUNCE_LOCAL_PARTS = ("mailer-daemon", "mailer_daemon", "postmaster", "mail-daemon")  # whole local part
# Mail servers' own accounts that send bounces but also other notices: supporting evidence only.
MAIL_SERVER_LOCAL_PARTS = ("mdaemon", "mail.delivery.system", "mailerdaemon", "bounce", "bounces", "ndr")
BOUNCE_DISPLAY_NAMES = (
    "mail delivery subsystem", "mail delivery system", "mailer-daemon", "mail delivery service",
    "mail administrator", "postmaster", "mail system", "system administrator",
)  # fmt: skip  # the whole display name of From (Gmail, Exim, Office 365, old Exchange)
BOUNCE_SUBJECTS = (
    "undeliverable", "undelivered mail", "delivery status notification", "delivery failure",
    "mail delivery failed", "delivery has failed", "returned mail", "failure notice",
    "could not be delivered", "non-delivery", "nondeliverable", "delivery notification: delivery has failed",
    "mail delivery failure", "message not delivered", "undelivered message", "mail error",
    "delivery warning", "user unknown", "delivery notification", "unable to deliver", "permanent error",
    "delivery report", "warning: could not send message", "mail system error",
    # German, French, Spanish, Italian, Portuguese, Dutch, Russian
    "unzustellbar", "nicht zustellbar", "übermittlungsfehler", "non remis", "échec de la remise",
    "echec de la remise", "no se puede entregar", "no entregado", "error de entrega", "mancato recapito",
    "impossibile recapitare", "não foi possível entregar", "não entregue", "onbestelbaar",
    "niet bezorgd", "не доставлено", "недоставлено", "недоставленное",
    # Hebrew (Outlook and Exchange in Hebrew)
    "לא ניתן למסור", "לא ניתן למסירה", "לא נמסר", "החזרת דואר", "כשל במסירה", "המסירה נכשלה",
)  # fmt: skip
# The opening words of the servers' own non-delivery texts: no person writes these.
BOUNCE_BODY_PHRASES = (
    "this is the mail system at host",  # Postfix
    "hi. this is the qmail-send program",  # qmail
    "delivery to the following recipient failed permanently",  # Gmail
    "delivery to the following recipients failed permanently",
    "delivery to the following recipient has been delayed",
    "your message wasn't delivered",  # Office 365
    "your message couldn't be delivered",
    "delivery has failed to these recipients or groups",  # Exchange 2007-2019
    "this message was created automatically by mail delivery software",  # Exim
    "a message that you sent could not be delivered to one or more of its recipients",
    "the original message was received at",  # Sendmail
    "----- the following addresses had permanent fatal errors -----",
    "i'm afraid i wasn't able to deliver your message",  # qmail variants
    "your mail cannot be delivered to the following address",
    "message you sent will not be delivered",
    "this is an automatically generated delivery status notification",
    "delivery status notification (failure)",
    # Exchange and Office 365 in Hebrew: "delivery to these recipients or groups failed", "your message was
    # not delivered", "could not be delivered to"
    "המסירה לנמענים או לקבוצות אלה נכשלה", "המסירה לנמענים אלה או לקבוצות אלה נכשלה", "ההודעה שלך לא נמסרה",
    "לא ניתן היה למסור את ההודעה", "לא ניתן היה לשלוח את ההודעה",
)  # fmt: skip
# "The following message to <x@y> was undeliverable." (Office 365 and hMailServer put the address between)
_TO_WAS_UNDELIVERABLE = re.compile(r"the following message to \S+ was undeliverable")
DSN_PART_TYPES = ("message/delivery-status", "message/global-delivery-status")
ORIGINAL_PART_TYPES = ("message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers")
BODY_SCAN_CHARS = 6000  # a server's text opens the message; phrases far down are quotes or attachments

_BIDI = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACE = re.compile(r"\s+")
_ACTION = re.compile(r"^\s*action\s*:\s*([a-z-]+)", re.IGNORECASE | re.MULTILINE)

log = logging.getLogger(__name__)


def mime_tree(raw: bytes | None, parsed: ParsedMessage) -> Message:
    """The message as the stdlib parses it; without the raw bytes, one text part rebuilt from the parse."""
    if raw is not None:  # within the parse limits (issue 11), the cuts already recorded by parse_message
        return bounded_mime(raw, [])
    rebuilt = Message(policy=email.policy.compat32)
    for name, values in parsed.headers.items():
        if name in ("content-type", "content-transfer-encoding", "mime-version"):
            continue
        for value in values:
            rebuilt[name] = value
    rebuilt.set_payload(parsed.text)  # a str: flufl.bounce reads lines of undecoded payloads
    return rebuilt


def bounce_evidence(parsed: ParsedMessage, mime: Message) -> str | None:
    """The rule that makes this a bounce, with flufl.bounce's finding appended; None if it is none."""
    part_types = {part.get_content_type() for part in _parts(mime)}
    flufl = _flufl_finding(mime)
    own = _own_evidence(parsed, mime, part_types)
    if own is not None:
        return f"{own}; {flufl}" if flufl else own
    if flufl and (support := _flufl_support(parsed, part_types)):
        return f"{flufl}; {support}"
    return _fallback_evidence(parsed, part_types)


def _flufl_support(parsed: ParsedMessage, part_types: set[str]) -> str | None:
    """What makes flufl.bounce's finding believable: its last-resort heuristics also fire on people's replies
    that quote a header block with addresses in it (talon's comcast.eml, tests/test_classify_corpora.py)."""
    if parsed.subject and _find(_fold(parsed.subject), BOUNCE_SUBJECTS):
        return f"subject '{_clip(parsed.subject)}'"
    if parsed.return_path == "":
        return "null Return-Path <>"
    for address in (parsed.return_path, parsed.from_address):
        if address and address.split("@", 1)[0] in (*BOUNCE_LOCAL_PARTS, *MAIL_SERVER_LOCAL_PARTS):
            return f"sent by {address}"
    if found := part_types.intersection((*DSN_PART_TYPES, *ORIGINAL_PART_TYPES)):
        return f"a {min(found)} part"
    return None


def _own_evidence(parsed: ParsedMessage, mime: Message, part_types: set[str]) -> str | None:
    if parsed.content_type == "multipart/report" and parsed.report_type == "delivery-status":
        actions = _dsn_actions(mime)
        return "multipart/report delivery-status" + (f" (action: {', '.join(actions)})" if actions else "")
    failed = _header(parsed, "X-Failed-Recipients")
    if failed is not None:
        return f"X-Failed-Recipients: {_clip(failed)}"
    local = (parsed.from_address or "").split("@", 1)[0]
    if local in BOUNCE_LOCAL_PARTS:
        return f"From {parsed.from_address}"
    name = _display_name(_header(parsed, "From") or "")
    if name in BOUNCE_DISPLAY_NAMES:
        return f"From '{name}'"
    return None


def _fallback_evidence(parsed: ParsedMessage, part_types: set[str]) -> str | None:
    subject = _find(_fold(parsed.subject or ""), BOUNCE_SUBJECTS)
    if parsed.return_path == "":
        if dsn := part_types.intersection(DSN_PART_TYPES):
            return f"null Return-Path <> and a {min(dsn)} part"
        if subject:
            return f"null Return-Path <> and subject '{_clip(parsed.subject or '')}'"
        if original := part_types.intersection(ORIGINAL_PART_TYPES):
            return f"null Return-Path <> and a {min(original)} part"
    phrase = _body_phrase(parsed.text)
    if phrase:
        return f"body '{phrase}'"
    if subject and (original := part_types.intersection((*ORIGINAL_PART_TYPES, *DSN_PART_TYPES))):
        return f"subject '{_clip(parsed.subject or '')}' and a {min(original)} part"
    return None


def _flufl_finding(mime: Message) -> str | None:
    try:
        temporary, permanent = all_failures(mime)
    # flufl.bounce's heuristics read untrusted bytes with regular expressions and decoders of their own; a
    # detector that trips over a message must cost that check, never the collector.
    except Exception as ex:
        log.info("flufl.bounce failed on a message: %s: %.120s", type(ex).__name__, ex)
        return None
    for label, found in (("permanent", permanent), ("temporary", temporary)):
        if found:
            addresses = sorted(address.decode("utf-8", "replace") for address in found)
            return f"flufl.bounce {label} failure: {_clip(', '.join(addresses))}"
    return None


def _dsn_actions(mime: Message) -> list[str]:
    """The Action fields of the delivery-status part, e.g. ["failed"] or ["delayed"]."""
    actions: list[str] = []
    for part in _parts(mime):
        if part.get_content_type() not in DSN_PART_TYPES:
            continue
        payload = part.get_payload()
        blocks = payload if isinstance(payload, list) else [payload]
        for block in blocks:
            text = block.as_string() if isinstance(block, Message) else str(block)
            actions.extend(match.group(1).lower() for match in _ACTION.finditer(text))
    return list(dict.fromkeys(actions))


def _body_phrase(text: str) -> str | None:
    lines = text[:BODY_SCAN_CHARS].splitlines()
    folded = _fold("\n".join(line for line in lines if not line.lstrip().startswith(">")))
    if match := _TO_WAS_UNDELIVERABLE.search(folded):
        return _clip(match.group())
    return _find(folded, BOUNCE_BODY_PHRASES)


def _parts(mime: Message) -> Iterator[Message]:
    """Every part depth-first, without recursion (a bounce may nest the original deeply)."""
    stack = [mime]
    while stack:
        part = stack.pop()
        yield part
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend(child for child in reversed(payload) if isinstance(child, Message))


def _display_name(from_header: str) -> str:
    name = from_header.split("<", 1)[0] if "<" in from_header else ""
    return _fold(name.strip().strip('"').strip("'"))


def _header(parsed: ParsedMessage, name: str) -> str | None:
    values = parsed.headers.get(name.lower())
    return values[0].strip() if values else None


def _fold(text: str) -> str:
    return _SPACE.sub(" ", _BIDI.sub("", text)).casefold().strip()


def _find(folded: str, phrases: tuple[str, ...]) -> str | None:
    return next((phrase for phrase in phrases if phrase in folded), None)


def _clip(value: str, limit: int = 80) -> str:
    value = _SPACE.sub(" ", value).strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"
