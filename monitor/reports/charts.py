"""The report's charts, drawn with matplotlib's object API (no pyplot: no global state)."""

from __future__ import annotations

import io
import itertools
import math
from typing import Literal

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from monitor.reports.i18n import Words
from monitor.reports.model import Report

ImageFormat = Literal["png", "svg"]

CHANNEL_COLORS = {"x": "#1f2937", "facebook": "#1877f2", "instagram": "#c13584"}
"""Each channel's brand colour (`monitor.domain.model.CHANNELS`)."""
OTHER_COLOR = "#64748b"
SLA_COLOR = "#f59e0b"
UNANSWERED_COLOR = "#b91c1c"
INK = "#334155"
GRID = "#e2e8f0"
WIDTH_INCHES = 7.2
PNG_COMPRESS_LEVEL = 1
"""zlib level of the PNGs drawn: the PDF decodes them and compresses the pixels again, so a
stronger level only costs time (level 6, PIL's default, took about a tenth of a PDF's rendering)."""


def _figure(height: float) -> Figure:
    fig = Figure(figsize=(WIDTH_INCHES, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _style(ax: object) -> None:
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(GRID)
    ax.tick_params(colors=INK, labelsize=8)
    ax.yaxis.grid(True, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def _save(fig: Figure, fmt: ImageFormat, dpi: int) -> bytes:
    out = io.BytesIO()
    if fmt == "svg":
        fig.savefig(out, format=fmt, dpi=dpi, facecolor="white", metadata={"Date": None})
    else:
        fig.savefig(out, format=fmt, dpi=dpi, facecolor="white", pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
    return out.getvalue()


def daily_volume(report: Report, words: Words, fmt: ImageFormat = "png", dpi: int = 200) -> bytes:
    """Stacked bars of waits opened per day and channel; a line of the share within SLA."""
    fig = _figure(2.9)
    ax = fig.add_subplot()
    _style(ax)
    days = report.days
    xs = list(range(len(days)))
    bottom = [0] * len(days)
    channels = report.channel_names or ["x"]
    for channel in channels:
        values = [d.waits_by_channel.get(channel, 0) for d in days]
        ax.bar(
            xs,
            values,
            bottom=bottom,
            width=0.8 if len(days) < 60 else 1.0,
            color=CHANNEL_COLORS.get(channel, OTHER_COLOR),
            label=words.channel(channel),
            zorder=2,
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel(words("waits_axis"), color=INK, fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    ax.set_xlim(-0.6, len(days) - 0.4)
    step = max(1, math.ceil(len(days) / 14))
    ax.set_xticks(xs[::step], [words.short_day(d.day) for d in days[::step]])
    share = ax.twinx()
    share.set_ylim(0, 105)
    share.yaxis.set_major_formatter(FuncFormatter(lambda v, _: words.percent(v / 100, 0)))
    share.tick_params(colors=SLA_COLOR, labelsize=8)
    for side in ("top", "left", "bottom"):
        share.spines[side].set_visible(False)
    share.spines["right"].set_color(GRID)
    points = [(x, 100 * s) for x, d in zip(xs, days, strict=True) if (s := d.within_sla_share) is not None]
    if points:
        share.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            color=SLA_COLOR,
            linewidth=2,
            marker="o" if len(days) <= 45 else None,
            markersize=3.5,
            label=words("sla_axis"),
            zorder=3,
        )
    share.set_ylabel(words("sla_axis"), color=SLA_COLOR, fontsize=8)
    if not any(bottom):
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, words("no_data"), transform=ax.transAxes, ha="center", va="center", color=INK)
    handles = ax.get_legend_handles_labels()
    more = share.get_legend_handles_labels()
    fig.legend(
        handles[0] + more[0],
        handles[1] + more[1],
        loc="outside upper left",
        fontsize=7,
        frameon=False,
        ncols=len(channels) + 1,
    )
    return _save(fig, fmt, dpi)


def first_response_distribution(report: Report, words: Words, fmt: ImageFormat = "png", dpi: int = 200) -> bytes:
    """First responses by duration bucket, and the first waits left unanswered."""
    fig = _figure(2.6)
    ax = fig.add_subplot()
    _style(ax)
    labels = [words.bucket(b.lower, b.upper) for b in report.distribution] + [words("unanswered")]
    values = [b.waits for b in report.distribution] + [report.unanswered_first]
    n = len(report.distribution)
    colors = [_ramp(i / max(1, n - 1)) for i in range(n)] + [UNANSWERED_COLOR]
    bars = ax.bar(range(len(values)), values, color=colors, width=0.75, zorder=2)
    ax.set_xticks(range(len(values)), labels, rotation=0, fontsize=7)
    ax.set_ylabel(words("first_responses_axis"), color=INK, fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    top = max(values) if values else 0
    if top:
        ax.set_ylim(0, top * 1.15)
        for bar, v in zip(bars, values, strict=True):
            if v:
                ax.text(
                    bar.get_x() + bar.get_width() / 2,
                    bar.get_height(),
                    words.integer(v),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color=INK,
                )
    else:
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, words("no_data"), transform=ax.transAxes, ha="center", va="center", color=INK)
    return _save(fig, fmt, dpi)


def breach_heatmap(report: Report, words: Words, fmt: ImageFormat = "png", dpi: int = 200) -> bytes:
    """Breached waits by weekday (rows) and local hour the question was asked (columns)."""
    fig = _figure(2.5)
    ax = fig.add_subplot()
    grid = report.heatmap
    top = max((max(row) for row in grid), default=0)
    image = ax.imshow(grid, cmap="OrRd", vmin=0, vmax=max(top, 1), aspect="auto", interpolation="nearest")
    ax.set_yticks(range(7), words.weekdays(), fontsize=8, color=INK)
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}h" for h in range(0, 24, 2)], fontsize=7, color=INK)
    ax.set_xticks([x - 0.5 for x in range(1, 24)], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, 7)], minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="both", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    bar = fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01)
    bar.ax.tick_params(labelsize=7, colors=INK)
    bar.outline.set_visible(False)
    bar.locator = MaxNLocator(integer=True, nbins=4)
    bar.update_ticks()
    if top == 0:
        ax.text(11.5, 3, words("no_data"), ha="center", va="center", color=INK, fontsize=9)
    return _save(fig, fmt, dpi)


def _ramp(t: float) -> str:
    """Green (fast) through amber to red (slow)."""
    stops = [(0.0, (22, 163, 74)), (0.5, (234, 179, 8)), (1.0, (220, 38, 38))]
    for (t0, c0), (t1, c1) in itertools.pairwise(stops):
        if t <= t1:
            u = (t - t0) / (t1 - t0)
            r, g, b = (round(a + (z - a) * u) for a, z in zip(c0, c1, strict=True))
            return f"#{r:02x}{g:02x}{b:02x}"
    return "#dc2626"


CHARTS = {"daily": daily_volume, "distribution": first_response_distribution, "heatmap": breach_heatmap}


def all_charts(report: Report, words: Words, fmt: ImageFormat = "png", dpi: int = 200) -> dict[str, bytes]:
    """Every chart of the report, by name."""
    return {name: draw(report, words, fmt, dpi) for name, draw in CHARTS.items()}
