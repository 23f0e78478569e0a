"""Rendering a report in one of its formats, and the names of the files it makes."""

from __future__ import annotations

from monitor.reports.i18n import Words
from monitor.reports.model import FORMATS, Language, Report

MEDIA_TYPES = {"pdf": "application/pdf", "html": "text/html", "csv": "text/csv", "json": "application/json"}


def render(report: Report, fmt: str, language: Language = "en") -> bytes:
    """The report as `fmt` (pdf, html, csv, json) in `language` (pdf and html; data files are neutral)."""
    words = Words(language)
    if fmt == "pdf":
        from monitor.reports.pdf import render_pdf

        return render_pdf(report, words)
    if fmt == "html":
        from monitor.reports.html import render_html

        return render_html(report, words)
    if fmt == "csv":
        from monitor.reports.tabular import render_csv

        return render_csv(report)
    if fmt == "json":
        from monitor.reports.tabular import render_json

        return render_json(report)
    raise ValueError(f"unknown report format {fmt!r} (expected one of {', '.join(FORMATS)})")


def file_name(report: Report, fmt: str, prefix: str = "sla-report") -> str:
    """`sla-report-2026-W13.pdf`, with the brands when the report is limited to some."""
    brands = "-" + "-".join(report.brands_filter) if report.brands_filter else ""
    return f"{prefix}{brands}-{report.period.label}.{fmt}"
