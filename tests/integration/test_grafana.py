"""Every dashboard query returns data: a live scenario, scraped by a real Prometheus, and PostgreSQL.

Grafana itself is not available here, so the dashboards are proven by running what Grafana would
run: every PromQL expression (panels, variables, annotations) through Prometheus's HTTP API, and
every SQL query against the real schema, after the substitutions Grafana makes — template
variables in the formats the dashboards use (`$var` for PromQL, `${var:sqlstring}` for SQL), the
global variables (`$__range`, `$__interval`, `$__rate_interval`, with a panel's relative time
such as "now/d" applied) and the PostgreSQL data source's macros (`$__timeFilter(col)`, ...).

The scenario: inbox-monitor with demo accounts of two brands on X and Facebook (one account name
with a dot, which a wrongly escaped regex would miss), 2-minute targets so that waits breach
while the test runs, and one Facebook Page and its Instagram account read through the local Graph
API with injected errors, so that the rate-limit and failed-poll series exist (every query is also
run with the Instagram channel alone selected). Prometheus scrapes it every second, evaluates
one alert rule so that ALERTS has a firing series (besides the project's rules), and sends the alerts
to a real Alertmanager, the provisioned Alertmanager data source's. Panels that run no query are
checked against what Grafana reads for them: the alert list against Prometheus's rules API (the
provisioned Prometheus data source manages alerts), with the panel's filters applied.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import importlib.util
import json
import math
import re
import statistics
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import yaml

from monitor.simulator.graph_api import FakeGraphApi
from monitor.simulator.instagram import FakeInstagram
from monitor.simulator.traffic import Sizes, generate, load_on_x, script_instagram, script_page
from monitor.simulator.x_api import FakeXApi
from tests.conftest import with_database
from tests.waiting import ROOT, cli_env, free_port, serving, start_cli, stop_cli, wait_for

pytestmark = pytest.mark.tools("prometheus", "prometheus-alertmanager")

Json = dict[str, Any]
SCRAPE_SECONDS = 1
DATASOURCE_SCRAPE = 15.0  # timeInterval of the provisioned Prometheus data source
PAGE = "101234567890123"
IG_USER = "17841401234567890"
TOKEN_ENV = "INBOX_TEST_GRAPH_TOKEN"
X_TOKEN_ENV, X_TOKEN = "INBOX_TEST_X_TOKEN", "x-test-bearer"

CONFIG = """
[server]
listen = "127.0.0.1:{port}"
snapshot_interval = "1s"

[server.webhooks]
facebook_app_secret_env = "GRAFANA_TEST_APP_SECRET"

[policies.default]
public = {{ first = "2m", next = "4m" }}
private = {{ first = "3m", next = "6m" }}
business_hours_only = false

[[brands]]
name = "acme"
[[brands.accounts]]
name = "acme-x"
channel = "x"
user_id = "1"
source = "demo"
poll_interval = "1s"
demo_per_minute = 30
[[brands.accounts]]
name = "acme-fb"
channel = "facebook"
page_id = "{page}"
page_token_env = "{token_env}"
api_base_url = "{graph}"
poll_interval = "2s"
[[brands.peers]]
handle = "rival"
bearer_token_env = "{x_token_env}"
api_base_url = "{x}"
poll_interval = "1s"

[[brands.accounts]]
name = "acme-ig"
channel = "instagram"
page_id = "{page}"
ig_user_id = "{ig_user}"
page_token_env = "{token_env}"
api_base_url = "{graph}"
poll_interval = "2s"

[[brands]]
name = "globex"
[[brands.accounts]]
name = "globex.fr-x"
channel = "x"
user_id = "2"
source = "demo"
poll_interval = "1s"
demo_per_minute = 30
demo_seed = 2
[[brands.accounts]]
name = "globex-fb"
channel = "facebook"
page_id = "2"
source = "demo"
poll_interval = "1s"
demo_per_minute = 30
demo_seed = 3
[[brands.accounts]]
name = "globex-ig"
channel = "instagram"
page_id = "3"
ig_user_id = "4"
source = "demo"
poll_interval = "1s"
demo_per_minute = 30
demo_seed = 4
"""

PROMETHEUS = """
global:
  scrape_interval: {scrape}s
  evaluation_interval: {scrape}s
rule_files: {rule_files}
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:{alertmanager_port}"]
scrape_configs:
  - job_name: inbox-monitor
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""

ALERTMANAGER = """
route:
  receiver: "{receiver}"
  group_wait: 1s
receivers:
  - name: "{receiver}"
"""

# An alert whose firing series the dashboards' ALERTS annotations must show, whatever the timing
# of the project's own rules (deploy/prometheus/rules, loaded beside it when present).
RULES = """
groups:
  - name: dashboards-test
    rules:
      - alert: SocialInboxDashboardTest
        expr: social_inbox_open_waits_breached > 0
        labels:
          severity: warning
"""


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("grafana_generate", ROOT / "grafana" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATE = load_generator()
BOARDS: dict[str, Json] = {
    path.stem: json.loads(path.read_text(encoding="utf-8"))
    for path in sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
}


def all_queries() -> list[tuple[str, str, Json, Json]]:
    return [
        (uid, where, owner, target) for uid, board in BOARDS.items() for where, owner, target in GENERATE.queries(board)
    ]


PROM_QUERIES = [q for q in all_queries() if q[3]["datasource"]["type"] == "prometheus"]
SQL_QUERIES = [q for q in all_queries() if q[3]["datasource"]["type"] != "prometheus"]


# ------------------------------------------------------------------------------------------------
# Grafana's substitutions
# ------------------------------------------------------------------------------------------------

VARIABLE = re.compile(r"\$(?:\{(\w+)(?::(\w+))?\}|(\w+))")
MACRO = re.compile(r"\$(__\w+)\(([^)]*)\)")  # the PostgreSQL data source's macros (backend side)
NICE = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds(duration: str) -> float:
    return sum(float(n) * UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([smhdw])", duration))


def prom_regex_escape(value: str) -> str:
    """Grafana's prometheusSpecialRegexEscape: a regex-escaped value inside a PromQL string."""
    return re.sub(r"[$^*{}\[\]+?.()|]", lambda m: "\\\\" + m[0], value.replace("\\", "\\\\\\\\"))


def prom_escape(value: str) -> str:
    """Grafana's prometheusRegularEscape (a variable that is neither multi nor includeAll)."""
    return value.replace("\\", "\\\\").replace("'", "\\\\'")


def format_variable(variable: Json, values: list[str], fmt: str | None, language: str) -> str:
    if fmt == "sqlstring":
        return ",".join("'" + v.replace("'", "''") + "'" for v in values)
    if fmt is not None:
        raise AssertionError(f"format {fmt!r} of ${variable['name']} is not one the dashboards use")
    if variable["type"] == "constant":
        return values[0]
    if language == "promql":
        if not variable.get("multi") and not variable.get("includeAll"):
            return prom_escape(values[0])
        escaped = [prom_regex_escape(v) for v in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    raise AssertionError(f"${variable['name']} in SQL without :sqlstring")


@dataclass
class TimeRange:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def time_range(board: Json, owner: Json, now: datetime) -> TimeRange:
    """The range a panel queries: the dashboard's, or the panel's relative time ("now/d", "1h")."""
    relative = owner.get("timeFrom") or board["time"]["from"]
    if relative == "now/d":  # "Today so far", the test's day being UTC's. Just after midnight
        # "today" holds nothing yet, in Grafana too: the test then reads the last 15 minutes.
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return TimeRange(min(start, now - timedelta(minutes=15)), now)
    assert re.fullmatch(r"(now-)?\d+[smhdw]", relative), relative
    return TimeRange(now - timedelta(seconds=seconds(relative.removeprefix("now-"))), now)


def interval_of(rng: TimeRange, min_interval: str | None) -> float:
    """$__interval: the range over ~1000 points, rounded up to a round step, at least the minimum."""
    floor = seconds(min_interval) if min_interval else DATASOURCE_SCRAPE
    raw = rng.seconds / 1000
    return max(floor, next((n for n in NICE if n >= raw), NICE[-1]))


def interpolate(
    text: str, language: str, variables: dict[str, Json], values: dict[str, list[str]], builtins: dict[str, str]
) -> str:
    def one(m: re.Match[str]) -> str:
        name, fmt = (m[1], m[2]) if m[1] else (m[3], None)
        if name in builtins:
            return builtins[name]
        if name.startswith("__"):
            return m[0]  # a data source macro, replaced later
        assert name in variables, f"${name} is not a variable of the dashboard"
        return format_variable(variables[name], values[name], fmt, language)

    return VARIABLE.sub(one, text)


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def sql_macros(text: str, rng: TimeRange) -> str:
    def one(m: re.Match[str]) -> str:
        name, args = m[1], [a.strip() for a in m[2].split(",")]
        if name == "__timeFilter":
            return f"{args[0]} BETWEEN '{rfc3339(rng.start)}' AND '{rfc3339(rng.end)}'"
        if name == "__timeFrom":
            return f"'{rfc3339(rng.start)}'"
        if name == "__timeTo":
            return f"'{rfc3339(rng.end)}'"
        if name in ("__timeGroup", "__timeGroupAlias"):
            step = seconds(args[1].strip("'"))
            group = f"floor(extract(epoch from {args[0]})/{step:g})*{step:g}"
            return group + (' AS "time"' if name == "__timeGroupAlias" else "")
        raise AssertionError(f"macro ${name} is not emulated by this test")

    out = MACRO.sub(one, text)
    assert "$" not in out, f"unsubstituted: {out}"
    return out


def builtins_for(board: Json, owner: Json, now: datetime) -> tuple[TimeRange, float, dict[str, str]]:
    rng = time_range(board, owner, now)
    interval = interval_of(rng, owner.get("interval"))
    rate_interval = max(interval + DATASOURCE_SCRAPE, 4 * DATASOURCE_SCRAPE)
    return (
        rng,
        interval,
        {
            "__interval": f"{interval:g}s",
            "__rate_interval": f"{rate_interval:g}s",
            "__range": f"{max(1, int(rng.seconds))}s",
            "__range_s": str(int(rng.seconds)),
        },
    )


# ------------------------------------------------------------------------------------------------
# The scenario
# ------------------------------------------------------------------------------------------------


class GraphApiThread:
    """The local Graph API, served from its own event loop while the test thread waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="graph-api", daemon=True)
        self.thread.start()
        self.api = FakeGraphApi()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def call(self, fn: Any, *args: Any, **kw: Any) -> None:
        self.loop.call_soon_threadsafe(lambda: fn(*args, **kw))

    def close(self) -> None:
        self.run(self.api.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def http_json(url: str, params: dict[str, str] | list[tuple[str, str]], *, post: bool = True) -> Json:
    """GET or POST (as Grafana does, httpMethod POST) a Prometheus API call; its JSON answer."""
    data = urllib.parse.urlencode(params)
    request = (
        urllib.request.Request(url, data=data.encode(), method="POST")
        if post
        else urllib.request.Request(f"{url}?{data}")
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            result: Json = json.loads(r.read())
    except urllib.error.HTTPError as exc:  # Prometheus explains a bad query in the body
        result = json.loads(exc.read())
    return result


APP_SECRET = "grafana-test-app-secret"


def meta_delivery(port: int, instagram: bool = False) -> int:
    """POST a signed Page webhook delivery (a new comment), or an Instagram one (a new direct
    message), to inbox-monitor; its HTTP status."""
    if instagram:
        body = FakeInstagram.delivery(IG_USER, datetime.now(UTC), messaging=True)
    else:
        entry = {"id": PAGE, "time": int(time.time()), "changes": [{"field": "feed", "value": {"verb": "add"}}]}
        body = json.dumps({"object": "page", "entry": [entry]}).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/facebook",
        data=body,
        method="POST",
        headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as r:
        return int(r.status)


@dataclass
class Scenario:
    prometheus: str
    alertmanager: str
    database_url: str
    now: datetime

    def query(self, expr: str, *, at: datetime | None = None) -> list[Json]:
        body = http_json(
            f"{self.prometheus}/api/v1/query", {"query": expr, "time": f"{(at or datetime.now(UTC)).timestamp():.3f}"}
        )
        assert body["status"] == "success", (expr, body)
        result: list[Json] = body["data"]["result"]
        return result

    def query_range(self, expr: str, rng: TimeRange, step: float) -> list[Json]:
        body = http_json(
            f"{self.prometheus}/api/v1/query_range",
            {
                "query": expr,
                "start": f"{rng.start.timestamp():.3f}",
                "end": f"{rng.end.timestamp():.3f}",
                "step": f"{step:g}",
            },
        )
        assert body["status"] == "success", (expr, body)
        result: list[Json] = body["data"]["result"]
        return result

    def label_values(self, label: str, match: str, rng: TimeRange) -> list[str]:
        body = http_json(
            f"{self.prometheus}/api/v1/label/{label}/values",
            [("match[]", match), ("start", f"{rng.start.timestamp():.3f}"), ("end", f"{rng.end.timestamp():.3f}")],
            post=False,
        )
        assert body["status"] == "success", (match, body)
        return sorted(body["data"])


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def scenario(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    tmp = tmp_path_factory.mktemp("grafana")
    name = f"t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(pg_server_url, f"CREATE DATABASE {name}"))
    database_url = with_database(pg_server_url, name)
    graph = GraphApiThread()
    x_api = FakeXApi()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        now = datetime.now(UTC)
        graph.api.add_page(PAGE, token="page-token", name="Acme")
        start, span = now - timedelta(minutes=20), timedelta(minutes=25)
        script_page(
            graph.api, PAGE, start=start, span=span, seed=5, conversations=30, posts=6, comments=30, history=False
        )
        instagram = FakeInstagram(graph.api)  # the Page's Instagram account
        instagram.add_account(PAGE, username="acme", ig_user_id=IG_USER)
        script_instagram(
            instagram, IG_USER, start=start, span=span, seed=6, sizes=Sizes(comments=40, mentions=0, dms=40)
        )
        graph.api.set_usage(PAGE, call_count=35, total_time=12)
        graph.api.inject("500", count=2, page_id=PAGE, edge="feed")  # two failed Page polls, then recovery
        graph_url = graph.run(graph.api.start())
        # A peer of acme on the local X API (served on the same loop): questions of the last 20
        # minutes, most answered.
        x_api.add_bearer_token(X_TOKEN)
        load_on_x(
            x_api,
            generate(
                seed=7,
                count=30,
                start=now - timedelta(minutes=20),
                span=timedelta(minutes=15),
                reply_delays=[timedelta(seconds=d) for d in (40, 90, 150)] + [None],
            ),
            brand_id="900",
            brand_handle="rival",
        )
        x_url = graph.run(x_api.start())

        port, prom_port, am_port = free_port(), free_port(), free_port()
        ids = {"page": PAGE, "ig_user": IG_USER, "token_env": TOKEN_ENV, "x_token_env": X_TOKEN_ENV}
        (tmp / "inbox.toml").write_text(CONFIG.format(port=port, graph=graph_url, x=x_url, **ids))
        env = cli_env(
            INBOX_MONITOR_DATABASE_URL=database_url,
            INBOX_MONITOR_CONFIG=str(tmp / "inbox.toml"),
            GRAFANA_TEST_APP_SECRET=APP_SECRET,
            **{TOKEN_ENV: "page-token", X_TOKEN_ENV: X_TOKEN},
        )
        project_rules = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
        rule_files = [str(tmp / "rules.yml"), *map(str, project_rules)]
        (tmp / "prometheus.yml").write_text(
            PROMETHEUS.format(
                scrape=SCRAPE_SECONDS, port=port, rule_files=json.dumps(rule_files), alertmanager_port=am_port
            )
        )
        receiver = f"nobody-{uuid.uuid4().hex[:8]}"  # names this test's Alertmanager
        (tmp / "alertmanager.yml").write_text(ALERTMANAGER.format(receiver=receiver))
        with (tmp / "alertmanager.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        "prometheus-alertmanager",
                        f"--config.file={tmp / 'alertmanager.yml'}",
                        f"--storage.path={tmp / 'alertmanager'}",
                        f"--web.listen-address=127.0.0.1:{am_port}",
                        "--cluster.listen-address=",
                        "--log.level=warn",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=tmp,
                )
            )
        alertmanager = f"http://127.0.0.1:{am_port}"
        wait_for(
            lambda: receiver in urllib.request.urlopen(f"{alertmanager}/api/v2/status", timeout=2).read().decode(),
            timeout=30,
            what="Alertmanager ready",
        )
        (tmp / "rules.yml").write_text(RULES)
        check = subprocess.run(
            ["promtool", "check", "config", str(tmp / "prometheus.yml")], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
        # Prometheus first, so that it sees the counters from their first values.
        with (tmp / "prometheus.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
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
            )
        prometheus = f"http://127.0.0.1:{prom_port}"
        wait_for(
            lambda: (
                str(tmp / "prometheus.yml")
                in urllib.request.urlopen(  # ours, not another's
                    f"{prometheus}/api/v1/status/flags", timeout=2
                )
                .read()
                .decode()
            ),
            timeout=30,
            what="Prometheus ready",
        )
        procs.append(start_cli("run", env=env, log=tmp / "inbox.log"))
        wait_for(serving(procs[-1], port), timeout=60, what="inbox-monitor ready")
        s = Scenario(prometheus, alertmanager, database_url, now)
        # Meta tells of a new comment on the Page (for the pipeline dashboard's webhook panel).
        wait_for(lambda: meta_delivery(port) == 200, timeout=60, interval=0.5, what="a webhook delivery")
        wait_for(lambda: meta_delivery(port, instagram=True) == 200, timeout=60, what="an Instagram delivery")
        # What the dashboards need to show something honest: live answers and breaches seen by
        # Prometheus (not only counted before its first scrape), a firing alert, the Graph API's
        # rate-limit budget and a failed poll.
        for expr in [
            "sum(increase(social_inbox_waits_breached_total[1m])) > 0",
            "sum(increase(social_inbox_waits_answered_total[1m])) > 0",
            "sum(increase(social_inbox_response_seconds_count[1m])) > 0",
            'ALERTS{alertname="SocialInboxDashboardTest", alertstate="firing"}',
            'social_inbox_api_rate_limit_remaining{account="acme-fb"}',
            'social_inbox_poll_total{account="acme-fb", result="api_error"}',
            "count(count by (account) (social_inbox_open_waits_breached > 0)) >= 3",
            'sum(increase(social_inbox_waits_answered_total{channel="instagram"}[1m])) > 0',
            'sum(increase(social_inbox_waits_breached_total{channel="instagram"}[1m])) > 0',
            'social_inbox_open_waits_breached{channel="instagram"} > 0',
            'social_inbox_webhook_deliveries_total{channel="facebook", result="ok"}',
            'social_inbox_webhook_deliveries_total{channel="instagram", result="ok"}',
            'social_inbox_peer_reads_today{peer="rival"} > 0',
        ]:
            wait_for(functools.partial(s.query, expr), timeout=90, interval=0.5, what=expr)
        s.now = datetime.now(UTC)
        yield s
    finally:
        for proc in reversed(procs):
            stop_cli(proc)
        graph.run(x_api.stop())
        graph.close()
        asyncio.run(_admin(pg_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


# ------------------------------------------------------------------------------------------------
# Variables
# ------------------------------------------------------------------------------------------------


def variable_values(s: Scenario, board: Json, now: datetime) -> dict[str, list[str]]:
    """Every variable resolved in order, "All" selected: what the panels are queried with."""
    variables = {v["name"]: v for v in board["templating"]["list"]}
    values: dict[str, list[str]] = {}
    for v in board["templating"]["list"]:
        if v["type"] == "constant":
            values[v["name"]] = [v["query"]]
        elif v["type"] == "custom":
            values[v["name"]] = [v["current"]["value"]]
        elif v["type"] == "query":
            values[v["name"]] = resolve(s, board, v, variables, values, now)
        else:
            raise AssertionError(f"variable type {v['type']} is not emulated")
        assert values[v["name"]], f"{board['uid']}: variable {v['name']} has no value"
    return values


def resolve(
    s: Scenario, board: Json, v: Json, variables: dict[str, Json], values: dict[str, list[str]], now: datetime
) -> list[str]:
    rng, _, builtins = builtins_for(board, v, now)
    if v["datasource"]["type"] == "prometheus":
        query = interpolate(v["query"]["query"], "promql", variables, values, builtins)
        m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query)
        assert m, f"only label_values(metric, label) is emulated: {query}"
        found = s.label_values(m[2], m[1], rng)
    else:
        found = [
            str(r[0]) for r in run_sql(s, sql_macros(interpolate(v["query"], "sql", variables, values, builtins), rng))
        ]
    if v.get("includeAll"):
        return found
    current = v.get("current", {}).get("value")
    return [current] if current in found else found[:1]  # Grafana keeps the saved value if it exists


def run_sql(s: Scenario, query: str) -> list[asyncpg.Record]:
    async def go() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(s.database_url)
        try:
            async with conn.transaction(readonly=True):  # what a read-only Grafana role may do
                return list(await conn.fetch(query))
        finally:
            await conn.close()

    return asyncio.run(go())


@pytest.fixture(scope="module")
def resolved(scenario: Scenario) -> dict[str, dict[str, list[str]]]:
    return {uid: variable_values(scenario, board, scenario.now) for uid, board in BOARDS.items()}


def test_variables_list_every_configured_brand_channel_and_account(resolved: dict[str, dict[str, list[str]]]) -> None:
    for uid in ("inbox-live", "inbox-pipeline"):
        assert resolved[uid]["brand"] == ["acme", "globex"]
        assert resolved[uid]["channel"] == ["facebook", "instagram", "x"]
        assert resolved[uid]["account"] == ["acme-fb", "acme-ig", "acme-x", "globex-fb", "globex-ig", "globex.fr-x"]
    assert resolved["inbox-pipeline"]["job"] == ["inbox-monitor"]
    assert resolved["inbox-sla"]["brand"] == ["acme", "globex"]
    assert resolved["inbox-sla"]["channel"] == ["facebook", "instagram", "x"]
    assert resolved["inbox-sla"]["tz"] == ["Europe/Paris"]


# Zones whose offsets are not whole hours, or change twice a year on odd dates: what a list of six
# European and American zones left out. The SLA dashboard's SQL must work in each.
ODD_ZONES = ["Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kolkata", "UTC"]


def test_the_time_zone_variable_offers_every_iana_zone(scenario: Scenario) -> None:
    board = BOARDS["inbox-sla"]
    tz = next(v for v in board["templating"]["list"] if v["name"] == "tz")
    zones = [str(r[0]) for r in run_sql(scenario, tz["query"])]
    assert len(zones) > 400 and set(ODD_ZONES) <= set(zones), len(zones)
    assert not [z for z in zones if z.startswith(("posix/", "SystemV/"))]


# ------------------------------------------------------------------------------------------------
# Every PromQL query
# ------------------------------------------------------------------------------------------------


def finite(series: list[Json]) -> bool:
    values = [s["value"] for s in series if "value" in s] + [v for s in series for v in s.get("values", [])]
    return any(not math.isnan(float(v[1])) for v in values)


@pytest.mark.parametrize(("uid", "where", "owner", "target"), PROM_QUERIES, ids=[q[1] for q in PROM_QUERIES])
def test_every_promql_query_returns_series(
    scenario: Scenario, resolved: dict[str, dict[str, list[str]]], uid: str, where: str, owner: Json, target: Json
) -> None:
    board = BOARDS[uid]
    variables = {v["name"]: v for v in board["templating"]["list"]}

    if "query" in target:  # a variable's label_values(): resolved (and required) by `resolved`
        assert resolved[uid][owner["name"]], where
        return

    def evaluate() -> tuple[str, list[Json]]:
        now = datetime.now(UTC)
        rng, interval, builtins = builtins_for(board, owner, now)
        expr = interpolate(target["expr"], "promql", variables, resolved[uid], builtins)
        if "/ annotation " in where:  # Grafana runs annotation queries over the range, at their step
            return expr, scenario.query_range(expr, rng, seconds(owner["step"]))
        if target["instant"]:
            return expr, scenario.query(expr, at=now)
        return expr, scenario.query_range(expr, rng, interval)

    expr, result = evaluate()
    if not finite(result):  # a window that needs one more scrape: wait for it, with a deadline
        wait_for(lambda: finite(evaluate()[1]), timeout=20, interval=0.5, what=f"{where}: {expr}")


def instagram_only(values: dict[str, list[str]]) -> dict[str, list[str]]:
    """The dashboard's variables with only the Instagram channel (and its accounts) selected."""
    out = {**values, "channel": ["instagram"]}
    if "account" in values:
        out["account"] = ["acme-ig", "globex-ig"]
    return out


@pytest.mark.parametrize(("uid", "where", "owner", "target"), PROM_QUERIES, ids=[q[1] for q in PROM_QUERIES])
def test_every_promql_query_returns_instagram_series(
    scenario: Scenario, resolved: dict[str, dict[str, list[str]]], uid: str, where: str, owner: Json, target: Json
) -> None:
    """With the Instagram channel alone selected, every panel and annotation still has data."""
    if "query" in target:  # a variable: `test_variables_list_every_configured_brand_channel_and_account`
        return
    board = BOARDS[uid]
    variables = {v["name"]: v for v in board["templating"]["list"]}

    def evaluate() -> tuple[str, list[Json]]:
        now = datetime.now(UTC)
        rng, interval, builtins = builtins_for(board, owner, now)
        expr = interpolate(target["expr"], "promql", variables, instagram_only(resolved[uid]), builtins)
        if "/ annotation " in where:
            return expr, scenario.query_range(expr, rng, seconds(owner["step"]))
        if target["instant"]:
            return expr, scenario.query(expr, at=now)
        return expr, scenario.query_range(expr, rng, interval)

    expr, result = evaluate()
    if not finite(result):
        wait_for(lambda: finite(evaluate()[1]), timeout=20, interval=0.5, what=f"{where}: {expr}")


# ------------------------------------------------------------------------------------------------
# Every SQL query
# ------------------------------------------------------------------------------------------------


def sql_for(s: Scenario, uid: str, owner: Json, target: Json, values: dict[str, list[str]]) -> tuple[str, TimeRange]:
    board = BOARDS[uid]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    rng, _, builtins = builtins_for(board, owner, datetime.now(UTC))
    text = target.get("rawSql") or target["query"]
    return sql_macros(interpolate(text, "sql", variables, values, builtins), rng), rng


@pytest.mark.parametrize(("uid", "where", "owner", "target"), SQL_QUERIES, ids=[q[1] for q in SQL_QUERIES])
def test_every_sql_query_returns_rows(
    scenario: Scenario, resolved: dict[str, dict[str, list[str]]], uid: str, where: str, owner: Json, target: Json
) -> None:
    board = BOARDS[uid]
    custom = [
        v
        for v in board["templating"]["list"]
        if v["type"] == "custom" and re.search(r"\$\{?" + v["name"] + r"\b", target.get("rawSql") or target["query"])
    ]
    # Each option of a custom variable must work, not only the default; the time zone in odd zones.
    selections = [dict(resolved[uid])] + [
        {**resolved[uid], v["name"]: [o["value"]]} for v in custom for o in v["options"]
    ]
    if re.search(r"\$\{tz:", target.get("rawSql") or target.get("query", "")):
        selections += [{**resolved[uid], "tz": [zone]} for zone in ODD_ZONES]
    for values in selections:
        query, _ = sql_for(scenario, uid, owner, target, values)
        rows = run_sql(scenario, query)
        assert rows, f"{where}: no rows\n{query}"
        if target.get("format") == "time_series":
            # `in` on an asyncpg Record tests its column names
            assert "time" in rows[0] and ("value" in rows[0] or len(rows[0]) >= 2), where
            assert all(r["time"] is not None for r in rows), where
        if "/ variable " in where:
            assert all(r[0] for r in rows), where
            continue
        cells = [v for r in rows for k, v in r.items() if not isinstance(v, str) and k != "time"]
        assert any(v is not None for v in cells), f"{where}: every value is NULL\n{query}"


@pytest.mark.parametrize(("uid", "where", "owner", "target"), SQL_QUERIES, ids=[q[1] for q in SQL_QUERIES])
def test_every_sql_query_returns_instagram_rows(
    scenario: Scenario, resolved: dict[str, dict[str, list[str]]], uid: str, where: str, owner: Json, target: Json
) -> None:
    """With the Instagram channel alone selected, every table and chart from PostgreSQL has rows."""
    query, _ = sql_for(scenario, uid, owner, target, instagram_only(resolved[uid]))
    rows = run_sql(scenario, query)
    assert rows, f"{where}: no rows\n{query}"
    if "/ variable " not in where:
        cells = [v for r in rows for k, v in r.items() if not isinstance(v, str) and k != "time"]
        assert any(v is not None for v in cells), f"{where}: every value is NULL\n{query}"


def test_breach_table_counts_every_breached_question(
    scenario: Scenario, resolved: dict[str, dict[str, list[str]]]
) -> None:
    """The weekday x hour table adds up to an independent count of breached waits."""
    board = BOARDS["inbox-sla"]
    p = next(p for p in GENERATE.panels_of(board) if p["title"].startswith("Breached questions by weekday"))
    query, rng = sql_for(scenario, "inbox-sla", p, p["targets"][0], resolved["inbox-sla"])

    async def both() -> tuple[list[asyncpg.Record], int]:
        conn = await asyncpg.connect(scenario.database_url)
        try:
            async with conn.transaction(readonly=True, isolation="repeatable_read"):  # one now(), one snapshot
                rows = await conn.fetch(query)
                expected = await conn.fetchval(
                    "SELECT count(*) FROM waits WHERE deadline <= now() AND (closed_at IS NULL OR closed_at > deadline)"
                    " AND opened_at BETWEEN $1 AND $2",
                    rng.start,
                    rng.end,
                )
                return list(rows), int(expected)
        finally:
            await conn.close()

    rows, expected = asyncio.run(both())
    assert [r["Day"] for r in rows] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert expected > 0
    assert sum(r["Total"] for r in rows) == expected
    assert sum(r[f"{h:02d}"] for r in rows for h in range(24)) == expected


def test_open_questions_table_links_every_open_wait_to_its_post(
    scenario: Scenario, resolved: dict[str, dict[str, list[str]]]
) -> None:
    board = BOARDS["inbox-live"]
    p = next(p for p in GENERATE.panels_of(board) if p["title"] == "Open questions, by deadline")
    query, _ = sql_for(scenario, "inbox-live", p, p["targets"][0], resolved["inbox-live"])

    async def both() -> tuple[list[asyncpg.Record], int, set[str]]:
        conn = await asyncpg.connect(scenario.database_url)
        try:
            async with conn.transaction(readonly=True, isolation="repeatable_read"):
                rows = await conn.fetch(query)
                count = int(await conn.fetchval("SELECT count(*) FROM waits WHERE closed_at IS NULL"))
                first = await conn.fetch(  # the accounts of the 500 open waits due first
                    "SELECT DISTINCT a.name FROM (SELECT account_id FROM waits WHERE closed_at IS NULL"
                    " ORDER BY deadline LIMIT 500) w JOIN accounts a ON a.id = w.account_id"
                )
                return list(rows), count, {r["name"] for r in first}
        finally:
            await conn.close()

    rows, open_waits, due_first = asyncio.run(both())
    assert len(rows) == min(open_waits, 500)
    assert [r["Deadline"] for r in rows] == sorted(r["Deadline"] for r in rows)
    order = ["breached", "at risk", "on time"]
    assert [order.index(r["Status"]) for r in rows] == sorted(order.index(r["Status"]) for r in rows)
    assert all(r["Post"] and r["Post"].startswith("https://") for r in rows)
    assert {r["Account"] for r in rows} == due_first and len(due_first) >= 4
    assert all(r["Question"] for r in rows)
    assert all(r["Why"] and r["Why"] not in ("courtesy", "no_cue", "praise") for r in rows)  # the rule that opened it


def test_sla_compliance_table_matches_the_waits(scenario: Scenario, resolved: dict[str, dict[str, list[str]]]) -> None:
    """Directors' figures, recomputed in Python from the raw waits: due, within SLA, response rate."""
    board = BOARDS["inbox-sla"]
    p = next(p for p in GENERATE.panels_of(board) if p["title"] == "SLA compliance by brand and channel")
    query, _ = sql_for(scenario, "inbox-sla", p, p["targets"][0], resolved["inbox-sla"])

    async def both() -> tuple[list[asyncpg.Record], list[asyncpg.Record], datetime]:
        conn = await asyncpg.connect(scenario.database_url)
        try:
            async with conn.transaction(readonly=True, isolation="repeatable_read"):
                table = await conn.fetch(query)
                waits = await conn.fetch(
                    "SELECT a.brand, a.channel, w.kind, w.opened_at, w.closed_at, w.deadline"
                    " FROM waits w JOIN accounts a ON a.id = w.account_id"
                )
                return list(table), list(waits), await conn.fetchval("SELECT now()")
        finally:
            await conn.close()

    table, waits, now = asyncio.run(both())
    assert len(table) == 6  # acme and globex: facebook, instagram, x
    for row in table:
        mine = [
            w
            for w in waits
            if (w["brand"], w["channel"]) == (row["Brand"], row["Channel"])
            and w["opened_at"] >= now - timedelta(days=30)
        ]
        due = [w for w in mine if w["closed_at"] is not None or w["deadline"] <= now]
        within = [w for w in due if w["closed_at"] is not None and w["closed_at"] <= w["deadline"]]
        assert row["Waits (30 d)"] == len(mine) > 0
        assert float(row["Within SLA (30 d)"]) == pytest.approx(len(within) / len(due))
        # Response rate: every wait, first and next alike (docs/definitions.md).
        assert float(row["Response rate (30 d)"]) == pytest.approx(
            sum(w["closed_at"] is not None for w in mine) / len(mine)
        )
        assert row["Previous 30 d"] is None  # a new install has no previous period: shown empty, not 0 %


def test_the_peers_table_compares_the_brand_and_its_peer_as_the_waits_say(
    scenario: Scenario, resolved: dict[str, dict[str, list[str]]]
) -> None:
    """The report's comparison on the dashboard (docs/peers.md), recomputed in Python from the raw
    waits: acme's public X threads and its peer's, over the time range, as of now."""
    board = BOARDS["inbox-sla"]
    p = next(p for p in GENERATE.panels_of(board) if p["title"] == "You and your peers" and p["type"] == "table")
    query, rng = sql_for(scenario, "inbox-sla", p, p["targets"][0], resolved["inbox-sla"])

    async def both() -> tuple[list[asyncpg.Record], dict[str, list[asyncpg.Record]], int, datetime]:
        conn = await asyncpg.connect(scenario.database_url)
        try:
            async with conn.transaction(readonly=True, isolation="repeatable_read"):
                table = await conn.fetch(query)
                columns = "w.kind, w.opened_at, w.closed_at, w.deadline, w.wall_seconds"
                waits = {
                    "acme": await conn.fetch(
                        f"SELECT {columns} FROM waits w JOIN accounts a ON a.id = w.account_id"
                        " JOIN threads t ON t.id = w.thread_id"
                        " WHERE a.brand = 'acme' AND a.channel = 'x' AND t.kind = 'public'"
                        " AND w.opened_at >= $1 AND w.opened_at < $2",
                        rng.start,
                        rng.end,
                    ),
                    "@rival": await conn.fetch(
                        f"SELECT {columns} FROM peer_waits w WHERE w.opened_at >= $1 AND w.opened_at < $2",
                        rng.start,
                        rng.end,
                    ),
                }
                reads = await conn.fetchval("SELECT sum(reads) FROM peer_reads")
                return list(table), waits, int(reads), await conn.fetchval("SELECT now()")
        finally:
            await conn.close()

    table, waits, reads, now = asyncio.run(both())
    assert [(r["Brand"], r["Who"]) for r in table] == [("acme", "acme"), ("acme", "@rival")]
    for row in table:
        mine = waits[row["Who"]]
        answered = [w for w in mine if w["closed_at"] is not None and w["closed_at"] <= now]
        decided = [w for w in mine if w in answered or w["deadline"] <= now]
        within = [w for w in answered if w["closed_at"] <= w["deadline"]]
        firsts = sorted(w["wall_seconds"] for w in answered if w["kind"] == "first")
        assert len(mine) > 0 and len(firsts) > 0, row["Who"]
        assert float(row["Response rate"]) == pytest.approx(len(answered) / len(mine))
        assert float(row["Within target"]) == pytest.approx(len(within) / len(decided))
        assert float(row["Median first response"]) == pytest.approx(statistics.median(firsts))
    assert table[0]["Posts read"] is None and table[1]["Posts read"] == reads > 0


# ------------------------------------------------------------------------------------------------
# The alert list and the Alertmanager data source: what Grafana reads for them
# ------------------------------------------------------------------------------------------------

DATASOURCES = {
    ds["uid"]: ds
    for ds in yaml.safe_load((ROOT / "grafana" / "provisioning" / "datasources" / "inbox-monitor.yml").read_text())[
        "datasources"
    ]
}
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def regex_format(values: list[str]) -> str:
    """Grafana's `${var:regex}` (kbn.regexEscape): each value escaped once, several as (a|b)."""
    escaped = [re.sub(r"[\\^$*+?.()|{}\[\]/]", lambda m: "\\" + m[0], v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def alert_list_items(s: Scenario, panel: Json, values: dict[str, list[str]]) -> list[Json]:
    """What the alert list shows of the Prometheus rules source: the alerts of its rules API whose
    rule name has the panel's alert name, in a state it shows, whose labels match its label filter."""
    options = panel["options"]

    def one(m: re.Match[str]) -> str:
        assert m[2] == "regex", f"{panel['title']}: use ${{{m[1]}:regex}} in the label filter"
        return regex_format(values[m[1]])

    matchers = MATCHER.findall(re.sub(r"\$\{(\w+):(\w+)\}", one, options["alertInstanceLabelFilter"]))
    assert matchers, options["alertInstanceLabelFilter"]
    with urllib.request.urlopen(f"{s.prometheus}/api/v1/rules?type=alert", timeout=10) as r:
        groups = json.loads(r.read())["data"]["groups"]
    shown = {state for state, on in options["stateFilter"].items() if on}
    tests: dict[str, Callable[[str, str], bool]] = {
        "=": str.__eq__,
        "!=": str.__ne__,
        "=~": lambda v, p: bool(re.fullmatch(p, v)),
    }
    tests["!~"] = lambda v, p: not re.fullmatch(p, v)
    return [
        alert
        for group in groups
        for rule in group["rules"]
        if options["alertName"].lower() in rule["name"].lower()
        for alert in rule["alerts"]
        if alert["state"] in shown
        and all(tests[op](alert["labels"].get(name, ""), value) for name, op, value in matchers)
    ]


def test_the_alert_list_shows_the_firing_alerts_of_the_selected_brands(
    scenario: Scenario, resolved: dict[str, dict[str, list[str]]]
) -> None:
    board = BOARDS["inbox-live"]
    panel = next(p for p in GENERATE.panels_of(board) if p["type"] == "alertlist")
    # Every rule source: the Prometheus rules through the provisioned Prometheus data source, which
    # manages alerts and silences them in the provisioned Alertmanager, and the Grafana-managed rules.
    assert panel["options"]["datasource"] is None
    prometheus = DATASOURCES["inbox-prometheus"]["jsonData"]
    assert prometheus["manageAlerts"] is True and prometheus["alertmanagerUid"] in DATASOURCES

    values = resolved["inbox-live"]
    wanted = {"SocialInboxDashboardTest", "SocialInboxQuestionUnanswered"}

    def both_alerts() -> list[Json] | None:  # they fire one or two evaluations apart
        items = alert_list_items(scenario, panel, values)
        return items if wanted <= {a["labels"]["alertname"] for a in items} else None

    items = wait_for(both_alerts, timeout=60, what="both alerts in the alert list")
    assert items is not None
    assert {a["labels"]["brand"] for a in items if "brand" in a["labels"]} == {"acme", "globex"}
    # One brand selected: the other's alerts are hidden, inbox-monitor's own (no brand) are not.
    acme = alert_list_items(scenario, panel, {**values, "brand": ["acme"]})
    assert acme and {a["labels"].get("brand", "") for a in acme} <= {"acme", ""}
    assert len(acme) < len(items)


def test_the_alertmanager_data_source_reads_the_alerts_prometheus_sends(scenario: Scenario) -> None:
    ds = DATASOURCES["inbox-alertmanager"]
    assert ds["type"] == "alertmanager" and ds["jsonData"]["implementation"] == "prometheus"
    assert ds["url"] == "$INBOX_GRAFANA_ALERTMANAGER_URL"
    # Grafana's Alertmanager data source (Prometheus implementation) reads the v2 API: alert groups
    # and silences.
    url = scenario.alertmanager

    def social_inbox_alerts() -> set[str]:
        with urllib.request.urlopen(f"{url}/api/v2/alerts/groups", timeout=10) as r:
            groups = json.loads(r.read())
        return {a["labels"]["alertname"] for g in groups for a in g["alerts"]} & {
            "SocialInboxDashboardTest",
            "SocialInboxQuestionUnanswered",
        }

    both = {"SocialInboxDashboardTest", "SocialInboxQuestionUnanswered"}
    assert wait_for(lambda: social_inbox_alerts() == both, timeout=60, what="both SocialInbox alerts in Alertmanager")
    with urllib.request.urlopen(f"{url}/api/v2/silences", timeout=10) as r:
        assert r.status == 200 and isinstance(json.loads(r.read()), list)


def test_the_sla_target_queries_give_the_policy_target(
    scenario: Scenario, resolved: dict[str, dict[str, list[str]]]
) -> None:
    """The thresholds' max is the tightest first-response target: 2 minutes in the scenario's policy
    (public threads; private ones have 3), from Prometheus and from PostgreSQL alike."""
    for uid, title in (("inbox-live", "Oldest wait"), ("inbox-live", "Response time: today vs last 7 days")):
        board = BOARDS[uid]
        p = next(p for p in GENERATE.panels_of(board) if p["title"] == title)
        ref = next(t for t in p["transformations"] if t["id"] == "configFromData")["options"]["configRefId"]
        target = next(t for t in p["targets"] if t["refId"] == ref)
        variables = {v["name"]: v for v in board["templating"]["list"]}
        _, _, builtins = builtins_for(board, p, datetime.now(UTC))
        expr = interpolate(target["expr"], "promql", variables, resolved[uid], builtins)
        assert [float(s["value"][1]) for s in scenario.query(expr)] == [120.0], (title, expr)
    p = next(p for p in GENERATE.panels_of(BOARDS["inbox-sla"]) if p["title"] == "Median first response")
    query, _ = sql_for(scenario, "inbox-sla", p, p["targets"][1], resolved["inbox-sla"])
    assert [float(r[0]) for r in run_sql(scenario, query)] == [120.0]
