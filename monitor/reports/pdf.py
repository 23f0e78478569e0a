"""The PDF report (reportlab): an A4 document directors can forward as it is."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import matplotlib
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from monitor.reports import charts
from monitor.reports.i18n import Words
from monitor.reports.model import Report, Row
from monitor.reports.present import (
    AGENT_COLUMNS,
    METRICS,
    PEER_METRICS,
    Tone,
    agent_lines,
    cell,
    changes_line,
    cost_table,
    has_business_time,
    has_previous,
    methodology,
    outcome,
    peer_lines,
    scope_line,
    scope_name,
    subtitle,
)

FONT = "DejaVuSans"
PAGE_W, PAGE_H = A4
MARGIN = 16 * mm
CONTENT_W = PAGE_W - 2 * MARGIN
NAVY = colors.HexColor("#0f172a")
INK = colors.HexColor("#334155")
MUTED = colors.HexColor("#64748b")
LINE = colors.HexColor("#e2e8f0")
BAND = colors.HexColor("#f1f5f9")
ACCENT = colors.HexColor("#1877f2")
TONES = {"good": "#15803d", "bad": "#b91c1c", "neutral": "#64748b"}


@cache
def _fonts() -> str:
    """Register DejaVu Sans (shipped with matplotlib: every accent, arrow and narrow space)."""
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    faces = {
        FONT: "DejaVuSans.ttf",
        f"{FONT}-Bold": "DejaVuSans-Bold.ttf",
        f"{FONT}-Oblique": "DejaVuSans-Oblique.ttf",
        f"{FONT}-BoldOblique": "DejaVuSans-BoldOblique.ttf",
    }
    for name, file in faces.items():
        pdfmetrics.registerFont(TTFont(name, str(folder / file)))
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=f"{FONT}-Bold", italic=f"{FONT}-Oblique", boldItalic=f"{FONT}-BoldOblique"
    )
    return FONT


def _styles() -> dict[str, ParagraphStyle]:
    font = _fonts()
    base = ParagraphStyle("base", fontName=font, fontSize=8.5, leading=11.5, textColor=INK)
    return {
        "base": base,
        "title": ParagraphStyle("title", base, fontName=f"{font}-Bold", fontSize=19, leading=23, textColor=NAVY),
        "subtitle": ParagraphStyle("subtitle", base, fontSize=11, leading=15, textColor=INK),
        "meta": ParagraphStyle("meta", base, fontSize=8, leading=11, textColor=MUTED),
        "h2": ParagraphStyle(
            "h2", base, fontName=f"{font}-Bold", fontSize=12.5, leading=16, textColor=NAVY, spaceBefore=10, spaceAfter=5
        ),
        "h3": ParagraphStyle(
            "h3", base, fontName=f"{font}-Bold", fontSize=9.5, leading=13, textColor=INK, spaceBefore=6, spaceAfter=2
        ),
        "cell": ParagraphStyle("cell", base, fontSize=7.5, leading=9.5),
        "cell_r": ParagraphStyle("cell_r", base, fontSize=7.5, leading=9.5, alignment=TA_RIGHT),
        "head": ParagraphStyle("head", base, fontName=f"{font}-Bold", fontSize=6.6, leading=8.5, textColor=MUTED),
        "head_r": ParagraphStyle(
            "head_r", base, fontName=f"{font}-Bold", fontSize=6.6, leading=8.5, textColor=MUTED, alignment=TA_RIGHT
        ),
        "kpi_label": ParagraphStyle("kpi_label", base, fontSize=7, leading=9, textColor=MUTED, alignment=TA_LEFT),
        "kpi_value": ParagraphStyle(
            "kpi_value", base, fontName=f"{font}-Bold", fontSize=13.5, leading=17, textColor=NAVY
        ),
        "kpi_change": ParagraphStyle("kpi_change", base, fontSize=7, leading=9),
        "method": ParagraphStyle("method", base, fontSize=7.6, leading=10.2, spaceAfter=3),
        "center": ParagraphStyle("center", base, alignment=TA_CENTER, textColor=MUTED),
    }


def _change(text: str, tone: Tone, size: float = 6.5) -> str:
    return f'<font size="{size}" color="{TONES[tone]}">{escape(text)}</font>'


class _NumberedCanvas(Canvas):
    """A canvas that writes `Page n of N` once it knows N."""

    words: Words
    title: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined]  # reportlab's, left out of its stubs

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._footer(total)
            super().showPage()
        super().save()

    def _footer(self, total: int) -> None:
        self.saveState()
        self.setStrokeColor(LINE)
        self.setLineWidth(0.6)
        self.line(MARGIN, 12 * mm, PAGE_W - MARGIN, 12 * mm)
        self.setFont(FONT, 7)
        self.setFillColor(MUTED)
        self.drawString(MARGIN, 8 * mm, self.title)
        w = self.words
        self.drawRightString(PAGE_W - MARGIN, 8 * mm, f"{w('page')} {self.getPageNumber()} {w('of')} {total}")
        self.restoreState()


def _first_page(canvas: Canvas, doc: Any) -> None:
    canvas.saveState()
    canvas.setFillColor(NAVY)
    canvas.rect(0, PAGE_H - 7 * mm, PAGE_W, 7 * mm, stroke=0, fill=1)
    canvas.setFillColor(ACCENT)
    canvas.rect(0, PAGE_H - 8.2 * mm, PAGE_W, 1.2 * mm, stroke=0, fill=1)
    canvas.restoreState()


def _later_pages(canvas: Canvas, doc: Any) -> None:
    canvas.saveState()
    canvas.setFillColor(NAVY)
    canvas.rect(0, PAGE_H - 3 * mm, PAGE_W, 3 * mm, stroke=0, fill=1)
    canvas.restoreState()


def _kpis(report: Report, words: Words, st: dict[str, ParagraphStyle]) -> Table:
    width = CONTENT_W / len(METRICS)
    figures = [cell(metric, report.total, words) for metric in METRICS]
    # The values on one line each: a long one ("20h 04m") makes them all a little smaller.
    value = st["kpi_value"]
    widest = max(pdfmetrics.stringWidth(c.value, value.fontName, 1.0) for c in figures)
    size = min(value.fontSize, (width - 8 - 2 * CELL_PADDING) / widest)
    value = ParagraphStyle("kpi_value_fit", value, fontSize=size, leading=size * value.leading / value.fontSize)
    cells = []
    for metric, c in zip(METRICS, figures, strict=True):
        kpi = [Paragraph(escape(words(metric.key)), st["kpi_label"]), Paragraph(escape(c.value), value)]
        if has_previous(report):
            kpi.append(Paragraph(_change(c.change, c.tone, 7.5) if c.change else "", st["kpi_change"]))
        cells.append(kpi)
    # Every label as tall as the tallest, so the values line up whichever labels wrap.
    label_h = max(c[0].wrap(width - 8, PAGE_H)[1] for c in cells)
    inner = [
        Table(
            [[p] for p in c],
            colWidths=[width - 8],
            rowHeights=[label_h + 2] + [None] * (len(c) - 1),
            style=TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                    ("TOPPADDING", (0, 0), (-1, -1), 1),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ]
            ),
        )
        for c in cells
    ]
    table = Table([inner], colWidths=[width] * len(cells))
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), BAND),
                ("LINEBEFORE", (1, 0), (-1, -1), 2, colors.white),
                ("LINEABOVE", (0, 0), (-1, 0), 2, ACCENT),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 5),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 7),
            ]
        )
    )
    return table


def _peers_section(report: Report, words: Words, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """ "You and your peers" (docs/peers.md): nothing when no brand of the report has peers."""
    lines = peer_lines(report, words)
    if not lines:
        return []
    heads = [words(m.key) for m in PEER_METRICS] + [words("posts_read")]
    widths = _column_widths(heads, CONTENT_W - LABEL_MAX_W, st["head_r"])
    data: list[list[Any]] = [
        [Paragraph(escape(words("brand")), st["head"])] + [Paragraph(escape(h), st["head_r"]) for h in heads]
    ]
    style: list[tuple[Any, ...]] = [
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, NAVY),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    for i, line in enumerate(lines, start=1):
        name = f'{escape(line.name)}<br/><font size="6.5" color="#64748b">{escape(line.sub)}</font>'
        reads = escape(line.reads)
        if line.note:
            reads += f'<br/><font size="6.5" color="#64748b">{escape(line.note)}</font>'
        values = [f"<b>{escape(v)}</b>" if line.own else escape(v) for v in line.values]
        data.append(
            [Paragraph(f"<b>{name}</b>" if line.own else name, st["cell"])]
            + [Paragraph(v, st["cell_r"]) for v in values]
            + [Paragraph(reads, st["cell_r"])]
        )
        if line.own:
            style.append(("BACKGROUND", (0, i), (-1, i), BAND))
        style.append(("LINEBELOW", (0, i), (-1, i), 0.4, LINE))
    table = Table(data, colWidths=[CONTENT_W - sum(widths), *widths], repeatRows=1)
    table.setStyle(TableStyle(style))
    return [
        CondPageBreak(40 * mm),
        Paragraph(escape(words("peers")), st["h2"]),
        Paragraph(escape(words("peers_intro")), st["meta"]),
        Spacer(1, 1.5 * mm),
        table,
    ]


def _figures_table(
    rows: list[tuple[Row, int]], words: Words, st: dict[str, ParagraphStyle], *, first_header: str, changes: bool
) -> Table:
    """Rows of figures (with their changes); the int is the row's level (0 brand, 1 inside it)."""
    heads = [words(m.key) for m in METRICS]
    # The names on one line each (an account's name is one word: it must not break), within bounds.
    bold = f"{st['cell'].fontName}-Bold"
    names = [pdfmetrics.stringWidth(scope_name(row, words), bold, st["cell"].fontSize) for row, _ in rows]
    label_w = min(LABEL_MAX_W, max([LABEL_MIN_W, *(n + 2 * CELL_PADDING + 12 for n in names)]))
    widths = _column_widths(heads, CONTENT_W - label_w, st["head_r"])
    data: list[list[Any]] = [
        [Paragraph(escape(first_header), st["head"])] + [Paragraph(escape(h), st["head_r"]) for h in heads]
    ]
    style: list[tuple[Any, ...]] = [
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, NAVY),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    for i, (row, level) in enumerate(rows, start=1):
        name = escape(scope_name(row, words))
        if row.account is not None:
            name += (
                f'<br/><font size="6.5" color="#64748b">{escape(row.brand or "")} · '
                f"{escape(words.channel(row.channel))}</font>"
            )
        label = f"<b>{name}</b>" if level == 0 else name if row.account is not None else f"&nbsp;&nbsp;&nbsp;{name}"
        line: list[Any] = [Paragraph(label, st["cell"])]
        for metric in METRICS:
            c = cell(metric, row, words)
            text = escape(c.value)
            if level == 0 and row.account is None:
                text = f"<b>{text}</b>"
            if changes and c.change:
                text += "<br/>" + _change(c.change, c.tone)
            line.append(Paragraph(text, st["cell_r"]))
        data.append(line)
        if level == 0 and row.account is None:
            style.append(("BACKGROUND", (0, i), (-1, i), BAND))
        style.append(("LINEBELOW", (0, i), (-1, i), 0.4, LINE))
    table = Table(data, colWidths=[CONTENT_W - sum(widths), *widths], repeatRows=1)
    table.setStyle(TableStyle(style))
    return table


LABEL_MIN_W = 27 * mm
"""The figures tables' first column (brand, channel or account names) is at least this wide…"""
LABEL_MAX_W = 48 * mm
"""…and at most this wide, however long a name: the seven figure columns keep room for their headers."""
CELL_PADDING = 3  # points, left and right of every table cell


def _column_widths(heads: list[str], room: float, style: ParagraphStyle) -> list[float]:
    """Widths for the figure columns: each holds its header's longest word on one line (a header
    breaks between words, never inside one), the rest of `room` shared out evenly."""
    needed = [
        max(pdfmetrics.stringWidth(w, style.fontName, style.fontSize) for w in h.split()) + 2 * CELL_PADDING + 1
        for h in heads
    ]
    even = room / len(heads)
    deficit = sum(max(0.0, n - even) for n in needed)
    slack = sum(max(0.0, even - n) for n in needed)
    if deficit == 0 or slack < deficit:  # nothing to do, or too narrow whatever we do: even
        return [even] * len(heads)
    # Columns with room to spare give it, in proportion, to the ones that need it.
    return [n if n > even else even - (even - n) * deficit / slack for n in needed]


def _longest_table(report: Report, words: Words, st: dict[str, ParagraphStyle]) -> Flowable:
    if not report.longest:
        return Paragraph(escape(words("no_waits")), st["base"])
    tz = report.period.timezone
    business = has_business_time(report)
    heads = [
        "#",
        words("account"),
        words("customer"),
        words("asked"),
        words("waited"),
        *([words("business_time")] if business else []),
        words("target"),
        words("outcome"),
        words("link"),
    ]
    data: list[list[Any]] = [
        [
            Paragraph(
                escape(h),
                st["head_r"] if h in (words("waited"), words("business_time"), words("target")) else st["head"],
            )
            for h in heads
        ]
    ]
    for i, w in enumerate(report.longest, start=1):
        said, tone = outcome(w, words, report.as_of)
        kind = f"{words.channel(w.channel)} · {words(w.thread_kind)} · {words(w.kind)}"
        link = (
            f'<a href="{escape(w.url, {chr(34): "&quot;"})}" color="#1877f2"><u>{escape(words("open"))}</u></a>'
            if w.url
            else "–"
        )
        data.append(
            [
                Paragraph(str(i), st["cell"]),
                Paragraph(
                    f"<b>{escape(w.account)}</b><br/><font size='6.5' color='#64748b'>{escape(kind)}</font>", st["cell"]
                ),
                Paragraph(
                    escape(w.customer_handle or "–")
                    + (
                        f"<br/><font size='6.5' color='#64748b'>{escape(words.reason(w.reason))}</font>"
                        if w.reason
                        else ""
                    ),
                    st["cell"],
                ),
                Paragraph(escape(words.timestamp(w.opened_at, tz)), st["cell"]),
                Paragraph(f"<b>{escape(words.duration(w.waited_seconds))}</b>", st["cell_r"]),
                *([Paragraph(escape(words.duration(w.business_seconds)), st["cell_r"])] if business else []),
                Paragraph(escape(words.duration(w.target_seconds)), st["cell_r"]),
                Paragraph(f'<font color="{TONES[tone]}">{escape(said)}</font>', st["cell"]),
                Paragraph(link, st["cell"]),
            ]
        )
    widths = [6 * mm, 40 * mm, 25 * mm, 18 * mm, 17 * mm, *([17 * mm] if business else []), 15 * mm, 25 * mm]
    widths.append(CONTENT_W - sum(widths))
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, NAVY),
                ("LINEBELOW", (0, 1), (-1, -1), 0.4, LINE),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _agents_table(report: Report, words: Words, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """Each team (a band), then its agents; the unsigned replies last."""
    lines, more = agent_lines(report, words)
    if not lines:
        return [Paragraph(escape(words("no_answers")), st["base"])]
    data: list[list[Any]] = [
        [Paragraph(escape(f"{words('team')} / {words('agent')}"), st["head"])]
        + [Paragraph(escape(words(c)), st["head_r"]) for c in AGENT_COLUMNS]
    ]
    style: list[tuple[Any, ...]] = [
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, NAVY),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    for i, line in enumerate(lines, start=1):
        name = f"<b>{escape(line.name)}</b>" if line.team else f"&nbsp;&nbsp;&nbsp;{escape(line.name)}"
        cells = [f"<b>{escape(c)}</b>" if line.team else escape(c) for c in line.cells]
        data.append([Paragraph(name, st["cell"]), *(Paragraph(c, st["cell_r"]) for c in cells)])
        if line.team:
            style.append(("BACKGROUND", (0, i), (-1, i), BAND))
        style.append(("LINEBELOW", (0, i), (-1, i), 0.4, LINE))
    label_w = 60 * mm
    table = Table(data, colWidths=[label_w] + [(CONTENT_W - label_w) / len(AGENT_COLUMNS)] * len(AGENT_COLUMNS))
    table.setStyle(TableStyle(style))
    table.repeatRows = 1
    out: list[Flowable] = [table]
    if more:
        out.append(Paragraph(escape(f"+ {words.integer(more)} {words('more_agents')}"), st["meta"]))
    return out


def _cost_section(report: Report, words: Words, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The X API spend table and its note (nothing when no read was billed)."""
    heads, rows = cost_table(report, words)
    if not rows:
        return []
    data: list[list[Any]] = [
        [Paragraph(escape(h), st["head"] if i == 0 else st["head_r"]) for i, h in enumerate(heads)]
    ]
    data += [[Paragraph(escape(c), st["cell"] if i == 0 else st["cell_r"]) for i, c in enumerate(r)] for r in rows]
    width = 30 * mm
    table = Table(data, colWidths=[CONTENT_W - 4 * width, *[width] * 4], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, NAVY),
                ("LINEBELOW", (0, 1), (-1, -1), 0.4, LINE),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return [
        Paragraph(escape(words("x_api_spend")), st["h2"]),
        table,
        Paragraph(escape(words("x_api_spend_note")), st["method"]),
    ]


def _chart(png: bytes) -> Image:
    image = Image(io.BytesIO(png))
    ratio = image.imageHeight / image.imageWidth
    image.drawWidth = CONTENT_W
    image.drawHeight = CONTENT_W * ratio
    return image


def render_pdf(report: Report, words: Words) -> bytes:
    """The report as PDF bytes."""
    st = _styles()
    pngs = charts.all_charts(report, words, "png", dpi=200)
    story: list[Flowable] = [
        Spacer(1, 4 * mm),
        Paragraph(escape(words("title")), st["title"]),
        Paragraph(escape(subtitle(report, words)), st["subtitle"]),
        Paragraph(
            escape(
                f"{scope_line(report, words)} · {words('generated')} "
                f"{words.instant(report.as_of, report.period.timezone)}"
            ),
            st["meta"],
        ),
        Spacer(1, 5 * mm),
        Paragraph(escape(words("summary")), st["h2"]),
        _kpis(report, words, st),
        Spacer(1, 1.5 * mm),
        Paragraph(escape(changes_line(report, words)), st["meta"]),
        Spacer(1, 2 * mm),
        Paragraph(escape(words("by_brand_channel")), st["h2"]),
    ]
    rows: list[tuple[Row, int]] = []
    for brand in report.brands:
        rows.append((brand, 0))
        rows += [(c, 1) for c in report.channels if c.brand == brand.brand]
    if len(report.brands) > 1:
        rows.append((report.total, 0))
    story.append(
        _figures_table(
            rows, words, st, first_header=f"{words('brand')} / {words('channel')}", changes=has_previous(report)
        )
    )
    story += [
        PageBreak(),
        Paragraph(escape(words("charts")), st["h2"]),
        KeepTogether([Paragraph(escape(words("daily_volume")), st["h3"]), _chart(pngs["daily"])]),
        KeepTogether([Paragraph(escape(words("distribution")), st["h3"]), _chart(pngs["distribution"])]),
        KeepTogether([Paragraph(escape(words("heatmap")), st["h3"]), _chart(pngs["heatmap"])]),
        PageBreak(),
        Paragraph(escape(words("longest")), st["h2"]),
        _longest_table(report, words, st),
        CondPageBreak(40 * mm),
        Paragraph(escape(words("by_agent")), st["h2"]),
        Paragraph(escape(words("agents_note")), st["meta"]),
        Spacer(1, 1.5 * mm),
        *_agents_table(report, words, st),
        CondPageBreak(40 * mm),
        Paragraph(escape(words("per_account")), st["h2"]),
        _figures_table([(a, 1) for a in report.accounts], words, st, first_header=words("account"), changes=False),
        *_cost_section(report, words, st),
        *_peers_section(report, words, st),
        # The methodology stays in one piece: on this page if it fits, else wholly on the next one
        # (never a last page holding one line of it).
        KeepTogether(
            [
                Paragraph(escape(words("methodology")), st["h2"]),
                *(Paragraph(p, st["method"]) for p in methodology(report, words)),
            ]
        ),
    ]

    out = io.BytesIO()
    title = f"{words('title')} — {words.period(report.period)}"
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=14 * mm,
        bottomMargin=17 * mm,
        title=title,
        author="inbox-monitor",
        subject=subtitle(report, words),
        creator="inbox-monitor",
        lang=words.language,
    )

    class Numbered(_NumberedCanvas):
        pass

    Numbered.words = words
    Numbered.title = title
    doc.build(story, onFirstPage=_first_page, onLaterPages=_later_pages, canvasmaker=Numbered)
    return out.getvalue()
