"""The report: built from hand-made grades (tests/report_fixtures.py), rendered, parsed back with the
standard library's HTML parser, opened in the real Chromium; the metrics as pure functions; and the loader
against a real database graded by the real grader.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from audit.config import AuditConfig
from audit.config import parse_config as parse_config_text
from audit.grading.types import CompanyResult, ProbeResult, Tier, WaveGrades
from audit.reporting.data import EvidenceLink, ReportData, WaveFacts, build_report_data
from audit.reporting.i18n import Lang, duration, tier_name
from audit.reporting.metrics import NEVER, average_ranks, compute_metrics, nearest_rank, spearman
from audit.reporting.render import render_html, render_text
from tests.conftest import BrowserHost
from tests.report_fixtures import (
    HOSTILE_NAME,
    company_result,
    config_yaml,
    make_config,
    make_previous_wave,
    make_wave,
    parse,
    probe_result,
)

GENERATED = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
MAIN_ORDER = ["fast_courteous", "reasonable", "slow_or_lacking", "no_reply", "not_reached"]

# ---------------------------------------------------------------------------------------------------------
# Fixtures: each report is built and rendered once per module


def build(
    grades: WaveGrades,
    *,
    lang: Lang = "en",
    config: AuditConfig | None = None,
    previous: WaveGrades | None = None,
    evidence: bool = True,
) -> ReportData:
    links = {}
    if evidence:
        links = {
            company.probes[0].probe_id: (
                EvidenceLink(
                    "form", f"../evidence/wave-{grades.wave_id}/{company.company_id}-1/before-submit.png"
                ),
            )
            for company in grades.companies
        }
    return build_report_data(
        grades,
        previous,
        WaveFacts(generated_at=GENERATED, evidence=links),
        config or make_config(language=lang),
        lang=lang,
    )


@dataclass(frozen=True)
class Rendered:
    report: ReportData
    web: str
    email: str
    text: str


def rendered(report: ReportData) -> Rendered:
    return Rendered(report, render_html(report, "web"), render_html(report, "email"), render_text(report))


@pytest.fixture(scope="module")
def english() -> Rendered:
    return rendered(build(make_wave(), previous=make_previous_wave()))


@pytest.fixture(scope="module")
def hebrew() -> Rendered:
    return rendered(build(make_wave(), lang="he", previous=make_previous_wave()))


@pytest.fixture(scope="module")
def hostile() -> Rendered:
    return rendered(build(make_wave(hostile=True), previous=make_previous_wave()))


# ---------------------------------------------------------------------------------------------------------
# Structure


def test_the_tier_sections_come_in_report_order_with_their_titles(english: Rendered) -> None:
    for html in (english.web, english.email):
        page = parse(html)
        sections = [attrs["class"].split()[1] for attrs in page.with_class("tier")]
        assert sections == [f"t-{tier}" for tier in MAIN_ORDER]
        assert page.text("tiers").count(tier_name("en", "fast_courteous")) == 1
    titles = [section.title for section in english.report.tiers]
    assert titles == [tier_name("en", tier) for tier in MAIN_ORDER]


def test_the_headline_counts_match_the_grades(english: Rendered) -> None:
    page = parse(english.web)
    lede = page.text("lede")
    assert lede == (
        "Of 41 companies we contacted through their websites, 4 answered fast, personally and courteously; "
        "14 answered correctly but left us indifferent; 3 took 2 to 5 days and answered poorly; "
        "20 never answered."
    )
    assert "On 2 more we could not send an inquiry" in page.text("note")
    bar = [cell.strip() for cell in page.texts["stack"] if cell.strip()]
    assert bar == ["4", "14", "3", "20", "2"]
    sections = {section.tier: section for section in english.report.tiers}
    assert [len(sections[tier].entries) for tier in MAIN_ORDER] == [4, 14, 3, 20, 2]
    assert english.report.subject.endswith("4 fast, 14 reasonable, 3 slow or lacking, 20 no reply")


def test_each_company_paragraph_tells_its_facts(english: Rendered) -> None:
    sections = {section.tier: section for section in english.report.tiers}
    first = sections["fast_courteous"].entries[0]
    assert first.name == "בנק המזרח" and first.time == "33 min"
    assert first.paragraph.startswith("Answered by email 33 min after the inquiry (sent Sun 22 Nov, 09:00)")
    assert "met every quality criterion" in first.paragraph and "followed up" in first.paragraph
    assert first.quote is not None and "[staff]" in first.quote
    phone = next(entry for entry in sections["fast_courteous"].entries if entry.name == "Orbit Mobile")
    assert phone.paragraph.startswith("Called back 3 hr 54 min after")
    slow = sections["slow_or_lacking"].entries[0]
    assert "promised a reply (“within 2 business days”): the promise was broken" in slow.paragraph
    assert "Fell short: did not answer the question" in slow.paragraph
    spam = next(entry for entry in sections["reasonable"].entries if entry.name == "Tapuz Telecom")
    assert "spam folder" in spam.paragraph and "in spam" in spam.flags
    late = [entry for entry in sections["no_reply"].entries if "after the deadline" in entry.paragraph]
    assert [entry.name for entry in late] == ["ביטוח ישיר פלוס"]
    assert [entry.paragraph for entry in sections["not_reached"].entries] == [
        "No inquiry could be sent: no contact form on the page.",
        "No inquiry could be sent: a CAPTCHA or a bot challenge.",
    ]


def test_the_numbers_follow_the_method(english: Rendered) -> None:
    numbers = english.report.numbers
    assert (numbers.reached, numbers.responders, numbers.never, numbers.probes) == (41, 21, 20, 43)
    # 41 times, 20 of them +infinity: the 21st smallest is the median, the slowest reply (4.8 days).
    assert numbers.median_s == pytest.approx(4.8 * 86400)
    assert numbers.p90_s == NEVER
    metrics = {row.label: row.value for row in english.report.metrics}
    assert metrics["90th percentile"] == "more than 7 days"
    assert metrics["Never replied (by the deadline)"] == "49%"
    assert numbers.rank_correlation == pytest.approx(-1.0)
    assert "the slower the reply, the poorer" in english.report.speed_quality.sentence


def test_the_trend_compares_waves_and_lists_movers(english: Rendered) -> None:
    trend = english.report.trend
    assert trend is not None
    rows = {row.label: row for row in trend.rows}
    fast = rows["Companies in tier: Fast"]
    assert (fast.before, fast.now, fast.arrow, fast.tone) == ("2", "4", "↑", "better")
    never = rows["Never replied (by the deadline)"]
    assert never.tone == "worse" and never.arrow == "↑"
    movers = [(mover.name, mover.before_tier, mover.now_tier) for mover in trend.movers]
    assert movers[:2] == [
        ("Galil Insurance", "no_reply", "fast_courteous"),
        ("בנק המזרח", "reasonable", "fast_courteous"),
    ]
    assert ("Acme Insurance", "reasonable", "no_reply") in movers


def test_withheld_non_responders_are_nowhere_in_the_report() -> None:
    config = make_config(name_non_responders=False)
    report = rendered(build(make_wave(), config=config, previous=make_previous_wave()))
    quiet = [company.name for company in make_wave().companies if company.tier is Tier.NO_REPLY]
    for output in (report.web, report.email, report.text):
        for name in quiet:
            assert name not in output
    assert "The 20 companies that did not reply are not named" in report.web
    assert report.report.trend is not None and report.report.trend.hidden_note is not None
    assert "Galil Insurance" not in [mover.name for mover in report.report.trend.movers]


def test_the_hebrew_report_is_right_to_left_with_hebrew_dates(hebrew: Rendered) -> None:
    for html in (hebrew.web, hebrew.email):
        page = parse(html)
        root = page.tags("html")[0]
        assert root["dir"] == "rtl" and root["lang"] == "he"
        assert "בנובמבר 2026" in page.text("subtitle")
        assert "נוב׳" in page.text("data")
    assert hebrew.report.headline.sentence.startswith("מתוך 41 חברות שפנינו אליהן")
    assert "3 ענו לאחר 2 עד 5 ימים ובאופן ירוד" in hebrew.report.headline.sentence
    assert tier_name("he", "no_reply") in hebrew.text


def test_evidence_is_linked_only_on_the_web_and_only_when_configured(english: Rendered) -> None:
    web_links = [attrs["href"] for attrs in parse(english.web).tags("a")]
    assert "../evidence/wave-7/mizrah-1/before-submit.png" in web_links
    assert parse(english.email).tags("a") == []
    off = rendered(build(make_wave(), config=make_config(evidence_links=False)))
    assert parse(off.web).tags("a") == []


def test_the_email_version_is_inlined_and_self_contained(english: Rendered) -> None:
    page = parse(english.email)
    assert page.tags("style") == [] and page.tags("script") == [] and page.tags("link") == []
    assert not any("src" in attrs for _, attrs in page.elements)
    styled = [tag for tag, attrs in page.elements if "style" in attrs]
    assert len(styled) > 200 and "td" in styled and "h2" in styled
    fills = [attrs["style"] for attrs in page.with_class("t-fast_courteous") if "width" in attrs]
    assert fills and all("background: #1a7f4b" in style for style in fills)
    web = parse(english.web)
    assert web.tags("style") and web.tags("script") == []
    csp = [attrs for attrs in web.tags("meta") if attrs.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]["content"]


def test_long_reports_are_trimmed_in_the_email_only() -> None:
    many = make_wave()
    reasonable = next(company for company in many.companies if company.tier is Tier.REASONABLE)
    clones = tuple(replace(reasonable, company_id=f"clone-{i}", name=f"Clone {i:03d}") for i in range(200))
    report = rendered(build(replace(many, companies=many.companies + clones), evidence=False))
    assert "Clone 199" in report.web
    assert "Clone 199" not in report.email and "more in the full report" in report.email
    assert "more in the full report" in report.text


# ---------------------------------------------------------------------------------------------------------
# Untrusted text


def test_markup_in_names_and_replies_comes_out_inert(hostile: Rendered) -> None:
    for output in (hostile.web, hostile.email, hostile.text):
        page = parse(output)
        assert page.tags("script") == []
        assert page.tags("img") == []
        handlers = [name for _, attrs in page.elements for name in attrs if name.startswith("on")]
        assert handlers == []
    assert HOSTILE_NAME in " ".join(parse(hostile.web).texts["name"])  # shown as text, not run
    assert "‹script›alert(1)‹/script›" in hostile.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in hostile.web


def test_a_hostile_audit_name_is_escaped_too() -> None:
    report = rendered(build(make_wave(), config=make_config(audit_name="Q4 <script>alert(1)</script>")))
    for output in (report.web, report.email):
        assert parse(output).tags("script") == []
        assert "Q4 &lt;script&gt;alert(1)&lt;/script&gt;: wave 7" in output


# ---------------------------------------------------------------------------------------------------------
# Metrics as pure functions


def test_nearest_rank_quantiles() -> None:
    assert nearest_rank([], 0.5) is None
    assert nearest_rank([7.0], 0.9) == 7.0
    assert nearest_rank([4.0, 1.0, 3.0, 2.0], 0.5) == 2.0  # ceil(0.5 * 4) = 2nd smallest
    assert nearest_rank([1.0, 2.0, 3.0, 4.0], 0.9) == 4.0
    assert nearest_rank([1.0, 2.0, 3.0, 4.0], 0.0) == 1.0
    assert nearest_rank([1.0, NEVER, NEVER], 0.5) == NEVER  # more than half never: "> deadline"
    assert nearest_rank([1.0, 2.0, NEVER], 0.5) == 2.0
    with pytest.raises(ValueError):
        nearest_rank([1.0], 1.5)


def test_spearman_on_known_data() -> None:
    # Ranks of y with a tie: [1, 2, 3.5, 5, 3.5]; r = 8 / sqrt(10 * 9.5) (scipy.stats.spearmanr agrees).
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(95))
    assert spearman([1, 2, 3, 4], [40, 30, 20, 10]) == pytest.approx(-1.0)
    assert spearman([1, 2], [1, 2]) is None  # too few pairs
    assert spearman([1, 2, 3], [5, 5, 5]) is None  # no spread
    assert average_ranks([10, 20, 10, 30]) == [1.5, 3.0, 1.5, 4.0]


def test_metrics_count_never_as_infinitely_late() -> None:
    start = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
    probes = [
        probe_result(
            1, "a", Tier.FAST_COURTEOUS, submitted_at=start, human_s=1800.0, ack_s=60.0, quality=0.9
        ),
        probe_result(2, "b", Tier.REASONABLE, submitted_at=start, human_s=30 * 3600.0, quality=0.6),
        probe_result(3, "c", Tier.NO_REPLY, submitted_at=start),
        probe_result(4, "d", Tier.NO_REPLY, submitted_at=start, human_s=9 * 86400.0, late=True),
        probe_result(5, "e", Tier.NO_REPLY, submitted_at=start),
        probe_result(6, "f", Tier.NOT_REACHED, submitted_at=start, not_reached_reason="no_form"),
    ]
    numbers = compute_metrics(probes, fast_business=timedelta(hours=4), business_day=timedelta(hours=8))
    assert (numbers.reached, numbers.responders, numbers.never) == (5, 2, 3)
    assert numbers.median_s == NEVER and numbers.median_responders_s == 1800.0
    assert numbers.within_1h == pytest.approx(0.2) and numbers.within_24h == pytest.approx(0.2)
    assert numbers.within_5d == pytest.approx(0.4) and numbers.never_share == pytest.approx(0.6)
    assert numbers.reachable_share == pytest.approx(5 / 6) and numbers.acknowledged_share == pytest.approx(
        0.2
    )
    report = build(
        WaveGrades(7, "x", start + timedelta(days=8), "wall", _companies(probes), start + timedelta(days=8)),
        evidence=False,
    )
    assert report.headline.figures[5].value == "more than 7 days"


def _companies(probes: list[ProbeResult]) -> tuple[CompanyResult, ...]:
    return tuple(
        company_result(probe.company_id, probe.company_id.upper(), "other", probe) for probe in probes
    )


def test_durations_read_like_a_person_wrote_them() -> None:
    assert [duration(s, "en") for s in (90, 33 * 60, 2.5 * 3600, 26 * 3600, 4.8 * 86400)] == [
        "2 min",
        "33 min",
        "2 hr 30 min",
        "1 day 2 hr",
        "4 days 19 hr",
    ]
    assert duration(2 * 3600, "he") == "שעתיים"


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(st.lists(st.tuples(finite, finite), min_size=3, max_size=30))
def test_spearman_is_bounded_symmetric_and_sign_flips(pairs: list[tuple[float, float]]) -> None:
    xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
    rho = spearman(xs, ys)
    assert spearman(ys, xs) == rho
    if rho is not None:
        assert -1.0 <= rho <= 1.0
        assert spearman(xs, [-y for y in ys]) == pytest.approx(-rho, abs=1e-9)


small = st.integers(min_value=-50, max_value=50)


@given(st.lists(st.tuples(small, small), min_size=3, max_size=30))
def test_spearman_depends_on_ranks_only(pairs: list[tuple[int, int]]) -> None:
    xs, ys = [float(x) for x, _ in pairs], [float(y) for _, y in pairs]
    rho = spearman(xs, ys)
    stretched = spearman([x**3 + 7 * x - 100 for x in xs], [math.exp(y / 10) for y in ys])
    assert (rho is None and stretched is None) or stretched == pytest.approx(rho, abs=1e-9)


@given(st.lists(st.one_of(finite, st.just(math.inf)), min_size=1, max_size=40), st.floats(0.01, 1.0))
def test_nearest_rank_is_an_observed_value_covering_its_share(values: list[float], fraction: float) -> None:
    result = nearest_rank(values, fraction)
    assert result in values
    assert sum(1 for value in values if value <= result) >= fraction * len(values)
    assert sum(1 for value in values if value < result) < fraction * len(values)


# ---------------------------------------------------------------------------------------------------------
# The real browser


async def _open(host: BrowserHost, path: Path) -> tuple[bytes, list[str]]:
    context = await host.browser.new_context(viewport={"width": 1100, "height": 900})
    problems: list[str] = []
    try:
        page = await context.new_page()
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("dialog", lambda dialog: problems.append(f"a script ran: {dialog.message}"))
        await page.goto(path.as_uri())
        await page.wait_for_load_state("load")
        direction = await page.evaluate("getComputedStyle(document.body).direction")
        shot = await page.screenshot(full_page=True)
    finally:
        await context.close()
    return shot, [*problems, f"direction {direction}"]


@pytest.mark.browser
@pytest.mark.parametrize("variant", ["web", "email"])
def test_chromium_opens_the_report_without_errors(
    variant: str,
    english: Rendered,
    hebrew: Rendered,
    hostile: Rendered,
    browser_host: BrowserHost,
    tmp_path: Path,
) -> None:
    for name, report in (("en", english), ("he", hebrew), ("hostile", hostile)):
        path = tmp_path / f"{name}-{variant}.html"
        path.write_text(report.web if variant == "web" else report.email, encoding="utf-8")
        shot, problems = browser_host.run(_open, browser_host, path)
        assert shot.startswith(b"\x89PNG\r\n\x1a\n") and len(shot) > 50_000
        assert problems == [f"direction {'rtl' if name == 'he' else 'ltr'}"]


# ---------------------------------------------------------------------------------------------------------
# From the database: the loader, the file and the CLI, with the real grader


@dataclass(frozen=True)
class Stored:
    url: str
    data_dir: Path
    config_path: Path
    config: AuditConfig
    wave_id: int


def _store_wave(url: str, data_dir: Path, config: AuditConfig, *, start: datetime) -> int:
    """Three companies: one fast human reply with evidence files, one auto-acknowledgement only, one no form."""
    from audit.db import open_database, session_scope
    from audit.models import Company, Message, MessageKind, Probe, ProbeState, Wave

    engine = open_database(url)
    try:
        with session_scope(engine) as session:
            wave = Wave(audit_name=config.audit.name, status="submitted", created_at=start)
            session.add(wave)
            session.flush()
            assert wave.id is not None
            for index, (cid, name) in enumerate(
                (("acme", "Acme <b>Bank</b>"), ("globex", "גלובקס"), ("init", "Initech"))
            ):
                session.merge(
                    Company(
                        id=cid,
                        name=name,
                        sector="banking",
                        contact_url=f"https://{cid}.example/",
                        domain=f"{cid}.example",
                    )
                )
                evidence = f"evidence/wave-{wave.id}/{cid}-1"
                (data_dir / evidence).mkdir(parents=True, exist_ok=True)
                (data_dir / evidence / "before-submit.png").write_bytes(b"\x89PNG fake")
                reached = cid != "init"
                probe = Probe(
                    wave_id=wave.id, company_id=cid, token=f"tok{cid}{wave.id}", ref_code=f"AB{index}{wave.id}-XY",
                    reply_address=f"{cid}@replies.example.org", contact_url=f"https://{cid}.example/",
                    state=ProbeState.FINISHED, outcome="submitted" if reached else "no_form",
                    submitted_at=start + timedelta(minutes=index) if reached else None,
                    evidence_dir=evidence,
                )  # fmt: skip
                session.add(probe)
                session.flush()
                if cid == "acme":
                    raw = f"raw/aa/{cid}{wave.id}.eml"
                    (data_dir / raw).parent.mkdir(parents=True, exist_ok=True)
                    (data_dir / raw).write_bytes(b"Subject: Re\r\n\r\nHi Dana")
                    session.add(
                        Message(
                            source="maildir", content_key=f"k-{cid}-{wave.id}", raw_path=raw,
                            received_at=start + timedelta(minutes=40), received_at_source="received",
                            probe_id=probe.id, match_method="token", match_confidence="high",
                            kind=MessageKind.HUMAN, subject="Re: Question",
                            text="Hi Dana, thank you for contacting us! Yes, we have a monthly plan. Best regards, Ruth",
                            reply_text="Hi Dana, thank you for contacting us! Yes, we have a monthly plan. Best regards, Ruth",
                        )
                    )  # fmt: skip
                if cid == "globex":
                    session.add(
                        Message(
                            source="maildir", content_key=f"k-{cid}-{wave.id}", received_at=start + timedelta(minutes=2),
                            received_at_source="received", probe_id=probe.id, match_method="token",
                            match_confidence="high", kind=MessageKind.AUTO_REPLY, subject="Received",
                            text="We received your message.",
                        )
                    )  # fmt: skip
            return wave.id
    finally:
        engine.dispose()


@pytest.fixture
def stored(database_url: str, tmp_path: Path) -> Stored:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    config = make_config()
    config = config.model_copy(update={"audit": config.audit.model_copy(update={"name": "db audit"})})
    config_path = tmp_path / "companies.yaml"
    start = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)
    _store_wave(database_url, data_dir, config, start=start - timedelta(days=28))
    wave_id = _store_wave(database_url, data_dir, config, start=start)
    return Stored(database_url, data_dir, config_path, config, wave_id)


def test_write_report_file_grades_the_database_and_links_evidence(stored: Stored) -> None:
    from audit.db import open_database
    from audit.reporting import write_report_file

    engine = open_database(stored.url)
    try:
        from sqlmodel import Session

        with Session(engine) as session:
            path = write_report_file(session, stored.config, stored.wave_id, data_dir=stored.data_dir)
    finally:
        engine.dispose()
    assert path == stored.data_dir / "reports" / f"wave-{stored.wave_id}-en.html"
    html = path.read_text(encoding="utf-8")
    page = parse(html)
    assert page.tags("script") == []
    assert "Acme &lt;b&gt;Bank&lt;/b&gt;" in html
    hrefs = {attrs["href"] for attrs in page.tags("a")}
    assert f"../evidence/wave-{stored.wave_id}/acme-1/before-submit.png" in hrefs
    assert f"../raw/aa/acme{stored.wave_id}.eml" in hrefs
    for href in hrefs:
        assert (path.parent / href).resolve().is_file()
    sections = [attrs["class"].split()[1] for attrs in page.with_class("tier")]
    assert sections[-1] == "t-not_reached" and "t-fast_courteous" in sections
    assert "Change from the previous wave" in html
    assert not list(path.parent.glob(".*.tmp"))


def _cli(stored: Stored, *args: str) -> tuple[int, str, str]:
    from audit.cli import cli

    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(stored.data_dir), *args, "--config", str(stored.config_path)],
        env={"AUDIT_DATABASE_URL": stored.url},
        catch_exceptions=False,
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def stored_with_file(stored: Stored) -> Stored:
    stored.config_path.write_text(config_yaml(audit_name=stored.config.audit.name), encoding="utf-8")
    return stored


def test_the_report_command_writes_the_file_and_prints_its_path(
    stored_with_file: Stored, tmp_path: Path
) -> None:
    code, out, err = _cli(stored_with_file, "report", "--lang", "he")
    assert code == 0, err
    path = Path(out.strip().splitlines()[0])
    assert path == stored_with_file.data_dir / "reports" / f"wave-{stored_with_file.wave_id}-he.html"
    assert 'dir="rtl"' in path.read_text(encoding="utf-8")
    target = tmp_path / "board.html"
    code, out, _ = _cli(
        stored_with_file,
        "report",
        "--wave",
        str(stored_with_file.wave_id),
        "--out",
        str(target),
        "--as-of",
        "2026-11-01T09:30",
    )
    assert code == 0 and out.strip() == str(target) and target.is_file()
    code, _, err = _cli(stored_with_file, "report", "--email", "board@example.org")
    assert code == 1 and err.startswith("error: to email the report, configure report.smtp")
    code, _, err = _cli(stored_with_file, "report", "--wave", "999")
    assert code == 1 and "there is no wave 999" in err
    code, _, err = _cli(stored_with_file, "report", "--as-of", "soon")
    assert code == 1 and "--as-of: 'soon' is not a time" in err


def test_a_deadline_still_ahead_is_noted_in_the_audit_time_zone(stored_with_file: Stored) -> None:
    text = config_yaml(audit_name=stored_with_file.config.audit.name)
    stored_with_file.config_path.write_text(
        text.replace("  country: IL\n", "  country: IL\n  deadline: 3650d\n", 1), encoding="utf-8"
    )
    code, _, err = _cli(stored_with_file, "report")
    assert code == 0, err
    note = next(line for line in err.splitlines() if line.startswith("note:"))
    assert "Asia/Jerusalem) has not passed" in note and "+00:00" not in note


def test_the_export_command_gives_csv_on_stdout_and_json_to_a_file(
    stored_with_file: Stored, tmp_path: Path
) -> None:
    code, out, err = _cli(stored_with_file, "export", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert [row["company_id"] for row in rows] == ["acme", "globex", "init"]
    assert rows[0]["tier"] != "" and rows[2]["tier"] == "not_reached" and rows[2]["reached"] == "false"
    target = tmp_path / "wave.json"
    code, out, err = _cli(stored_with_file, "export", "--format", "json", "--out", str(target))
    assert code == 0 and out.strip() == str(target), err
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["wave"]["wave_id"] == stored_with_file.wave_id
    assert [probe["company_id"] for probe in data["probes"]] == ["acme", "globex", "init"]


def test_the_report_command_emails_the_report(stored: Stored) -> None:
    from tests.test_mailer import Received, _serve

    with contextmanager(_serve)(Received()) as server:
        smtp = (
            f"  smtp: {{host: 127.0.0.1, port: {server.port}, security: none, from_address: a@example.org}}"
        )
        stored.config_path.write_text(
            config_yaml(audit_name=stored.config.audit.name, smtp=smtp), encoding="utf-8"
        )
        code, out, err = _cli(stored, "report", "--email")  # no addresses: report.recipients
        assert code == 0, err
        assert out.splitlines()[1] == "emailed to board@example.org"
        code, out, err = _cli(stored, "report", "--email", "cx@example.org", "ceo@example.org")
        assert code == 0, err
        assert out.splitlines()[1] == "emailed to cx@example.org, ceo@example.org"
        code, _, err = _cli(stored, "report", "cx@example.org")
        assert code == 1 and "put --email before the addresses" in err
        [(_, first, raw, _), (_, second, _, _)] = server.received.messages
        assert (first, second) == (["board@example.org"], ["cx@example.org", "ceo@example.org"])
        assert b"multipart/alternative" in raw and b"db audit, wave" in raw


def test_pending_inconsistent_and_overridden_companies_are_told_as_such() -> None:
    wave = make_wave()
    start = wave.companies[0].probes[0].submitted_at
    assert start is not None
    changed = []
    for company in wave.companies:
        if company.company_id in ("quiet-01", "quiet-02"):
            probe = replace(company.probes[0], tier=Tier.PENDING)
            company = replace(company, tier=Tier.PENDING, probes=(probe,))
        elif company.company_id == "negev-bank":
            second = probe_result(
                99, "negev-bank", Tier.SLOW_OR_LACKING, submitted_at=start, human_s=3 * 86400.0, quality=0.3
            )
            company = replace(
                company,
                probes=(company.probes[0], replace(second, seq=2)),
                inconsistent=True,
                quality_spread=(0.3, 0.73),
                tier_overridden=True,
                override_notes=("the answer was copied from the FAQ",),
            )
        changed.append(company)
    report = rendered(build(replace(wave, companies=tuple(changed)), evidence=False))
    assert "2 have not answered yet" in report.report.headline.sentence
    sections = {section.tier: section for section in report.report.tiers}
    assert [entry.name for entry in sections["pending"].entries] == ["Acme Insurance", "Globex Mobile"]
    assert sections["pending"].entries[0].paragraph.startswith("No reply yet; the deadline is Sun 29 Nov")
    negev = next(entry for entry in sections["reasonable"].entries if entry.name == "Negev Bank")
    assert "Its 2 inquiries fell into different tiers" in negev.paragraph
    assert "Quality ranged from 30% to 73%." in negev.paragraph
    assert "Tier set by a reviewer: the answer was copied from the FAQ." in negev.paragraph
    assert negev.flags == ("inconsistent", "reviewed")
    assert [attrs["class"] for attrs in parse(report.web).with_class("tier")][-2:] == [
        "tier t-pending",
        "tier t-not_reached",
    ]


def test_an_empty_wave_still_renders() -> None:
    empty = replace(make_wave(), companies=())
    report = rendered(build(empty, previous=make_previous_wave(), evidence=False))
    assert report.report.headline.sentence == "No inquiry of this wave has been graded yet."
    assert report.report.numbers.median_s is None
    assert "No inquiry of this wave has been graded yet." in report.text
    assert parse(report.email).tags("script") == []


def test_the_hebrew_report_uses_the_configs_hebrew_names_and_keeps_numbers_whole() -> None:
    text = config_yaml(language="he").replace(
        '  name: "Israeli contact forms, winter 2026"',
        '  name: "Israeli contact forms, winter 2026"\n  name_he: "טפסי יצירת קשר, חורף 2026"',
    )
    text = text.replace("{id: galil-ins, ", '{id: galil-ins, name_he: "ביטוח הגליל", ')
    text = text.replace("companies:\n", "sectors: {insurance: ביטוח, banking: בנקאות}\ncompanies:\n", 1)
    config = parse_config_text(text)
    hebrew = build(make_wave(), lang="he", config=config)
    english = build(make_wave(), lang="en", config=config)
    assert hebrew.title.startswith("טפסי יצירת קשר, חורף 2026") and english.title.startswith("Israeli")
    names = {row.name for row in hebrew.ranking}
    assert "ביטוח הגליל" in names and "Galil Insurance" not in names
    assert "Galil Insurance" in {row.name for row in english.ranking}
    sectors = {row.sector for row in hebrew.sectors}
    assert {"ביטוח", "בנקאות", "telecom"} <= sectors and "insurance" not in sectors
    assert {"insurance", "banking"} <= {row.sector for row in english.sectors}

    from audit.reporting.i18n import number

    assert number(-0.88, "he", "0.00") == "\u2066-0.88\u2069"  # never drawn "0.88-" in a Hebrew sentence
    assert number(0.88, "he", "0.00") == "0.88" and number(-0.88, "en", "0.00") == "-0.88"


def test_an_after_hours_inquiry_answered_before_opening_says_so() -> None:
    grades = make_wave()
    company = grades.companies[0]
    probe = company.probes[0]
    night = dataclasses.replace(probe, business_seconds_to_human=0.0)
    changed = dataclasses.replace(grades, companies=(dataclasses.replace(company, probes=(night,)),
                                                     *grades.companies[1:]))  # fmt: skip
    report = build(changed)
    entry = next(e for section in report.tiers for e in section.entries if e.name == company.name)
    assert (
        "before business hours began" in entry.paragraph and "0 min in business hours" not in entry.paragraph
    )


def test_the_charts_are_inline_svg_that_agree_with_the_numbers(english: Rendered, hebrew: Rendered) -> None:
    charts = english.report.charts
    assert charts is not None and charts.scatter is not None and charts.curve is not None
    numbers = english.report.numbers
    assert len(charts.scatter.points) == numbers.correlation_pairs  # every company that replied in time
    by_time = sorted(
        (c.wall_seconds_to_human, point.x)
        for c, point in zip(
            [c for c in sorted(make_wave().companies, key=_sort_key) if _in_time(c)],
            charts.scatter.points,
            strict=True,
        )
    )
    xs = [x for _, x in by_time]
    assert xs == sorted(xs) and len(set(xs)) > 1  # slower is further right
    left, top, right, bottom = charts.scatter.plot
    assert all(left <= p.x <= right and top <= p.y <= bottom for p in charts.scatter.points)
    shares = {m.label.split(":")[0]: m.label.split(": ")[1] for m in charts.curve.markers}
    assert shares == {
        "1 hr": _pct(numbers.within_1h),
        "1 day": _pct(numbers.within_24h),
        "5 days": _pct(numbers.within_5d),
    }
    for output in (english.web, english.email, hebrew.web):
        assert output.count("<svg") == 2 and "<script" not in output
    assert 'dir="ltr"' in hebrew.web.split("<svg", 1)[1].split(">", 1)[0]
    assert "הזמן מאז הפנייה" in hebrew.web


def _sort_key(company: CompanyResult) -> tuple[int, float, str]:
    from audit.reporting.tables import sort_key

    return sort_key(company)


def _in_time(company: CompanyResult) -> bool:
    from audit.reporting.metrics import answered_in_time
    from audit.reporting.paragraphs import representative

    return (
        company.quality is not None
        and company.wall_seconds_to_human is not None
        and answered_in_time(representative(company))
    )


def _pct(fraction: float | None) -> str:
    return "–" if fraction is None else f"{round(fraction * 100)}%"
