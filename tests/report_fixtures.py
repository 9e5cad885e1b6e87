"""Hand-made grades in the TACK shape, for the report, mailer and export tests (no grader needed).

Wave 7: 43 companies, 41 reached: 4 fast and courteous, 14 reasonable, 3 slow (2 to 5 days, poor), 20 no
reply; 2 could not be reached (no form, a CAPTCHA). English and Hebrew names, several sectors. Wave 6 is the
previous wave with a worse spread, so the trend has movers both ways.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from audit.config import AuditConfig, parse_config
from audit.grading.types import (
    CompanyResult,
    CriterionScore,
    Evidence,
    ProbeResult,
    ReplyPromise,
    SubmitTimeClass,
    Tier,
    WaveGrades,
)

HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_EXCERPT = 'Thanks! <img src=x onerror=alert(1)> call us <script>alert("x")</script>'
WAVE_START = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)  # Sunday 09:00 in Jerusalem
H = 3600.0
D = 86400.0

# (id, name, sector)
COMPANIES: tuple[tuple[str, str, str], ...] = (
    ("mizrah", "בנק המזרח", "banking"),
    ("galil-ins", "Galil Insurance", "insurance"),
    ("mey-carmel", "מי הכרמל", "food"),
    ("orbit", "Orbit Mobile", "telecom"),
    ("sharon-bank", "בנק השרון", "banking"),
    ("negev-bank", "Negev Bank", "banking"),
    ("discount-plus", "Discount Plus", "banking"),
    ("card-il", "כרטיסי ישראל", "credit cards"),
    ("tapuz", "Tapuz Telecom", "telecom"),
    ("cellnet", "סלנט", "telecom"),
    ("harel-life", "Harel Life", "insurance"),
    ("osem-foods", "אוסם מזון", "food"),
    ("cola-il", "Cola Israel", "food"),
    ("yes-tv", "Yes TV", "telecom"),
    ("netvision", "נטוויז׳ן", "telecom"),
    ("zero12", "012 Global", "telecom"),
    ("meuhedet", "קופת חולים מאוחדת", "health"),
    ("maccabi", "Maccabi Health", "health"),
    ("phoenix", "הפניקס החדשה", "insurance"),
    ("hot-cable", "Hot Cable", "telecom"),
    ("leumi-card", "Leumi Card", "credit cards"),
    *(
        (f"quiet-{index:02d}", name, sector)
        for index, (name, sector) in enumerate(
            (
                ("Acme Insurance", "insurance"),
                ("Globex Mobile", "telecom"),
                ("Initech Bank", "banking"),
                ("Umbrella Health", "health"),
                ("ביטוח ישיר פלוס", "insurance"),
                ("Soylent Foods", "food"),
                ("חלב הגולן", "food"),
                ("Stark Energy", "energy"),
                ("חשמל הצפון", "energy"),
                ("Wayne Credit", "credit cards"),
                ("Hooli Broadband", "telecom"),
                ("Vandelay Imports", "retail"),
                ("רשת הכל בבית", "retail"),
                ("Duff Beverages", "food"),
                ("Oceanic Air", "travel"),
                ("טיולי הגליל", "travel"),
                ("Cyberdyne Security", "other"),
                ("Tyrell Motors", "automotive"),
                ("מוטורס ישראל", "automotive"),
                ("Monarch Bank", "banking"),
            ),
            start=1,
        )
    ),
    ("wonka", "Wonka Sweets", "food"),
    ("pied", "פייד פייפר", "other"),
)

FAST = ("mizrah", "galil-ins", "mey-carmel", "orbit")
FAST_TIMES = (33 * 60.0, 1.0 * H, 2.5 * H, 3.9 * H)
REASONABLE = (
    "sharon-bank", "negev-bank", "discount-plus", "card-il", "tapuz", "cellnet", "harel-life",
    "osem-foods", "cola-il", "yes-tv", "netvision", "zero12", "meuhedet", "maccabi",
)  # fmt: skip
SLOW = ("phoenix", "hot-cable", "leumi-card")
SLOW_TIMES = (2.1 * D, 3.4 * D, 4.8 * D)
NOT_REACHED = {"wonka": "no_form", "pied": "blocked_captcha"}

EXCERPTS_EN = (
    "Hi Dana, thank you for contacting us! Yes, we have a monthly plan from $29; I can call you tomorrow "
    "at 10:00 to get you started. Best regards, [staff]",
    "Dear customer, thank you for your inquiry. A monthly plan is available; details are on our website.",
    "Please call our service centre for more information.",
)
EXCERPTS_HE = (
    "שלום דנה, תודה על פנייתך! יש לנו תוכנית חודשית החל מ-99 ש״ח, ואשמח להתקשר מחר בעשר. בברכה, [staff]",
    "לקוח/ה יקר/ה, תודה על פנייתך. קיימת תוכנית חודשית, הפרטים באתר.",
    "נא לפנות למוקד.",
)


def make_config(
    *,
    language: str = "en",
    name_non_responders: bool = True,
    evidence_links: bool = True,
    smtp: str = "",
    audit_name: str = "Israeli contact forms, winter 2026",
) -> AuditConfig:
    return parse_config(
        config_yaml(
            language=language,
            name_non_responders=name_non_responders,
            evidence_links=evidence_links,
            smtp=smtp,
            audit_name=audit_name,
        )
    )


def config_yaml(
    *,
    language: str = "en",
    name_non_responders: bool = True,
    evidence_links: bool = True,
    smtp: str = "",
    audit_name: str = "Israeli contact forms, winter 2026",
) -> str:
    """A companies.yaml for the fixture wave; `smtp` is extra YAML under `report:` (indented 2)."""
    companies = "\n".join(
        f'  - {{id: {cid}, name: "{name}", sector: {sector}, contact_url: "https://{cid}.example.com/"}}'
        for cid, name, sector in COMPANIES
        if '"' not in name
    )
    text = f"""
audit:
  name: "{audit_name}"
  timezone: Asia/Jerusalem
  language: {language}
  country: IL
  name_non_responders: {str(name_non_responders).lower()}
persona: {{first_name: Dana, last_name: Levi, phone: "050-1234567"}}
mailbox: {{address: "dana.{{token}}@replies.example.org"}}
inquiry:
  subject: "Question about a monthly plan"
  message: "Hello, I am thinking of joining {{company}}. Do you have a monthly plan? Thanks, {{first_name}}"
report:
  evidence_links: {str(evidence_links).lower()}
  recipients: [board@example.org]
{smtp}
companies:
{companies}
"""
    return text


def criteria(profile: str) -> tuple[CriterionScore, ...]:
    """Rubric scores for a reply of the given kind: excellent, correct (cold) or poor."""
    scores = {
        "excellent": {"A": 1, "P1": 1, "P2": 1, "Q": 1, "V": 1, "E": 1, "M": 2},
        "correct": {"A": 1, "P1": 0, "P2": 1, "Q": 1, "V": 0, "E": 1, "M": 0},
        "poor": {"A": 0, "P1": 0, "P2": 1, "Q": 0, "V": 0, "E": 0, "M": 0},
    }[profile]
    return tuple(
        CriterionScore(
            criterion=key,
            score=score,
            max_score=2 if key == "M" else 1,
            evidence=(Evidence(quote="thank you for contacting", rule="thanks"),) if key == "P2" else (),
        )
        for key, score in scores.items()
    )


def probe_result(
    probe_id: int,
    company_id: str,
    tier: Tier,
    *,
    submitted_at: datetime,
    human_s: float | None = None,
    ack_s: float | None = None,
    quality: float | None = None,
    profile: str = "correct",
    excerpt: str | None = None,
    late: bool = False,
    channel: str = "email",
    folder: str | None = "INBOX",
    not_reached_reason: str | None = None,
    promise: ReplyPromise | None = None,
    followed_up: bool = False,
) -> ProbeResult:
    reached = tier is not Tier.NOT_REACHED
    human_at = submitted_at + timedelta(seconds=human_s) if human_s is not None else None
    ack_at = submitted_at + timedelta(seconds=ack_s) if ack_s is not None else None
    replied = human_s is not None and not late
    return ProbeResult(
        probe_id=probe_id,
        company_id=company_id,
        seq=1,
        outcome="submitted" if reached else not_reached_reason,
        reached=reached,
        not_reached_reason=not_reached_reason,
        submitted_at=submitted_at if reached else None,
        submit_time_class=SubmitTimeClass.BUSINESS if reached else None,
        deadline_at=submitted_at + timedelta(days=7) if reached else None,
        first_reply_at=min((t for t in (human_at, ack_at) if t is not None), default=None),
        first_ack_at=ack_at,
        first_human_at=human_at,
        first_complete_at=human_at if replied and profile != "poor" else None,
        human_channel=channel if human_s is not None else None,
        human_message_id=probe_id * 10 if human_s is not None else None,
        human_folder=folder if human_s is not None else None,
        wall_seconds_to_ack=ack_s,
        wall_seconds_to_human=human_s,
        business_seconds_to_human=None
        if human_s is None
        else (human_s if human_s < 4 * H else human_s * 0.3),
        late=late,
        human_replies=1 if human_s is not None else 0,
        followed_up=followed_up,
        promise=promise,
        quality=quality if replied else None,
        criteria=criteria(profile) if replied else (),
        excerpt=excerpt if replied else None,
        reply_language="en" if replied else None,
        tier=tier,
        tier_reason=f"fixture: {tier.value}",
    )


def company_result(cid: str, name: str, sector: str, probe: ProbeResult) -> CompanyResult:
    replied = probe.first_human_at is not None and not probe.late
    return CompanyResult(
        company_id=cid,
        name=name,
        sector=sector,
        probes=(probe,),
        tier=probe.tier,
        inconsistent=False,
        wall_seconds_to_human=probe.wall_seconds_to_human if replied else None,
        business_seconds_to_human=probe.business_seconds_to_human if replied else None,
        quality=probe.quality,
        quality_spread=None,
    )


def make_wave(wave_id: int = 7, *, hostile: bool = False, start: datetime = WAVE_START) -> WaveGrades:
    """The TACK-shaped wave; `hostile` renames one company and plants markup in a quote."""
    companies = []
    reasonable_times = [5 * H + index * 2.6 * H for index in range(len(REASONABLE))]
    for index, (cid, name, sector) in enumerate(COMPANIES):
        submitted = start + timedelta(minutes=7 * index)
        pid = wave_id * 1000 + index
        hebrew = any("\u0590" <= char <= "\u05ff" for char in name)
        quotes = EXCERPTS_HE if hebrew else EXCERPTS_EN
        if cid in FAST:
            position = FAST.index(cid)
            probe = probe_result(
                pid, cid, Tier.FAST_COURTEOUS, submitted_at=submitted, human_s=FAST_TIMES[position],
                ack_s=60.0 if position % 2 else None, quality=0.95 - 0.03 * position, profile="excellent",
                excerpt=quotes[0], channel="phone" if cid == "orbit" else "email", followed_up=position == 0,
            )  # fmt: skip
        elif cid in REASONABLE:
            position = REASONABLE.index(cid)
            probe = probe_result(
                pid, cid, Tier.REASONABLE, submitted_at=submitted, human_s=reasonable_times[position],
                ack_s=90.0 if position % 3 == 0 else None, quality=0.6 - 0.012 * position,
                excerpt=quotes[1], folder="Junk" if cid == "tapuz" else "INBOX",
            )  # fmt: skip
        elif cid in SLOW:
            position = SLOW.index(cid)
            probe = probe_result(
                pid, cid, Tier.SLOW_OR_LACKING, submitted_at=submitted, human_s=SLOW_TIMES[position],
                ack_s=120.0, quality=0.2 - 0.05 * position, profile="poor", excerpt=quotes[2],
                promise=ReplyPromise("within 2 business days", submitted + timedelta(days=2), kept=False)
                if position == 0
                else None,
            )  # fmt: skip
        elif cid in NOT_REACHED:
            probe = probe_result(
                pid, cid, Tier.NOT_REACHED, submitted_at=submitted, not_reached_reason=NOT_REACHED[cid]
            )
        else:
            quiet = int(cid.split("-")[1])
            probe = probe_result(
                pid, cid, Tier.NO_REPLY, submitted_at=submitted, ack_s=45.0 if quiet % 3 == 0 else None,
                human_s=9 * D if quiet == 5 else None, late=quiet == 5,
            )  # fmt: skip
        if hostile and cid == "tapuz":
            name, sector = HOSTILE_NAME, "<b onmouseover=alert(2)>telecom</b>"
            probe = replace(probe, excerpt=HOSTILE_EXCERPT)
        companies.append(company_result(cid, name, sector, probe))
    return WaveGrades(
        wave_id=wave_id,
        audit_name="Israeli contact forms, winter 2026",
        as_of=start + timedelta(days=7, hours=6),
        clock="wall",
        companies=tuple(companies),
        graded_at=start + timedelta(days=8),
    )


def make_previous_wave() -> WaveGrades:
    """Wave 6, a month earlier: mizrah was only reasonable, galil-ins did not reply, phoenix was reasonable,
    two quiet companies had replied; so the trend has improvements, declines and withheld movers."""
    wave = make_wave(6, start=WAVE_START - timedelta(days=28))
    changes = {
        "mizrah": (Tier.REASONABLE, 9 * H, 0.7),
        "galil-ins": (Tier.NO_REPLY, None, None),
        "phoenix": (Tier.REASONABLE, 20 * H, 0.6),
        "quiet-01": (Tier.REASONABLE, 30 * H, 0.55),
        "quiet-02": (Tier.SLOW_OR_LACKING, 3 * D, 0.3),
    }
    companies = []
    for company in wave.companies:
        if company.company_id in changes:
            tier, seconds, quality = changes[company.company_id]
            probe = replace(
                company.probes[0],
                tier=tier,
                wall_seconds_to_human=seconds,
                business_seconds_to_human=seconds,
                first_human_at=None if seconds is None else _plus(company.probes[0].submitted_at, seconds),
                quality=quality,
                late=False,
            )
            company = replace(
                company,
                probes=(probe,),
                tier=tier,
                wall_seconds_to_human=seconds,
                business_seconds_to_human=seconds,
                quality=quality,
            )
        companies.append(company)
    return replace(wave, companies=tuple(companies))


def _plus(moment: datetime | None, seconds: float) -> datetime | None:
    return None if moment is None else moment + timedelta(seconds=seconds)


# ---------------------------------------------------------------------------------------------------------
# Reading rendered HTML back with the standard library's parser


@dataclass
class Parsed:
    """What html.parser saw: every element with its attributes, and the text inside chosen classes."""

    elements: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    texts: dict[str, list[str]] = field(default_factory=dict)

    def tags(self, name: str) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.elements if tag == name]

    def with_class(self, name: str) -> list[dict[str, str]]:
        return [attrs for _, attrs in self.elements if name in attrs.get("class", "").split()]

    def text(self, css_class: str) -> str:
        return " ".join(self.texts.get(css_class, []))


class _Collector(HTMLParser):
    """Records elements, and the text under each class (until its element closes)."""

    VOID = frozenset({"meta", "br", "img", "input", "link", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.result = Parsed()
        self.open: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.result.elements.append((tag, values))
        if tag not in self.VOID:
            self.open.append((tag, values.get("class", "").split()))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                del self.open[index:]
                break

    def handle_data(self, data: str) -> None:
        for _, classes in self.open:
            for css_class in classes:
                self.result.texts.setdefault(css_class, []).append(data)


def parse(html: str) -> Parsed:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.result
