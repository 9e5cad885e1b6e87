"""Per-probe times from stored facts (Probe and Message rows), as they stood at `as_of`.

Rules (issue 4, docs/method.md, "Per-inquiry times"): only messages matched to the probe count, and only those
received by `as_of`. Bounces count for nothing. The first reply is any other message; the first
acknowledgement is the first auto-reply (an out-of-office or a templated reply is not human either, but
acknowledges nothing about the inquiry). The first human reply is the first message classified human, by any
channel (a call entered with `audit reply add` counts like an email), in any folder (a reply caught in Junk
counts; the folder is kept). A human reply after the deadline but within the late window is `late`; after the
late window it is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from audit.grading.calendar import BusinessCalendar
from audit.grading.promises import find_promise
from audit.grading.types import ReplyPromise, SubmitTimeClass

SUBMITTED = "submitted"
UNCERTAIN = "uncertain"
DRY_RUN = "dry_run"
HUMAN = "human"
AUTO_REPLY = "auto_reply"
BOUNCE = "bounce"
FOLLOW_UP_BUSINESS_DAYS = 5
EMAIL_CHANNELS = {"email": "email", "phone": "phone", "sms": "sms"}  # anything else is "other"
JUNK_FOLDERS = ("junk", "spam", "bulk", "ספאם", "זבל")

# Why an inquiry could not be submitted, by the runner's outcome (README "Outcomes").
NOT_REACHED_REASONS = {
    "no_form": "no contact form found",
    "blocked_captcha": "a CAPTCHA or bot challenge (never solved or evaded)",
    "validation_error": "the site refused the filled form",
    "error": "the page, the form or the site's server failed",
    "uncertain": "the submission was uncertain and no reply ever came",
    "dry_run": "dry run: the form was filled but not sent",
}


@dataclass(frozen=True, slots=True)
class ProbeFacts:
    id: int
    company_id: str
    seq: int
    state: str
    outcome: str | None
    reason: str | None
    dry_run: bool
    submitted_at: datetime | None
    clicked_at: datetime | None
    submit_started_at: datetime | None
    channel: str = "form"  # how the inquiry was sent: form | email


@dataclass(frozen=True, slots=True)
class MessageFacts:
    id: int
    probe_id: int
    kind: str
    channel: str
    folder: str | None
    received_at: datetime
    text: str | None
    reply_text: str | None
    kind_rule: str | None = None  # which rule classified it (for a bounce: the server's reason)


@dataclass(frozen=True)
class Timeline:
    reached: bool
    not_reached_reason: str | None
    submitted_at: datetime | None
    submit_time_class: SubmitTimeClass | None
    deadline_at: datetime | None
    first_reply_at: datetime | None
    first_ack: MessageFacts | None
    humans: tuple[MessageFacts, ...]  # human replies that count, oldest first
    late: bool
    followed_up: bool
    promise: ReplyPromise | None
    wall_seconds_to_ack: float | None
    wall_seconds_to_human: float | None
    business_seconds_to_human: float | None
    notes: tuple[str, ...] = ()

    @property
    def first_human(self) -> MessageFacts | None:
        return self.humans[0] if self.humans else None

    @property
    def human_channel(self) -> str | None:
        first = self.first_human
        return None if first is None else EMAIL_CHANNELS.get(first.channel, "other")


def submission_time(probe: ProbeFacts) -> datetime | None:
    """When the inquiry left: the form POST, else the click, else the write-ahead record before it."""
    return probe.submitted_at or probe.clicked_at or probe.submit_started_at


def deadline_of(probe: ProbeFacts, deadline: timedelta) -> datetime | None:
    sent = submission_time(probe)
    return None if sent is None else sent + deadline


def _not_reached(probe: ProbeFacts) -> str:
    if probe.dry_run or probe.outcome == DRY_RUN:
        return NOT_REACHED_REASONS[DRY_RUN]
    if probe.outcome is None:
        return "not attempted yet" if probe.state == "planned" else "submission in progress"
    label = NOT_REACHED_REASONS.get(probe.outcome, probe.outcome)
    return f"{label}: {probe.reason}" if probe.reason else label


def _email_bounce(probe: ProbeFacts, messages: Sequence[MessageFacts], as_of: datetime) -> str | None:
    """An emailed inquiry that bounced, with no reply of any kind since, never reached anyone: the reason.

    Only for the email channel: a form's inquiry reached the company whatever became of mail sent later.
    """
    if probe.channel != "email":
        return None
    bounces = [m for m in messages if m.kind == BOUNCE and m.received_at <= as_of]
    if not bounces:
        return None
    first = min(bounces, key=lambda message: (message.received_at, message.id))
    why = " ".join((first.kind_rule or "").split())[:200]
    return f"the email bounced: {why}" if why else "the email bounced"


def _seconds(start: datetime, end: datetime) -> float:
    # A reply stamped before the submission (a skewed clock) is counted as instant, never negative.
    return max(0.0, (end - start).total_seconds())


def probe_timeline(
    probe: ProbeFacts,
    messages: Sequence[MessageFacts],
    *,
    calendar: BusinessCalendar,
    deadline: timedelta,
    late_window: timedelta,
    as_of: datetime,
) -> Timeline:
    """The probe's times as they stood at `as_of`. `messages` are the probe's own, in any order."""
    visible = sorted(
        (message for message in messages if message.received_at <= as_of and message.kind != BOUNCE),
        key=lambda message: (message.received_at, message.id),
    )
    sent = submission_time(probe)
    notes: list[str] = []
    reached = probe.outcome == SUBMITTED and not probe.dry_run and sent is not None
    if probe.outcome == UNCERTAIN and sent is not None and visible:
        reached = True
        notes.append("the submission was uncertain, but a reply shows it arrived")
    bounce = _email_bounce(probe, messages, as_of) if reached and not visible else None
    if not reached or sent is None or bounce is not None:
        return Timeline(
            reached=False,
            not_reached_reason=bounce or _not_reached(probe),
            submitted_at=sent if not probe.dry_run else None,
            submit_time_class=None,
            deadline_at=None,
            first_reply_at=None,
            first_ack=None,
            humans=(),
            late=False,
            followed_up=False,
            promise=None,
            wall_seconds_to_ack=None,
            wall_seconds_to_human=None,
            business_seconds_to_human=None,
        )
    deadline_at = sent + deadline
    late_limit = deadline_at + late_window
    first_ack = next((message for message in visible if message.kind == AUTO_REPLY), None)
    humans = tuple(
        message for message in visible if message.kind == HUMAN and message.received_at <= late_limit
    )
    first_human = humans[0] if humans else None
    late = first_human is not None and first_human.received_at > deadline_at
    followed_up = False
    if len(humans) > 1:
        assert first_human is not None
        follow_by = calendar.add_business_days(first_human.received_at, FOLLOW_UP_BUSINESS_DAYS)
        followed_up = humans[1].received_at <= follow_by
    if first_human is not None and first_human.folder and first_human.folder.lower().startswith(JUNK_FOLDERS):
        notes.append(f"the human reply was in the {first_human.folder} folder (caught by a spam filter)")
    return Timeline(
        reached=True,
        not_reached_reason=None,
        submitted_at=sent,
        submit_time_class=calendar.classify(sent),
        deadline_at=deadline_at,
        first_reply_at=visible[0].received_at if visible else None,
        first_ack=first_ack,
        humans=humans,
        late=late,
        followed_up=followed_up,
        promise=_promise(visible, first_human, calendar=calendar, as_of=as_of),
        wall_seconds_to_ack=None if first_ack is None else _seconds(sent, first_ack.received_at),
        wall_seconds_to_human=None if first_human is None else _seconds(sent, first_human.received_at),
        business_seconds_to_human=(
            None if first_human is None else calendar.business_seconds_between(sent, first_human.received_at)
        ),
        notes=tuple(notes),
    )


def _promise(
    visible: Sequence[MessageFacts],
    first_human: MessageFacts | None,
    *,
    calendar: BusinessCalendar,
    as_of: datetime,
) -> ReplyPromise | None:
    """The first auto-reply that names a reply time, and whether a person answered by then."""
    for message in visible:
        if message.kind != AUTO_REPLY:
            continue
        term = find_promise(message.reply_text or message.text or "")
        if term is None and message.reply_text:
            term = find_promise(message.text or "")
        if term is None:
            continue
        due_at = term.due_at(message.received_at, calendar)
        kept: bool | None
        if first_human is not None:
            kept = first_human.received_at <= due_at
        else:
            kept = False if as_of >= due_at else None
        return ReplyPromise(text=term.text, due_at=due_at, kept=kept)
    return None
