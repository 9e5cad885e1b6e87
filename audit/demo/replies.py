"""The demo's simulated companies: how each one answers the demo inquiry, and the mail it sends.

Shaped like the TACK survey (docs/method.md, "The model: TACK"): a few answer fast, personally and warmly;
most answer correctly but coldly within a day or two; a few answer late and poorly; some never answer, at most
sending an automatic acknowledgement or a newsletter. Replies are dated into the future (submission time + the
script's delay), as a real mailbox would hold them a week later; `audit demo` then grades as of the deadline.

Mail goes into a Maildir the way a delivery agent writes it (tmp/ then a rename into new/, with the file's
mtime as the delivery time, which the Maildir source reads as the arrival time). A phone call is recorded the
way `audit reply add` does it. Every name and text here is fictional.
"""

from __future__ import annotations

import html
import mailbox
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from string import Template
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlmodel import Session

from audit.collect.manual import add_manual_reply
from audit.config import AuditConfig
from audit.models import Probe

ReplyKind = Literal["reply", "auto_ack", "newsletter", "phone_call"]


@dataclass(frozen=True, slots=True)
class ScriptedReply:
    """One message (or call) a demo company sends after the inquiry.

    `body` and `subject` are `string.Template`s: $first_name (the persona), $company (the company's name),
    $ticket (a ticket number of this inquiry). `$` keeps `{{first_name}}`, an unfilled mail-merge field one
    company sends, literal.
    """

    after: timedelta  # after the inquiry was submitted
    kind: ReplyKind
    sender: str  # "Display Name <local part>"; the domain is the company's own demo host ("" for a call)
    body: str
    subject: str | None = None  # default: "Re: <the inquiry's subject>"
    folder: str | None = None  # a Maildir++ subfolder, e.g. "Junk": the spam filter caught it


@dataclass(frozen=True, slots=True)
class CompanyScript:
    shape: str  # what this company shows in the demo, in words
    replies: tuple[ScriptedReply, ...]


def _after(*, days: int = 0, hours: int = 0, minutes: int = 0, seconds: int = 0) -> timedelta:
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


# ---------------------------------------------------------------------------------------------------------
# The scripts. Companies not listed here (gatekeeper: CAPTCHA, aboutus: no form, brokenpipe: broken form,
# shielded: bot challenge) are never reached, so they have nothing to answer.

_PLAINVIEW = """\
Hi $first_name,

Thank you for getting in touch, and for thinking of $company!

Yes, we do offer a monthly payment plan: the yearly premium is split into 12 equal monthly payments, with no
extra charge. To get started, all you need is your ID and a short application form, which I can fill in
with you over the phone in about ten minutes.

I can call you tomorrow morning at a time that works for you, or you can reach me directly at
03-555-0142. I will also send you the application form today, so you can look at it before we talk; the
plan's details are at http://plainview.localhost/monthly-payments.

Happy to help with anything else. Don't hesitate to ask if something is unclear.

Kind regards,
Tamar Ben-David
Customer Advisor, $company
"""

_GALIL = """\
שלום $first_name,

תודה על פנייתך ועל ההתעניינות בגליל פודס! אנחנו שמחים שפנית אלינו.

כן, אנחנו מציעים תוכנית תשלום חודשית: התשלום מתחלק ל-12 תשלומים חודשיים שווים, ללא תוספת.
כדי להתחיל צריך רק למלא טופס הרשמה קצר ולצרף צילום של תעודת הזהות. אשלח לך את הטופס כבר היום,
ואת כל פרטי התוכנית אפשר לראות גם כאן: http://galil.localhost/plans

אם נוח לך, אתקשר אלייך מחר בבוקר ונעבור יחד על הפרטים.

נשמח לעזור בכל שאלה נוספת, ואל תהססי לפנות אליי ישירות.

בברכה,
מיכל
שירות לקוחות, גליל פודס
"""

_WORDSMITH = """\
Dear customer,

Thank you for contacting $company.

Yes, a monthly payment plan is available for all our packages. To sign up you will need an ID document
and a credit card or bank account for the monthly payment. The application can be completed in any of our
shops, or you can reply to this email with a copy of your ID. Prices and packages:
http://wordsmith.localhost/plans

Best regards,
Customer Service Team
$company
"""

_GRAVITAS_ACK = """\
Dear customer,

Thank you for writing to $company. We have received your message and opened ticket number $ticket.

A member of our team will reply within 2 business days.

This is an automated message. Please do not reply to it.

$company Customer Service
"""

_GRAVITAS = """\
Dear customer,

Thank you for contacting $company (ticket $ticket).

Yes, our current accounts can be paid with a monthly payment plan. To open an account you will need
your ID, proof of address and a completed application form; the documents can be brought to any branch,
or you can reply to this email with them.

Regards,
Customer Service Team
$company
"""

_FRAMEWISE = """\
Dear customer,

Thank you for your inquiry.

Yes, $company offers a monthly payment plan for electricity supply. To sign up we need your ID number,
the meter number and your bank details; you can reply to this email with them. Once the documents are
received, the switch takes about two weeks. We also offer a fixed-price plan for the first year.

Kind regards,
Customer Service Team
$company
"""

_TOPICAL_CALL = (
    "Called back: 'Hello $first_name, this is Ronit from $company, thank you for your inquiry.' Yes, there "
    "is a monthly payment plan on all their credit cards. To get started she needs her ID and a signed "
    "application form: 'I will send you the form by email today, and I can call you next week to go "
    "through it together.' Friendly and helpful."
)

_REACTOR = """\
Dear customer,

Thank you for your message.

For information about payment plans please call our service centre at *2040, Sunday to Thursday between
9:00 and 17:00, or visit one of our stores.

Regards,
$company Customer Care
"""

_STEPWISE = """\
Dear {{first_name}},

Thank you for contacting $company. Your request has been forwarded to the relevant department.

For questions about joining, please fill in the form at our website and a representative will get back
to you.

$company
"""

_CRUMBS_NEWS = """\
Crumbs Retail news

This weekend only: 20% off everything in store and online.
New in: the winter collection, and free delivery on orders over 200 NIS.

You receive this newsletter because you are in touch with $company.
Unsubscribe: http://crumbs.localhost/unsubscribe
"""

_CONFIRMO_ACK = """\
Hello,

We have received your request. A travel consultant from $company will get back to you within 24 hours.

This is an automatic message; please do not reply.
"""

SCRIPTS: Mapping[str, CompanyScript] = {
    "plainview": CompanyScript(
        "fast, personal and courteous: answers in 33 minutes, offers a call",
        (ScriptedReply(_after(minutes=33), "reply", "Tamar Ben-David <tamar.bd>", _PLAINVIEW),),
    ),
    "galil": CompanyScript(
        "fast, personal and warm, in Hebrew: answers in 2.5 hours",
        (ScriptedReply(_after(hours=2, minutes=30), "reply", "מיכל - גליל פודס <service>", _GALIL),),
    ),
    "wordsmith": CompanyScript(
        "correct but cold: 'Dear customer', 20 hours",
        (ScriptedReply(_after(hours=20), "reply", "Wordsmith Telecom <service>", _WORDSMITH),),
    ),
    "gravitas": CompanyScript(
        "a ticket acknowledgement promising 2 business days, then a correct, cold answer in 22 hours",
        (
            ScriptedReply(
                _after(seconds=45),
                "auto_ack",
                "Gravitas Bank <noreply>",
                _GRAVITAS_ACK,
                subject="[Ticket #$ticket] We have received your message",
            ),
            ScriptedReply(_after(hours=22), "reply", "Gravitas Bank Customer Service <service>", _GRAVITAS),
        ),
    ),
    "framewise": CompanyScript(
        "correct but cold: 'Dear customer', 1 day 16 hours; our spam filter puts it in Junk, and it counts",
        (
            ScriptedReply(
                _after(days=1, hours=16), "reply", "Framewise Energy <care>", _FRAMEWISE, folder="Junk"
            ),
        ),
    ),
    "topical": CompanyScript(
        "calls back the next day instead of writing (entered by hand, as `audit reply add` does)",
        (ScriptedReply(_after(days=1, hours=2), "phone_call", "", _TOPICAL_CALL),),
    ),
    "reactor": CompanyScript(
        "slow and poor: after 3 days, 'please call our service centre'",
        (ScriptedReply(_after(days=3, hours=1), "reply", "Reactor Mobile <customercare>", _REACTOR),),
    ),
    "stepwise": CompanyScript(
        "slow and poor: after 5 days, an unfilled template field and a referral to a form",
        (ScriptedReply(_after(days=5, hours=3), "reply", "Stepwise Health <info>", _STEPWISE),),
    ),
    "crumbs": CompanyScript(
        "never answers: only a marketing newsletter arrives",
        (
            ScriptedReply(
                _after(hours=3),
                "newsletter",
                "Crumbs Retail <news>",
                _CRUMBS_NEWS,
                subject="20% off this weekend at Crumbs Retail",
            ),
        ),
    ),
    "confirmo": CompanyScript(
        "never answers: an automatic acknowledgement promises a reply within 24 hours that never comes",
        (
            ScriptedReply(
                _after(minutes=1),
                "auto_ack",
                "Confirmo Travel <no-reply>",
                _CONFIRMO_ACK,
                subject="We have received your request",
            ),
        ),
    ),
}


# ---------------------------------------------------------------------------------------------------------
# Delivery


@dataclass(frozen=True, slots=True)
class DeliveredReply:
    company_id: str
    probe_id: int
    kind: ReplyKind
    at: datetime  # when it reaches the mailbox (or the call is made): in the future when the demo runs
    path: Path | None  # the Maildir file; None for a phone call


def ticket_number(probe: Probe) -> str:
    """A help-desk-looking number, the same for the probe's acknowledgement and its reply."""
    return f"{400000 + (probe.id or 0) * 7919 % 100000}"


def company_host(probe: Probe) -> str:
    """The company's own demo host (e.g. plainview.localhost), so replies come from the company's domain."""
    return (urlsplit(probe.contact_url).hostname or "localhost").lower()


def _sender_address(sender: str, host: str) -> str:
    name, _, local = sender.rpartition("<")
    local = local.rstrip(">").strip()
    return f"{name.strip()} <{local}@{host}>" if name.strip() else f"{local}@{host}"


def _fill(template: str, config: AuditConfig, probe: Probe) -> str:
    return Template(template).substitute(
        first_name=config.persona.first_name,
        company=config.company(probe.company_id).name,
        ticket=ticket_number(probe),
    )


def build_email(reply: ScriptedReply, config: AuditConfig, probe: Probe, at: datetime) -> EmailMessage:
    """The RFC 5322 message a company's mail system would deliver to the persona's reply address."""
    host = company_host(probe)
    message = EmailMessage()
    message["From"] = _sender_address(reply.sender, host)
    message["To"] = f"{config.persona.first_name} {config.persona.last_name} <{probe.reply_address}>"
    # A local delivery agent records the envelope recipient; the collector trusts it first.
    message["Delivered-To"] = probe.reply_address
    subject = reply.subject or f"Re: {config.inquiry.subject}"
    message["Subject"] = _fill(subject, config, probe)
    message["Date"] = format_datetime(at.astimezone(ZoneInfo(config.audit.timezone)))
    message["Message-ID"] = make_msgid(domain=host)
    body = _fill(reply.body, config, probe)
    if reply.kind == "auto_ack":
        message["Auto-Submitted"] = "auto-replied"  # RFC 3834, as help desks send it
    if reply.kind == "newsletter":
        message["List-Unsubscribe"] = f"<mailto:unsubscribe@{host}>, <http://{host}/unsubscribe>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message["Precedence"] = "bulk"
    message.set_content(body)
    if reply.kind == "newsletter":
        # Newsletters are HTML with a tracking pixel; the collector keeps the text and drops remote images.
        paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in body.splitlines() if line.strip())
        pixel = f'<img src="http://{host}/open.gif?r={probe.ref_code}" width="1" height="1" alt="">'
        message.add_alternative(f"<html><body>{paragraphs}{pixel}</body></html>", subtype="html")
    return message


def deliver_to_maildir(maildir: Path, message: EmailMessage, at: datetime) -> Path:
    """Write one message the way a delivery agent does: tmp/, then a rename into new/; mtime = delivery time.

    The stdlib's Maildir does both (it sets the mtime from `MaildirMessage.set_date` before the rename).
    """
    box = mailbox.Maildir(maildir, create=True)
    stored = mailbox.MaildirMessage(message)
    stored.set_date(at.timestamp())
    key = box.add(stored)
    return maildir / "new" / key


def deliver_replies(
    session: Session, maildir: Path, config: AuditConfig, probes: Iterable[Probe]
) -> list[DeliveredReply]:
    """Every scripted reply to the submitted probes: mail into the Maildir, calls entered as manual replies.

    Probes without a submission time (nothing was sent) and companies without a script get nothing.
    The session is not committed: the caller's transaction keeps the phone calls.
    """
    delivered: list[DeliveredReply] = []
    for probe in probes:
        script = SCRIPTS.get(probe.company_id)
        if script is None or probe.submitted_at is None or probe.id is None:
            continue
        for reply in script.replies:
            at = probe.submitted_at + reply.after
            if reply.kind == "phone_call":
                note = _fill(reply.body, config, probe)
                add_manual_reply(session, reference=str(probe.id), channel="phone", at=at, note=note)
                delivered.append(DeliveredReply(probe.company_id, probe.id, reply.kind, at, None))
                continue
            box = maildir / f".{reply.folder}" if reply.folder else maildir
            path = deliver_to_maildir(box, build_email(reply, config, probe, at), at)
            delivered.append(DeliveredReply(probe.company_id, probe.id, reply.kind, at, path))
    return delivered
