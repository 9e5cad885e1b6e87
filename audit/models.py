"""Database tables (SQLModel). Facts are stored as observed; judgements are recomputed later.

Every timestamp is a UTC-aware datetime in Python (`UTCDateTime` re-attaches UTC on SQLite, which keeps
no zone).
Changing a table means a new Alembic migration in audit/migrations/versions; a test checks both agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    Float,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Column, Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; hands back timezone-aware datetimes on every database (SQLite returns naive ones)."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[datetime]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(DateTime(timezone=True))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(*, nullable: bool = True) -> Column:  # type: ignore[type-arg]
    return Column(UTCDateTime(), nullable=nullable)


class WaveMode(StrEnum):
    LIVE = "live"
    DRY_RUN = "dry_run"


class WaveStatus(StrEnum):
    OPEN = "open"  # planned or running: `audit run` resumes it
    SUBMITTED = "submitted"  # every planned probe has an outcome


class Channel(StrEnum):
    FORM = "form"  # the website's contact form, in a browser
    EMAIL = "email"  # an SMTP message to the address the company publishes


class ProbeState(StrEnum):
    PLANNED = "planned"  # nothing sent; may be attempted (again)
    SUBMIT_STARTED = "submit_started"  # write-ahead record: committed just before the click, never retried
    FINISHED = "finished"  # has an outcome


class Company(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=63)
    name: str = Field(sa_column=Column(Text, nullable=False))
    sector: str = Field(default="other", max_length=100)
    contact_url: str = Field(sa_column=Column(Text, nullable=False))
    """What the probes use: the configured contact page, else the website, else `mailto:` the address."""
    domain: str = Field(max_length=255)
    website: str | None = Field(default=None, sa_column=Column(Text))
    email: str | None = Field(default=None, sa_column=Column(Text))
    region: str | None = Field(default=None, sa_column=Column(Text))
    discovered_url: str | None = Field(default=None, sa_column=Column(Text))
    """The contact page found from the website, reused by later waves until it stops having a form."""
    discovered_at: datetime | None = Field(default=None, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class Wave(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    audit_name: str = Field(sa_column=Column(Text, nullable=False))
    mode: str = Field(default=WaveMode.LIVE, max_length=20)
    status: str = Field(default=WaveStatus.OPEN, max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=_ts())
    lease_owner: str | None = Field(default=None, max_length=200)
    """Which process is running this wave now (host:pid); one runner per wave."""
    lease_expires_at: datetime | None = Field(default=None, sa_column=_ts())


class Probe(SQLModel, table=True):
    """One inquiry to one company in one wave, from plan to outcome."""

    __table_args__ = (UniqueConstraint("wave_id", "company_id", "seq", name="uq_probe_wave_company_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    wave_id: int = Field(foreign_key="wave.id", index=True)
    company_id: str = Field(foreign_key="company.id", max_length=63, index=True)
    seq: int = Field(default=1)
    channel: str = Field(
        default=Channel.FORM, sa_column=Column(String(10), nullable=False, server_default=Channel.FORM.value)
    )
    token: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    ref_code: str = Field(max_length=16, index=True)
    reply_address: str = Field(max_length=320)
    contact_url: str = Field(sa_column=Column(Text, nullable=False))
    dry_run: bool = False
    state: str = Field(default=ProbeState.PLANNED, max_length=20, index=True)
    attempts: int = 0
    outcome: str | None = Field(default=None, max_length=30)
    detail: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    planned_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    submit_started_at: datetime | None = Field(default=None, sa_column=_ts())
    clicked_at: datetime | None = Field(default=None, sa_column=_ts())
    submitted_at: datetime | None = Field(default=None, sa_column=_ts())
    submitted_at_source: str | None = Field(default=None, max_length=20)
    finished_at: datetime | None = Field(default=None, sa_column=_ts())
    post_url: str | None = Field(default=None, sa_column=Column(Text))
    post_status: int | None = None
    confirmation_text: str | None = Field(default=None, sa_column=Column(Text))
    error_text: str | None = Field(default=None, sa_column=Column(Text))
    final_url: str | None = Field(default=None, sa_column=Column(Text))
    form_layer: str | None = Field(default=None, max_length=60)
    captcha: str | None = Field(default=None, max_length=60)
    cookie_action: str | None = Field(default=None, sa_column=Column(Text))
    evidence_dir: str | None = Field(default=None, sa_column=Column(Text))
    """Relative to the data directory, so a data directory can be moved whole."""


class MessageKind(StrEnum):
    HUMAN = "human"
    AUTO_REPLY = "auto_reply"  # includes ticket acknowledgements (kind_rule says which)
    OUT_OF_OFFICE = "out_of_office"
    BOUNCE = "bounce"
    MARKETING = "marketing"
    TEMPLATED = "templated"
    UNKNOWN = "unknown"  # malformed beyond classifying


class Message(SQLModel, table=True):
    """One reply that reached us, by any channel, stored once; the raw bytes live in a file (`raw_path`).

    Parsing, matching and classification are recomputable from the raw bytes; a person's assignment is kept
    in `assigned_by_hand` so re-matching does not undo it.
    """

    __table_args__ = (
        UniqueConstraint("account", "folder", "uidvalidity", "uid", name="uq_message_imap_uid"),
        UniqueConstraint("source", "delivery_key", name="uq_message_delivery"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=20)  # imap | webhook:<provider> | maildir | manual
    channel: str = Field(default="email", max_length=20)  # email | phone | sms | other
    account: str | None = Field(default=None, max_length=320)
    folder: str | None = Field(default=None, max_length=255)
    uidvalidity: int | None = Field(default=None, sa_column=Column(BigInteger))
    uid: int | None = Field(default=None, sa_column=Column(BigInteger))
    delivery_key: str | None = Field(default=None, max_length=255)
    """Per-transport idempotency: a webhook's event id or the raw bytes' SHA-256; a Maildir file's name."""
    content_key: str = Field(max_length=64, index=True)
    """sha256(Message-ID | body digest | probe), or of From, Date, Subject and body without a Message-ID: the
    same reply by two channels has the same key. Not unique: every delivery is stored (identity is the
    transport key), and a later row with the same key points at the first by `duplicate_of`."""
    duplicate_of: int | None = Field(default=None, foreign_key="message.id")
    """The first stored copy of this very message (same Message-ID and body), delivered again by another
    channel or transport key; grading, reports and the web UI count only rows where this is None."""
    duplicate_reason: str | None = Field(default=None, sa_column=Column(Text))
    raw_sha256: str | None = Field(default=None, max_length=64, index=True)
    raw_path: str | None = Field(default=None, sa_column=Column(Text))
    raw_size: int = 0
    message_id: str | None = Field(default=None, sa_column=Column(Text))
    subject: str | None = Field(default=None, sa_column=Column(Text))
    from_address: str | None = Field(default=None, sa_column=Column(Text))
    from_domain: str | None = Field(default=None, max_length=255, index=True)
    recipients: str | None = Field(default=None, sa_column=Column(Text))
    """Every address we were sent to, envelope first, comma-separated."""
    received_at: datetime = Field(sa_column=_ts(nullable=False))
    received_at_source: str = Field(max_length=30)
    date_header: datetime | None = Field(default=None, sa_column=_ts())
    date_suspicious: bool = False
    ingested_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    probe_id: int | None = Field(default=None, foreign_key="probe.id", index=True)
    match_method: str | None = Field(default=None, max_length=40)
    match_confidence: str | None = Field(default=None, max_length=10)  # high | medium | low
    needs_review: bool = False
    assigned_by_hand: bool = False
    kind: str = Field(default=MessageKind.UNKNOWN, max_length=20)
    kind_rule: str | None = Field(default=None, sa_column=Column(Text))
    text: str | None = Field(default=None, sa_column=Column(Text))
    reply_text: str | None = Field(default=None, sa_column=Column(Text))
    """The reply without quoted history and signature."""
    html_sanitized: str | None = Field(default=None, sa_column=Column(Text))
    malformed: bool = False
    parse_error: str | None = Field(default=None, sa_column=Column(Text))
    note: str | None = Field(default=None, sa_column=Column(Text))


class ScheduledWave(SQLModel, table=True):
    """A wave `audit serve` started: the cron firing it answers, its window, and how it ended.

    One row per (audit, firing): starting a wave twice for the same firing (a restart, a second try after a
    crash) finds this row and does nothing.
    """

    __table_args__ = (UniqueConstraint("audit_name", "fire_at", name="uq_scheduledwave_fire"),)

    id: int | None = Field(default=None, primary_key=True)
    wave_id: int = Field(foreign_key="wave.id", unique=True)
    audit_name: str = Field(sa_column=Column(Text, nullable=False))
    fire_at: datetime = Field(sa_column=_ts(nullable=False))
    """The cron firing this wave answers (not when it really started: a restart may start it later)."""
    started_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    window_end: datetime = Field(sa_column=_ts(nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=_ts())
    """Graded and its report written; the email (if any) is a `ReportDelivery`."""
    graded_as_of: datetime | None = Field(default=None, sa_column=_ts())
    report_path: str | None = Field(default=None, sa_column=Column(Text))
    """Relative to the data directory."""


class PlannedSubmission(SQLModel, table=True):
    """One inquiry of a scheduled wave's plan: which probe goes out when. Written before anything is due."""

    id: int | None = Field(default=None, primary_key=True)
    wave_id: int = Field(foreign_key="wave.id", index=True)
    company_id: str = Field(foreign_key="company.id", max_length=63)
    probe_id: int = Field(foreign_key="probe.id", unique=True)
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    time_class: str = Field(max_length=20)
    """`business` (inside the audit's open hours) or `off_hours` (chosen for the off-hours share)."""
    status: str = Field(default="planned", max_length=20, index=True)
    """planned (not sent yet) | done (the probe has an outcome) | skipped (company disabled or removed)."""
    planned_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    done_at: datetime | None = Field(default=None, sa_column=_ts())
    note: str | None = Field(default=None, sa_column=Column(Text))
    """Why the time moved (min_gap_same_company) or why it was skipped."""


class SchedulerLease(SQLModel, table=True):
    """The single-scheduler lease: one row; a live `audit serve` renews `expires_at` while it schedules."""

    name: str = Field(primary_key=True, max_length=40)
    owner: str | None = Field(default=None, max_length=200)
    """host:pid:nonce of the holder, or None when released."""
    acquired_at: datetime | None = Field(default=None, sa_column=_ts())
    expires_at: datetime | None = Field(default=None, sa_column=_ts())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    """When a scheduler first ran against this database: cron firings before it are never caught up."""


class ReportDelivery(SQLModel, table=True):
    """The emailing of one scheduled wave's report: `sending` is committed before SMTP, `sent` after."""

    id: int | None = Field(default=None, primary_key=True)
    wave_id: int = Field(foreign_key="wave.id", unique=True)
    recipients: str = Field(sa_column=Column(Text, nullable=False))
    """Comma-separated, as configured when the wave closed."""
    state: str = Field(default="pending", max_length=20, index=True)
    """pending | sending | sent | failed (retried later) | gave_up."""
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    last_attempt_at: datetime | None = Field(default=None, sa_column=_ts())
    next_attempt_at: datetime | None = Field(default=None, sa_column=_ts())
    sent_at: datetime | None = Field(default=None, sa_column=_ts())
    last_error: str | None = Field(default=None, sa_column=Column(Text))


class SchedulerJob(SQLModel, table=True):
    """One row per scheduler job: when it last ran, succeeded and failed (what the web UI and logs show)."""

    name: str = Field(primary_key=True, max_length=40)
    runs: int = 0
    failures: int = 0
    last_started_at: datetime | None = Field(default=None, sa_column=_ts())
    last_ok_at: datetime | None = Field(default=None, sa_column=_ts())
    last_error_at: datetime | None = Field(default=None, sa_column=_ts())
    last_error: str | None = Field(default=None, sa_column=Column(Text))


class WavePruning(SQLModel, table=True):
    """What the retention job deleted for one wave: raw message files and evidence folders. Rows stay."""

    wave_id: int = Field(primary_key=True, foreign_key="wave.id", sa_column_kwargs={"autoincrement": False})
    first_pruned_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    last_pruned_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    raw_files: int = 0
    evidence_dirs: int = 0
    bytes_freed: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


# APScheduler's job store table (`SQLAlchemyJobStore`), declared here so the migrations create it and the
# models-vs-migrations test covers it; the job store finds it present and never creates it itself.
APSCHEDULER_JOBS = Table(
    "apscheduler_jobs",
    SQLModel.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


class ImapCheckpoint(SQLModel, table=True):
    """Per (account, folder): the UIDVALIDITY seen and the last UID stored, advanced with the messages."""

    __table_args__ = (UniqueConstraint("account", "folder", name="uq_imap_checkpoint"),)

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=320)
    folder: str = Field(max_length=255)
    uidvalidity: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_uid: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class WebhookReplay(SQLModel, table=True):
    """Mailgun tokens already seen (replay protection), kept for the timestamp window."""

    __table_args__ = (UniqueConstraint("provider", "token", name="uq_webhook_replay"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=40)
    token: str = Field(max_length=255)
    seen_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class InboundSpool(SQLModel, table=True):
    """A webhook delivery accepted but not yet (or not successfully) ingested: the store-first queue.

    The request path writes the raw file and this row, answers 2xx, and the app's background worker (or
    `audit.collect.spool.process_spool`) ingests it later; rows stay as the record of what was accepted.
    """

    __table_args__ = (UniqueConstraint("source", "delivery_key", name="uq_inboundspool_delivery"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=20)  # webhook:<provider>
    delivery_key: str = Field(max_length=255)
    """The provider's event id, else the SHA-256 of the stored raw bytes (as `Message.delivery_key`)."""
    raw_path: str = Field(sa_column=Column(Text, nullable=False))
    raw_sha256: str = Field(max_length=64)
    raw_size: int = 0
    envelope_recipients: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    """The envelope recipients the provider reported, as a JSON list of strings."""
    transport_time: datetime | None = Field(default=None, sa_column=_ts())
    transport_time_source: str | None = Field(default=None, max_length=30)
    received_by_us_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    """When we accepted the delivery (answered 2xx)."""
    processed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), index=True))
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=_ts())
    """After a failed attempt: not retried before this time (backoff)."""
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    message_id: int | None = Field(default=None, foreign_key="message.id")


class ProbeGrade(SQLModel, table=True):
    """One graded probe of one wave: what `audit.grading.grade_wave` computed, kept so results can be shown
    without re-grading. Recomputed from facts on every grading (the wave's rows are replaced); overrides are
    facts of their own (`GradeOverride`) and survive that.
    """

    __table_args__ = (UniqueConstraint("wave_id", "probe_id", name="uq_probegrade_wave_probe"),)

    id: int | None = Field(default=None, primary_key=True)
    wave_id: int = Field(foreign_key="wave.id", index=True)
    probe_id: int = Field(foreign_key="probe.id")
    company_id: str = Field(foreign_key="company.id", max_length=63)
    seq: int = 1
    channel: str = Field(
        default=Channel.FORM, sa_column=Column(String(10), nullable=False, server_default=Channel.FORM.value)
    )
    outcome: str | None = Field(default=None, max_length=30)
    reached: bool = False
    not_reached_reason: str | None = Field(default=None, sa_column=Column(Text))
    submitted_at: datetime | None = Field(default=None, sa_column=_ts())
    submit_time_class: str | None = Field(default=None, max_length=20)
    deadline_at: datetime | None = Field(default=None, sa_column=_ts())
    first_reply_at: datetime | None = Field(default=None, sa_column=_ts())
    first_ack_at: datetime | None = Field(default=None, sa_column=_ts())
    first_human_at: datetime | None = Field(default=None, sa_column=_ts())
    first_complete_at: datetime | None = Field(default=None, sa_column=_ts())
    human_channel: str | None = Field(default=None, max_length=20)
    human_message_id: int | None = None
    """Not a foreign key: retention may delete messages while grades stay."""
    human_folder: str | None = Field(default=None, max_length=255)
    wall_seconds_to_ack: float | None = None
    wall_seconds_to_human: float | None = None
    business_seconds_to_human: float | None = None
    late: bool = False
    human_replies: int = 0
    followed_up: bool = False
    promise_text: str | None = Field(default=None, sa_column=Column(Text))
    promise_due_at: datetime | None = Field(default=None, sa_column=_ts())
    promise_kept: bool | None = None
    quality: float | None = None
    criteria: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    """The rubric as JSON: [{criterion, score, max_score, evidence: [{quote, rule}], overridden, note}]."""
    excerpt: str | None = Field(default=None, sa_column=Column(Text))
    reply_language: str | None = Field(default=None, max_length=10)
    tier: str = Field(max_length=20)
    tier_reason: str = Field(sa_column=Column(Text, nullable=False))
    tier_overridden: bool = False
    override_notes: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    """JSON list of strings."""
    company_tier: str = Field(max_length=20)
    """The company's tier in this wave (the median of its probes, or a person's override)."""
    company_inconsistent: bool = False
    company_tier_overridden: bool = False
    company_override_notes: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    """JSON list: every override note of the company (its probes' and its own), as the report shows them."""
    clock: str = Field(default="wall", max_length=10)
    as_of: datetime = Field(sa_column=_ts(nullable=False))
    graded_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class GradeOverride(SQLModel, table=True):
    """A person's judgement, stored as a fact: a tier or one rubric criterion for a company (or one of its
    probes, `probe_seq`) in a wave. The newest row for the same target wins; value `auto` withdraws it."""

    id: int | None = Field(default=None, primary_key=True)
    wave_id: int = Field(foreign_key="wave.id", index=True)
    company_id: str = Field(foreign_key="company.id", max_length=63)
    probe_seq: int | None = None
    criterion: str = Field(max_length=10)
    """`tier` or a rubric id (A, P1, P2, Q, V, E, M)."""
    value: str = Field(max_length=30)
    note: str = Field(sa_column=Column(Text, nullable=False))
    author: str = Field(default="cli", max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class LoginAttempts(SQLModel, table=True):
    """Password logins tried in the current window, per client (`addr:<address or IPv6 /64>`) and in all
    (`global`). audit/web/throttle.py counts each attempt before checking it, in one UPSERT, so concurrent
    guesses from several server processes share the count; rows whose window ended are deleted by time."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=64)
    window_start: datetime = Field(sa_column=_ts(nullable=False))
    attempts: int = Field(default=0, nullable=False)
