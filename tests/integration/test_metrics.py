"""Metrics: what /metrics says equals what PostgreSQL holds; bounded labels; exemplars; promtool."""

from __future__ import annotations

import re
import signal
import subprocess
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import parse
from monitor.deadlines import DeadlineScheduler
from monitor.domain.cost import BILLABLE_KINDS
from monitor.domain.items import REJECT_REASONS
from monitor.domain.model import Message
from monitor.engine import AccountContext, Engine
from monitor.metrics import Metrics
from monitor.poller import Poller, PollTarget
from monitor.sources.demo import DemoSource
from monitor.store.labels import DIRECTIONS
from monitor.store.store import AccountRow, Store
from tests.waiting import cli_env, eventually, free_port, serving, start_cli, wait_for

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ACCOUNTS = [("acme", "acme-x", "x"), ("acme", "acme-fb", "facebook"), ("globex", "globex-x", "x")]
HANDLES = {"acme-x": "@acme", "acme-fb": "Acme Shop"}


async def wire(
    store: Store, now: datetime = NOW, **policy: object
) -> tuple[Engine, Metrics, list[PollTarget], CollectorRegistry]:
    config = parse(
        {
            "policies": {
                "default": {
                    "public": {"first": "10m", "next": "20m"},
                    "private": {"first": "15m", "next": "30m"},
                    "business_hours_only": False,
                    **policy,
                }
            },
            "brands": [{"name": "b", "accounts": [{"name": "a", "channel": "x", "user_id": "1", "source": "demo"}]}],
        },
        environ={},
    )
    ids = await store.sync_accounts(AccountRow(n, b, c, "1", None, "default") for b, n, c in ACCOUNTS)
    contexts = {
        ids[n]: AccountContext(ids[n], n, b, c, config.policy("default"), HANDLES.get(n))  # type: ignore[arg-type]
        for b, n, c in ACCOUNTS
    }
    engine = Engine(store, contexts, clock=lambda: now)
    registry = CollectorRegistry()
    metrics = Metrics(contexts, registry=registry, clock=lambda: now)
    targets = [
        PollTarget(ids[n], n, b, c, DemoSource(n, c, seed=3, per_minute=20, clock=lambda: now), 60)  # type: ignore[arg-type]
        for b, n, c in ACCOUNTS
    ]
    metrics.watch(targets)
    return engine, metrics, targets, registry


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_every_metric_equals_an_independent_sql_count(store: Store) -> None:
    engine, metrics, targets, registry = await wire(store)
    scheduler = DeadlineScheduler(store, list(engine.accounts), on_breach=metrics.breaches, clock=lambda: NOW)
    poller = Poller(engine, targets, observers=[metrics, scheduler])
    for target in targets:
        await poller.poll_once(target, None)
    await scheduler.step()
    await metrics.refresh(store)
    got = samples(registry)

    async with store.pool.acquire() as conn:
        rows = await conn.fetch(
            """
            SELECT a.brand, a.channel, a.name AS account, k.kind,
              (SELECT count(*) FROM waits w WHERE w.account_id = a.id AND w.kind = k.kind) AS opened,
              (SELECT count(*) FROM waits w WHERE w.account_id = a.id AND w.kind = k.kind
                 AND w.closed_at IS NOT NULL) AS answered,
              (SELECT count(*) FROM waits w WHERE w.account_id = a.id AND w.kind = k.kind
                 AND w.breached_at IS NOT NULL) AS breached,
              (SELECT count(*) FROM waits w WHERE w.account_id = a.id AND w.kind = k.kind
                 AND w.closed_at IS NULL) AS open,
              (SELECT count(*) FROM waits w WHERE w.account_id = a.id AND w.kind = k.kind
                 AND w.closed_at IS NULL AND w.deadline <= $1) AS open_breached,
              (SELECT count(*) FROM waits w WHERE w.account_id = a.id AND w.kind = k.kind
                 AND w.closed_at IS NULL AND w.at_risk_at <= $1 AND w.deadline > $1) AS open_at_risk,
              (SELECT coalesce(extract(epoch FROM $1 - min(opened_at)), 0) FROM waits w
                 WHERE w.account_id = a.id AND w.kind = k.kind AND w.closed_at IS NULL) AS oldest
            FROM accounts a CROSS JOIN (VALUES ('first'), ('next')) AS k(kind)
        """,
            NOW,
        )
    assert sum(r["opened"] for r in rows) > 100 and sum(r["answered"] for r in rows) > 50
    assert sum(r["breached"] for r in rows) > 10 and sum(r["open_at_risk"] for r in rows) > 0
    for r in rows:
        labels = (("account", r["account"]), ("brand", r["brand"]), ("channel", r["channel"]), ("kind", r["kind"]))
        p = "social_inbox_"
        assert got[(p + "waits_opened_total", labels)] == r["opened"], labels
        assert got[(p + "waits_answered_total", labels)] == r["answered"], labels
        assert got[(p + "waits_breached_total", labels)] == r["breached"], labels
        assert got[(p + "open_waits", labels)] == r["open"], labels
        assert got[(p + "open_waits_breached", labels)] == r["open_breached"], labels
        assert got[(p + "open_waits_at_risk", labels)] == r["open_at_risk"], labels
        assert got[(p + "oldest_open_wait_seconds", labels)] == pytest.approx(float(r["oldest"]))
    # What the alert texts say, per account: the shortest and longest target of the breached and
    # of the at-risk waits, and the first at-risk deadline; no series for an account without any.
    async with store.pool.acquire() as conn:
        facts = await conn.fetch(
            """
            SELECT a.brand, a.channel, a.name AS account,
              min(w.target_seconds) FILTER (WHERE w.deadline <= $1) AS breached_min,
              max(w.target_seconds) FILTER (WHERE w.deadline <= $1) AS breached_max,
              min(w.target_seconds) FILTER (WHERE w.at_risk_at <= $1 AND w.deadline > $1) AS at_risk_min,
              max(w.target_seconds) FILTER (WHERE w.at_risk_at <= $1 AND w.deadline > $1) AS at_risk_max,
              min(w.deadline) FILTER (WHERE w.at_risk_at <= $1 AND w.deadline > $1) AS at_risk_deadline
            FROM accounts a LEFT JOIN waits w ON w.account_id = a.id AND w.closed_at IS NULL
            GROUP BY a.brand, a.channel, a.name
            """,
            NOW,
        )
    expected: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for f in facts:
        account = {"account": f["account"], "brand": f["brand"], "channel": f["channel"]}
        for state in ("breached", "at_risk"):
            for bound in ("min", "max"):
                if f[f"{state}_{bound}"] is not None:
                    series = tuple(sorted({**account, "state": state, "bound": bound}.items()))
                    expected[("social_inbox_open_waits_target_seconds", series)] = f[f"{state}_{bound}"]
        if f["at_risk_deadline"] is not None:
            series = tuple(sorted(account.items()))
            expected[("social_inbox_at_risk_deadline_timestamp_seconds", series)] = f["at_risk_deadline"].timestamp()
    assert len({k[0] for k in expected}) == 2 and len(expected) > 4, expected  # some breached, some at risk
    facts_exported = {
        k: v
        for k, v in got.items()
        if k[0] in ("social_inbox_open_waits_target_seconds", "social_inbox_at_risk_deadline_timestamp_seconds")
    }
    assert facts_exported == expected
    info = {dict(k[1])["account"]: dict(k[1])["handle"] for k in got if k[0] == "social_inbox_account_info"}
    assert info == {"acme-x": "acme", "acme-fb": "Acme Shop", "globex-x": ""}  # no @: the rules add it on X

    # Histograms are per brand, channel and kind; their series appear with the first observation.
    async with store.pool.acquire() as conn:
        groups = await conn.fetch("""
            SELECT a.brand, a.channel, w.kind, count(*) AS n, sum(w.wall_seconds) AS total,
                   array_agg(w.wall_seconds) AS responses
            FROM waits w JOIN accounts a ON a.id = w.account_id WHERE w.closed_at IS NOT NULL
            GROUP BY 1, 2, 3
        """)
    assert len(groups) == 3  # (acme, x), (acme, facebook), (globex, x); demo replies close first waits
    p = "social_inbox_response_seconds"
    for g in groups:
        group = (("brand", g["brand"]), ("channel", g["channel"]), ("kind", g["kind"]))
        assert got[(p + "_count", group)] == g["n"], group
        assert got[(p + "_sum", group)] == pytest.approx(g["total"])
        for (name, lab), value in got.items():
            if name == p + "_bucket" and tuple(x for x in lab if x[0] != "le") == group:
                le = dict(lab)["le"]
                count = g["n"] if le == "+Inf" else sum(1 for v in g["responses"] if v <= float(le))
                assert value == count, (group, le)
    assert sum(v for (name, _), v in got.items() if name == p + "_count") == sum(g["n"] for g in groups)
    # Bucket edges include the SLA targets.
    edges = {dict(lab)["le"] for (name, lab) in got if name == "social_inbox_response_seconds_bucket"}
    assert {"600.0", "1200.0", "900.0", "1800.0"} <= edges


async def test_open_waits_follow_an_ingest_without_waiting_for_the_snapshot(store: Store) -> None:
    import asyncio

    from monitor.app import snapshot_refresher

    engine, metrics, targets, registry = await wire(store)
    acme = next(t for t in targets if t.account == "acme-x")
    labels = ("acme", "x", "acme-x", "first")
    loop = asyncio.create_task(snapshot_refresher(metrics, store, 3600).run())  # one full read, then none
    try:
        await eventually(lambda: metrics.snapshot_ts.value(()) > 0, what="the first full snapshot")
        full_at = metrics.snapshot_ts.value(())
        question = Message(
            "q-1",
            "t-1",
            "public",
            "inbound",
            NOW - timedelta(minutes=1),
            "My order never arrived, can you check?",
            "c1",
            "someone",
            "https://x.com/s/1",
        )
        metrics.ingested(await engine.ingest(acme.account_id, "mentions", [question], None), "x")
        # Read again at once, not at the next snapshot (an hour away: see its time below).
        await eventually(lambda: metrics.open_waits.value(labels) == 1, timeout=10, what="the question's wait")
        assert metrics.oldest.value(labels) == 60.0
        reply = Message(
            "r-1", "t-1", "public", "outbound", NOW, "Sorry! We are looking into it.", "brand", "acme", None
        )
        metrics.ingested(await engine.ingest(acme.account_id, "mentions", [reply], None), "x")
        await eventually(lambda: metrics.open_waits.value(labels) == 0, timeout=10, what="the answer")
        # Only the touched account was read again: the full snapshot's time did not move.
        assert metrics.snapshot_ts.value(()) == full_at
        assert (
            samples(registry)[
                (
                    "social_inbox_open_waits",
                    (("account", "acme-x"), ("brand", "acme"), ("channel", "x"), ("kind", "first")),
                )
            ]
            == 0
        )
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)


async def test_the_alert_facts_follow_each_account_read_and_go_with_the_answer(store: Store) -> None:
    """open_waits_target_seconds and at_risk_deadline_timestamp_seconds exist only while an
    account has breached (at-risk) waits; reading one account again leaves the others' alone."""
    engine, metrics, targets, registry = await wire(store)
    ids = {t.account: t.account_id for t in targets}
    await metrics.refresh(store)
    facts = ("social_inbox_open_waits_target_seconds", "social_inbox_at_risk_deadline_timestamp_seconds")

    def exported() -> dict[tuple[str, str, str], float]:
        """(metric, account, state) -> value."""
        return {
            (name, dict(labels)["account"], dict(labels).get("state", "")): value
            for (name, labels), value in samples(registry).items()
            if name in facts and dict(labels).get("bound", "min") == "min"
        }

    assert exported() == {}

    def question(key: str, minutes: int) -> Message:
        created = NOW - timedelta(minutes=minutes)
        return Message(key, key, "public", "inbound", created, "Where is my order?", "c1", "someone", None)

    # Public first target 10 minutes: at risk from 8 minutes, breached from 10.
    await engine.ingest(ids["acme-x"], "mentions", [question("q-acme", 9)], None)
    await engine.ingest(ids["globex-x"], "mentions", [question("q-globex", 12)], None)
    await metrics.refresh(store, {ids["acme-x"]})
    deadline = (NOW + timedelta(minutes=1)).timestamp()
    assert exported() == {
        ("social_inbox_open_waits_target_seconds", "acme-x", "at_risk"): 600.0,
        ("social_inbox_at_risk_deadline_timestamp_seconds", "acme-x", ""): deadline,
    }
    await metrics.refresh(store, {ids["globex-x"]})
    assert exported()[("social_inbox_open_waits_target_seconds", "globex-x", "breached")] == 600.0
    assert len(exported()) == 3

    reply = Message("r-acme", "q-acme", "public", "outbound", NOW, "On its way!", "brand", "acme", None)
    await engine.ingest(ids["acme-x"], "mentions", [reply], None)
    await metrics.refresh(store, {ids["acme-x"]})
    assert exported() == {("social_inbox_open_waits_target_seconds", "globex-x", "breached"): 600.0}
    await metrics.refresh(store)
    assert exported() == {("social_inbox_open_waits_target_seconds", "globex-x", "breached"): 600.0}


async def test_labels_stay_in_the_configured_sets_whatever_the_content(store: Store) -> None:
    engine, metrics, _, registry = await wire(store)
    hostile = [
        '"}\nsocial_inbox_open_waits{account="evil"} 1e9\n',
        "@evil\u202eresu",
        "x" * 10_000,
        "{{brand}}",
        "\x00\x01",
        "🙂" * 50,
        'account="evil"',
        'le="+Inf"',
    ]
    batch = [
        Message(
            f"m{i}-{h[:10]}",
            f"conv{i}:{h}",
            "public",
            "inbound",
            NOW - timedelta(minutes=5 + i),
            f"{h} my order never arrived, can you check?",
            h,
            h,
            f"https://x.com/{h}",
            raw={h: h},
        )
        for i, h in enumerate(hostile)
    ]
    account_id = next(iter(engine.accounts))
    result = await engine.ingest(account_id, "x.mentions", batch, None)
    metrics.ingested(result, "x")
    await metrics.refresh(store)
    allowed = {
        "acme",
        "globex",
        "x",
        "facebook",
        "acme-x",
        "acme-fb",
        "globex-x",
        "first",
        "next",
        "public",
        "private",
        "demo",
        "default",
        *DIRECTIONS,
        *(h.lstrip("@") for h in HANDLES.values()),
        "",  # no handle configured
        "breached",
        "at_risk",
        "min",
        "max",
        *BILLABLE_KINDS,
    }  # "default" is the policy's name; the handles are the configured ones
    for name, labels in samples(registry):
        for key, value in labels:
            if key in ("le", "version", "result", "quantile"):
                continue
            assert value in (REJECT_REASONS if key == "reason" else allowed), (name, key, value)
    text = generate_latest(registry).decode()
    assert "evil" not in text and "1e9" not in text


def http_get(url: str, accept: str | None = None) -> str:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=5) as r:
        body: bytes = r.read()
    return body.decode()


LIVE = """
[server]
listen = "127.0.0.1:{port}"
snapshot_interval = "1s"
[policies.default]
public = {{ first = "5m", next = "10m" }}
private = {{ first = "10m", next = "20m" }}
business_hours_only = false
[[brands]]
name = "live"
[[brands.accounts]]
name = "live-x"
channel = "x"
user_id = "1"
source = "demo"
poll_interval = "2s"
demo_per_minute = 20
"""


@pytest.fixture
def live(tmp_path: Path, database_url: str) -> Iterator[str]:
    """A running inbox-monitor: its base URL."""
    port = free_port()
    (tmp_path / "live.toml").write_text(LIVE.format(port=port))
    env = cli_env(INBOX_MONITOR_DATABASE_URL=database_url, INBOX_MONITOR_CONFIG=str(tmp_path / "live.toml"))
    proc = start_cli("run", env=env, log=tmp_path / "live.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(serving(proc, port), timeout=60, what="the process ready")
        wait_for(
            lambda: (
                "social_inbox_response_seconds_count" in http_get(f"{base}/metrics")
                and re.search(r'account="live-x",stream="demo",result="ok"\} [1-9]', http_get(f"{base}/metrics"))
                and "social_inbox_snapshot_timestamp_seconds 0.0" not in http_get(f"{base}/metrics")
            ),
            timeout=60,
            what="metrics after the first poll and snapshot",
        )
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


@pytest.mark.tools("promtool")
def test_promtool_accepts_the_live_metrics(live: str) -> None:
    text = http_get(f"{live}/metrics")
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.strip() == "" and check.stderr.strip() == "", check.stdout + check.stderr
    # promtool reads the text format only; the OpenMetrics output must parse as OpenMetrics.
    from prometheus_client.metrics_core import Metric
    from prometheus_client.openmetrics import parser

    # prometheus_client leaves its OpenMetrics parser unannotated: its type, here.
    parse_openmetrics: Callable[[str], Iterable[Metric]] = parser.text_string_to_metric_families
    families = list(parse_openmetrics(http_get(f"{live}/metrics", "application/openmetrics-text; version=1.0.0")))
    assert {"social_inbox_open_waits", "social_inbox_response_seconds"} <= {f.name for f in families}


def test_exemplars_only_in_openmetrics(live: str) -> None:
    wait_for(
        lambda: (
            "social_inbox_response_seconds_bucket{" in http_get(f"{live}/metrics")
            and "# {message_id=" in http_get(f"{live}/metrics", "application/openmetrics-text")
        ),
        what="an answered wait with its exemplar",
    )
    open_metrics = http_get(f"{live}/metrics", "application/openmetrics-text; version=1.0.0")
    plain = http_get(f"{live}/metrics")
    assert '# {message_id="live-x-' in open_metrics and 'url="https://x.com/' in open_metrics
    assert "message_id" not in plain
    assert "social_inbox_build_info{version=" in plain
    health = http_get(f"{live}/healthz")
    assert '"ok"' in health


def test_alert_links_redirect_to_the_oldest_open_post(live: str) -> None:
    import http.client
    from urllib.parse import urlsplit

    def location(path: str) -> tuple[int, str | None]:
        parts = urlsplit(live)
        assert parts.hostname is not None
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("Location")

    def redirect() -> str | None:
        status, url = location("/go/oldest?account=live-x")
        return url if status == 302 else None

    url = wait_for(redirect, what="an open wait to link to")
    assert url is not None and url.startswith("https://x.com/i/web/status/live-x-")
    assert location("/go/oldest?account=someone-else")[0] == 404


async def test_a_full_snapshot_leaves_out_the_waits_of_accounts_no_longer_configured(store: Store) -> None:
    """Holding every configured account, the snapshot reads the open waits of every account in the
    table (one query naming none): an account removed from the configuration keeps its rows, and
    neither its waits nor an error reach the gauges."""
    engine, metrics, targets, registry = await wire(store)
    ids = {t.account: t.account_id for t in targets}
    [gone] = (await store.sync_accounts([AccountRow("gone-x", "acme", "x", "9", None, "default")])).values()
    gone_engine = Engine(
        store, {gone: AccountContext(gone, "gone-x", "acme", "x", engine.accounts[ids["acme-x"]].policy)}
    )
    created = NOW - timedelta(minutes=12)
    for engine_, account_id, key in ((engine, ids["acme-x"], "q-acme"), (gone_engine, gone, "q-gone")):
        question = Message(key, key, "public", "inbound", created, "Where is my order?", "c1", "someone", None)
        await engine_.ingest(account_id, "mentions", [question], None)
    await metrics.refresh(store)
    values = samples(registry)
    open_waits: dict[str, float] = {}
    for (name, labels), value in values.items():
        if name == "social_inbox_open_waits":
            account = dict(labels)["account"]
            open_waits[account] = open_waits.get(account, 0.0) + value
    assert open_waits == {"acme-x": 1.0, "acme-fb": 0.0, "globex-x": 0.0}
