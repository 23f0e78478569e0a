"""Alerting end to end: fake X API -> inbox-monitor -> Prometheus -> Alertmanager -> fake Slack.

Real `prometheus` and `prometheus-alertmanager` run on loopback ports with the repository's rules
and Slack templates. Their configs are test copies of deploy/prometheus/prometheus.yml and
alertmanager.yml with only addresses, paths and timers substituted (scrape and evaluate every 1 s,
group_wait/group_interval 1 s; the webhook URL file points at the fake Slack); so are the rules,
whose only change is SocialInboxPollerFailing's `for: 1m` made 5 s (promtool's unit tests check
every `for:` on both sides; here the point is the path from the poller to Slack).
inbox-monitor runs as a subprocess polling the fake X API every second, with a 6-second SLA.

One stack serves the module's tests (they run in one event loop, where the fakes live), so the
poller failure that starts with the stack is ripe by the time the question test is done.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio

from monitor.simulator.slack import FakeSlack, SlackMessage
from monitor.simulator.x_api import DM_EVENTS, MENTIONS, TWEETS, FakeXApi
from tests.conftest import with_database
from tests.waiting import ROOT, GaveUp, cli_env, free_port, in_thread, serving, start_cli

DEPLOY = ROOT / "deploy" / "prometheus"
TOOLS = ("prometheus", "prometheus-alertmanager")
SLA_SECONDS = 6
POLLER_FAILING_FOR = "5s"
"""SocialInboxPollerFailing's `for:` in the test copy of the rules (1m in deploy/)."""
GRAFANA = "http://grafana.test"
ACME = {"brand": "acme", "account": "acme-x", "user_id": "101", "handle": "acme", "token": "acme-bearer"}
GLOBEX = {"brand": "globex", "account": "globex-x", "user_id": "202", "handle": "globex", "token": "globex-bearer"}
CUSTOMER = ("7000000001", "customer_0001")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.tools(*TOOLS),
    pytest.mark.asyncio(loop_scope="module"),  # one stack for the module: on one xdist worker (conftest)
]

MONITOR_CONFIG = """
[server]
listen = "127.0.0.1:{port}"
snapshot_interval = "1s"

[policies.default]
public = {{ first = "{sla}s", next = "{sla}s" }}
private = {{ first = "{sla}s", next = "{sla}s" }}
business_hours_only = false
{brands}
"""

BRAND = """
[[brands]]
name = "{brand}"

[[brands.accounts]]
name = "{account}"
channel = "x"
user_id = "{user_id}"
handle = "{handle}"
bearer_token_env = "{env}"
api_base_url = "{api}"
poll_interval = "1s"
"""


async def eventually(condition: Callable[[], Any], within: float, what: str) -> Any:
    """The first truthy value of `condition()` (awaited if need be), checked every 200 ms; fail
    after `within` s. (tests.waiting.wait_for is synchronous: it would block the loop the fakes
    run on.)"""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
            if inspect.isawaitable(last):
                last = await last
        except (aiohttp.ClientError, OSError) as exc:  # not listening yet
            last = exc
        if last and not isinstance(last, Exception):
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {within}s waiting for {what} (last: {last!r})")


def substitute(text: str, pattern: str, replacement: str, *, count: int | None = 1) -> str:
    """Replace a setting of a config copy; fail loudly when the production file changed shape."""
    new, n = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert n > 0 and (count is None or n == count), f"{pattern!r} matched {n} times"
    return new


def prometheus_config(
    *, monitor: str, alertmanager: str, rules: Path = DEPLOY / "rules", evaluation: str = "5s"
) -> str:
    """deploy/prometheus/prometheus.yml with test addresses, fast intervals, absolute rule paths."""
    text = (DEPLOY / "prometheus.yml").read_text()
    text = substitute(text, r"^(\s*scrape_interval:).*$", r"\1 1s")
    text = substitute(text, r"^(\s*evaluation_interval:).*$", rf"\1 {evaluation}")
    text = substitute(text, r"^(\s*inbox_monitor_url:).*$", rf"\1 http://{monitor}")
    text = substitute(text, r"^(\s*grafana_url:).*$", rf"\1 {GRAFANA}")
    text = substitute(text, r"^(\s*- )rules/\*\.yml$", rf"\g<1>{rules}/*.yml")
    text = substitute(text, r'"localhost:9093"', f'"{alertmanager}"')
    return substitute(text, r'"localhost:9464"', f'"{monitor}"')


def rules_with_test_timers(tmp: Path) -> Path:
    """deploy/prometheus/rules with SocialInboxPollerFailing's `for:` at POLLER_FAILING_FOR."""
    rules = tmp / "rules"
    shutil.copytree(DEPLOY / "rules", rules)
    path = rules / "social-inbox.yml"
    path.write_text(
        substitute(
            path.read_text(),
            r"(- alert: SocialInboxPollerFailing\n(?:\s+\S.*\n)*?\s+for:) 1m$",
            rf"\1 {POLLER_FAILING_FOR}",
        )
    )
    return rules


async def serves(http: aiohttp.ClientSession, url: str, ours: str) -> bool:
    """`url` answers 200 with `ours` in its body (a path of this test's, in a status page): the
    server on that port is the one this test started, not another process's."""
    async with http.get(url) as r:
        if r.status != 200:
            return False
        if ours not in await r.text():
            raise GaveUp(f"{url} is served by another process (no {ours} in its status)")
        return True


def alertmanager_config(*, webhook_file: Path) -> str:
    """deploy/prometheus/alertmanager.yml with 1-second grouping and the fake Slack's URL file."""
    text = (DEPLOY / "alertmanager.yml").read_text()
    text = substitute(text, r"^(\s*group_wait:).*$", r"\1 1s", count=None)
    text = substitute(text, r"^(\s*group_interval:).*$", r"\1 1s", count=None)
    text = substitute(text, r"^(\s*- api_url_file:).*$", rf"\1 {webhook_file}", count=None)
    return substitute(text, r"^(\s*- )templates/\*\.tmpl(.*)$", rf"\g<1>{DEPLOY}/templates/*.tmpl\2")


@dataclass
class Stack:
    x: FakeXApi
    slack: FakeSlack
    http: aiohttp.ClientSession
    monitor: str
    prometheus: str
    alertmanager: str
    started: float
    logs: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def messages(self, alertname: str, status: str | None = None) -> list[SlackMessage]:
        """Slack messages about `alertname` (named in the footer), firing or all resolved (green)."""
        return [
            m
            for m in self.slack.messages
            if alertname in m.field("footer")
            and (status is None or (m.field("color") == "good") == (status == "RESOLVED"))
        ]

    async def get_json(self, url: str) -> Any:
        async with self.http.get(url) as r:
            r.raise_for_status()
            return await r.json()

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.logs.glob("*.log"))
        )


async def _ready(http: aiohttp.ClientSession, url: str) -> bool:
    async with http.get(url) as r:
        return r.status == 200


async def _admin(pg_server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(pg_server_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("alerting")
    x = FakeXApi(limits={MENTIONS: 100_000, TWEETS: 100_000, DM_EVENTS: 100_000})
    api = await x.start()
    slack = FakeSlack()
    await slack.start()
    for account in (ACME, GLOBEX):
        x.add_user(account["user_id"], account["handle"])
        x.add_bearer_token(account["token"])
    x.add_user(*CUSTOMER)
    # globex's X API answers nothing but 500s, from the first poll on.
    x.inject("http_500", user_id=GLOBEX["user_id"], times=10**9)

    ports = {name: free_port() for name in ("monitor", "prometheus", "alertmanager")}
    monitor, prometheus, alertmanager = (f"127.0.0.1:{ports[n]}" for n in ("monitor", "prometheus", "alertmanager"))
    brands = "".join(BRAND.format(env=f"{a['brand'].upper()}_X_BEARER", api=api, **a) for a in (ACME, GLOBEX))
    (tmp / "monitor.toml").write_text(MONITOR_CONFIG.format(port=ports["monitor"], sla=SLA_SECONDS, brands=brands))
    webhook_file = tmp / "slack-webhook-url"
    webhook_file.write_text(slack.hook_url() + "\n")
    (tmp / "prometheus.yml").write_text(
        prometheus_config(
            monitor=monitor, alertmanager=alertmanager, rules=rules_with_test_timers(tmp), evaluation="1s"
        )
    )
    (tmp / "alertmanager.yml").write_text(alertmanager_config(webhook_file=webhook_file))

    database = f"t_alerting_{uuid.uuid4().hex[:8]}"
    await _admin(pg_server_url, f"CREATE DATABASE {database}")
    procs: list[subprocess.Popen[bytes]] = []
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
    stack = Stack(
        x,
        slack,
        http,
        f"http://{monitor}",
        f"http://{prometheus}",
        f"http://{alertmanager}",
        time.monotonic(),
        tmp,
        procs,
    )
    try:
        env = cli_env(
            INBOX_MONITOR_DATABASE_URL=with_database(pg_server_url, database),
            INBOX_MONITOR_CONFIG=str(tmp / "monitor.toml"),
            ACME_X_BEARER=ACME["token"],
            GLOBEX_X_BEARER=GLOBEX["token"],
        )
        monitor_proc = start_cli("run", env=env, log=tmp / "monitor.log")
        procs.append(monitor_proc)
        procs.append(
            _spawn(
                [
                    "prometheus-alertmanager",
                    f"--config.file={tmp / 'alertmanager.yml'}",
                    f"--storage.path={tmp / 'am-data'}",
                    f"--web.listen-address={alertmanager}",
                    "--cluster.listen-address=",
                ],
                tmp / "alertmanager.log",
            )
        )
        procs.append(
            _spawn(
                [
                    "prometheus",
                    f"--config.file={tmp / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp / 'tsdb'}",
                    f"--web.listen-address={prometheus}",
                ],
                tmp / "prometheus.log",
            )
        )
        await eventually(in_thread(serving(monitor_proc, ports["monitor"])), 30, "inbox-monitor ready")
        await eventually(
            functools.partial(serves, http, f"{stack.alertmanager}/api/v2/status", str(webhook_file)),
            30,
            "alertmanager ready",
        )
        await eventually(
            functools.partial(serves, http, f"{stack.prometheus}/api/v1/status/flags", str(tmp / "prometheus.yml")),
            30,
            "prometheus ready",
        )
        yield stack
    except BaseException:
        print(stack.log_tail())
        raise
    finally:
        for proc in reversed(procs):
            await asyncio.to_thread(_stop, proc)
        await http.close()
        await slack.stop()
        await x.stop()
        await _admin(pg_server_url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def links(message: SlackMessage) -> dict[str, str]:
    """Slack `<url|label>` links of a message, by label."""
    text = "\n".join(a.get("text", "") for a in message.payload.get("attachments", []))
    return {label: url for url, label in re.findall(r"<([^|>]+)\|([^>]+)>", text)}


async def test_an_unanswered_question_reaches_slack_grows_then_resolves(stack: Stack) -> None:
    created = time.time()
    question = stack.x.add_tweet(
        CUSTOMER[0], "@acme my order never arrived, can you check?", created, mentions=[ACME["user_id"]]
    )
    deadline = created + SLA_SECONDS

    # Firing: within 60 s of the deadline, from the critical route (group brand/account).
    firing = await eventually(
        lambda: stack.messages("SocialInboxQuestionUnanswered", "FIRING"),
        deadline - time.time() + 60,
        "a Slack message for the unanswered question",
    )
    late = time.time() - deadline
    assert 0 <= late < 60, late
    message = firing[0]
    assert message.field("title") == f"1 question to @acme on X unanswered past its {SLA_SECONDS} s target"
    assert message.field("fallback") == message.field("title")
    assert message.field("color") == "danger"
    assert message.field("footer") == "SocialInboxQuestionUnanswered · critical"
    text = message.field("text")
    waited = re.fullmatch(r"Oldest waiting (\d+) (s|min) · brand acme · account acme-x\n.*\n", text, flags=re.DOTALL)
    assert waited, text  # rounded by the rules: "7 s", never "6.83s"; a 24/7 policy: no business hours
    assert SLA_SECONDS <= int(waited[1]) * (60 if waited[2] == "min" else 1) <= SLA_SECONDS + 60
    assert "globex" not in message.text

    urls = links(message)
    assert set(urls) == {"Open the oldest question", "Dashboard", "Runbook"}
    assert urls["Open the oldest question"] == f"{stack.monitor}/go/oldest?account=acme-x&breached=1"
    assert urls["Dashboard"] == f"{GRAFANA}/d/inbox-live?var-brand=acme&var-account=acme-x"
    assert urls["Runbook"].endswith("/deploy/prometheus/runbook.md#socialinboxquestionunanswered")
    assert message.field("title_link") == urls["Dashboard"]
    # The post link leads to the customer's tweet.
    async with stack.http.get(urls["Open the oldest question"], allow_redirects=False) as r:
        assert r.status == 302
        assert r.headers["Location"].endswith(f"/{question}")

    # Two more questions breach: the count reaches the next step, and Slack hears it at once
    # (not at the hourly reminder), with the new count.
    more = [
        stack.x.add_tweet(
            CUSTOMER[0], f"@acme and my second order #{n}, where is it?", time.time(), mentions=[ACME["user_id"]]
        )
        for n in (2, 3)
    ]
    grown = await eventually(
        lambda: [
            m
            for m in stack.messages("SocialInboxQuestionUnanswered", "FIRING")
            if re.fullmatch(
                rf"[23] questions to @acme on X unanswered past their {SLA_SECONDS} s target", m.field("title")
            )
        ],
        SLA_SECONDS + 60,
        "a new Slack message with the grown count",
    )
    assert grown[0].field("text").count("Oldest waiting") == 1  # the steps of the count show as one alert
    assert len(stack.messages("SocialInboxQuestionUnanswered", "FIRING")) <= 3  # 1, then 2 and/or 3

    # The brand replies to all three: the waits close and Slack hears that it is resolved.
    replied = time.time()
    for tweet in (question, *more):
        stack.x.add_tweet(
            ACME["user_id"],
            f"@{CUSTOMER[1]} Hi, we're looking into it and will follow up by DM.",
            replied,
            mentions=[CUSTOMER[0]],
            reply_to=tweet,
        )
    resolved = await eventually(
        lambda: stack.messages("SocialInboxQuestionUnanswered", "RESOLVED"), 60, "the resolved message"
    )
    message = resolved[0]
    assert message.field("title") == "Resolved: no question to @acme on X is waiting past its target"
    lasted = re.fullmatch(r"Lasted (\d+) (s|min)\.\n", message.field("text"))
    assert lasted, message.field("text")  # from the first breach to the last answer
    assert 0 < int(lasted[1]) * (60 if lasted[2] == "min" else 1) <= time.time() - deadline + 30
    print(
        f"unanswered: Slack {late:.1f}s after the deadline; grown: {grown[0].field('title')!r}; "
        f"resolved {time.time() - replied:.1f}s after the replies, lasted {lasted[1]} {lasted[2]}"
    )


async def test_an_api_failing_with_500s_alerts_for_that_account_only(stack: Stack) -> None:
    firing = await eventually(
        lambda: stack.messages("SocialInboxPollerFailing", "FIRING"),
        150 - (time.monotonic() - stack.started),
        "SocialInboxPollerFailing in Slack",
    )
    print(f"poller failing: Slack {time.monotonic() - stack.started:.1f}s after the stack started")
    for message in firing:
        assert "globex-x" in message.text and "acme-x" not in message.text, message.text
    attachment = firing[0].payload["attachments"][0]
    assert re.fullmatch(
        r"An account's stream has not been polled successfully for 15 minutes — brand globex, x account globex-x, "
        r"stream x\.(mentions|replies)",
        attachment["title"],
    ), attachment["title"]
    assert attachment["footer"] == "SocialInboxPollerFailing · critical"
    assert re.search(
        r"No poll of x\.(mentions|replies) for globex-x \(x, brand globex\) has succeeded in the last "
        r"15 minutes \(failed polls: api_error \d+\); last success: none since inbox-monitor started\.",
        attachment["text"],
    ), attachment["text"]
    assert f"{GRAFANA}/d/inbox-pipeline?var-brand=globex&var-account=globex-x" in attachment["text"]

    # In Alertmanager and Prometheus alike: globex-x's streams, and nobody else.
    alerts = await stack.get_json(
        f"{stack.alertmanager}/api/v2/alerts?filter=alertname%3D%22SocialInboxPollerFailing%22"
    )
    assert alerts and {(a["labels"]["account"], a["labels"]["severity"]) for a in alerts} == {("globex-x", "critical")}
    assert {a["labels"]["stream"] for a in alerts} <= {"x.mentions", "x.replies"}
    rules = await stack.get_json(f"{stack.prometheus}/api/v1/alerts")
    accounts = {
        a["labels"].get("account")
        for a in rules["data"]["alerts"]
        if a["labels"]["alertname"] == "SocialInboxPollerFailing"
    }
    assert accounts == {"globex-x"}
    # acme-x is polled fine all along, and inbox-monitor is not reported down.
    async with stack.http.get(f"{stack.monitor}/metrics") as r:
        metrics = await r.text()
    ok = re.search(
        r'social_inbox_poll_total\{brand="acme",channel="x",account="acme-x",stream="x.mentions",'
        r'result="ok"\} ([0-9.e+]+)',
        metrics,
    )
    assert ok and float(ok[1]) > 10, ok
    assert not stack.messages("SocialInboxMonitorDown")
    assert not stack.messages("SocialInboxAPITokenInvalid")


async def test_one_process_down_of_several_mutes_nothing_and_none_left_mutes_everything(tmp_path: Path) -> None:
    """The inhibitions of deploy/prometheus/alertmanager.yml in a real Alertmanager, with alerts
    posted as Prometheus posts them: SocialInboxMonitorDown of one process lets the question
    alerts through; SocialInboxNoHealthyMonitor (no process left) mutes them and reaches no one."""
    slack = FakeSlack()
    await slack.start()
    webhook_file = tmp_path / "slack-webhook-url"
    webhook_file.write_text(slack.hook_url() + "\n")
    (tmp_path / "alertmanager.yml").write_text(alertmanager_config(webhook_file=webhook_file))
    address = f"127.0.0.1:{free_port()}"
    base = f"http://{address}"
    proc = _spawn(
        [
            "prometheus-alertmanager",
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address={address}",
            "--cluster.listen-address=",
        ],
        tmp_path / "alertmanager.log",
    )
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))

    def alert(name: str, severity: str, **labels: str) -> dict[str, Any]:
        return {
            "labels": {"alertname": name, "severity": severity, **labels},
            "annotations": {"summary": name},
            "generatorURL": "http://prometheus.test/graph",
        }

    async def post(*alerts: dict[str, Any]) -> None:
        async with http.post(f"{base}/api/v2/alerts", json=list(alerts)) as r:
            assert r.status == 200, await r.text()

    async def states() -> dict[tuple[str, str], tuple[str, bool, set[str]]]:
        """(alertname, account or instance) -> (state, inhibited, receivers)."""
        async with http.get(f"{base}/api/v2/alerts") as r:
            found = await r.json()
        return {
            (a["labels"]["alertname"], a["labels"].get("account") or a["labels"].get("instance", "")): (
                a["status"]["state"],
                bool(a["status"]["inhibitedBy"]),
                {x["name"] for x in a["receivers"]},
            )
            for a in found
        }

    def titles() -> list[str]:
        """Each message's title and footer (the alert names)."""
        return [f"{m.field('title')} {m.field('footer')}" for m in slack.messages]

    acme = alert("SocialInboxQuestionUnanswered", "critical", brand="acme", channel="x", account="acme-x")
    try:
        await eventually(functools.partial(_ready, http, f"{base}/-/ready"), 30, "alertmanager ready")
        # m1 is down; m2 goes on and reports acme-x's breached question: on-call hears both.
        await post(alert("SocialInboxMonitorDown", "critical", job="inbox-monitor", instance="m1:9464"), acme)
        await eventually(
            lambda: (
                any("SocialInboxQuestionUnanswered" in t and "acme-x" in t for t in titles())
                and any("SocialInboxMonitorDown" in t for t in titles())
            ),
            30,
            "the question alert and the down process in Slack",
        )
        now = await states()
        assert now[("SocialInboxQuestionUnanswered", "acme-x")] == ("active", False, {"slack-oncall"})

        # No process left: the question alerts (old and new) are muted, the page about the down
        # process is not, and the inhibiting alert itself goes to the null receiver.
        globex = alert("SocialInboxQuestionAtRisk", "warning", brand="globex", channel="x", account="globex-x")
        await post(
            alert("SocialInboxNoHealthyMonitor", "none"),
            acme,
            globex,
            alert("SocialInboxMonitorDown", "critical", job="inbox-monitor", instance="m2:9464"),
        )

        async def muted() -> dict[tuple[str, str], tuple[str, bool, set[str]]] | None:
            now = await states()
            return (
                now
                if now.get(("SocialInboxQuestionAtRisk", "globex-x"), ("", False))[1]
                and now[("SocialInboxQuestionUnanswered", "acme-x")][1]
                else None
            )

        now = await eventually(muted, 30, "the question alerts to be inhibited")
        assert now[("SocialInboxQuestionUnanswered", "acme-x")][0] == "suppressed"
        assert now[("SocialInboxQuestionAtRisk", "globex-x")] == ("suppressed", True, {"slack-team"})
        assert now[("SocialInboxMonitorDown", "m2:9464")] == ("active", False, {"slack-oncall"})
        assert now[("SocialInboxNoHealthyMonitor", "")] == ("active", False, {"null"})
        # m2's page reaches Slack (its group, the two down processes, flushes as globex's would):
        # globex's warning and the null-routed alert never do.
        # Two alerts in one message: the second shows its own headline (here its summary) in bold.
        await eventually(
            lambda: any(
                m.field("footer").startswith("SocialInboxMonitorDown") and "*SocialInboxMonitorDown*" in m.field("text")
                for m in slack.messages
            ),
            30,
            "m2's page in Slack",
        )
        assert not any("globex" in t or "SocialInboxNoHealthyMonitor" in t for t in titles()), titles()
    finally:
        await asyncio.to_thread(_stop, proc)
        await http.close()
        await slack.stop()
