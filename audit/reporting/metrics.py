"""Wave metrics as plain numbers (docs/method.md, "Metrics"): pure functions over graded probes, no
formatting.

Times are seconds to the first human reply; a probe with no human reply by its deadline counts as +infinity,
so the median and p90 cover every submitted probe, not only the ones that answered.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from audit.grading.types import ProbeResult, Tier

NEVER = math.inf
HOUR = 3600.0
DAY = 86400.0


def nearest_rank(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank quantile: the smallest value with at least `fraction` of the list at or below it.

    Chosen because it always returns an observed value (never an average with +infinity) and is the rule
    docs/method.md, "Metrics", asks the report to state. None for an empty list.
    """
    if not 0 <= fraction <= 1:
        raise ValueError("fraction must lie between 0 and 1")
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; tied values share the average of the ranks they span."""
    order = sorted(range(len(values)), key=lambda index: values[index])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation: Pearson's r of the average ranks (correct with ties).

    Written by hand: one formula does not justify numpy or scipy as dependencies. None when it is
    undefined: fewer than three pairs, or one side has no spread.
    """
    if len(xs) != len(ys):
        raise ValueError("xs and ys must have the same length")
    if len(xs) < 3:
        return None
    rx, ry = average_ranks(xs), average_ranks(ys)
    mean_x, mean_y = sum(rx) / len(rx), sum(ry) / len(ry)
    covariance = sum((a - mean_x) * (b - mean_y) for a, b in zip(rx, ry, strict=True))
    spread_x = math.sqrt(sum((a - mean_x) ** 2 for a in rx))
    spread_y = math.sqrt(sum((b - mean_y) ** 2 for b in ry))
    if spread_x == 0 or spread_y == 0:
        return None
    return max(-1.0, min(1.0, covariance / (spread_x * spread_y)))


def share(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def answered_in_time(probe: ProbeResult) -> bool:
    """A human reply by the deadline; a late one is shown as late but counts as never
    (docs/method.md, "Deadline and late replies")."""
    return probe.first_human_at is not None and probe.wall_seconds_to_human is not None and not probe.late


def human_seconds(probe: ProbeResult) -> float:
    """Wall-clock seconds to the first human reply, +infinity for never (or not yet)."""
    if answered_in_time(probe) and probe.wall_seconds_to_human is not None:
        return probe.wall_seconds_to_human
    return NEVER


@dataclass(frozen=True)
class WaveMetrics:
    """The headline numbers over a set of probes. Fractions are 0..1; None when the denominator is 0."""

    probes: int  # every probe, reached or not
    reached: int  # denominator of the reply metrics
    responders: int  # a human reply by the deadline
    pending: int  # no reply yet, still inside the deadline
    never: int  # no human reply by the deadline (late replies included)
    median_s: float | None  # over reached probes, +inf for never
    p90_s: float | None
    median_responders_s: float | None
    within_1h: float | None
    within_24h: float | None
    within_5d: float | None
    within_fast_business: float | None  # within thresholds.fast of business time (4 business hours)
    within_2_business_days: float | None
    never_share: float | None
    reachable_share: float | None
    acknowledged_share: float | None
    median_ack_s: float | None
    complete_share: float | None  # of responders: the first human reply answered every part
    followed_up_share: float | None  # of responders
    mean_quality: float | None  # over responders with a quality score
    rank_correlation: float | None  # Spearman between time and quality, among responders
    correlation_pairs: int


def compute_metrics(
    probes: Iterable[ProbeResult], *, fast_business: timedelta, business_day: timedelta
) -> WaveMetrics:
    """Every number of docs/method.md, "Metrics", for these probes (a wave, or one sector of it)."""
    every = list(probes)
    reached = [probe for probe in every if probe.reached]
    times = [human_seconds(probe) for probe in reached]
    answered = [probe for probe in reached if answered_in_time(probe)]
    pending = sum(1 for probe in reached if probe.tier is Tier.PENDING and not answered_in_time(probe))
    never = len(reached) - len(answered) - pending
    business = [probe.business_seconds_to_human for probe in answered]
    acks = [probe.wall_seconds_to_ack for probe in reached if probe.wall_seconds_to_ack is not None]
    pairs = [
        (probe.wall_seconds_to_human, probe.quality)
        for probe in answered
        if probe.wall_seconds_to_human is not None and probe.quality is not None
    ]
    qualities = [quality for _, quality in pairs]
    fast_limit, two_days = fast_business.total_seconds(), 2 * business_day.total_seconds()
    return WaveMetrics(
        probes=len(every),
        reached=len(reached),
        responders=len(answered),
        pending=pending,
        never=never,
        median_s=nearest_rank(times, 0.5),
        p90_s=nearest_rank(times, 0.9),
        median_responders_s=nearest_rank([t for t in times if t != NEVER], 0.5),
        within_1h=share(sum(1 for t in times if t <= HOUR), len(times)),
        within_24h=share(sum(1 for t in times if t <= DAY), len(times)),
        within_5d=share(sum(1 for t in times if t <= 5 * DAY), len(times)),
        within_fast_business=share(sum(1 for s in business if s is not None and s <= fast_limit), len(times)),
        within_2_business_days=share(sum(1 for s in business if s is not None and s <= two_days), len(times)),
        never_share=share(never, len(reached)),
        reachable_share=share(len(reached), len(every)),
        acknowledged_share=share(sum(1 for probe in reached if probe.first_ack_at is not None), len(reached)),
        median_ack_s=nearest_rank(acks, 0.5),
        complete_share=share(
            sum(1 for probe in answered if probe.first_complete_at == probe.first_human_at), len(answered)
        ),
        followed_up_share=share(sum(1 for probe in answered if probe.followed_up), len(answered)),
        mean_quality=sum(qualities) / len(qualities) if qualities else None,
        rank_correlation=spearman([t for t, _ in pairs], qualities),
        correlation_pairs=len(pairs),
    )
