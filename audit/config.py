"""companies.yaml: strict pydantic models and a loader whose errors read `FILE:LINE: key.path: message`.

Every model forbids unknown keys, so a misspelt key is an error rather than a silently ignored setting.
Secrets never live in the file: it names environment variables (`password_env`), read by `audit.settings`.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from audit.errors import ConfigError
from audit.languages import LANGUAGES, choices_text

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|min|s)", re.IGNORECASE)
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "min": 60, "s": 1}


def parse_duration(value: object) -> timedelta:
    """`7d`, `4h`, `90m`, `1h30m`, `45s` or a number of seconds -> timedelta.

    Written by hand because pydantic's own timedelta parsing wants ISO 8601 (`P7D`), which nobody writes in a
    YAML file by hand.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 7d, 4h or 30m")
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    if not isinstance(value, str):
        raise ValueError("expected a duration such as 7d, 4h or 30m")
    text = value.strip().replace(" ", "")
    parts = list(_DURATION_PART.finditer(text))
    if not text or not parts or "".join(p.group(0) for p in parts).lower() != text.lower():
        raise ValueError(f"'{value}' is not a duration; write e.g. 7d, 4h, 30m or 1h30m")
    seconds = sum(float(p.group(1)) * _UNIT_SECONDS[p.group(2).lower()] for p in parts)
    if seconds <= 0:
        raise ValueError("a duration must be longer than zero")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def report_language(value: str) -> str:
    """A language code with a catalogue that ships (audit/languages.py); the list is not a Literal, so that
    a third language is only a new .po file."""
    if value not in LANGUAGES:
        raise ValueError(f"'{value}' is not a report language; choose {choices_text()}")
    return value


Language = Annotated[str, AfterValidator(report_language)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(Strict):
    fast: Duration = timedelta(hours=4)
    """A first human reply within this is 'fast' (TACK's best tier)."""
    reasonable: Duration = timedelta(hours=48)
    """Within this is 'reasonable'; later is 'slow'."""

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.fast >= self.reasonable:
            raise ValueError("thresholds.fast must be shorter than thresholds.reasonable")
        return self


class QualityThresholds(Strict):
    """Quality scores (0 to 1) a first human reply needs for the two best tiers."""

    good: float = Field(default=0.65, ge=0, le=1)
    """At least this for `fast_courteous`. Calibrated on the hand-labelled replies
    (scripts/calibrate_quality.py, tests/data/rubric/README.md)."""
    adequate: float = Field(default=0.25, ge=0, le=1)
    """At least this for `reasonable`; below it the reply is 'poor' (`slow_or_lacking`). A correct but terse,
    impersonal answer (TACK's "correct, but left us indifferent") scores 0.31 or more, so it passes; a reply
    that answers only part of the inquiry counts at most half its points (rubric.quality_of)."""

    @model_validator(mode="after")
    def _ordered(self) -> QualityThresholds:
        if self.adequate > self.good:
            raise ValueError("quality.adequate must not be above quality.good")
        return self


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_CLOCK_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class BusinessHoursSection(Strict):
    """The audited companies' working week, for business-hours latency."""

    workdays: tuple[Weekday, ...] | None = None
    """Default: sun..thu when audit.country is IL, else mon..fri."""
    opens: str = Field(default="09:00", pattern=_CLOCK_TIME)
    closes: str = Field(default="17:00", pattern=_CLOCK_TIME)

    @model_validator(mode="after")
    def _ordered(self) -> BusinessHoursSection:
        if self.opens >= self.closes:
            raise ValueError("business_hours.opens must be before business_hours.closes")
        return self


class DiscoverySection(Strict):
    max_pages: int = Field(default=5, ge=1, le=20)
    """Pages loaded at most, one at a time, to find a company's contact page (the home page counts)."""


class AuditSection(Strict):
    name: str = Field(min_length=1)
    name_he: str | None = Field(default=None, min_length=1)
    """The audit's name in the Hebrew report (default: `name`)."""
    timezone: str = "UTC"
    language: Language = "en"
    """The report's language (and the inquiry's, unless inquiry.language says otherwise)."""
    country: str | None = None
    """ISO country code for the business calendar (public holidays); e.g. IL."""
    deadline: Duration = timedelta(days=7)
    late_window: Duration = timedelta(days=30)
    """Replies after the deadline and within this are shown as 'late'; they never change the tier."""
    thresholds: Thresholds = Thresholds()
    quality: QualityThresholds = QualityThresholds()
    clock: Literal["wall", "business"] = "wall"
    """Which clock the tier thresholds use; the report always shows both."""
    business_hours: BusinessHoursSection = BusinessHoursSection()
    mask_staff_names: bool = True
    """Replace staff names in quoted excerpts with [staff] (MRS/MSPA ethics)."""
    name_non_responders: bool = True
    """List the companies that never replied by name (TACK did not; Globes and ynet did)."""
    concurrency: int = Field(default=2, ge=1, le=16)
    """Probes in flight at once (never more than one per site domain)."""
    probe_timeout: Duration = timedelta(seconds=90)
    """Whole-probe budget; past it the browser context is closed."""
    allow_private_targets: bool = False
    """Let probes reach private or loopback addresses (the demo and tests do; real audits never need to)."""
    discovery: DiscoverySection = Field(default_factory=lambda: DiscoverySection())
    """Finding the contact page from a company's website (docs/probing.md, "Finding the contact page")."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as ex:
            raise ValueError(f"unknown time zone '{value}' (use an IANA name such as Asia/Jerusalem)") from ex
        return value


class ImapSection(Strict):
    host: str
    port: int = Field(default=993, ge=1, le=65535)
    tls: bool = True
    starttls: bool = False
    username: str
    password_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    oauth2_token_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    folders: tuple[str, ...] = ("INBOX", "Junk")
    ca_file: str | None = None
    """A PEM file of CA certificates trusted instead of the system's (a private CA); verification stays on."""


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class WebhookSection(Strict):
    """Inbound-email webhooks (served by `audit serve`): each names the environment variable of its secret."""

    mailgun_signing_key_env: str | None = Field(default=None, pattern=_ENV_NAME)
    sendgrid_secret_env: str | None = Field(default=None, pattern=_ENV_NAME)
    postmark_username_env: str | None = Field(default=None, pattern=_ENV_NAME)
    postmark_password_env: str | None = Field(default=None, pattern=_ENV_NAME)
    generic_secret_env: str | None = Field(default=None, pattern=_ENV_NAME)
    max_bodies_in_flight: int = Field(default=4, ge=1, le=64)
    """Request bodies read at once (each up to 25 MB); one more is answered 503 with Retry-After, unread."""


class SmtpSection(Strict):
    """Where report emails are sent from; the password is named, never written here."""

    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = Field(default=None, pattern=_ENV_NAME)
    from_address: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    timeout: Duration = timedelta(seconds=30)
    ca_file: str | None = None
    """A PEM file of CA certificates trusted instead of the system's (a private CA); verification stays on."""


class MailboxSection(Strict):
    address: str
    """Reply address template; `{token}` becomes each inquiry's unique token."""
    imap: ImapSection | None = None
    maildir: str | None = None
    """A local Maildir folder the server delivers to; read, never modified."""
    webhooks: WebhookSection | None = None
    smtp: SmtpSection | None = None
    """How email-channel inquiries are sent (the same settings as report.smtp); from the per-inquiry reply
    address, so replies and bounces come back to the mailbox."""

    @field_validator("address")
    @classmethod
    def _has_token(cls, value: str) -> str:
        if value.count("{token}") != 1:
            raise ValueError("must contain {token} exactly once, e.g. 'shopper+{token}@replies.example.org'")
        local, at, domain = value.partition("@")
        if not at or not local or "." not in domain or "{" in domain:
            raise ValueError("must be an email address such as '{token}@replies.example.org'")
        return value


class PersonaSection(Strict):
    first_name: str = Field(min_length=1)
    last_name: str = Field(min_length=1)
    phone: str = Field(min_length=3)
    company: str | None = None
    aliases: tuple[str, ...] = ()
    """Other spellings of the persona's name (e.g. ["דנה", "דנה לוי"]): a greeting by any of them is personal,
    and they are never masked as staff names."""


AnswerPartKind = Literal["phone", "price", "url", "yes_no", "words"]


class AnswerPart(Strict):
    """One thing the inquiry asks for; rubric item A checks each is found in a human reply."""

    kind: AnswerPartKind
    label: str | None = None
    """How the report names it, e.g. 'a monthly plan'."""
    words: tuple[str, ...] = ()
    """For kind 'words' (any of them counts), and extra words for 'yes_no' (the product asked about)."""

    @model_validator(mode="after")
    def _words_given(self) -> AnswerPart:
        if self.kind == "words" and not self.words:
            raise ValueError("an answer part of kind 'words' needs at least one word")
        return self


class InquirySection(Strict):
    language: Language | None = None
    """The language the inquiry is written in (default: audit.language); replies in it score on item Q."""
    answer_parts: tuple[AnswerPart, ...] = ()
    """What a complete answer contains, e.g. [{kind: yes_no}, {kind: words, words: [form, documents]}]."""
    subject: str = Field(min_length=1)
    message: str = Field(min_length=1)
    """May use {company} (the company's name) and {ref} (the reference code); without {ref} the
    reference line is appended."""
    topic: str | None = None
    """Preferred option of a topic/department drop-down, when a form has one."""

    @field_validator("message")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        unknown = set(re.findall(r"{(\w*)}", value)) - {"company", "ref", "first_name", "last_name"}
        if unknown:
            raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}}; use {{company}} or {{ref}}")
        return value


StepAction = Literal["goto", "click", "click_if_exists", "fill", "select", "check", "wait_for_text", "wait"]
SlotName = Literal[
    "full_name", "first_name", "last_name", "email", "phone", "company", "subject", "message", "topic"
]


class StepSpec(Strict):
    action: StepAction
    selector: str | None = None
    value: str | None = None


class SuccessSpec(Strict):
    text: tuple[str, ...] = ()
    url: str | None = None
    response_url: str | None = None


class FormSection(Strict):
    frame: str | None = None
    fields: dict[SlotName, str] = {}
    consent: tuple[str, ...] = ()
    submit: str | None = None
    steps: tuple[StepSpec, ...] = ()
    success: SuccessSpec = SuccessSpec()


_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"


Channel = Literal["form", "email"]
_EMAIL = r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$"


class CompanySection(Strict):
    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1)
    name_he: str | None = Field(default=None, min_length=1)
    """The company's name in the Hebrew report (default: `name`)."""
    sector: str = "other"
    contact_url: str | None = None
    """The page with the contact form. Without it, `website` is searched for one (docs/probing.md,
    "Finding the contact page")."""
    website: str | None = None
    """The company's home page, for contact-page discovery when contact_url is not given."""
    email: str | None = None
    """An address the company publishes for customers (never a guessed one), for the email channel."""
    channels: tuple[Channel, ...] | None = None
    """How the inquiry is sent: [form], [email] or [form, email] (one inquiry each). Default: form when a
    contact_url or website is given, else email."""
    email_fallback: bool = False
    """Write to `email` when no contact form is found (discovery found none, or the page has none)."""
    region: str | None = None
    """Where the company is (e.g. il); free text for the report and the export."""
    notes: str | None = None
    """Free text kept with the company (e.g. from a spreadsheet import); never sent."""
    locale: str | None = None
    """Browser locale for this site, e.g. he-IL; defaults from audit.language."""
    form: FormSection | None = None
    enabled: bool = True

    @field_validator("contact_url", "website")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("email")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value is not None and not re.match(_EMAIL, value):
            raise ValueError("must be one email address, such as service@example.com")
        return value

    @model_validator(mode="after")
    def _reachable(self) -> CompanySection:
        if not (self.contact_url or self.website or self.email):
            raise ValueError("needs a contact_url, a website or an email")
        if self.channels is not None:
            if not self.channels or len(set(self.channels)) != len(self.channels):
                raise ValueError("channels: list form, email or both, each once")
            if "form" in self.channels and not (self.contact_url or self.website):
                raise ValueError("channels includes form: give a contact_url or a website")
            if "email" in self.channels and not self.email:
                raise ValueError("channels includes email: give the company's email")
        if self.email_fallback and not self.email:
            raise ValueError("email_fallback needs the company's email")
        if self.email_fallback and not self.site_url:
            raise ValueError("email_fallback needs a contact_url or a website to fall back from")
        return self

    @property
    def inquiry_channels(self) -> tuple[Channel, ...]:
        """The channels of this company's inquiries, in order (form first)."""
        if self.channels is not None:
            return tuple(c for c in ("form", "email") if c in self.channels)
        return ("form",) if (self.contact_url or self.website) else ("email",)

    @property
    def site_url(self) -> str | None:
        """Where the company's site is: the contact page if known, else the home page."""
        return self.contact_url or self.website


class ReportSection(Strict):
    recipients: tuple[str, ...] = ()
    """Who gets the report by email (`audit report --email` without addresses, and `audit serve`)."""
    smtp: SmtpSection | None = None
    evidence_links: bool = True
    """The web/file version links screenshots and replies; the email version never does."""


class ScheduleSection(Strict):
    """When `audit serve` starts waves and how it spreads the submissions (see the README)."""

    cron: str = Field(min_length=9)
    """Five-field cron in audit.timezone, e.g. '0 9 1-7 * sun' (first Sunday of the month, 09:00)."""
    window: Duration = timedelta(days=2)
    """Submissions spread over this much working time from the wave's start."""
    working_hours_only: bool = True
    off_hours_share: float = Field(default=0.0, ge=0, le=1)
    """This share of submissions goes out after hours or at the weekend, labelled as such."""
    jitter: Duration = timedelta(minutes=20)
    min_gap_same_company: Duration = timedelta(days=7)
    collect_every: Duration = timedelta(minutes=5)
    """Poll every source this often (IMAP IDLE wakes it sooner)."""
    retention: Duration = timedelta(days=180)
    """Raw messages and evidence older than this after their wave's report are deleted; results stay."""


class AuditConfig(Strict):
    audit: AuditSection
    mailbox: MailboxSection
    persona: PersonaSection
    inquiry: InquirySection
    report: ReportSection = ReportSection()
    schedule: ScheduleSection | None = None
    sectors: dict[str, str] = {}
    """Each sector's name in the Hebrew report, e.g. {insurance: ביטוח}; a sector not named here is shown as
    the config writes it."""
    companies: tuple[CompanySection, ...] = Field(min_length=1)

    @field_validator("companies")
    @classmethod
    def _unique_ids(cls, value: tuple[CompanySection, ...]) -> tuple[CompanySection, ...]:
        seen: set[str] = set()
        for company in value:
            if company.id in seen:
                raise ValueError(f"company id '{company.id}' is used twice")
            seen.add(company.id)
        return value

    @model_validator(mode="after")
    def _email_channel_has_smtp(self) -> AuditConfig:
        writes = [c.id for c in self.companies if "email" in c.inquiry_channels or c.email_fallback]
        if writes and self.mailbox.smtp is None:
            raise ValueError(
                f"company {writes[0]!r} is written to by email: set mailbox.smtp (host, from_address, ...)"
            )
        return self

    def company(self, company_id: str) -> CompanySection:
        for company in self.companies:
            if company.id == company_id:
                return company
        raise KeyError(company_id)


# ---------------------------------------------------------------------------------------------------------
# Loading with line numbers


def _line_index(root: yaml.Node) -> dict[tuple[Any, ...], int]:
    """The 1-based line of every key path in a composed YAML tree.

    Iterative (a deep file must not exhaust Python's stack) and each node is walked once: a node reached again
    through an alias records the alias's line and no more, so nested aliases cost their count, not their
    expansion (issue 11: a 350-byte file of nested aliases took 10 GB here).
    """
    index: dict[tuple[Any, ...], int] = {}
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[Any, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        index.setdefault(path, node.start_mark.line + 1)
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                index[(*path, key)] = key_node.start_mark.line + 1  # point at the key, not its value
                stack.append((value_node, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, position)) for position, item in enumerate(node.value))
    return index


def _line_of(loc: tuple[Any, ...], index: dict[tuple[Any, ...], int]) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in index:
            return index[loc[:end]]
    return 1


def _describe(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _clean_loc(loc: tuple[int | str, ...]) -> tuple[Any, ...]:
    # pydantic adds the name of a failing validator or union branch ("function-after[...]") to the location;
    # the user knows only their own keys.
    return tuple(part for part in loc if not (isinstance(part, str) and ("[" in part or "(" in part)))


def load_config(path: Path) -> AuditConfig:
    """Read and validate companies.yaml; raise ConfigError listing every problem as FILE:LINE: key: msg."""
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_CHARS * 4:  # UTF-8 takes at most 4 bytes a character: too long before reading
            raise ConfigError(
                [f"{path}:1: file limit: {size:,} bytes, more than {MAX_CONFIG_CHARS:,} characters"]
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file (write one from the example companies.yaml)"]) from None
    except (OSError, UnicodeDecodeError) as ex:
        raise ConfigError([f"{path}: cannot be read: {ex}"]) from ex
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str = "companies.yaml") -> AuditConfig:
    if len(text) > MAX_CONFIG_CHARS:
        raise ConfigError(
            [f"{source}:1: file limit: {len(text):,} characters, more than {MAX_CONFIG_CHARS:,}"]
        )
    try:
        root, data = _compose_bounded(text)
    except _LimitExceeded as ex:
        raise ConfigError([f"{source}:{ex.line}: {ex}"]) from None
    except yaml.MarkedYAMLError as ex:
        mark = ex.problem_mark or ex.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError([f"{source}:{line}: YAML syntax: {ex.problem or ex}"]) from ex
    except yaml.YAMLError as ex:
        raise ConfigError([f"{source}:1: YAML syntax: {ex}"]) from ex
    if not isinstance(data, dict) or root is None:
        raise ConfigError(
            [f"{source}:1: expected a mapping with audit, mailbox, persona, inquiry, companies"]
        )
    index = _line_index(root)
    try:
        return AuditConfig.model_validate(data)
    except ValidationError as ex:
        problems = []
        for error in ex.errors():
            loc = _clean_loc(error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key (misspelt? see the README's configuration reference)"
            elif error["type"] == "missing":
                message = "required key is missing"
            problems.append(f"{source}:{_line_of(loc, index)}: {_describe(loc)}: {message}")
        raise ConfigError(problems) from ex


# ---------------------------------------------------------------------------------------------------------
# Bounded YAML: companies.yaml may come from someone else (a shared audit, a pasted example), so its reading
# is bounded like any untrusted input (issue 11). PyYAML has no limits of its own; these hook its composer,
# which sees every node and alias once, before anything is built from them.

MAX_CONFIG_CHARS = 1_000_000
"""The largest companies.yaml read (a thousand companies take about 300 KB)."""
MAX_YAML_DEPTH = 64
"""Nested mappings and lists; the schema needs 5. PyYAML's composer recurses, so a deep file would otherwise
end in a RecursionError (a 50,000-deep file did, issue 11)."""
MAX_YAML_ALIASES = 1_000
"""`*alias` uses in the file (anchors for shared settings are fine; thousands are an attack)."""
MAX_YAML_NODES = 200_000
"""Nodes of the document with every alias expanded, as validation walks it: nested aliases ("billion
laughs") multiply, so 350 bytes can stand for billions of nodes."""


class _LimitExceeded(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer counts depth and aliases as it goes (compose_node is called per node)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1 if event.start_mark else 1
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise _LimitExceeded(f"YAML limit: more than {MAX_YAML_ALIASES:,} aliases (*name)", line)
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _LimitExceeded(f"YAML limit: nested more than {MAX_YAML_DEPTH} levels deep", line)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _compose_bounded(text: str) -> tuple[yaml.Node | None, Any]:
    """The composed tree (for line numbers) and the Python data built from that same tree."""
    loader = _BoundedLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        _check_expansion(root)
        return root, loader.construct_document(root)
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a tree whose alias-expanded size passes MAX_YAML_NODES (counted once per distinct node)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # post-order without recursion: a node's size once all its children have theirs
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if not children_done:
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
            continue
        total = 1 + sum(sizes[id(child)] for child in _children(node))
        if total > MAX_YAML_NODES:
            line = node.start_mark.line + 1
            raise _LimitExceeded(
                f"YAML limit: aliases expand to more than {MAX_YAML_NODES:,} values (nested aliases?)", line
            )
        sizes[id(node)] = total


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []
