"""Rendering without a database: charts drawn, Slack and email payloads well formed."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pypdf
import pytest
from markupsafe import escape
from PIL import Image

from monitor.reports import charts
from monitor.reports.deliver import Made, email_message, slack_payload, write_files
from monitor.reports.i18n import Words
from monitor.reports.model import BUCKET_EDGES, Bucket, Day, Figures, Language, LongWait, PolicyNote, Report, Row
from monitor.reports.period import Period
from monitor.reports.present import METRICS, cell, hours_note, policy_lines, scope_line
from monitor.reports.render import file_name, render
from monitor.reports.settings import EmailDelivery
from monitor.simulator.slack import FakeSlack

PERIOD = Period("week", date(2026, 3, 2), date(2026, 3, 8), "Europe/Paris")
AS_OF = datetime(2026, 3, 9, 9, tzinfo=UTC)


def figures(n: int) -> Figures:
    return Figures(
        waits_opened=n,
        questions=n + 3,
        answered=n - 2,
        first_waits=n - 4,
        first_answered=n - 5,
        median_first_seconds=300.0 + n,
        p90_first_seconds=7200.0,
        within_sla=n - 6,
        breaches=4,
    )


def sample(empty: bool = False) -> Report:
    def row(brand: str | None, channel: str | None, account: str | None, n: int) -> Row:
        return Row(brand, channel, account, Figures() if empty else figures(n), Figures() if empty else figures(n + 5))

    days = [
        Day(
            PERIOD.first_day + timedelta(days=i),
            {} if empty else {"x": i + 2, "facebook": 3},
            0 if empty else i + 1,
            0 if empty else 2,
        )
        for i in range(7)
    ]
    edges = (0.0, *BUCKET_EDGES)
    return Report(
        period=PERIOD,
        previous_period=PERIOD.previous(),
        as_of=AS_OF,
        hours="business",
        brands_filter=(),
        total=row(None, None, None, 40),
        brands=[row("acme", None, None, 40)],
        channels=[row("acme", "x", None, 20), row("acme", "facebook", None, 20)],
        accounts=[row("acme", "x", "acme-x", 20), row("acme", "facebook", "acme-fb", 20)],
        days=days,
        distribution=[
            Bucket(lo, edges[i + 1] if i + 1 < len(edges) else None, 0 if empty else 9 - i)
            for i, lo in enumerate(edges)
        ],
        unanswered_first=0 if empty else 3,
        heatmap=[[0 if empty else (d * h) % 4 for h in range(24)] for d in range(7)],
        longest=[]
        if empty
        else [
            LongWait(
                "acme",
                "x",
                "acme-x",
                "first",
                "public",
                "@cust",
                AS_OF - timedelta(days=2),
                None,
                172800.0,
                None,
                1800.0,
                AS_OF,
                "https://x.com/i/web/status/1",
            )
        ],
    )


def colourful(png: bytes) -> float:
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return float((rgb.max(axis=-1) - rgb.min(axis=-1) > 40).mean())


@pytest.mark.parametrize("name", sorted(charts.CHARTS))
def test_charts_are_drawn(name: str) -> None:
    png = charts.CHARTS[name](sample(), Words("en"), "png", 60)
    assert png.startswith(b"\x89PNG") and colourful(png) > 0.02
    empty = charts.CHARTS[name](sample(empty=True), Words("fr"), "png", 60)
    assert Image.open(io.BytesIO(empty)).size == Image.open(io.BytesIO(png)).size
    svg = charts.CHARTS[name](sample(), Words("fr"), "svg", 60)
    assert b"<svg" in svg


def test_file_names() -> None:
    report = sample()
    assert file_name(report, "pdf") == "sla-report-2026-W10.pdf"
    assert file_name(report, "csv", "weekly") == "weekly-2026-W10.csv"
    with pytest.raises(ValueError, match="unknown report format 'docx'"):
        render(report, "docx")


async def test_the_slack_summary_is_accepted_by_a_slack_webhook() -> None:
    made = Made(sample(), Words("fr"), {})
    payload = slack_payload(made)
    assert payload["blocks"][0]["text"]["text"] == "Rapport SLA des messageries sociales — 2–8 mars 2026"
    assert len(payload["blocks"][2]["fields"]) == 7
    slack = FakeSlack()
    await slack.start()
    try:
        import aiohttp

        async with aiohttp.ClientSession() as session, session.post(slack.hook_url(), json=payload) as resp:
            assert (resp.status, await resp.text()) == (200, "ok")
    finally:
        await slack.stop()
    assert "Taux de réponse" in slack.messages[0].text


def test_the_email_attaches_every_file(tmp_path: object) -> None:
    made = Made(sample(), Words("en"), {"r.pdf": b"%PDF-1.4 x", "r.csv": b"a,b\r\n"})
    delivery = EmailDelivery.model_validate({"host": "h", "from": "a@b.example", "to": ["c@d.example", "e@f.example"]})
    msg = email_message(delivery, made)
    assert msg["To"] == "c@d.example, e@f.example" and msg["Subject"] == "Social inbox SLA report — 2–8 March 2026"
    attachments = {p.get_filename(): p.get_content_type() for p in msg.iter_attachments()}
    assert attachments == {"r.pdf": "application/pdf", "r.csv": "text/csv"}
    body = msg.get_body(("plain",))
    assert body is not None and "Response rate" in body.get_content()


def test_files_are_written_whole(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    written = write_files(tmp_path / "deep" / "dir", {"a.json": b"{}", "b.csv": b"x"})
    assert [p.read_bytes() for p in written] == [b"{}", b"x"]
    assert sorted(p.name for p in (tmp_path / "deep" / "dir").iterdir()) == ["a.json", "b.csv"]


def without_previous(report: Report) -> Report:
    """`report` as if the period before it held no wait."""

    def blank(row: Row) -> Row:
        return replace(row, previous=Figures())

    return replace(
        report,
        total=blank(report.total),
        brands=[blank(r) for r in report.brands],
        channels=[blank(r) for r in report.channels],
        accounts=[blank(r) for r in report.accounts],
    )


@pytest.mark.parametrize("language", ["en", "fr"])
def test_with_nothing_to_compare_with_nothing_is_said_under_the_figures(language: Language) -> None:
    words = Words(language)
    report = without_previous(sample())
    assert all(cell(m, report.total, words).change == "" for m in METRICS)
    html = render(report, "html", language).decode()
    assert 'class="change' not in html and words("compared_with") not in html
    assert escape(words("no_previous").format(period=words.period(report.previous_period))) in html
    pages = pypdf.PdfReader(io.BytesIO(render(report, "pdf", language))).pages
    first = [line.strip() for line in pages[0].extract_text().splitlines()]
    assert "–" not in first  # no dash under any figure
    assert words("compared_with") not in first[1]
    with_changes = pypdf.PdfReader(io.BytesIO(render(sample(), "pdf", language))).pages[0].extract_text()
    assert words("compared_with") in with_changes
    # With a previous period, the changes are there.
    assert words("compared_with") in render(sample(), "html", language).decode()


def test_the_report_says_which_hours_each_figure_uses() -> None:
    en = Words("en")
    no_calendar = PolicyNote("demo", 60, 120, 120, 240, False, None, {}, None)
    office = PolicyNote("office", 1800, 3600, 3600, 7200, True, "Europe/Paris", {"mon": ["09:00-18:00"]}, "FR")
    asked_business = replace(sample(), hours="business", policies=[no_calendar])
    # Business hours asked, but no policy has a calendar: it is wall time, and the report says so.
    assert scope_line(asked_business, en) == "all brands · response times in wall time · SLA in wall time"
    assert "business hours" not in scope_line(asked_business, en)
    mixed = replace(sample(), hours="business", policies=[no_calendar, office])
    assert "business hours (wall time without a calendar)" in scope_line(mixed, en)
    wall = replace(sample(), hours="wall", policies=[office])
    assert scope_line(wall, en) == "all brands · response times in wall time · SLA in business hours"
    note = hours_note(wall, en)
    assert "Median and P90 first response: wall time" in note and "Within SLA and breaches: business hours" in note
    lines = policy_lines(mixed, Words("fr"))
    assert "sans calendrier" in lines[0] and "lun. 09:00–18:00" in lines[1]
    assert all("((" not in line and "))" not in line for line in lines)  # no nested brackets
    # The longest waits drop the business-time column when no calendar applies.
    no_column = render(replace(sample(), policies=[no_calendar]), "html", "en").decode()
    assert en("business_time") not in no_column and en("business_time") in render(mixed, "html", "en").decode()
