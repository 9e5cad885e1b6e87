"""Translate config and database rows into the browser layer's own types (`audit` -> `probes`, one way)."""

from __future__ import annotations

from pathlib import Path

from audit.config import AuditConfig, CompanySection, FormSection
from audit.models import Probe
from audit.tokens import compose_message, compose_subject
from probes import FormSpec, Inquiry, Persona, ProbeTarget, Slot, Step

_LOCALES = {"he": "he-IL", "en": "en-US"}


def form_spec(form: FormSection) -> FormSpec:
    return FormSpec(
        frame=form.frame,
        fields={Slot(slot): selector for slot, selector in form.fields.items()},
        consent=form.consent,
        submit=form.submit,
        steps=tuple(Step(action=s.action, selector=s.selector, value=s.value) for s in form.steps),
        success_text=form.success.text,
        success_url=form.success.url,
        response_url=form.success.response_url,
    )


def browser_locale(config: AuditConfig, company: CompanySection) -> str:
    return company.locale or _LOCALES.get(config.audit.language, "en-US")


def build_target(
    config: AuditConfig, company: CompanySection, probe: Probe, *, evidence_dir: Path, dry_run: bool
) -> ProbeTarget:
    persona = config.persona
    names = {"ref": probe.ref_code, "company": company.name}
    names |= {"first_name": persona.first_name, "last_name": persona.last_name}
    message = compose_message(config.inquiry.message, **names)
    subject = compose_subject(config.inquiry.subject, **names)
    return ProbeTarget(
        key=company.id,
        url=probe.contact_url,
        persona=Persona(
            first_name=persona.first_name,
            last_name=persona.last_name,
            email=probe.reply_address,
            phone=persona.phone,
            company=persona.company,
        ),
        inquiry=Inquiry(subject=subject, message=message, topic=config.inquiry.topic),
        evidence_dir=evidence_dir,
        form=form_spec(company.form) if company.form else None,
        locale=browser_locale(config, company),
        timezone=config.audit.timezone,
        dry_run=dry_run,
        allow_private=config.audit.allow_private_targets,
        timeout_s=config.audit.probe_timeout.total_seconds(),
    )
