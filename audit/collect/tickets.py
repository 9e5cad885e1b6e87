"""Help desks: which ticket system sent a reply, and is it its acknowledgement or an agent's answer?

Both come from the same address, both carry the ticket number in the subject, and several systems put the
same headers on both (Request Tracker's `Precedence: bulk`, Jira's `Auto-Submitted: auto-generated`), so
those headers decide nothing here. What does, in this order:

1. the system's own default acknowledgement wording (tests/mail/tickets/README.md names the templates);
2. evidence of a person: Request Tracker's (X-)RT-Originator is the agent on a Correspond and the requester on
   an AutoReply; Jira Service Management writes "<name> commented:"; the sender's display name is a
   person's ("Yossi Levi (Acme Support)", "Yossi from Acme"), not the queue's and not the requester's;
3. generic acknowledgement wording ("we have received", "זוהי הודעה אוטומטית");
4. an auto-reply header the system puts on acknowledgements only (osTicket, OTRS/Znuny, Salesforce);
5. arrival within `ACK_WINDOW` of our submission;
6. otherwise an agent's answer: no acknowledgement wording, and it took longer than a machine would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from audit.collect.parse import ParsedMessage

ACK_WINDOW = timedelta(minutes=2)
CLOCK_SKEW = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class TicketSystem:
    name: str  # short and stable: it goes into Classification.rule ("ticket_ack:zendesk")
    headers: tuple[str, ...] = ()  # lower-case header names only this system sends
    header_prefixes: tuple[str, ...] = ()  # lower-case header-name prefixes, e.g. "x-sfdc-"
    header_values: tuple[tuple[str, str], ...] = ()  # (header, lower-case substring of its value)
    domains: tuple[str, ...] = ()  # of From, Reply-To, Return-Path or Message-ID (or a subdomain)
    text_markers: tuple[str, ...] = ()  # regular expressions on the folded text only this system writes
    ack_phrases: tuple[str, ...] = ()  # regular expressions on the folded subject and text
    headers_on_acks_only: bool = False  # its Auto-Submitted & co. mark acknowledgements, not agents' mail


SYSTEMS: tuple[TicketSystem, ...] = (
    TicketSystem(
        "rt",
        # RT 5.0.3 (Debian 12, tests/mail/rt5_*.eml) writes X-RT-Ticket, X-RT-Originator, X-Managed-BY; some
        # releases drop the X-. Auto-Submitted is set by its Autoreply action only (Precedence: bulk on all).
        headers=("x-rt-ticket", "rt-ticket", "x-rt-loop-prevention", "x-rt-originator", "rt-originator"),
        header_values=(("x-managed-by", "rt "), ("managed-by", "rt ")),
        ack_phrases=(
            r"this message has been automatically generated in response to the creation of a trouble ticket",
            r"there is no need to reply to this message right now",
        ),
        headers_on_acks_only=True,
    ),
    TicketSystem(
        "zendesk",
        headers=("x-zendesk-from-account-id", "x-zendesk-email-id"),
        domains=("zendesk.com", "zdusercontent.com"),
        text_markers=(r"##- please type your reply above this line -##",),
        ack_phrases=(
            r"your request \(?#?\d+\)? has been received",
            r"your request \(?#?\d+\)? was received",
            r"we have received your request",
        ),
    ),
    TicketSystem(
        "freshdesk",
        header_prefixes=("x-fd-", "x-freshdesk-"),
        domains=("freshdesk.com", "freshdeskmail.com"),
        ack_phrases=(
            r"we would like to acknowledge that we have received your request",
            r"a ticket has been created with ticket id",
        ),
    ),
    TicketSystem(
        "helpscout",
        header_prefixes=("x-helpscout-",),
        domains=("helpscout.net", "helpscout.com", "helpscoutemail.com"),
        ack_phrases=(r"we've received your message and", r"we have received your message and"),
    ),
    TicketSystem(
        "otrs",
        header_prefixes=("x-otrs-", "x-znuny-"),
        header_values=(
            ("x-mailer", "otrs mail service"),
            ("x-mailer", "znuny mail service"),
            ("x-powered-by", "otrs"),
            ("x-powered-by", "znuny"),
        ),
        text_markers=(r"\[ticket#\d{10,}\]",),
        ack_phrases=(
            r"your e-?mail with the subject .{0,200} has been received",
            r"this is an automatically generated message",
        ),
        headers_on_acks_only=True,
    ),
    TicketSystem(
        "osticket",
        header_values=(("x-mailer", "osticket"),),
        text_markers=(r"-- reply above this line --",),
        ack_phrases=(
            r"a request for support has been created and assigned",
            r"support ticket opened",
        ),
        headers_on_acks_only=True,
    ),
    TicketSystem(
        "jira",
        headers=("x-jira-fingerprint",),
        domains=("atlassian.net",),
        text_markers=(r"powered by jira service management", r"jira service management"),
        ack_phrases=(r"raised this request", r"we've received your request", r"request received:"),
    ),
    TicketSystem(
        "hubspot",
        header_prefixes=("x-hubspot-", "x-hs-"),
        domains=("hubspot.com", "hubspotemail.net", "hubspotservicehub.com"),
        ack_phrases=(
            r"we've received your (?:request|ticket|message)",
            r"a ticket has been created for your (?:request|inquiry)",
        ),
    ),
    TicketSystem(
        "salesforce",
        header_prefixes=("x-sfdc-",),
        domains=("salesforce.com", "force.com"),
        text_markers=(r"ref:_00d[0-9a-z]+\._?[0-9a-z]+:ref", r"thread::[0-9a-z_-]{10,}::"),
        ack_phrases=(
            r"this is an automated response confirming the receipt of your (?:ticket|case|request)",
        ),
        headers_on_acks_only=True,
    ),
    TicketSystem(
        "gorgias",
        header_prefixes=("x-gorgias-",),
        domains=("gorgias.io", "gorgias.com", "gorgias.help", "gorgias-mail.com"),
        ack_phrases=(r"we've received your (?:message|email|request) and will get back to you",),
    ),
)

# Generic acknowledgement wording, checked only after the evidence of a person (agents write "we have
# received your order" too).
GENERIC_ACK_PHRASES = (
    "we have received", "we've received", "we received your", "has been received", "have been received",
    "this is an automated", "this is an automatic", "automatically generated", "automated response",
    "פנייתך התקבלה", "פנייתכם התקבלה", "פניתך התקבלה", "פנייתך נקלטה", "קיבלנו את פנייתך", "קבלנו את פנייתך",
    "קיבלנו את פנייתכם", "זוהי הודעה אוטומטית", "הודעה זו נשלחה באופן אוטומטי", "הודעה אוטומטית",
)  # fmt: skip
# Words that make a display name a queue's or a team's rather than a person's.
ROLE_WORDS = frozenset(
    (
        "support", "help", "helpdesk", "desk", "service", "services", "team", "customer", "customers", "care",
        "info", "sales", "noreply", "no-reply", "reply", "system", "notification", "notifications", "admin",
        "office", "center", "centre", "contact", "hello", "mail", "tickets", "ticket", "billing", "success",
        "queue", "default", "general", "the", "our", "rt", "request", "tracker",
        "שירות", "תמיכה", "צוות", "מערכת", "לקוחות", "מוקד", "פניות", "מכירות", "משרד",
    )
)  # fmt: skip
_NAME_SPLIT = re.compile(r"\s+(?:via|from|at|של|מ)\s+|\s*[(|\[]\s*|\s+[-–—]\s+", re.IGNORECASE)
_PERSON_WORD = re.compile(r"^[^\W\d_][^\W\d_'’.-]*\.?$")
# "Yossi Levi commented:" (Jira Service Management), matched on folded text where lines are joined.
_COMMENTED = re.compile(r"(?<![^\s.!?])([^\W\d_][^:.!?\n]{0,40}?) (?:commented|replied)\s*:", re.IGNORECASE)
_BIDI = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class TicketReading:
    system: str
    ack: str | None  # why this is the system's acknowledgement, or None
    staff: str | None  # why this is an agent's answer, or None (exactly one of the two is set)


def identify(parsed: ParsedMessage, folded_text: str) -> tuple[TicketSystem, str] | None:
    """The ticket system that sent this, with the evidence; None for ordinary mail."""
    names = set(parsed.headers)
    domains = _domains(parsed)
    for system in SYSTEMS:
        if found := next((name for name in system.headers if name in names), None):
            return system, f"{found} header"
        prefixed = sorted(n for n in names if system.header_prefixes and n.startswith(system.header_prefixes))
        if prefixed:
            return system, f"{prefixed[0]} header"
        for name, needle in system.header_values:
            if any(needle in value.casefold() for value in parsed.headers.get(name, ())):
                return system, f"{name} header"
        for domain in domains:
            if any(domain == known or domain.endswith("." + known) for known in system.domains):
                return system, f"domain {domain}"
        for marker in system.text_markers:
            if re.search(marker, folded_text):
                return system, "its reply marker"
    return None


def read_ticket(
    parsed: ParsedMessage, *, folded_text: str, folded_reply: str, delay: timedelta | None, marker: str | None
) -> TicketReading | None:
    """Acknowledgement or agent's answer, for mail from a ticket system; None for ordinary mail.

    `folded_text` is the whole text (for the system's markers), `folded_reply` the subject and the reply
    without quoted history (for wording: an agent's answer may quote the acknowledgement below it), `marker`
    the auto-reply header classify() found, if any.
    """
    found = identify(parsed, folded_text)
    if found is None:
        return None
    system, _how = found
    name = system.name
    for pattern in system.ack_phrases:
        if match := re.search(pattern, folded_reply):
            return TicketReading(name, ack=f"'{_clip(match.group())}'", staff=None)
    person = _person_evidence(parsed, folded_reply, system)
    if person:
        return TicketReading(name, ack=None, staff=person)
    if generic := next((phrase for phrase in GENERIC_ACK_PHRASES if phrase in folded_reply), None):
        return TicketReading(name, ack=f"'{generic}'", staff=None)
    if marker and system.headers_on_acks_only:
        return TicketReading(name, ack=marker, staff=None)
    if delay is not None and -CLOCK_SKEW <= delay < ACK_WINDOW:
        return TicketReading(name, ack=_arrival(delay), staff=None)
    waited = f", {_arrival(delay)}" if delay is not None else ""
    return TicketReading(name, ack=None, staff=f"no acknowledgement wording{waited}")


def _person_evidence(parsed: ParsedMessage, folded_reply: str, system: TicketSystem) -> str | None:
    requester = {address.casefold() for address in parsed.header_recipients}
    if system.name == "rt":
        originator = _first(parsed, "x-rt-originator") or _first(parsed, "rt-originator")
        if originator:
            address = originator.strip("<> ").casefold()
            if address in requester:
                return None  # the transaction is the requester's own message: RT's AutoReply
            return f"RT-Originator {_clip(address)} is not the requester"
    if match := _COMMENTED.search(folded_reply):
        return f"'{_clip(match.group(0).strip())}'"
    agent = _agent_name(parsed)
    return f"agent '{agent}'" if agent else None


def _agent_name(parsed: ParsedMessage) -> str | None:
    """The person's name in the sender's display name, unless it is the requester's or the company's."""
    from_header = _first(parsed, "from") or ""
    if "<" not in from_header:
        return None
    display = _BIDI.sub("", from_header.split("<", 1)[0]).strip().strip("\"'").strip()
    has_separator = _NAME_SPLIT.search(display) is not None
    person = _NAME_SPLIT.split(display, maxsplit=1)[0].strip()
    words = person.split()
    if not words or len(words) > 3 or (len(words) == 1 and not has_separator):
        return None
    if not all(_PERSON_WORD.match(word) for word in words):
        return None
    folded = [word.casefold().strip(".") for word in words]
    company = {label for domain in _domains(parsed) for label in domain.split(".")}
    if any(word in ROLE_WORDS or word in company for word in folded):
        return None
    if person.casefold() in (_first(parsed, "to") or "").casefold():
        return None  # "Dana Katz via RT": the requester's name on her own transaction
    return person


def _domains(parsed: ParsedMessage) -> list[str]:
    found = [parsed.from_domain, _domain_of(parsed.reply_to), _domain_of(parsed.return_path)]
    found.append(_domain_of(parsed.message_id))
    return [domain for domain in dict.fromkeys(found) if domain]


def _domain_of(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return address.rsplit("@", 1)[1].strip().strip(">").rstrip(".").casefold() or None


def _first(parsed: ParsedMessage, name: str) -> str | None:
    values = parsed.headers.get(name)
    return values[0].strip() if values else None


def _clip(value: str, limit: int = 80) -> str:
    value = _SPACE.sub(" ", value).strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _arrival(delay: timedelta) -> str:
    seconds = round(delay.total_seconds())
    if seconds < 0:
        return f"arrived {-seconds} s before submission (clock skew)"
    return f"arrived {seconds} s after submission"
