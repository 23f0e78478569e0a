"""Reports against a real PostgreSQL: figures, files, schedules, the command line.

The dataset is scripted (tests/integration/report_data.py) and ingested through the engine;
every expected figure is computed from the script in plain Python, never through the report SQL.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import itertools
import json
import re
import subprocess
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

import numpy as np
import pypdf
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from PIL import Image

from monitor.config import parse
from monitor.reports.build import ReportError, ReportRequest, build_report
from monitor.reports.i18n import Words
from monitor.reports.model import BUCKET_EDGES, Figures, Language, Report, Row
from monitor.reports.period import parse_period
from monitor.reports.present import METRICS
from monitor.reports.render import render
from monitor.reports.schedule import ReportScheduler
from monitor.runtime import Backoff, SleepTimer, set_testing
from monitor.simulator.slack import FakeSlack
from monitor.store.db import create_pool, migrate
from monitor.store.reports import ReportStore
from monitor.store.store import AccountRow, Store
from tests.conftest import _admin, new_database, tool, with_database
from tests.integration import report_data as rd
from tests.waiting import Longest, cli, cli_env, free_port, scrape_sum, serving, start_cli, stop_cli, wait_for

PERIOD = parse_period("2026-W10", now=rd.AS_OF, timezone=rd.TZ)


@pytest.fixture(scope="session")
def dataset_template(pg_server_url: str) -> Iterator[str]:
    """A database holding the scripted dataset, ingested through the engine once per worker (the
    ingest is most of a test's set-up): each test that asks for `loaded` gets a copy of it."""
    name = f"tpl_{uuid.uuid4().hex[:12]}"

    async def fill() -> None:
        await _admin(pg_server_url, f"CREATE DATABASE {name}")
        pool = await create_pool(with_database(pg_server_url, name), min_size=1, max_size=2)
        try:
            await migrate(pool)
            await rd.load(Store(pool), rd.script(), rd.config())
        finally:
            await pool.close()  # a template must have no connection when it is copied

    asyncio.run(fill())
    try:
        yield name
    finally:
        asyncio.run(_admin(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def database_url(pg_server_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new database, dropped after the test (tests/conftest.py's): for a test that asks for
    `loaded`, a copy of `dataset_template` (the dataset stored as ingesting it stores it), else empty."""
    template = request.getfixturevalue("dataset_template") if "loaded" in request.fixturenames else "template1"
    yield from new_database(pg_server_url, template)


@pytest.fixture
def loaded(database_url: str) -> rd.Script:
    """The scripted dataset, which the test's database holds (see `database_url`)."""
    return rd.script()


async def make(store: Store, hours: str = "business", brands: tuple[str, ...] = ()) -> Report:
    request = ReportRequest(PERIOD, hours=hours, brands=brands)  # type: ignore[arg-type]
    return await build_report(ReportStore(store.pool), request, as_of=rd.AS_OF)


def assert_figures(got: Figures, want: rd.Expected, where: str) -> None:
    for name in ("questions", "waits_opened", "answered", "first_waits", "first_answered", "within_sla", "breaches"):
        assert getattr(got, name) == getattr(want, name), f"{where}: {name}"
    for name in ("median_first_seconds", "p90_first_seconds"):
        g, w = getattr(got, name), getattr(want, name)
        assert (g is None and w is None) or g == pytest.approx(w, abs=1e-6), f"{where}: {name} {g} != {w}"


# --- (1) every figure equals an independent computation -------------------------------------------


def test_the_script_covers_the_cases_that_matter() -> None:
    """The dataset has what the figures must get right, or the comparison proves little."""
    data = rd.script()
    fs = rd.facts(data, start=rd.START, end=rd.END)
    assert len(fs) > 50
    assert any(f.breached and f.answered for f in fs) and any(f.breached and not f.answered for f in fs)
    assert any(f.within for f in fs) and any(f.wait.kind == "next" for f in fs)
    assert any(f.wait.closed_at is not None and f.wait.closed_at > rd.AS_OF for f in fs)  # answered after
    assert any(f.business is not None and f.wall is not None and f.business < f.wall for f in fs)
    assert any(f.wait.thread_kind == "private" for f in fs)
    assert any(f.wait.questions > 1 for f in fs)  # a question joined a wait
    previous = rd.facts(data, start=rd.PREVIOUS_START, end=rd.START)
    assert any(w.opened_at < rd.START <= (w.closed_at or rd.START) for w in data.waits)  # crosses the edge
    assert len(previous) > 50


@pytest.mark.parametrize("hours", ["business", "wall"])
async def test_every_figure_equals_an_independent_computation(store: Store, loaded: rd.Script, hours: str) -> None:
    data = loaded
    report = await make(store, hours)

    def check(row: Row, brand: str | None = None, channel: str | None = None, account: str | None = None) -> None:
        scope = {"brand": brand, "channel": channel, "account": account}
        where = f"{scope} {hours}"
        current = rd.expected(
            data, start=rd.START, end=rd.END, hours=hours, brand=brand, channel=channel, account=account
        )
        assert_figures(row.current, current, where)
        previous = rd.expected(
            data, start=rd.PREVIOUS_START, end=rd.START, hours=hours, brand=brand, channel=channel, account=account
        )
        assert_figures(row.previous, previous, f"previous {where}")

    check(report.total)
    assert [r.brand for r in report.brands] == ["acme", "globex"]
    for r in report.brands:
        check(r, brand=r.brand)
    assert [(r.brand, r.channel) for r in report.channels] == [
        ("acme", "facebook"),
        ("acme", "instagram"),
        ("acme", "x"),
        ("globex", "x"),
    ]
    for r in report.channels:
        check(r, brand=r.brand, channel=r.channel)
    assert [r.account for r in report.accounts] == ["acme-fb", "acme-ig", "acme-x", "globex-x"]
    for r in report.accounts:
        check(r, account=r.account)

    fs = rd.facts(data, start=rd.START, end=rd.END)
    # Daily volume per channel and SLA outcome, by the local day the wait opened.
    assert [d.day for d in report.days] == [PERIOD.first_day + timedelta(days=i) for i in range(7)]
    for d in report.days:
        of_day = [f for f in fs if rd.local_day(f.wait.opened_at) == d.day]
        assert d.waits_by_channel == dict(Counter(f.channel for f in of_day)), d.day
        assert (d.within_sla, d.breaches) == (sum(f.within for f in of_day), sum(f.breached for f in of_day))
    # First responses by duration (the hours asked for), and those left unanswered.
    seconds = [f.business if hours == "business" else f.wall for f in fs if f.wait.kind == "first" and f.answered]
    edges = (0.0, *BUCKET_EDGES, float("inf"))
    assert [b.waits for b in report.distribution] == [
        sum(1 for s in seconds if s is not None and lo <= s < hi) for lo, hi in itertools.pairwise(edges)
    ]
    assert report.unanswered_first == sum(1 for f in fs if f.wait.kind == "first" and not f.answered)
    # Breaches by local weekday and hour the question was asked.
    heat = Counter(
        (f.wait.opened_at.astimezone(rd.PARIS).weekday(), f.wait.opened_at.astimezone(rd.PARIS).hour)
        for f in fs
        if f.breached
    )
    assert report.heatmap == [[heat.get((d, h), 0) for h in range(24)] for d in range(7)]
    assert sum(map(sum, report.heatmap)) == report.total.current.breaches

    # The ten longest waits: wall-clock time waited, until the reply or the report's instant.
    def waited_seconds(f: rd.Facts) -> float:
        if f.answered:
            assert f.wall is not None
            return f.wall
        return (rd.AS_OF - f.wait.opened_at).total_seconds()

    waited = sorted(fs, key=waited_seconds, reverse=True)  # stable: ties keep their order
    assert [(w.account, w.opened_at, w.url, w.customer_handle) for w in report.longest] == [
        (f.wait.account, f.wait.opened_at, f.wait.url, f.wait.customer) for f in waited[:10]
    ]
    async with store.pool.acquire() as conn:  # the rule that made the opening message a question
        reasons: dict[tuple[str, datetime], set[str]] = {}
        for rec in await conn.fetch(
            "SELECT a.name, w.opened_at, m.reason FROM waits w"
            " JOIN accounts a ON a.id = w.account_id"
            " JOIN messages m ON m.account_id = w.account_id"
            " AND m.external_id = w.opened_message"
        ):
            reasons.setdefault((rec["name"], rec["opened_at"]), set()).add(rec["reason"])
    assert all(w.reason and w.reason in reasons[(w.account, w.opened_at)] for w in report.longest)
    for w, f in zip(report.longest, waited, strict=False):
        until = f.wall if f.answered else (rd.AS_OF - f.wait.opened_at).total_seconds()
        assert w.waited_seconds == pytest.approx(until)
        assert w.closed_at == (f.wait.closed_at if f.answered else None)
        assert w.business_seconds == (pytest.approx(f.business) if f.answered else None)
        assert (w.target_seconds, w.deadline) == (f.target, f.deadline)
        assert w.outcome(rd.AS_OF) == (
            ("answered_late" if f.breached else "answered_in_time")
            if f.answered
            else ("unanswered_past_target" if f.breached else "waiting")
        )


async def test_brand_filter_and_unknown_brand(store: Store, loaded: rd.Script) -> None:
    report = await make(store, brands=("globex",))
    assert [a.account for a in report.accounts] == ["globex-x"]
    assert_figures(
        report.total.current,
        rd.expected(loaded, start=rd.START, end=rd.END, hours="business", brand="globex"),
        "globex",
    )
    assert all(w.brand == "globex" for w in report.longest)
    with pytest.raises(ReportError, match=r"unknown brand\(s\) 'nope' \(known: acme, globex\)"):
        await make(store, brands=("nope",))


async def test_one_connection_pool_gives_the_same_report(store: Store, loaded: rd.Script, database_url: str) -> None:
    """The parallel queries share one snapshot; a pool of one connection runs them in turn."""
    parallel = await make(store)
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        alone = await build_report(ReportStore(pool), ReportRequest(PERIOD, hours="business"), as_of=rd.AS_OF)
    finally:
        await pool.close()
    assert alone == parallel


async def test_an_empty_database_gives_an_empty_report_in_every_format(store: Store) -> None:
    await store.sync_accounts([])
    report = await make(store)
    assert report.total.current == Figures() and report.longest == [] and report.accounts == []
    for fmt in ("pdf", "html", "csv", "json"):
        assert render(report, fmt, "fr")


async def test_percentiles_equal_postgresql_percentile_cont(store: Store) -> None:
    """The two-pass percentiles equal percentile_cont exactly: ties, zeros, values on bucket edges."""
    import random

    rng = random.Random(3)
    ids = await store.sync_accounts(
        AccountRow(f"{b}-{c}", b, c, "1", None, "default") for b in ("a", "b", "c") for c in ("x", "facebook")
    )
    edges = [0.0, 0.0, 0.0, 300.0, 900.0, 1.01**100, 1.01**100, 86400.0, 7776000.0, 9e7]
    values = [rng.choice(edges) if rng.random() < 0.4 else rng.expovariate(1 / 3600) for _ in range(3000)]
    accounts = [rng.choice(sorted(ids.values())) for _ in values]
    start = datetime(2026, 3, 2, tzinfo=UTC)
    async with store.pool.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO threads (id, account_id, thread_key, kind)
            SELECT i, a, 't' || i, 'public' FROM unnest($1::integer[]) WITH ORDINALITY AS u(a, i)
            """,
            accounts,
        )
        await conn.execute(
            """
            INSERT INTO waits (thread_id, seq, account_id, kind, opened_at, opened_message, closed_at, questions,
                               target_seconds, deadline, at_risk_at, wall_seconds, business_seconds)
            SELECT i, 0, a, 'first', t, 'm' || i, t + v * interval '1 second', 1, 1800,
                   t + interval '30 minutes', t, v, v
            FROM unnest($1::integer[], $3::double precision[]) WITH ORDINALITY AS u(a, v, i),
                 LATERAL (SELECT $2::timestamptz + i * interval '1 minute' AS t) AS opened
            """,
            accounts,
            start,
            values,
        )
        expected = {
            (r["brand"], r["channel"], r["name"]): r["p"]
            for r in await conn.fetch(
                """
                SELECT a.brand, a.channel, a.name,
                       percentile_cont(ARRAY[0.5, 0.9]::double precision[])
                           WITHIN GROUP (ORDER BY w.business_seconds) AS p
                FROM waits w JOIN accounts a ON a.id = w.account_id
                GROUP BY ROLLUP (a.brand, a.channel, a.name)
                """
            )
        }
    period = parse_period("2026-03", now=start, timezone="UTC")
    report = await build_report(ReportStore(store.pool), ReportRequest(period), as_of=datetime(2030, 1, 1, tzinfo=UTC))
    rows = [report.total, *report.brands, *report.channels, *report.accounts]
    assert len(rows) == len(expected) == 1 + 3 + 6 + 6
    for row in rows:
        assert [row.current.median_first_seconds, row.current.p90_first_seconds] == expected[
            (row.brand, row.channel, row.account)
        ], row
    assert sum(b.waits for b in report.distribution) == len(values)
    assert report.distribution[0].waits == sum(1 for v in values if v < BUCKET_EDGES[0])
    assert report.distribution[-1].waits == sum(1 for v in values if v >= BUCKET_EDGES[-1])


# --- (2) the PDF opens, has its sections, and its charts are drawn --------------------------------


def colourful_share(image: Image.Image) -> float:
    """Share of the pixels that are clearly coloured (not white, grey or black)."""
    rgb = np.asarray(image.convert("RGB")).astype(int)
    return float((rgb.max(axis=-1) - rgb.min(axis=-1) > 40).mean())


def render_pages(pdf: bytes, folder: Path) -> list[Image.Image]:
    """The PDF's pages as images, rendered by poppler's pdftoppm."""
    pdftoppm = tool("pdftoppm")
    (folder / "report.pdf").write_bytes(pdf)
    subprocess.run(
        [pdftoppm, "-r", "40", "-png", str(folder / "report.pdf"), str(folder / "page")], check=True, timeout=60
    )
    return [Image.open(p) for p in sorted(folder.glob("page-*.png"))]


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def payload(part: EmailMessage) -> bytes:
    """The decoded body of one part of an email."""
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes), type(data)
    return data


SECTIONS = {
    "en": [
        "Social inbox SLA report",
        "2–8 March 2026",
        "Summary",
        "By brand and channel",
        "Trends",
        "Daily volume and share answered within SLA",
        "First response time",
        "Breaches by weekday",
        "The 10 longest waits",
        "Per account",
        "Methodology",
        "Median first response",
        "Within SLA",
    ],
    "fr": [
        "Rapport SLA des messageries sociales",
        "2–8 mars 2026",
        "Synthèse",
        "Par marque et par canal",
        "Tendances",
        "Délai de première réponse",
        "Les 10 attentes les plus longues",
        "Par compte",
        "Méthodologie",
        "Dans le SLA",
    ],
}


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_pdf_opens_has_its_sections_and_its_pages_render_with_charts(
    store: Store, loaded: rd.Script, tmp_path: Path, language: Language
) -> None:
    report = await make(store)
    pdf = await asyncio.to_thread(render, report, "pdf", language)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert 3 <= len(reader.pages) <= 5
    text = "\n".join(page.extract_text() for page in reader.pages)
    for section in SECTIONS[language]:
        assert section in text.replace("\n", " "), section
    assert reader.metadata is not None and "2026" in (reader.metadata.title or "")
    links = {
        a.get_object()["/A"]["/URI"]
        for page in reader.pages
        for a in page.get("/Annots") or []
        if a.get_object().get("/Subtype") == "/Link"
    }
    assert {w.url for w in report.longest} <= links and len(report.longest) == 10
    # The three charts are embedded images, each with colour in it.
    images = [img.image for page in reader.pages for img in page.images]
    assert len(images) == 3
    for image in images:
        assert image is not None and colourful_share(image) > 0.01
    # Rendered pages: the charts page is clearly coloured; every page has ink on it.
    # No header breaks inside a word ("Dépassement / s"); no last page holding a line or two.
    first = re.sub(r"\s*\n\s*", "\n", reader.pages[0].extract_text())
    heads = [w for m in METRICS for w in Words(language)(m.key).split() if len(w) > 3]
    assert not [(w, k) for w in heads for k in range(1, len(w)) if f"{w[:k]}\n{w[k:]}" in first]
    assert len(reader.pages[-1].extract_text()) > 800
    if language == "fr":  # French typography: a no-break space before ":" ";" "?" "!"
        assert not re.search(r"[^\s\u00a0\u202f][:;?!]\s", text), re.findall(r".{20}[^\s][:;?!]\s", text)
    pages = await asyncio.to_thread(render_pages, pdf, tmp_path)
    assert len(pages) == len(reader.pages)
    shares = [colourful_share(p) for p in pages]
    assert shares[1] > 0.08, shares  # page 2: the three charts
    for p in pages:
        assert (np.asarray(p.convert("L")) < 200).sum() > 500  # text and rules


async def test_html_csv_and_json_carry_the_same_figures(store: Store, loaded: rd.Script) -> None:
    report = await make(store)
    html = render(report, "html", "fr").decode()
    for section in ("Synthèse", "Tendances", "Les 10 attentes les plus longues", "Méthodologie"):
        assert section in html
    assert html.count("<svg") == 3 and all(w.url in html for w in report.longest if w.url)
    assert all(Words("fr").reason(w.reason) in html for w in report.longest)  # why each was a question
    rows = list(__import__("csv").DictReader(io.StringIO(render(report, "csv").decode())))
    total = next(r for r in rows if r["scope"] == "total" and r["period"] == "current")
    assert int(total["waits_opened"]) == report.total.current.waits_opened
    assert float(total["median_first_response_seconds"]) == round(report.total.current.median_first_seconds or 0, 1)
    scopes = ("total", "brand", "channel", "account")  # both periods; 3 channels, 4 accounts
    assert len([r for r in rows if r["scope"] in scopes]) == 2 * (1 + 2 + 4 + 4)
    # Rounded to the documented precision (docs/definitions.md): no 74.50000000000001.
    for row in rows:
        for column in ("response_rate", "within_sla_share"):
            assert re.fullmatch(r"(0|1)(\.\d{1,4})?|", row[column]), (column, row[column])
        for column in ("median_first_response_seconds", "p90_first_response_seconds"):
            assert re.fullmatch(r"\d+\.\d|", row[column]), (column, row[column])
    assert float(total["within_sla_share"]) == round(report.total.current.within_sla_share or 0, 4)
    data = json.loads(render(report, "json"))
    assert data["total"]["current"]["breaches"] == report.total.current.breaches
    assert data["period"]["label"] == "2026-W10" and len(data["longest_waits"]) == 10
    assert [w["reason"] for w in data["longest_waits"]] == [w.reason for w in report.longest]
    assert data["breach_heatmap"]["values"] == report.heatmap


async def test_every_channel_has_its_rows_in_both_languages(store: Store, loaded: rd.Script) -> None:
    """Instagram has its row among the channels and its account's, named, in French and in English."""
    report = await make(store)
    assert {c.channel for c in report.channels} == {"x", "facebook", "instagram"}
    instagram = next(a for a in report.accounts if a.channel == "instagram")
    opened = [f for f in rd.facts(loaded, start=rd.START, end=rd.END) if f.wait.account == "acme-ig"]
    assert instagram.current.waits_opened == len(opened) > 0
    cases: tuple[tuple[Language, str], ...] = (("fr", "Marque / Canal"), ("en", "Brand / Channel"))
    for language, brand_channel in cases:
        html = render(report, "html", language).decode()
        assert brand_channel in html
        assert '<tr class=""><td>Instagram</td>' in html, language  # the channel's row
        assert "acme · Instagram" in html, language  # the account's row
    rows = list(__import__("csv").DictReader(io.StringIO(render(report, "csv").decode())))
    assert {r["channel"] for r in rows} >= {"x", "facebook", "instagram"}


# --- (4) schedules: delivered by SMTP and Slack, once per occurrence -------------------------------


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps what it receives (and checks the login)."""

    password: str
    messages: list[EmailMessage] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password.decode() == self.password
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox(password="s3cret-smtp")
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, authenticator=mailbox, auth_require_tls=False)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as server:
        yield server


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def schedule_config(**report: Any) -> Any:
    return parse(
        {
            **rd.CONFIG,
            "reports": [{"name": "weekly", "cron": "0 8 * * mon", "timezone": rd.TZ, "period": "last-week", **report}],
        },
        environ=dict.fromkeys(("REPORT_SLACK_URL", "REPORT_SMTP_PASSWORD", "HOOK"), "set"),
    )


@pytest.fixture
def no_waiting() -> Iterator[None]:
    """The runtime's waits turned off (its testing switch): a delivery retries at once."""
    with set_testing(True):
        yield


@pytest.mark.usefixtures("no_waiting")
async def test_scheduled_report_reaches_smtp_with_the_pdf_and_slack_with_the_summary(
    store: Store, loaded: rd.Script, tmp_path: Path, smtp_server: tuple[Mailbox, int], slack: FakeSlack
) -> None:
    mailbox, port = smtp_server
    config = schedule_config(
        formats=["pdf", "csv"],
        language="fr",
        directory={"path": str(tmp_path / "reports")},
        slack={"webhook_url_env": "REPORT_SLACK_URL"},
        email={
            "host": "127.0.0.1",
            "port": port,
            "from": "sla@acme.test",
            "to": ["direction@acme.test"],
            "username": "sla",
            "password_env": "REPORT_SMTP_PASSWORD",
            "security": "none",
        },
    )
    environ = {"REPORT_SLACK_URL": slack.hook_url(), "REPORT_SMTP_PASSWORD": "s3cret-smtp"}
    clock = Clock(datetime(2026, 3, 8, 12, 0, tzinfo=rd.PARIS))  # Sunday: the schedule is configured
    scheduler = ReportScheduler(store, config, clock=clock, environ=environ)
    assert await scheduler.run_due() == []  # the last Monday 08:00 came before the schedule existed
    clock.now = rd.AS_OF  # Monday 10:00: the 08:00 occurrence was missed while the process was down
    restarted = ReportScheduler(store, config, clock=clock, environ=environ)
    [result] = await restarted.run_due()
    assert result.errors == [] and result.delivered == ["directory", "slack", "email"]
    assert result.occurrence == datetime(2026, 3, 9, 8, 0, tzinfo=rd.PARIS)

    expected = rd.expected(loaded, start=rd.START, end=rd.END, hours="business")
    # Email: the PDF (and the CSV) attached, the summary in the body, the password from the environment.
    wait_for(lambda: mailbox.messages, timeout=10, what="the email")
    [mail] = mailbox.messages
    assert mailbox.logins == ["sla"] and mail["To"] == "direction@acme.test"
    assert mail["Subject"] == "Rapport SLA des messageries sociales — 2–8 mars 2026"
    parts = {p.get_filename(): p for p in mail.walk() if p.get_filename()}
    assert set(parts) == {"weekly-2026-W10.pdf", "weekly-2026-W10.csv"}
    assert parts["weekly-2026-W10.pdf"].get_content_type() == "application/pdf"
    pdf = pypdf.PdfReader(io.BytesIO(payload(parts["weekly-2026-W10.pdf"])))
    assert "Synthèse" in pdf.pages[0].extract_text()
    body = payload(next(p for p in mail.walk() if p.get_content_type() == "text/plain")).decode()
    assert f"Questions: {expected.questions} (" in body
    # Slack: the summary, with the same figures.
    [message] = slack.messages
    assert f"*Questions*\\n{expected.questions} (" in message.text
    assert f"Dépassements*\\n{expected.breaches} (" in message.text
    assert "acme" in message.text and "globex" in message.text
    # The directory: the same files.
    assert listing(tmp_path / "reports") == ["weekly-2026-W10.csv", "weekly-2026-W10.pdf"]
    assert (tmp_path / "reports" / "weekly-2026-W10.pdf").read_bytes() == payload(parts["weekly-2026-W10.pdf"])
    [run] = await restarted.reports.runs("weekly")
    assert (run["status"], run["delivered"], run["error"]) == ("done", ["directory", "slack", "email"], None)

    # Started again the same day: nothing is sent twice.
    clock.now += timedelta(hours=2)
    assert await ReportScheduler(store, config, clock=clock, environ=environ).run_due() == []
    assert len(mailbox.messages) == 1 and len(slack.messages) == 1


async def test_a_missed_occurrence_runs_once_whatever_the_restarts_and_processes(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    config = schedule_config(formats=["json"], directory={"path": str(out)})
    clock = Clock(datetime(2026, 3, 8, 12, 0, tzinfo=rd.PARIS))
    await ReportScheduler(store, config, clock=clock).run_due()
    clock.now = datetime(2026, 3, 11, 9, 0, tzinfo=rd.PARIS)  # down from Sunday to Wednesday
    processes = [ReportScheduler(store, config, clock=clock, owner=f"p{i}") for i in range(4)]
    results = await asyncio.gather(*(p.run_due() for p in processes))
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    assert listing(out) == ["weekly-2026-W10.json"]
    clock.now += timedelta(hours=1)
    assert await ReportScheduler(store, config, clock=clock).run_due() == []
    clock.now = datetime(2026, 4, 1, 9, 0, tzinfo=rd.PARIS)  # three weeks down: one report, the latest
    [result] = await ReportScheduler(store, config, clock=clock).run_due()
    assert result.occurrence == datetime(2026, 3, 30, 8, 0, tzinfo=rd.PARIS)  # after the switch to summer time
    assert listing(out) == ["weekly-2026-W10.json", "weekly-2026-W13.json"]
    runs = await processes[0].reports.runs("weekly")
    assert [(r["occurrence"], r["status"], r["attempts"]) for r in runs] == [
        (datetime(2026, 3, 30, 6, 0, tzinfo=UTC), "done", 1),
        (datetime(2026, 3, 9, 7, 0, tzinfo=UTC), "done", 1),
    ]


async def test_a_dead_claim_is_taken_over_without_repeating_its_deliveries(
    store: Store, tmp_path: Path, slack: FakeSlack
) -> None:
    config = schedule_config(formats=["json"], directory={"path": str(tmp_path)}, slack={"webhook_url_env": "HOOK"})
    environ = {"HOOK": slack.hook_url()}
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=rd.PARIS))
    await ReportScheduler(store, config, clock=clock).run_due()
    occurrence = datetime(2026, 3, 2, 8, 0, tzinfo=rd.PARIS)
    reports = ReportStore(store.pool)
    # A process claimed Monday's report, wrote the files, and died before posting to Slack.
    claimed = await reports.claim_run("weekly", occurrence, "dead", now=occurrence, stale_after=timedelta(minutes=30))
    assert claimed == []
    await reports.mark_delivered("weekly", occurrence, "dead", "directory")
    clock.now = occurrence + timedelta(minutes=10)
    assert await ReportScheduler(store, config, clock=clock, environ=environ).run_due() == []  # still its claim
    clock.now = occurrence + timedelta(minutes=45)
    [result] = await ReportScheduler(store, config, clock=clock, environ=environ).run_due()
    assert result.delivered == ["directory", "slack"] and listing(tmp_path) == []
    assert len(slack.messages) == 1
    [run] = await reports.runs("weekly")
    assert (run["status"], run["attempts"], run["delivered"]) == ("done", 2, ["directory", "slack"])


async def test_delivery_retries_then_records_what_failed(store: Store, tmp_path: Path, slack: FakeSlack) -> None:
    config = schedule_config(
        formats=["json"],
        directory={"path": str(tmp_path)},
        slack={"webhook_url_env": "HOOK"},
        email={"host": "127.0.0.1", "port": free_port(), "from": "a@b.test", "to": ["c@d.test"], "security": "none"},
    )
    slack.fail_next = [429, 500]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=rd.PARIS))
    await ReportScheduler(store, config, clock=clock).run_due()
    clock.now = datetime(2026, 3, 2, 9, 0, tzinfo=rd.PARIS)
    scheduler = ReportScheduler(
        store,
        config,
        clock=clock,
        environ={"HOOK": slack.hook_url()},
        timer=SleepTimer(sleep),
        delivery_backoff=Backoff(base_seconds=2.0, rng=Longest()),
    )
    [result] = await scheduler.run_due()
    assert result.delivered == ["directory", "slack"] and len(slack.messages) == 1
    assert waits[:2] == [1.0, 4.0]  # Slack's Retry-After, then the backoff; then the SMTP retries
    assert len(result.errors) == 1 and result.errors[0].startswith("email: SMTP server 127.0.0.1")
    [run] = await scheduler.reports.runs("weekly")
    assert run["status"] == "failed" and run["error"].startswith("email: ")


async def test_the_runner_sleeps_until_each_occurrence(store: Store, tmp_path: Path) -> None:
    config = schedule_config(formats=["json"], directory={"path": str(tmp_path)})
    clock = Clock(datetime(2026, 3, 4, 12, 0, tzinfo=rd.PARIS))
    slept: list[float] = []
    two_reports = asyncio.Event()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += timedelta(seconds=seconds)
        if len(listing(tmp_path)) >= 2:
            two_reports.set()
        await asyncio.sleep(0)

    scheduler = ReportScheduler(
        store, config, clock=clock, timer=SleepTimer(sleep), jitter_seconds=0, max_sleep_seconds=86400
    )
    task = asyncio.create_task(scheduler.run())
    try:
        await asyncio.wait_for(two_reports.wait(), timeout=30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert listing(tmp_path) == ["weekly-2026-W10.json", "weekly-2026-W11.json"]
    assert slept[0] == 86400  # capped; then straight to Monday 08:00
    assert clock.now >= datetime(2026, 3, 16, 8, 0, tzinfo=rd.PARIS)


# --- the command line -------------------------------------------------------------------------------


def config_toml() -> str:
    return """
[policies.office]
public = { first = "30m", next = "1h" }
private = { first = "1h", next = "2h" }
[policies.office.calendar]
timezone = "Europe/Paris"
[policies.office.calendar.hours]
mon = ["09:00-18:00"]
tue = ["09:00-18:00"]
wed = ["09:00-18:00"]
thu = ["09:00-18:00"]
fri = ["09:00-18:00"]

[policies.always]
public = { first = "20m", next = "40m" }
private = { first = "45m", next = "90m" }
business_hours_only = false

[[brands]]
name = "acme"
[[brands.accounts]]
name = "acme-x"
channel = "x"
user_id = "11"
source = "demo"
policy = "office"
[[brands.accounts]]
name = "acme-fb"
channel = "facebook"
page_id = "12"
source = "demo"
policy = "office"
[[brands.accounts]]
name = "acme-ig"
channel = "instagram"
ig_user_id = "13"
page_id = "12"
source = "demo"
policy = "office"

[[brands]]
name = "globex"
[[brands.accounts]]
name = "globex-x"
channel = "x"
user_id = "21"
source = "demo"
policy = "always"
"""


@pytest.fixture
def cli_setup(database_url: str, loaded: rd.Script, tmp_path: Path) -> tuple[dict[str, str], rd.Script]:
    path = tmp_path / "config.toml"
    path.write_text(config_toml())
    assert parse(__import__("tomllib").loads(config_toml()), environ={}) == rd.config()
    return cli_env(INBOX_MONITOR_DATABASE_URL=database_url, INBOX_MONITOR_CONFIG=str(path)), loaded


def test_report_command_writes_each_format(cli_setup: tuple[dict[str, str], rd.Script], tmp_path: Path) -> None:
    env, data = cli_setup
    now = datetime.now(UTC)  # the data is in the past: every reply has come
    as_of = f"{rd.AS_OF:%Y-%m-%dT%H:%M:%SZ}"
    commands = [  # independent reads of one database: run side by side
        ("--period", "2026-W10", "--format", "json", "--out", "-"),
        ("--period", "2026-W10", "--as-of", as_of, "--format", "json", "--out", "-"),
        (
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-08",
            "--brand",
            "acme",
            "--language",
            "fr",
            "--hours",
            "wall",
            "--out",
            str(tmp_path),
        ),
        ("--period", "2026-03", "--format", "html", "--out", str(tmp_path / "m.html")),
    ]
    with ThreadPoolExecutor(len(commands)) as pool:
        result, then, pdf, html = pool.map(lambda args: cli("report", *args, env=env), commands)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["period"]["timezone"] == "Europe/Paris"  # the calendars' zone by default
    # Response times in wall time by default; the SLA on each policy's clock (one has a calendar).
    assert (got["hours"], got["sla_hours"]) == ("wall", "mixed")
    want = rd.expected(data, start=rd.START, end=rd.END, hours="wall", as_of=now)
    assert got["total"]["current"]["questions"] == want.questions
    assert got["total"]["current"]["breaches"] == want.breaches
    assert got["total"]["current"]["median_first_response_seconds"] == pytest.approx(want.median_first_seconds)
    # --as-of: the report as it was then (replies after it not come yet, deadlines after it not passed).
    assert then.returncode == 0, then.stderr
    got = json.loads(then.stdout)
    assert datetime.fromisoformat(got["as_of"]) == rd.AS_OF
    want = rd.expected(data, start=rd.START, end=rd.END, hours="wall", as_of=rd.AS_OF)
    assert (got["total"]["current"]["answered"], got["total"]["current"]["breaches"]) == (want.answered, want.breaches)
    assert got["total"]["current"]["within_sla"] == want.within_sla
    assert pdf.returncode == 0, pdf.stderr
    path = tmp_path / "sla-report-acme-2026-03-02_2026-03-08.pdf"
    assert f"wrote {path}" in pdf.stderr
    assert "Par marque et par canal" in pypdf.PdfReader(path).pages[0].extract_text()
    assert html.returncode == 0 and "mars 2026" not in (tmp_path / "m.html").read_text()
    assert "March 2026" in (tmp_path / "m.html").read_text()


# One case per kind of check (click's own, the period's, the store's, the output's); the period
# parser's every error is in tests/unit/test_report_period.py.
BAD_ARGUMENTS = [
    (["--period", "2026-13"], "there is no month 13"),
    (["--as-of", "yesterday"], "'yesterday' is not an instant such as 2026-12-05T10:35:57Z"),
    (["--as-of", "2999-01-01T00:00:00Z"], "2999-01-01T00:00:00Z is in the future"),
    (["--from", "2026-03-05", "--to", "2026-03-01"], "--to (2026-03-01) is before --from (2026-03-05)"),
    (["--period", "last-week", "--from", "2026-03-01", "--to", "2026-03-02"], "either --period or --from/--to"),
    (["--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
    (["--brand", "nope"], "unknown brand(s) 'nope' (known: acme, globex)"),
    (["--format", "docx"], "'docx' is not one of 'pdf', 'html', 'csv', 'json'"),
    (["--out", "/nonexistent/dir/report.pdf"], "directory '/nonexistent/dir' does not exist"),
]


def test_report_command_rejects_bad_arguments_clearly(cli_setup: tuple[dict[str, str], rd.Script]) -> None:
    env, _ = cli_setup
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda case: cli("report", *case[0], env=env), BAD_ARGUMENTS))
    for (args, message), result in zip(BAD_ARGUMENTS, results, strict=True):
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr.replace("\n", " ").replace("  ", " "), (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_report_after_a_run(database_url: str, tmp_path: Path) -> None:
    """`inbox-monitor run` on generated traffic, then `inbox-monitor report` with no argument."""
    from tests.integration.test_cli import DEMO_CONFIG

    config = tmp_path / "config.toml"
    port = free_port()
    config.write_text(DEMO_CONFIG.format(port=port))
    env = cli_env(INBOX_MONITOR_DATABASE_URL=database_url, INBOX_MONITOR_CONFIG=str(config))
    run = start_cli("run", env=env, log=tmp_path / "run.log")
    try:  # until both accounts' questions are stored, however long the machine takes to start it
        wait_for(serving(run, port), timeout=60, what="the run's own /readyz")
        for account in ("demo-x", "demo-fb"):

            def opened(account: str = account) -> bool:
                return scrape_sum(port, "social_inbox_waits_opened_total", account=account) > 0

            wait_for(opened, timeout=60, what=f"{account}'s first waits")
    finally:
        stop_cli(run)
    assert run.returncode == 0, (tmp_path / "run.log").read_text()
    out = tmp_path / "out"
    out.mkdir()
    with ThreadPoolExecutor(2) as pool:  # two reads
        as_json = pool.submit(cli, "report", "--format", "json", "--out", "-", env=env)
        result = cli("report", "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    [path] = out.glob("sla-report-*.pdf")
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(path).pages)
    assert "demo-x" in text and "demo-fb" in text
    data = json.loads(as_json.result().stdout)
    assert data["total"]["current"]["waits_opened"] > 0
