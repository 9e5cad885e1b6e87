"""The report as plain data: every string already worded and formatted in the report's language.

Templates only lay this out, so the HTML, the email and the plain text always say the same thing. Untrusted
text (company names, sectors, quotes) is kept as it is here; escaping is the template engine's job.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from audit.config import AuditConfig, CompanySection
from audit.grading.types import CompanyResult
from audit.reporting import i18n
from audit.reporting.i18n import Lang
from audit.reporting.metrics import WaveMetrics

# ---------------------------------------------------------------------------------------------------------
# Input besides the grades


@dataclass(frozen=True)
class EvidenceLink:
    """A file the web report links to, as an href relative to the report's folder."""

    kind: str  # form (before-submit screenshot) | confirmation (after-submit) | reply (the raw message)
    href: str


@dataclass(frozen=True)
class WaveFacts:
    """What the builder needs besides the grades; gathered by the loader so the builder stays pure."""

    generated_at: datetime
    evidence: Mapping[int, tuple[EvidenceLink, ...]] = field(default_factory=dict)  # by probe id


# ---------------------------------------------------------------------------------------------------------
# Output


@dataclass(frozen=True)
class Link:
    label: str
    href: str


@dataclass(frozen=True)
class TierCount:
    tier: str
    label: str
    count: int
    percent: str
    width: float  # share of all companies, 0..100, for the stacked bar


@dataclass(frozen=True)
class Figure:
    value: str
    label: str


@dataclass(frozen=True)
class Headline:
    sentence: str
    not_reached: str | None
    trend: str | None
    counts: tuple[TierCount, ...]
    figures: tuple[Figure, ...]


@dataclass(frozen=True)
class CompanyEntry:
    name: str
    sector: str
    time: str  # the headline time: "33 min", "never", "late: 9 days"
    paragraph: str
    quote: str | None
    flags: tuple[str, ...]
    links: tuple[Link, ...]


@dataclass(frozen=True)
class TierSection:
    tier: str
    title: str
    rule: str
    count: int
    count_text: str
    entries: tuple[CompanyEntry, ...]
    hidden_note: str | None  # the companies are withheld (audit.name_non_responders: false)


@dataclass(frozen=True)
class RankRow:
    rank: str
    name: str
    sector: str
    submitted: str
    first_ack: str
    first_human: str
    first_human_at: str
    business: str
    quality: str
    quality_width: float
    tier: str
    tier_label: str
    links: tuple[Link, ...]
    channel: str = ""  # how the inquiry was sent, named only when the wave used email


@dataclass(frozen=True)
class MetricRow:
    label: str
    value: str


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    value: str
    width: float  # 0..100
    tone: str  # a tier key, for the colour


@dataclass(frozen=True)
class SpeedPoint:
    name: str
    time: str
    quality: str
    width: float
    tier: str


@dataclass(frozen=True)
class SpeedQuality:
    sentence: str
    points: tuple[SpeedPoint, ...]


@dataclass(frozen=True)
class SectorRow:
    sector: str
    companies: int
    reached: str
    replied: str
    median: str
    median_responders: str
    within_24h: str
    quality: str
    tiers: tuple[TierCount, ...]


@dataclass(frozen=True)
class ChannelRow:
    """One way of sending the inquiry (form, email), compared when a wave used both."""

    channel: str
    inquiries: int
    reached: str
    replied: str
    median: str
    median_responders: str
    within_24h: str
    quality: str


@dataclass(frozen=True)
class TrendRow:
    label: str
    before: str
    now: str
    arrow: str
    tone: str  # better | worse | same | none


@dataclass(frozen=True)
class Mover:
    name: str
    before: str
    now: str
    before_tier: str
    now_tier: str
    arrow: str
    tone: str


@dataclass(frozen=True)
class Trend:
    title: str
    sentence: str
    rows: tuple[TrendRow, ...]
    movers: tuple[Mover, ...]
    hidden_note: str | None


@dataclass(frozen=True)
class MethodItem:
    label: str
    value: str


@dataclass(frozen=True)
class Methodology:
    items: tuple[MethodItem, ...]
    inquiry_subject: str
    inquiry_message: str
    rubric: tuple[MethodItem, ...]


@dataclass(frozen=True)
class Study:
    name: str
    finding: str


# The charts' geometry (audit/reporting/charts.py computes it, reports/partials/charts.html.j2 draws it)


@dataclass(frozen=True)
class Tick:
    at: float  # pixels along its axis
    label: str


@dataclass(frozen=True)
class ScatterPoint:
    x: float
    y: float
    tier: str
    name: str
    title: str  # the tooltip and the accessible text: "Acme: 33 min, quality 80%"
    labelled: bool


@dataclass(frozen=True)
class Scatter:
    width: float
    height: float
    plot: tuple[float, float, float, float]  # left, top, right, bottom of the plotting area
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    points: tuple[ScatterPoint, ...]
    x_title: str
    y_title: str
    description: str


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    label: str  # "24 h: 45%"


@dataclass(frozen=True)
class Curve:
    width: float
    height: float
    plot: tuple[float, float, float, float]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    path: str  # an SVG path of the step curve, absolute coordinates
    markers: tuple[Marker, ...]
    x_title: str
    y_title: str
    description: str


@dataclass(frozen=True)
class Charts:
    scatter: Scatter | None  # None when fewer than two companies replied
    curve: Curve | None  # None when no inquiry was sent


@dataclass(frozen=True)
class ReportData:
    lang: Lang
    direction: str  # ltr | rtl
    wave_id: int
    title: str
    subtitle: str
    subject: str  # the email's Subject
    headline: Headline
    tiers: tuple[TierSection, ...]
    ranking: tuple[RankRow, ...]
    ranking_note: str | None
    metrics: tuple[MetricRow, ...]
    distribution: tuple[Bar, ...]
    speed_quality: SpeedQuality
    rubric: tuple[Bar, ...]
    sectors: tuple[SectorRow, ...]
    trend: Trend | None
    method: Methodology
    context_intro: str
    context: tuple[Study, ...]
    footer: str
    evidence_links: bool
    numbers: WaveMetrics  # the unformatted figures, for tests and scripts
    channels: tuple[ChannelRow, ...] = ()  # empty unless the wave sent inquiries both ways
    charts: Charts | None = None  # drawn as inline SVG (audit/reporting/charts.py)


# ---------------------------------------------------------------------------------------------------------
# What every builder shares


@dataclass(frozen=True)
class BuildContext:
    lang: Lang
    config: AuditConfig
    links: Mapping[int, tuple[Link, ...]]  # by probe id; empty when evidence links are off

    @property
    def zone(self) -> str:
        return self.config.audit.timezone

    @property
    def names_hidden(self) -> bool:
        return not self.config.audit.name_non_responders

    # Names from the config, in the report's language when the config gives one (`name_he`, `sectors`).
    def audit_name(self) -> str:
        audit = self.config.audit
        name = audit.name_he if self.lang == "he" and audit.name_he else audit.name
        return " ".join(name.split())

    def company_name(self, company: CompanyResult) -> str:
        if self.lang == "he":
            spec = self._companies.get(company.company_id)
            if spec is not None and spec.name_he:
                return spec.name_he
        return company.name

    def sector_name(self, sector: str) -> str:
        if self.lang == "he":
            return self.config.sectors.get(sector, sector)
        return sector

    @functools.cached_property
    def _companies(self) -> dict[str, CompanySection]:
        return {company.id: company for company in self.config.companies}

    # gettext in the report's language, message first; pybabel extracts these calls (babel.cfg).
    def gettext(self, message: str, /, **values: object) -> str:
        return i18n.translator(self.lang).gettext(message, **values)

    def ngettext(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        return i18n.translator(self.lang).ngettext(singular, plural, n, **values)

    def pgettext(self, context: str, message: str, /, **values: object) -> str:
        return i18n.translator(self.lang).pgettext(context, message, **values)

    def tier_name(self, tier: str) -> str:
        return i18n.tier_name(self.lang, tier)

    def tier_short(self, tier: str) -> str:
        return i18n.tier_short(self.lang, tier)

    def duration(self, seconds: float) -> str:
        return i18n.duration(seconds, self.lang)

    def deadline(self) -> str:
        return self.duration(self.config.audit.deadline.total_seconds())

    def latency(self, seconds: float | None) -> str:
        """A time to reply: '–' when unknown, 'more than 7 days' for never (+infinity)."""
        if seconds is None:
            return self.gettext("–")
        if math.isinf(seconds):
            return self.gettext("more than {duration}", duration=self.deadline())
        return self.duration(seconds)

    def percent(self, fraction: float | None) -> str:
        return i18n.percent(fraction, self.lang)

    def moment(self, value: datetime | None, style: str = "short") -> str:
        return i18n.moment(value, self.lang, self.zone, style=style)
