"""One email-channel inquiry: composed like the form's, sent by SMTP once, its outcome stored like a form's.

The never-twice rule is the form's (docs/probing.md, "Submitting at most once"): the probe's row is committed
`submit_started` after the server accepted the sender and the recipient and before DATA. A crash after that
leaves the row for `recover_interrupted` to mark `uncertain`; it is never resent automatically. A definite
refusal of DATA (the server said it did not take the message) undoes the record, so `audit run --retry` may
send it later. The send time is when the server accepted the message (its 250 reply to DATA).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col

from audit.backoff import backoff_seconds
from audit.config import AuditConfig, CompanySection
from audit.models import Probe, ProbeState, utcnow
from audit.outbound import NotSentError, SendUncertainError, SentInquiry, build_inquiry_email, send_inquiry
from audit.tokens import compose_message, compose_subject
from probes import Detail, Outcome

EMAIL_ATTEMPTS = 3  # a temporary refusal (4xx, a dropped connection) before DATA is tried again this often
FIRST_RETRY_S = 5.0
LONGEST_RETRY_S = 60.0

Sleep = Callable[[float], Any]


def _finish(engine: Engine, probe_id: int, **values: Any) -> Probe:
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Probe, probe_id)
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)
        row.state, row.finished_at = ProbeState.FINISHED, utcnow()
        session.add(row)
        session.commit()
        return row


def _write_ahead(engine: Engine, probe_id: int) -> None:
    with Session(engine) as session:
        session.execute(
            update(Probe)
            .where(col(Probe.id) == probe_id, col(Probe.state) == ProbeState.PLANNED)
            .values(state=ProbeState.SUBMIT_STARTED, submit_started_at=utcnow())
        )
        session.commit()


def _undo_write_ahead(engine: Engine, probe_id: int) -> None:
    with Session(engine) as session:
        session.execute(
            update(Probe)
            .where(col(Probe.id) == probe_id, col(Probe.state) == ProbeState.SUBMIT_STARTED)
            .values(state=ProbeState.PLANNED, submit_started_at=None)
        )
        session.commit()


def _evidence(directory: Path, message_bytes: bytes, facts: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "inquiry.eml").write_bytes(message_bytes)
    (directory / "evidence.json").write_text(
        json.dumps(facts, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )


async def send_email_probe(
    *,
    engine: Engine,
    config: AuditConfig,
    company: CompanySection,
    probe: Probe,
    evidence_dir: Path,
    evidence_rel: str,
    sleep: Sleep = asyncio.sleep,
) -> Probe:
    """Send the probe's inquiry to the company's published address; returns the finished row."""
    assert probe.id is not None and company.email is not None
    smtp = config.mailbox.smtp
    if smtp is None:  # config validation requires it; a config edited under a running server may not
        return _finish(
            engine, probe.id, outcome=Outcome.ERROR.value, detail=Detail.FILL_FAILED.value,
            reason="mailbox.smtp is not set, so the inquiry cannot be emailed", evidence_dir=evidence_rel,
        )  # fmt: skip
    persona = config.persona
    names = {"ref": probe.ref_code, "company": company.name}
    names |= {"first_name": persona.first_name, "last_name": persona.last_name}
    message = build_inquiry_email(
        persona_name=f"{persona.first_name} {persona.last_name}",
        from_address=probe.reply_address,
        to_address=company.email,
        subject=compose_subject(config.inquiry.subject, **names),
        body_text=compose_message(config.inquiry.message, **names),
        ref_code=probe.ref_code,
        message_id_domain=probe.reply_address.rpartition("@")[2],
    )
    facts: dict[str, Any] = {
        "channel": "email",
        "to": company.email,
        "envelope_from": probe.reply_address,
        "server": f"{smtp.host}:{smtp.port}",
        "message_id": message["Message-ID"],
        "attempts": [],
    }
    if probe.dry_run:
        _evidence(evidence_dir, message.as_bytes(), facts)
        return _finish(
            engine, probe.id, outcome=Outcome.DRY_RUN.value, detail=Detail.DRY_RUN_OK.value,
            reason="dry run: the email was composed but not sent", evidence_dir=evidence_rel,
            final_url=f"mailto:{company.email}", attempts=probe.attempts + 1,
        )  # fmt: skip
    probe_id = probe.id
    sent: SentInquiry | None = None
    failure: NotSentError | SendUncertainError | None = None
    attempts = 0
    for attempt in range(1, EMAIL_ATTEMPTS + 1):
        attempts = attempt
        started = utcnow()
        try:
            sent = await asyncio.to_thread(
                send_inquiry,
                message,
                smtp,
                envelope_from=probe.reply_address,
                recipient=company.email,
                before_data=lambda: _write_ahead(engine, probe_id),
            )
        except NotSentError as ex:
            failure = ex
            if ex.after_write_ahead:
                _undo_write_ahead(engine, probe_id)
            facts["attempts"].append({"at": started, "error": str(ex), "temporary": ex.temporary})
            if ex.temporary and attempt < EMAIL_ATTEMPTS:
                await sleep(backoff_seconds(attempt, first=FIRST_RETRY_S, longest=LONGEST_RETRY_S))
                continue
        except SendUncertainError as ex:
            failure = ex
            facts["attempts"].append({"at": started, "error": str(ex), "uncertain": True})
        else:
            assert sent is not None
            facts["attempts"].append(
                {"at": started, "accepted_at": sent.accepted_at, "reply": sent.server_reply}
            )
        break
    _evidence(evidence_dir, message.as_bytes(), facts)
    common: dict[str, Any] = {
        "evidence_dir": evidence_rel,
        "attempts": probe.attempts + attempts,
        "final_url": f"mailto:{company.email}",
        "form_layer": "email",
    }
    if sent is not None:
        return _finish(
            engine, probe_id, outcome=Outcome.SUBMITTED.value, detail=Detail.SUBMITTED_CONFIRMED.value,
            reason=f"the mail server accepted the message: {sent.server_reply}",
            submitted_at=sent.accepted_at, submitted_at_source="smtp", post_url=f"smtp://{smtp.host}:{smtp.port}",
            post_status=250, confirmation_text=sent.server_reply, **common,
        )  # fmt: skip
    if isinstance(failure, SendUncertainError):
        return _finish(
            engine, probe_id, outcome=Outcome.UNCERTAIN.value, detail=Detail.UNKNOWN.value,
            reason=f"the connection failed while the message was being sent ({failure}); it may or may "
            "not have arrived. Check by hand; it is never re-sent automatically.", **common,
        )  # fmt: skip
    assert failure is not None
    advice = " (temporary; `audit run --retry` tries again)" if failure.temporary else ""
    return _finish(
        engine, probe_id, outcome=Outcome.ERROR.value, detail=Detail.EMAIL_REFUSED.value,
        reason=f"the email was not sent: {failure}{advice}", error_text=str(failure), **common,
    )  # fmt: skip
