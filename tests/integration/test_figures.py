"""One meaning per number (docs/definitions.md): each figure, on the same data, computed

  * from PostgreSQL directly (the definitions written out again here, apart from the code),
  * by the report (its JSON and CSV files),
  * by the dashboards' own queries (the generated panels' SQL on PostgreSQL after Grafana's
    substitutions, as tests/integration/test_grafana.py runs them; the live dashboard's Prometheus
    panel on a real Prometheus),
  * by the demo's summary (the lines it prints, and its figures),

is the same number. The data is `inbox-monitor demo` itself, run in this process at 240 simulated
seconds per real second on the test's PostgreSQL, scraped by a real Prometheus every second.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import subprocess
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from monitor.config import DatabaseConfig
from monitor.demo import ENV, WORDS, DemoOptions, DemoView, read_figures, run_demo
from monitor.domain import figures as definition
from monitor.domain.model import CHANNELS
from monitor.reports.build import ReportRequest, build_report
from monitor.reports.model import Figures, Report
from monitor.reports.period import Period
from monitor.reports.render import render
from monitor.store.db import create_pool
from monitor.store.figures import answered, breached, decided, response_rate, within_sla, within_sla_share
from monitor.store.reports import ReportStore
from monitor.store.store import Store
from tests.conftest import with_database
from tests.integration.test_grafana import (
    BOARDS,
    GENERATE,
    Scenario,
    builtins_for,
    interpolate,
    sql_for,
    variable_values,
)
from tests.waiting import free_port, wait_for

pytestmark = pytest.mark.tools("prometheus")

SPEED = 240.0
"""Simulated seconds per real second: the demo's two hours of story (its token expiry and rotation,
answers up to an hour late, breaches) in 30 real seconds."""
PLAYED_AT_LEAST = 20.0
"""Real seconds the demo runs at least (80 simulated minutes: past the token's expiry and rotation)."""
DATABASE_ENV = "INBOX_TEST_FIGURES_DATABASE_URL"
SHARE_TOLERANCE = 1e-9
SECONDS_TOLERANCE = 1e-6
"""The report's percentiles are exact (PostgreSQL's percentile_cont, found without sorting
everything): equal to percentile_cont up to floating-point rounding."""

PROMETHEUS = """
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: inbox-monitor
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


# ------------------------------------------------------------------------------------------------
# The definitions: SQL and Python agree on every kind of wait
# ------------------------------------------------------------------------------------------------


async def test_the_sql_and_the_python_definitions_agree_on_every_kind_of_wait(store: Store) -> None:
    """monitor/store/figures.py (SQL) and monitor/domain/figures.py (pure) give every wait the same
    outcome: before, at and after its deadline, answered before, at, after it, or after `as_of`."""
    as_of = datetime(2026, 3, 9, 10, tzinfo=UTC)
    s = timedelta(seconds=1)
    cases = [
        (closed, deadline)
        for deadline in (as_of - 10 * s, as_of, as_of + 10 * s)
        for closed in (None, deadline - 5 * s, deadline, deadline + 5 * s, as_of + 20 * s)
    ]
    async with store.pool.acquire() as conn:
        rows = await conn.fetch(
            f"""
            SELECT w.i, {answered("$1")} AS answered, {within_sla("$1")} AS within_sla,
                   {breached("$1")} AS breached, {decided("$1")} AS decided
            FROM unnest($2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS w(closed_at, deadline, i)
            ORDER BY w.i
            """,
            as_of,
            [c for c, _ in cases],
            [d for _, d in cases],
        )
        shares = await conn.fetchrow(
            f"""
            SELECT {within_sla_share("$1")} AS within_sla_share, {response_rate("$1")} AS response_rate
            FROM unnest($2::timestamptz[], $3::timestamptz[]) AS w(closed_at, deadline)
            """,
            as_of,
            [c for c, _ in cases],
            [d for _, d in cases],
        )
    assert shares is not None
    outcomes = [definition.outcome(closed_at=c, deadline=d, as_of=as_of) for c, d in cases]
    assert set(outcomes) == {"answered_in_time", "answered_late", "unanswered_past_target", "waiting"}
    for (closed, deadline), result, row in zip(cases, outcomes, rows, strict=True):
        where = f"closed {closed}, deadline {deadline}: {result}"
        assert row["answered"] == (result in ("answered_in_time", "answered_late")), where
        assert row["within_sla"] == (result == "answered_in_time"), where
        assert row["breached"] == (result in definition.BREACHED), where
        assert row["decided"] == (result != "waiting"), where
    in_time = outcomes.count("answered_in_time")
    late = sum(o in definition.BREACHED for o in outcomes)
    replied = sum(o in ("answered_in_time", "answered_late") for o in outcomes)
    assert float(shares["within_sla_share"]) == pytest.approx(definition.within_sla_share(in_time, late))
    assert float(shares["response_rate"]) == pytest.approx(definition.response_rate(replied, len(cases)))


# ------------------------------------------------------------------------------------------------
# The demo's data
# ------------------------------------------------------------------------------------------------


@dataclass
class Played:
    database_url: str
    prometheus: str
    view: DemoView
    output: str
    stopped: datetime
    """When the demo was told to stop: Prometheus's last scrapes came just before."""

    @property
    def ended(self) -> datetime:
        """The instant the demo's summary is "as of"."""
        assert self.view.figures is not None
        return self.view.figures.as_of


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _prometheus_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def _ready(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5) as r:
        return int(r.status) == 200


@pytest.fixture(scope="module")
def played(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Played]:
    tmp = tmp_path_factory.mktemp("figures")
    name = f"t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(pg_server_url, f"CREATE DATABASE {name}"))
    database_url = with_database(pg_server_url, name)
    port, prom_port = free_port(), free_port()
    (tmp / "prometheus.yml").write_text(PROMETHEUS.format(port=port))
    prometheus = f"http://127.0.0.1:{prom_port}"
    saved = {k: os.environ.get(k) for k in [DATABASE_ENV, "XDG_DATA_HOME", *ENV.values(), f"{ENV['page_token']}_FILE"]}
    os.environ[DATABASE_ENV] = database_url
    os.environ["XDG_DATA_HOME"] = str(tmp / "data")  # the demo's run directory: not the user's
    out = io.StringIO()
    loop: asyncio.AbstractEventLoop | None = None
    stop: asyncio.Event | None = None
    result: dict[str, Any] = {}

    def play() -> None:
        async def main() -> DemoView:
            nonlocal loop, stop
            loop, stop = asyncio.get_running_loop(), asyncio.Event()
            options = DemoOptions(
                speed=SPEED, listen=f"127.0.0.1:{port}", database=DatabaseConfig(url_env=DATABASE_ENV), plain=True
            )
            return await run_demo(options, stop, out=out)

        try:
            result["view"] = asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - shown by the test, not lost in the thread
            result["error"] = exc

    with (tmp / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
    thread = threading.Thread(target=play, name="demo", daemon=True)
    try:
        wait_for(lambda: _ready(f"{prometheus}/-/ready"), timeout=30, what="Prometheus ready")
        started = datetime.now(UTC)
        thread.start()

        def seen(expr: str) -> bool:
            assert "error" not in result, result.get("error")
            body = _prometheus_json(f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
            return bool(body["data"]["result"])

        for expr in (
            f'count(sum by (channel) (social_inbox_response_seconds_count{{kind="first"}}) > 0) == {len(CHANNELS)}',
            "sum(social_inbox_waits_breached_total) > 0",
        ):
            wait_for(lambda e=expr: seen(e), timeout=90, interval=0.5, what=expr)  # type: ignore[misc]
        wait_for(
            lambda: (datetime.now(UTC) - started).total_seconds() >= PLAYED_AT_LEAST,
            timeout=PLAYED_AT_LEAST + 5,
            interval=0.2,
            what="the demo's story to play",
        )
        assert loop is not None and stop is not None
        stopped = datetime.now(UTC)
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)
        assert not thread.is_alive(), "the demo did not stop"
        assert "error" not in result, result.get("error")
        view: DemoView = result["view"]
        assert view.figures is not None, out.getvalue()[-2000:]
        yield Played(database_url, prometheus, view, out.getvalue(), stopped)
    finally:
        if thread.is_alive() and loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
            thread.join(timeout=60)
        proc.terminate()
        proc.wait(timeout=30)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        asyncio.run(_admin(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


# ------------------------------------------------------------------------------------------------
# The figures, each way
# ------------------------------------------------------------------------------------------------

Key = tuple[str | None, str | None]
"""(channel, account), None where rolled up: (None, None) is every account together."""


@dataclass(frozen=True)
class Direct:
    """One scope's figures, counted straight from the waits table as docs/definitions.md says."""

    questions: int
    waits: int
    answered: int
    within: int
    breached: int
    median_first: float | None
    p90_first: float | None

    @property
    def within_sla_share(self) -> float | None:
        decided_ = self.within + self.breached
        return self.within / decided_ if decided_ else None

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.waits if self.waits else None


# Written out again, apart from monitor/store/figures.py: a wait is answered when its reply came by
# $1; within SLA when that reply came by its deadline; breached when its deadline passed by $1
# without a reply by then. First response: answered first waits, wall time.
DIRECT_SQL = """
    SELECT a.channel, a.name AS account, GROUPING(a.channel, a.name) AS grouping,
           coalesce(sum(w.questions), 0)::bigint AS questions,
           count(*) AS waits,
           count(*) FILTER (WHERE w.closed_at <= $1) AS answered,
           count(*) FILTER (WHERE w.closed_at <= $1 AND w.closed_at <= w.deadline) AS within,
           count(*) FILTER (WHERE w.deadline <= $1 AND NOT coalesce(w.closed_at <= w.deadline, false)) AS breached,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY w.wall_seconds)
               FILTER (WHERE w.kind = 'first' AND w.closed_at <= $1) AS median_first,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY w.wall_seconds)
               FILTER (WHERE w.kind = 'first' AND w.closed_at <= $1) AS p90_first
    FROM waits w JOIN accounts a ON a.id = w.account_id
    WHERE w.opened_at >= $2 AND w.opened_at < $1
    GROUP BY GROUPING SETS ((), (a.channel, a.name))
"""


async def direct(conn: asyncpg.Connection, as_of: datetime, since: datetime) -> dict[Key, Direct]:
    rows = await conn.fetch(DIRECT_SQL, as_of, since)
    return {
        (r["channel"], r["account"]): Direct(
            r["questions"],
            r["waits"],
            r["answered"],
            r["within"],
            r["breached"],
            r["median_first"],
            r["p90_first"],
        )
        for r in rows
    }


def reported(report: Report) -> dict[Key, Figures]:
    """The report's figures by (channel, account): the accounts' rows and the total."""
    out: dict[Key, Figures] = {(r.channel, r.account): r.current for r in report.accounts}
    out[(None, None)] = report.total.current
    return out


def assert_same(got: Figures, want: Direct, where: str) -> None:
    """A figure of the code (report, demo) against the direct count, unrounded."""
    assert (got.questions, got.waits_opened, got.answered) == (want.questions, want.waits, want.answered), where
    assert (got.within_sla, got.breaches) == (want.within, want.breached), where
    for name, g, w in (
        ("within SLA", got.within_sla_share, want.within_sla_share),
        ("response rate", got.response_rate, want.response_rate),
    ):
        assert (g is None and w is None) or g == pytest.approx(w, abs=SHARE_TOLERANCE), f"{where}: {name}"
    for name, g, w in (
        ("median first response", got.median_first_seconds, want.median_first),
        ("p90 first response", got.p90_first_seconds, want.p90_first),
    ):
        assert (g is None and w is None) or g == pytest.approx(w, abs=SECONDS_TOLERANCE), f"{where}: {name}"


def rounded_share(value: float | None) -> float | None:
    return definition.rounded(value, definition.SHARE_DIGITS)


def rounded_seconds(value: float | None) -> float | None:
    return definition.rounded(value, definition.SECONDS_DIGITS)


FILE_FIGURES = (
    "questions",
    "waits_opened",
    "answered",
    "within_sla",
    "breaches",
    "within_sla_share",
    "response_rate",
    "median_first_response_seconds",
    "p90_first_response_seconds",
)


def assert_file_figures(got: dict[str, Any], want: Direct, where: str) -> None:
    """A scope's figures in the JSON or CSV file: counts exact, the rest at the documented precision."""
    number = {k: (None if got[k] in ("", None) else float(got[k])) for k in FILE_FIGURES}
    assert [number[k] for k in ("questions", "waits_opened", "answered", "within_sla", "breaches")] == [
        want.questions,
        want.waits,
        want.answered,
        want.within,
        want.breached,
    ], where
    assert number["within_sla_share"] == rounded_share(want.within_sla_share), f"{where}: within SLA"
    assert number["response_rate"] == rounded_share(want.response_rate), f"{where}: response rate"
    assert number["median_first_response_seconds"] == rounded_seconds(want.median_first), f"{where}: median"
    assert number["p90_first_response_seconds"] == rounded_seconds(want.p90_first), f"{where}: p90"


def days_until(at: datetime) -> Period:
    """The report's period holding every wait of the run: yesterday and today (UTC)."""
    today = at.date()
    return Period("days", today - timedelta(days=1), today, "UTC")


async def report_as_of(database_url: str, period: Period, as_of: datetime) -> Report:
    pool = await create_pool(database_url, min_size=1, max_size=4)
    try:
        return await build_report(ReportStore(pool), ReportRequest(period), as_of=as_of)
    finally:
        await pool.close()


# ------------------------------------------------------------------------------------------------
# The demo's summary, the report and PostgreSQL, as of the demo's instant
# ------------------------------------------------------------------------------------------------


def test_the_demo_summary_equals_the_report_and_postgresql_as_of_its_instant(played: Played) -> None:
    ended = played.ended
    report = asyncio.run(report_as_of(played.database_url, days_until(ended), ended))

    async def counted() -> dict[Key, Direct]:
        conn = await asyncpg.connect(played.database_url)
        try:
            return await direct(conn, ended, days_until(ended).start)
        finally:
            await conn.close()

    want = asyncio.run(counted())
    everything = want[(None, None)]
    # Every case of the definition happens: answered in time, breached, still before the deadline.
    assert (
        everything.within > 0 and everything.breached > 0 and everything.waits > everything.within + everything.breached
    )
    assert played.view.figures is not None
    demo: dict[Key, Figures] = {(channel, name): f for name, channel, f in played.view.figures.accounts}
    demo[(None, None)] = played.view.figures.total
    got = reported(report)
    assert set(demo) == set(got) == set(want) and len(want) == len(CHANNELS) + 1  # an account a channel, the total
    for key, w in want.items():
        assert_same(got[key], w, f"report {key}")
        assert_same(demo[key], w, f"demo summary {key}")

    # The report's files.
    data = json.loads(render(report, "json"))
    files = {(a["channel"], a["account"]): a["current"] for a in data["accounts"]}
    files[(None, None)] = data["total"]["current"]
    for key, w in want.items():
        assert_file_figures(files[key], w, f"JSON {key}")
    rows = list(csv.DictReader(io.StringIO(render(report, "csv").decode())))
    for row in rows:
        if row["period"] == "current" and row["scope"] in ("account", "total"):
            key = (row["channel"] or None, row["account"] or None)
            assert_file_figures(row, want[key], f"CSV {key}")

    # What the demo printed: the same figures, as the report writes them.
    printed = {
        m["account"]: m
        for m in re.finditer(
            r"^(?P<account>\S+)\s+(?:x|facebook|instagram)?\s+(?P<questions>\d+)\s+(?P<waits>\d+)\s+(?P<answered>\d+)\s+"
            r"(?P<rate>\S+%|–)\s+(?P<within>\S+%|–)\s+(?P<breaches>\d+)\s",
            played.output,
            re.MULTILINE,
        )
    }
    names = {name: (channel, name) for name, channel, _ in played.view.figures.accounts} | {"total": (None, None)}
    assert set(printed) >= set(names), played.output[-3000:]
    for name, key in names.items():
        m, w = printed[name], want[key]
        assert (int(m["questions"]), int(m["waits"]), int(m["answered"]), int(m["breaches"])) == (
            w.questions,
            w.waits,
            w.answered,
            w.breached,
        ), name
        assert (m["rate"], m["within"]) == (WORDS.percent(w.response_rate), WORDS.percent(w.within_sla_share)), name
    assert f"report --as-of {ended:%Y-%m-%dT%H:%M:%SZ}" in played.output


# ------------------------------------------------------------------------------------------------
# The dashboards' queries, the report, the demo's summary and PostgreSQL, as of now()
# ------------------------------------------------------------------------------------------------


def scenario(played: Played, now: datetime) -> Scenario:
    """What test_grafana's query emulation needs (no Alertmanager: no alert-list panel is read here)."""
    return Scenario(prometheus=played.prometheus, alertmanager="", database_url=played.database_url, now=now)


def panel(uid: str, title: str) -> dict[str, Any]:
    return next(p for p in GENERATE.panels_of(BOARDS[uid]) if p["title"] == title)


def test_the_dashboards_queries_give_the_same_figures(played: Played) -> None:
    s = scenario(played, datetime.now(UTC))
    live = variable_values(s, BOARDS["inbox-live"], played.ended)  # accounts as Prometheus last saw them
    sla = variable_values(s, BOARDS["inbox-sla"], s.now)
    today_panel = panel("inbox-live", "Within SLA today")
    today_query, today_range = sql_for(s, "inbox-live", today_panel, today_panel["targets"][0], live)
    queries = {"today": today_query} | {
        name: sql_for(s, "inbox-sla", p, p["targets"][0], sla)[0]
        for name, p in (
            ("30 days", panel("inbox-sla", "Within SLA, last 30 days")),
            ("response rate", panel("inbox-sla", "Response rate")),
            ("median", panel("inbox-sla", "Median first response")),
            ("by channel", panel("inbox-sla", "SLA compliance by brand and channel")),
        )
    }

    async def at_one_instant() -> tuple[
        datetime, dict[str, list[asyncpg.Record]], dict[Key, Direct], dict[Key, Direct]
    ]:
        conn = await asyncpg.connect(played.database_url)
        try:
            # One transaction: one now() for every dashboard query and the direct counts.
            async with conn.transaction(readonly=True, isolation="repeatable_read"):
                now: datetime = await conn.fetchval("SELECT now()")
                rows = {name: list(await conn.fetch(q)) for name, q in queries.items()}
                today = await direct(conn, now, today_range.start)  # the panel's "today so far"
                return now, rows, today, await direct(conn, now, now - timedelta(days=30))
        finally:
            await conn.close()

    now, rows, today, month = asyncio.run(at_one_instant())
    report = reported(asyncio.run(report_as_of(played.database_url, days_until(now), now)))

    async def demo_figures() -> dict[Key, Figures]:
        pool = await create_pool(played.database_url, min_size=1, max_size=4)
        try:
            summary = await read_figures(pool, as_of=now)
        finally:
            await pool.close()
        return {(c, n): f for n, c, f in summary.accounts} | {(None, None): summary.total}

    demo = asyncio.run(demo_figures())
    for key, w in month.items():
        assert_same(report[key], w, f"report as of now() {key}")
        assert_same(demo[key], w, f"demo summary as of now() {key}")

    def share(value: Any) -> float | None:
        return None if value is None else float(value)

    # Per channel: the demo has one account on each.
    channels = {c: (c, a) for c, a in month if c is not None}
    [total] = rows["30 days"]
    assert share(total["Within SLA"]) == pytest.approx(month[(None, None)].within_sla_share, abs=SHARE_TOLERANCE)
    [rate] = rows["response rate"]
    assert share(rate["Response rate"]) == pytest.approx(month[(None, None)].response_rate, abs=SHARE_TOLERANCE)
    [median] = rows["median"]
    assert median["Median"] == pytest.approx(month[(None, None)].median_first, abs=SECONDS_TOLERANCE)
    assert len(rows["by channel"]) == len(channels) == len(CHANNELS)
    for row in rows["by channel"]:
        w = month[channels[row["Channel"]]]
        assert row["Waits (30 d)"] == w.waits, row["Channel"]
        assert share(row["Within SLA (30 d)"]) == pytest.approx(w.within_sla_share, abs=SHARE_TOLERANCE)
        assert share(row["Within SLA (90 d)"]) == pytest.approx(w.within_sla_share, abs=SHARE_TOLERANCE)
        assert share(row["Response rate (30 d)"]) == pytest.approx(w.response_rate, abs=SHARE_TOLERANCE)
        assert row["Median first response"] == pytest.approx(w.median_first, abs=SECONDS_TOLERANCE)
        assert row["p90 first response"] == pytest.approx(w.p90_first, abs=SECONDS_TOLERANCE)
    today_channels = {c: (c, a) for c, a in today if c is not None}
    assert rows["today"], "the live dashboard's Within SLA today has no row"
    for row in rows["today"]:
        key = today_channels[row["Channel"]]
        want = today[key].within_sla_share
        assert share(row["Within SLA"]) == pytest.approx(want, abs=SHARE_TOLERANCE), row["Channel"]


# ------------------------------------------------------------------------------------------------
# The live dashboard's Prometheus panel
# ------------------------------------------------------------------------------------------------


def test_the_live_dashboards_prometheus_median_is_the_first_response_median(played: Played) -> None:
    """The live dashboard's median first response (Prometheus, estimated from the histogram's
    buckets) and the exact one (PostgreSQL) fall in the same bucket or next to each other: the panel
    reads first responses in wall time. The estimate cannot be exact, and Prometheus misses what the
    demo answered before its first scrape, hence the bucket's width as the tolerance."""
    board = BOARDS["inbox-live"]
    p = panel("inbox-live", "Response time: today vs last 7 days")
    target = next(t for t in p["targets"] if t["legendFormat"] == "{{channel}} median 7 days")
    at = played.stopped  # the demo's /metrics went away just after: later, its series are stale
    s = scenario(played, at)
    values = variable_values(s, board, at)
    _, _, builtins = builtins_for(board, p, at)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    expr = interpolate(target["expr"], "promql", variables, values, builtins)
    assert 'kind="first"' in expr and "_response_seconds_bucket" in expr  # first responses, wall time
    estimates = {r["metric"]["channel"]: float(r["value"][1]) for r in s.query(expr, at=at)}
    buckets = sorted({float(r["metric"]["le"]) for r in s.query("social_inbox_response_seconds_bucket", at=at)})

    async def exact() -> dict[str, float]:
        conn = await asyncpg.connect(played.database_url)
        try:
            rows = await conn.fetch(
                "SELECT a.channel, percentile_cont(0.5) WITHIN GROUP (ORDER BY w.wall_seconds) AS median"
                " FROM waits w JOIN accounts a ON a.id = w.account_id"
                " WHERE w.kind = 'first' AND w.closed_at <= $1 GROUP BY a.channel",
                played.ended,
            )
            return {r["channel"]: r["median"] for r in rows}
        finally:
            await conn.close()

    medians = asyncio.run(exact())
    assert set(estimates) == set(medians) == set(CHANNELS)

    def bucket(seconds: float) -> int:
        return next(i for i, le in enumerate(buckets) if seconds <= le)

    for channel, estimate in estimates.items():
        assert abs(bucket(estimate) - bucket(medians[channel])) <= 1, (channel, estimate, medians[channel], buckets)
