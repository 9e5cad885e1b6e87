"""Run a wave: plan one probe per company, submit each once, store what happened.

The write-ahead rule (docs/probing.md, "Submitting at most once"): a probe's row is committed as
`submit_started` immediately before the submit click. A failure before that may be attempted again; anything
after it is never retried automatically: a run that finds such a row (the previous run died mid-submit) marks
it `uncertain` for a person to check.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from playwright.async_api import Browser
from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from audit.config import AuditConfig, CompanySection
from audit.contact_page import find_contact_page, forget_contact_page
from audit.domains import site_domain
from audit.email_probe import send_email_probe
from audit.errors import WaveError
from audit.leases import new_owner, owner_is_dead
from audit.models import Channel, Company, Probe, ProbeState, Wave, WaveMode, WaveStatus, utcnow
from audit.settings import Settings
from audit.targets import build_target
from audit.tokens import new_ref_code, new_token, reply_address
from probes import Detail, Outcome, ProbeResult, launch_browser, run_probe

LEASE_TTL = timedelta(seconds=60)
LEASE_HEARTBEAT_S = 20.0
NAVIGATION_ATTEMPTS = 3  # a page that failed to load before anything was sent may be tried again
RETRYABLE_BEFORE_SUBMIT = {Detail.NAVIGATION_FAILED.value}


@dataclass(frozen=True, slots=True)
class RunOptions:
    only: tuple[str, ...] = ()
    dry_run: bool = False
    concurrency: int | None = None
    new_wave: bool = False
    retry: bool = False
    """Attempt again the probes that ended before anything was submitted (navigation failure, no form...)."""


@dataclass(slots=True)
class RunReport:
    wave_id: int
    attempted: int = 0
    recovered_uncertain: list[str] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)  # company id (+ "/email") -> outcome
    already_done: bool = False


ProgressCallback = Callable[[str, Probe], None]  # ("start"|"done", probe)


# --------------------------------------------------------------------------------------------------- planning


def company_domain(spec: CompanySection) -> str:
    """The registrable domain of the company's site, else of its published address: the unit of politeness
    (one probe at a time per domain) and of reply matching."""
    if spec.site_url:
        return site_domain(spec.site_url)
    assert spec.email is not None  # the config requires one of the three
    return site_domain("https://" + spec.email.rpartition("@")[2])


def company_contact(spec: CompanySection) -> str:
    """Where the company is contacted: its contact page, else its website, else `mailto:` its address."""
    return spec.site_url or f"mailto:{spec.email}"


def sync_companies(session: Session, config: AuditConfig) -> None:
    """Upsert the companies of the config (the database keeps companies a later config dropped)."""
    for spec in config.companies:
        domain, contact = company_domain(spec), company_contact(spec)
        row = session.get(Company, spec.id) or Company(
            id=spec.id, name=spec.name, contact_url=contact, domain=domain
        )
        if row.website != spec.website or spec.contact_url is not None:
            row.discovered_url = row.discovered_at = None  # found from another website, or no longer needed
        row.name, row.sector, row.contact_url, row.domain = spec.name, spec.sector, contact, domain
        row.website, row.email, row.region = spec.website, spec.email, spec.region
        row.updated_at = utcnow()
        session.add(row)


def choose_wave(session: Session, config: AuditConfig, options: RunOptions) -> Wave:
    """Dry runs get a wave of their own each time; live runs continue the newest live wave unless told."""
    mode = WaveMode.DRY_RUN if options.dry_run else WaveMode.LIVE
    if mode is WaveMode.LIVE and not options.new_wave:
        latest = session.exec(
            select(Wave)
            .where(Wave.audit_name == config.audit.name, Wave.mode == WaveMode.LIVE)
            .order_by(col(Wave.id).desc())
        ).first()
        if latest is not None:
            return latest
    wave = Wave(audit_name=config.audit.name, mode=mode)
    session.add(wave)
    session.flush()
    return wave


def selected_companies(config: AuditConfig, only: tuple[str, ...]) -> list[CompanySection]:
    if only:
        unknown = [company_id for company_id in only if company_id not in {c.id for c in config.companies}]
        if unknown:
            raise WaveError(f"--only names unknown company id(s): {', '.join(unknown)}")
        return [config.company(company_id) for company_id in only]
    return [company for company in config.companies if company.enabled]


def plan_probes(session: Session, wave: Wave, config: AuditConfig, companies: list[CompanySection]) -> None:
    """One probe row per company not yet in the wave: the plan exists before anything is sent."""
    assert wave.id is not None
    existing = session.exec(
        select(Probe.company_id, Probe.channel, Probe.seq).where(Probe.wave_id == wave.id)
    ).all()
    channels_in_wave = {(company_id, channel) for company_id, channel, _ in existing}
    seqs: dict[str, int] = {}
    for company_id, _, seq in existing:
        seqs[company_id] = max(seqs.get(company_id, 0), seq)
    used_refs = set(session.exec(select(Probe.ref_code).where(Probe.wave_id == wave.id)).all())
    for company in companies:
        if any(company_id == company.id for company_id, _ in channels_in_wave):
            continue  # planned before: a changed channel list applies from the next wave
        for channel in company.inquiry_channels:
            seqs[company.id] = seqs.get(company.id, 0) + 1
            session.add(_new_probe(config, wave, company, Channel(channel), seqs[company.id], used_refs))
        wave.status = WaveStatus.OPEN


def _new_probe(
    config: AuditConfig, wave: Wave, company: CompanySection, channel: Channel, seq: int, used_refs: set[str]
) -> Probe:
    assert wave.id is not None
    ref = new_ref_code()
    while ref in used_refs:
        ref = new_ref_code()
    used_refs.add(ref)
    token = new_token()
    return Probe(
        wave_id=wave.id,
        company_id=company.id,
        seq=seq,
        channel=channel,
        token=token,
        ref_code=ref,
        reply_address=reply_address(config.mailbox.address, token),
        contact_url=f"mailto:{company.email}" if channel is Channel.EMAIL else company_contact(company),
        dry_run=wave.mode == WaveMode.DRY_RUN,
    )


def plan_email_fallback(engine: Engine, config: AuditConfig, probe: Probe) -> int | None:
    """After a form probe found no form: an email probe for a company that allows it, at most one a wave."""
    company = config.company(probe.company_id)
    if not company.email_fallback or probe.outcome != Outcome.NO_FORM.value:
        return None
    with Session(engine, expire_on_commit=False) as session:
        rows = session.exec(
            select(Probe).where(Probe.wave_id == probe.wave_id, Probe.company_id == probe.company_id)
        ).all()
        if any(row.channel == Channel.EMAIL for row in rows):
            return None
        wave = session.get(Wave, probe.wave_id)
        assert wave is not None
        used = set(session.exec(select(Probe.ref_code).where(Probe.wave_id == probe.wave_id)).all())
        fallback = _new_probe(config, wave, company, Channel.EMAIL, max(row.seq for row in rows) + 1, used)
        wave.status = WaveStatus.OPEN
        session.add_all([fallback, wave])
        session.commit()
        return fallback.id


def recover_interrupted(session: Session, wave: Wave) -> list[str]:
    """Probes left `submit_started` by a run that died: the click may have gone out, so never resend."""
    stranded = session.exec(
        select(Probe).where(Probe.wave_id == wave.id, Probe.state == ProbeState.SUBMIT_STARTED)
    ).all()
    for probe in stranded:
        probe.state = ProbeState.FINISHED
        probe.outcome, probe.detail = Outcome.UNCERTAIN.value, Detail.UNKNOWN.value
        probe.reason = (
            "The run stopped after the submit click was recorded; the inquiry may or may not have been sent. "
            "Check the evidence and the reply inbox by hand; it is never re-sent automatically."
        )
        probe.finished_at = utcnow()
        session.add(probe)
    return [probe.company_id for probe in stranded]


def reopen_for_retry(session: Session, wave: Wave, company_ids: set[str]) -> None:
    """With --retry: probes that ended before any submit click may be attempted again."""
    failed = session.exec(
        select(Probe).where(
            Probe.wave_id == wave.id,
            Probe.state == ProbeState.FINISHED,
            col(Probe.submit_started_at).is_(None),
            col(Probe.outcome).in_([Outcome.ERROR, Outcome.NO_FORM, Outcome.VALIDATION_ERROR]),
        )
    ).all()
    for probe in failed:
        if probe.company_id in company_ids:
            probe.state, probe.outcome, probe.detail = ProbeState.PLANNED, None, None
            session.add(probe)


# ------------------------------------------------------------------------------------------------------ lease


def acquire_lease(engine: Engine, wave_id: int, owner: str) -> None:
    with Session(engine) as session:
        wave = session.get(Wave, wave_id)
        assert wave is not None
        now = utcnow()
        holder, expires = wave.lease_owner, wave.lease_expires_at
        stale = expires is None or expires < now or owner_is_dead(holder)
        condition = (
            or_(col(Wave.lease_owner).is_(None), col(Wave.lease_owner) == holder)
            if stale
            else col(Wave.lease_owner) == owner
        )
        # Conditional update: of two runs racing for the wave, exactly one changes the row.
        result = session.execute(
            update(Wave)
            .where(col(Wave.id) == wave_id, condition)
            .values(lease_owner=owner, lease_expires_at=now + LEASE_TTL)
        )
        session.commit()
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise WaveError(
                f"wave {wave_id} is being run by another process ({holder}) until "
                f"{expires:%Y-%m-%d %H:%M:%S} UTC; wait for it to finish"
                if expires
                else f"wave {wave_id} is being run by another process ({holder})"
            )


def release_lease(engine: Engine, wave_id: int, owner: str) -> None:
    with Session(engine) as session:
        session.execute(
            update(Wave)
            .where(col(Wave.id) == wave_id, col(Wave.lease_owner) == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )
        session.commit()


async def _heartbeat(engine: Engine, wave_id: int, owner: str) -> None:
    while True:
        await asyncio.sleep(LEASE_HEARTBEAT_S)
        with Session(engine) as session:
            session.execute(
                update(Wave)
                .where(col(Wave.id) == wave_id, col(Wave.lease_owner) == owner)
                .values(lease_expires_at=utcnow() + LEASE_TTL)
            )
            session.commit()


@contextlib.asynccontextmanager
async def wave_lease(engine: Engine, wave_id: int) -> AsyncIterator[None]:
    owner = new_owner()
    acquire_lease(engine, wave_id, owner)
    beat = asyncio.create_task(_heartbeat(engine, wave_id, owner))
    try:
        yield
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        release_lease(engine, wave_id, owner)


# ---------------------------------------------------------------------------------------------------- running


def store_result(session: Session, probe: Probe, result: ProbeResult) -> None:
    probe.state = ProbeState.FINISHED
    probe.outcome, probe.detail, probe.reason = result.outcome.value, result.detail.value, result.reason
    probe.clicked_at, probe.submitted_at = result.clicked_at, result.submitted_at
    probe.submitted_at_source = result.submitted_at_source
    probe.post_url, probe.post_status = result.post_url, result.post_status
    probe.confirmation_text, probe.error_text = result.confirmation_text, result.error_text
    probe.final_url, probe.form_layer = result.final_url, result.form_layer
    probe.captcha, probe.cookie_action = result.captcha, result.cookie_action
    probe.finished_at = utcnow()
    session.add(probe)


class WaveRun:
    """The per-wave state of one `audit run`: the browser, the limits, the database."""

    def __init__(
        self, *, settings: Settings, config: AuditConfig, engine: Engine, browser: Browser | None,
        concurrency: int, on_progress: ProgressCallback | None, report: RunReport,
    ) -> None:  # fmt: skip
        self.settings, self.config, self.engine, self.browser = settings, config, engine, browser
        self.slots = asyncio.Semaphore(concurrency)
        self.domain_locks: dict[str, asyncio.Lock] = {}
        self.on_progress = on_progress
        self.report = report

    def _browser(self) -> Browser:
        if self.browser is None:  # run_wave starts one whenever a form probe is pending
            raise WaveError("a form probe was started without a browser")
        return self.browser

    def _notify(self, event: str, probe: Probe) -> None:
        if self.on_progress is not None:
            self.on_progress(event, probe)

    async def run_one(self, probe_id: int) -> None:
        with Session(self.engine, expire_on_commit=False) as session:
            probe = session.get(Probe, probe_id)
            assert probe is not None
        company = self.config.company(probe.company_id)
        lock = self.domain_locks.setdefault(company_domain(company), asyncio.Lock())
        async with lock, self.slots:  # one probe per site domain at a time, and N at most in all
            await self._run_locked(probe, company)
            fallback_id = plan_email_fallback(self.engine, self.config, probe)
            if fallback_id is not None:
                with Session(self.engine, expire_on_commit=False) as session:
                    fallback = session.get(Probe, fallback_id)
                assert fallback is not None
                await self._run_locked(fallback, company)

    async def _run_locked(self, probe: Probe, company: CompanySection) -> None:
        self._notify("start", probe)
        if probe.channel == Channel.EMAIL:
            evidence_rel, evidence_dir = self._evidence_dir(probe)
            row = await send_email_probe(
                engine=self.engine, config=self.config, company=company, probe=probe,
                evidence_dir=evidence_dir, evidence_rel=evidence_rel.as_posix(),
            )  # fmt: skip
            probe.sqlmodel_update(row.model_dump())
        else:
            await self._attempt(probe, company)
        self._notify("done", probe)
        self.report.attempted += 1
        key = probe.company_id if probe.channel == Channel.FORM else f"{probe.company_id}/email"
        self.report.outcomes[key] = probe.outcome or "?"

    def _evidence_dir(self, probe: Probe) -> tuple[Path, Path]:
        evidence_rel = Path("evidence") / f"wave-{probe.wave_id}" / f"{probe.company_id}-{probe.seq}"
        return evidence_rel, self.settings.data_dir / evidence_rel

    async def _attempt(self, probe: Probe, company: CompanySection) -> None:
        assert probe.id is not None
        evidence_rel, evidence_dir = self._evidence_dir(probe)
        if company.contact_url is None:
            found = await self._contact_page(probe, company, evidence_dir, evidence_rel)
            if found is None:
                return

        async def before_submit() -> None:
            # The write-ahead record: committed before the click, so a crash after it is never resubmitted.
            with Session(self.engine) as session:
                session.execute(
                    update(Probe)
                    .where(col(Probe.id) == probe.id, col(Probe.state) == ProbeState.PLANNED)
                    .values(state=ProbeState.SUBMIT_STARTED, submit_started_at=utcnow())
                )
                session.commit()

        result: ProbeResult | None = None
        for attempt in range(1, NAVIGATION_ATTEMPTS + 1):
            target = build_target(
                self.config, company, probe, evidence_dir=evidence_dir, dry_run=probe.dry_run
            )
            try:
                result = await run_probe(self._browser(), target, before_submit)
            except Exception as ex:  # the one broad catch: one company's failure must not stop the wave
                result = None
                failure = f"{ex.__class__.__name__}: {ex}"
            with Session(self.engine, expire_on_commit=False) as session:
                row = session.get(Probe, probe.id)
                assert row is not None
                row.attempts += 1
                row.evidence_dir = evidence_rel.as_posix()
                if result is None:
                    started = row.state == ProbeState.SUBMIT_STARTED
                    row.state = ProbeState.FINISHED
                    row.outcome = (Outcome.UNCERTAIN if started else Outcome.ERROR).value
                    row.detail = (Detail.UNKNOWN if started else Detail.FILL_FAILED).value
                    row.reason = f"Internal error while probing ({failure}); please report it."
                    row.finished_at = utcnow()
                    session.add(row)
                elif (
                    result.detail.value in RETRYABLE_BEFORE_SUBMIT
                    and not result.submit_started
                    and attempt < NAVIGATION_ATTEMPTS
                ):
                    row.reason = result.reason
                    session.add(row)
                    session.commit()
                    await asyncio.sleep(2.0 * attempt)
                    continue
                else:
                    store_result(session, row, result)
                session.commit()
                probe.sqlmodel_update(row.model_dump())
            break
        if company.contact_url is None and probe.outcome == Outcome.NO_FORM.value:
            forget_contact_page(self.engine, company.id, probe.contact_url)

    async def _contact_page(
        self, probe: Probe, company: CompanySection, evidence_dir: Path, evidence_rel: Path
    ) -> str | None:
        """The contact page of a company given by its website: kept from an earlier wave, else found now.
        Without one the probe ends `no_form`, with the path discovery took as its evidence."""
        assert probe.id is not None
        found = await find_contact_page(
            engine=self.engine, browser=self._browser(), config=self.config, company=company,
            evidence_dir=evidence_dir,
        )  # fmt: skip
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(Probe, probe.id)
            assert row is not None
            row.evidence_dir = evidence_rel.as_posix()
            if found.url is not None:
                row.contact_url = found.url
            else:
                row.state, row.finished_at = ProbeState.FINISHED, utcnow()
                row.outcome, row.detail = Outcome.NO_FORM.value, Detail.NO_FORM_FOUND.value
                row.reason = found.summary
                row.final_url = company.website
                row.attempts += 1
            session.add(row)
            session.commit()
            probe.sqlmodel_update(row.model_dump())
        return found.url


async def run_wave(
    *,
    settings: Settings,
    config: AuditConfig,
    engine: Engine,
    options: RunOptions = RunOptions(),
    browser: Browser | None = None,
    on_plan: Callable[[int, int], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> RunReport:
    """Plan (or resume) the wave and probe every company still without an outcome."""
    with Session(engine, expire_on_commit=False) as session:
        companies = selected_companies(config, options.only)
        sync_companies(session, config)
        wave = choose_wave(session, config, options)
        plan_probes(session, wave, config, companies)
        session.commit()
        assert wave.id is not None
        wave_id = wave.id

    report = RunReport(wave_id=wave_id)
    async with wave_lease(engine, wave_id):
        with Session(engine, expire_on_commit=False) as session:
            wave_row = session.get(Wave, wave_id)
            assert wave_row is not None
            report.recovered_uncertain = recover_interrupted(session, wave_row)
            wanted = {company.id for company in companies}
            if options.retry:
                reopen_for_retry(session, wave_row, wanted)
            session.commit()
            planned = [
                probe
                for probe in session.exec(
                    select(Probe)
                    .where(Probe.wave_id == wave_id, Probe.state == ProbeState.PLANNED)
                    .order_by(col(Probe.id))
                ).all()
                if probe.company_id in wanted and probe.id is not None
            ]
            pending = [probe.id for probe in planned if probe.id is not None]
            # A wave of emails only needs no browser (an email fallback never does).
            needs_browser = any(probe.channel == Channel.FORM for probe in planned)
        if on_plan is not None:
            on_plan(wave_id, len(pending))
        if not pending:
            report.already_done = True
        else:
            concurrency = options.concurrency or config.audit.concurrency
            if browser is None and needs_browser:
                async with launch_browser(settings.chromium_path) as own_browser:
                    await _run_all(
                        settings, config, engine, own_browser, concurrency, pending, on_progress, report
                    )
            else:
                await _run_all(settings, config, engine, browser, concurrency, pending, on_progress, report)
        close_wave_if_done(engine, wave_id)
    return report


async def _run_all(
    settings: Settings, config: AuditConfig, engine: Engine, browser: Browser | None, concurrency: int,
    pending: list[int], on_progress: ProgressCallback | None, report: RunReport,
) -> None:  # fmt: skip
    run = WaveRun(
        settings=settings, config=config, engine=engine, browser=browser,
        concurrency=concurrency, on_progress=on_progress, report=report,
    )  # fmt: skip
    async with asyncio.TaskGroup() as group:
        for probe_id in pending:
            group.create_task(run.run_one(probe_id))


def close_wave_if_done(engine: Engine, wave_id: int) -> None:
    with Session(engine) as session:
        open_probes = session.exec(
            select(Probe.id).where(Probe.wave_id == wave_id, Probe.state != ProbeState.FINISHED)
        ).first()
        wave = session.get(Wave, wave_id)
        assert wave is not None
        if open_probes is None and wave.status != WaveStatus.SUBMITTED:
            wave.status, wave.finished_at = WaveStatus.SUBMITTED, utcnow()
            session.add(wave)
            session.commit()
