"""The report's charts as plain geometry, drawn as inline SVG by reports/partials/charts.html.j2.

No JavaScript and no image files: the emailed copy and the printed page show the same charts as the web
file. This module only computes positions and labels (in the report's language); the template escapes the
labels and draws. Time axes are logarithmic, from one minute to the deadline, because replies span
minutes to days (TACK's fastest came in 33 minutes, its slowest after 5 days).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from audit.grading.types import CompanyResult, ProbeResult
from audit.reporting.metrics import DAY, HOUR, NEVER, answered_in_time, human_seconds
from audit.reporting.paragraphs import representative
from audit.reporting.tables import sort_key
from audit.reporting.types import BuildContext, Charts, Curve, Marker, Scatter, ScatterPoint, Tick

WIDTH, HEIGHT = 640.0, 300.0
LEFT, RIGHT, TOP, BOTTOM = 48.0, 150.0, 16.0, 36.0  # room for the y labels, the point labels, the x labels
FIRST_S = 60.0
MAX_LABELLED = 24  # past this many names the chart is a list: the ranked table names them all
LABEL_CHAR_PX = 6.0  # a character of the 11 px label, on average, for the overlap check


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _plot() -> tuple[float, float, float, float]:
    return LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM


def _x_of(seconds: float, last_s: float) -> float:
    left, _, right, _ = _plot()
    clamped = min(max(seconds, FIRST_S), last_s)
    share = (math.log10(clamped) - math.log10(FIRST_S)) / (math.log10(last_s) - math.log10(FIRST_S))
    return round(left + share * (right - left), 1)


def _y_of(fraction: float) -> float:
    _, top, _, bottom = _plot()
    return round(bottom - max(0.0, min(1.0, fraction)) * (bottom - top), 1)


def _x_ticks(ctx: BuildContext, last_s: float) -> tuple[Tick, ...]:
    marks = [FIRST_S, HOUR, DAY, 5 * DAY, last_s]
    kept = sorted({mark for mark in marks if FIRST_S <= mark <= last_s})
    ticks, previous = [], -1e9
    for mark in kept:
        at = _x_of(mark, last_s)
        if at - previous >= 40:  # a deadline of 6 days would print on top of "5 days"
            ticks.append(Tick(at, ctx.duration(mark)))
            previous = at
    return tuple(ticks)


def _y_ticks(ctx: BuildContext) -> tuple[Tick, ...]:
    return tuple(Tick(_y_of(fraction), ctx.percent(fraction)) for fraction in (0.0, 0.25, 0.5, 0.75, 1.0))


def _last(ctx: BuildContext) -> float:
    return max(ctx.config.audit.deadline.total_seconds(), HOUR)


def scatter(ctx: BuildContext, companies: Sequence[CompanyResult]) -> Scatter | None:
    """Speed against quality, one dot a company that replied in time, coloured by tier."""
    last_s = _last(ctx)
    replied = [
        company
        for company in sorted(companies, key=sort_key)
        if company.quality is not None
        and company.wall_seconds_to_human is not None
        and answered_in_time(representative(company))
    ]
    if len(replied) < 2:
        return None
    points = []
    placed: list[tuple[float, float, float, float]] = []  # the label boxes drawn so far
    for company in replied:
        assert company.quality is not None and company.wall_seconds_to_human is not None
        name = ctx.company_name(company)
        title = ctx.gettext(
            "{name}: {time}, quality {quality}",
            name=name,
            time=ctx.latency(company.wall_seconds_to_human),
            quality=ctx.percent(company.quality),
        )
        x, y = _x_of(company.wall_seconds_to_human, last_s), _y_of(company.quality)
        # A name goes beside its dot only where it covers no name drawn before (fastest first); the others
        # keep their tooltip, and the table below names every one.
        box = (x + 6, y - 9, x + 8 + LABEL_CHAR_PX * min(len(name), 24), y + 4)
        free = len(placed) < MAX_LABELLED and not any(_overlap(box, other) for other in placed)
        if free:
            placed.append(box)
        points.append(ScatterPoint(x=x, y=y, tier=company.tier.value, name=name, title=title, labelled=free))
    return Scatter(
        width=WIDTH,
        height=HEIGHT,
        plot=_plot(),
        x_ticks=_x_ticks(ctx, last_s),
        y_ticks=_y_ticks(ctx),
        points=tuple(points),
        x_title=ctx.gettext("Time to the first reply from a person"),
        y_title=ctx.gettext("Quality"),
        description=ctx.gettext(
            "Each dot is a company that replied in time: further right is slower, higher is better."
        ),
    )


def curve(ctx: BuildContext, probes: Sequence[ProbeResult]) -> Curve | None:
    """The share of the inquiries sent that a person had answered within each time: a rising step curve."""
    reached = [probe for probe in probes if probe.reached]
    if not reached:
        return None
    last_s = _last(ctx)
    times = sorted(seconds for seconds in map(human_seconds, reached) if seconds != NEVER)
    left, _, right, bottom = _plot()
    steps = [f"M{left:.1f},{bottom:.1f}"]
    for answered, seconds in enumerate(times, start=1):
        x = _x_of(seconds, last_s)
        steps.append(f"H{x:.1f}V{_y_of(answered / len(reached)):.1f}")
    steps.append(f"H{right:.1f}")
    markers = []
    for limit in (HOUR, DAY, 5 * DAY):
        if limit > last_s:
            continue
        fraction = sum(1 for seconds in times if seconds <= limit) / len(reached)
        markers.append(
            Marker(
                x=_x_of(limit, last_s),
                y=_y_of(fraction),
                label=ctx.gettext("{time}: {share}", time=ctx.duration(limit), share=ctx.percent(fraction)),
            )
        )
    return Curve(
        width=WIDTH,
        height=HEIGHT,
        plot=_plot(),
        x_ticks=_x_ticks(ctx, last_s),
        y_ticks=_y_ticks(ctx),
        path="".join(steps),
        markers=tuple(markers),
        x_title=ctx.gettext("Time since the inquiry"),
        y_title=ctx.gettext("Answered by a person"),
        description=ctx.gettext(
            "The share of the inquiries a person had answered, by the time since the inquiry; the rest "
            "had no answer by the deadline."
        ),
    )


def charts(ctx: BuildContext, companies: Sequence[CompanyResult]) -> Charts:
    probes = [probe for company in companies for probe in company.probes]
    return Charts(scatter=scatter(ctx, companies), curve=curve(ctx, probes))
