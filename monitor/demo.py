"""`inbox-monitor demo`: the real monitor against local fake X and Graph APIs, with live traffic.

What runs is production code: `monitor.app.run` with its pollers, engine, deadline schedule,
PostgreSQL and `/metrics`. Only the outside world is simulated:
the local X API and Graph API (`monitor.simulator`) serve French and English customers' messages
that `monitor.simulator.traffic` plans, and the accounts' `api_base_url` points at them. Tokens are
put in the process environment (the Page token as a `_FILE`, as a mounted secret would be).

Time: everything carries real UTC timestamps (the engine measures waits and breaches on the real
clock). `--speed S` compresses the *story*: S simulated seconds pass per real second, so reply
delays, poll intervals, the poller's credentials retry and the SLA targets are all divided by S.
At the default speed 60 one real second is one simulated minute: the 30-minute X target becomes
30 s and the first breaches come within a minute.

The token story: at simulated minute 45 the Facebook Page token expires (the Graph API answers
error 190): the Page's streams, and its Instagram account's, show `credentials_rejected`. At
minute 75 the token is rotated -
the new one is written to the file `$DEMO_FACEBOOK_PAGE_TOKEN_FILE` names - and the streams
recover at their next retry, without a restart: the Facebook source re-reads its secret at every
call.

Data: each run has a directory of its own (`monitor.demo_runs`) with its embedded PostgreSQL (unless
$INBOX_MONITOR_DATABASE_URL or `--config` names a database) and its configuration, which the
commands run after it read when given none; `--keep` goes on with the last run's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import aiohttp
import asyncpg
from prometheus_client.parser import text_string_to_metric_families

from monitor import demo_runs, logs
from monitor.app import Running, run
from monitor.config import Config, DatabaseConfig, XAccount, parse
from monitor.domain.changes import IngestResult
from monitor.domain.model import CHANNELS
from monitor.poller import PollTarget
from monitor.reports.build import scope_figures
from monitor.reports.i18n import Words
from monitor.reports.model import Figures
from monitor.simulator.graph_api import FakeGraphApi
from monitor.simulator.instagram import FakeInstagram
from monitor.simulator.net import free_port
from monitor.simulator.slack import FakeSlack
from monitor.simulator.traffic import HOUR, MINUTE, PUBLIC_QUESTIONS, REPLIES, Lang, TrafficPlayer
from monitor.simulator.x_api import FakeXApi, UserKeys
from monitor.sources.base import Batch
from monitor.sources.x import subscriptions
from monitor.store.reports import ReportStore
from monitor.store.store import Store

log = logging.getLogger(__name__)

BRAND = "demo-shop"
X_ACCOUNT, FB_ACCOUNT, IG_ACCOUNT = "demo-shop-x", "demo-shop-facebook", "demo-shop-instagram"
X_USER_ID, X_HANDLE, PAGE_ID = "1900000000000000001", "demoshop", "190000000000001"
IG_USER_ID = "17841400190000001"
"""The Instagram professional account linked to the demo Page (read with the Page's token)."""
POLICY = "demo"

# SLA targets in simulated time: 30 minutes on X in public (what good brands promise), 1 hour on
# Facebook comments and in private messages; next responses twice that.
STORY_TARGETS = {
    ("public", "first"): 30 * MINUTE,
    ("public", "next"): HOUR,
    ("private", "first"): HOUR,
    ("private", "next"): 2 * HOUR,
}
FACEBOOK_PUBLIC = {"first": HOUR, "next": 2 * HOUR}
STORY_POLL_INTERVAL = 2 * MINUTE
STORY_CREDENTIALS_RETRY = 5 * MINUTE
"""The poller's production retry after a rejected token (`Poller.credentials_retry`)."""


@dataclass(frozen=True)
class DemoPeer:
    """A competitor on the fake X API: a question every `every` story seconds, `share` of them
    answered `delay` later (docs/peers.md; what `inbox-monitor report` compares the brand with)."""

    handle: str
    user_id: str
    share: float
    delay: float
    every: float
    daily_reads: int = 3000

    def answered(self, i: int) -> bool:
        """Exactly `share` of every run of questions, spread evenly."""
        return math.floor((i + 1) * self.share) > math.floor(i * self.share)


PEERS = (
    DemoPeer("globex", "1900000000000000002", share=0.8, delay=20 * MINUTE, every=4 * MINUTE),
    DemoPeer("initech", "1900000000000000003", share=0.3, delay=5 * HOUR, every=6 * MINUTE),
)
"""One peer answering 80 % within 20 minutes, one 30 % within 5 hours."""
PEER_HISTORY = 6 * HOUR
"""The peers' traffic starts this long before the story: recent search reads back 7 days, so the
first polls show both peers' answers, the 5-hour ones included."""
TOKEN_EXPIRES_AT = 45 * MINUTE
TOKEN_ROTATED_AT = 75 * MINUTE
LOOKAHEAD = 15 * MINUTE
"""Traffic is loaded into the fakes this far ahead of the story's present (they reveal it on time)."""

ENV = {
    "bearer": "DEMO_X_BEARER_TOKEN",
    "consumer_key": "DEMO_X_CONSUMER_KEY",
    "consumer_secret": "DEMO_X_CONSUMER_SECRET",
    "access_token": "DEMO_X_ACCESS_TOKEN",
    "access_token_secret": "DEMO_X_ACCESS_TOKEN_SECRET",
    "page_token": "DEMO_FACEBOOK_PAGE_TOKEN",
    "app_secret": "DEMO_FACEBOOK_APP_SECRET",
}
PROMETHEUS_BINARIES = ("prometheus", "prometheus-alertmanager")
DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "prometheus"


class DemoError(Exception):
    """The demo cannot run as asked (a missing binary, a changed deploy file)."""


@dataclass(frozen=True)
class DemoOptions:
    speed: float = 60.0
    seed: int = 1
    listen: str = "127.0.0.1:9464"
    with_prometheus: bool = False
    database: DatabaseConfig | None = None
    """None: $INBOX_MONITOR_DATABASE_URL when set, else an embedded PostgreSQL in the run's directory."""
    keep: bool = False
    """Go on with the last run's directory (and data) instead of a new one."""
    plain: bool | None = None
    """Plain periodic lines instead of the live view (None: when stdout is not a terminal)."""


def seconds_text(seconds: float) -> str:
    """12.3 -> '12s', 95 -> '1m35s', 4000 -> '1h06m'."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


DEMO_ROSTER = [
    {"name": "Camille Martin", "signatures": ["CM"], "team": "care"},
    {"name": "Hugo Bernard", "signatures": ["Hugo"], "team": "care"},
    {"name": "Léa Blanc", "signatures": ["LB"], "team": "social"},
]
"""Who signs the demo's replies (monitor/simulator/traffic/texts.py, SIGNATURES); "Jeh" is not
listed: her replies show under "(no team)" (docs/agents.md)."""


def demo_config(
    *, speed: float, listen: str, x_url: str, graph_url: str, database: DatabaseConfig, environ: dict[str, str]
) -> Config:
    """The demo's configuration: one brand, an X account, a Facebook Page and its Instagram account on
    the fakes."""
    data = demo_config_data(speed=speed, listen=listen, x_url=x_url, graph_url=graph_url, database=database)
    return parse(data, "<demo configuration>", environ)


def demo_config_data(
    *, speed: float, listen: str, x_url: str, graph_url: str, database: DatabaseConfig
) -> dict[str, Any]:
    """`demo_config` as the TOML document's data."""

    def real(story: float) -> str:
        return f"{story / speed:.6g}s"

    poll = real(max(STORY_POLL_INTERVAL, speed))  # at least a second between polls
    data: dict[str, Any] = {
        "database": database.model_dump(exclude_none=True, mode="json"),
        "server": {"listen": listen, "snapshot_interval": poll},
        "policies": {
            POLICY: {
                "public": {k: real(STORY_TARGETS[("public", k)]) for k in ("first", "next")},
                "private": {k: real(STORY_TARGETS[("private", k)]) for k in ("first", "next")},
                "channels": [
                    {"channel": "facebook", "kind": "public", **{k: real(v) for k, v in FACEBOOK_PUBLIC.items()}}
                ],
                "business_hours_only": False,
            }
        },
        "brands": [
            {
                "name": BRAND,
                "accounts": [
                    {
                        "name": X_ACCOUNT,
                        "channel": "x",
                        "user_id": X_USER_ID,
                        "handle": X_HANDLE,
                        "policy": POLICY,
                        "api_base_url": x_url,
                        "poll_interval": poll,
                        "bearer_token_env": ENV["bearer"],
                        "dm": True,
                        "consumer_key_env": ENV["consumer_key"],
                        "consumer_secret_env": ENV["consumer_secret"],
                        "access_token_env": ENV["access_token"],
                        "access_token_secret_env": ENV["access_token_secret"],
                        "x_activity": {"mode": "stream"},  # its events make it poll at once
                    },
                    {
                        "name": FB_ACCOUNT,
                        "channel": "facebook",
                        "page_id": PAGE_ID,
                        "handle": "Demo Shop",
                        "policy": POLICY,
                        "api_base_url": graph_url,
                        "poll_interval": poll,
                        "page_token_env": ENV["page_token"],
                        "app_secret_env": ENV["app_secret"],
                    },
                    {
                        "name": IG_ACCOUNT,
                        "channel": "instagram",
                        "ig_user_id": IG_USER_ID,
                        "page_id": PAGE_ID,
                        "handle": X_HANDLE,
                        "policy": POLICY,
                        "api_base_url": graph_url,
                        "poll_interval": poll,
                        "page_token_env": ENV["page_token"],
                        "app_secret_env": ENV["app_secret"],
                    },
                ],
                "peers": [
                    {"handle": p.handle, "user_id": p.user_id, "daily_reads": p.daily_reads, "poll_interval": poll}
                    for p in PEERS
                ],
            }
        ],
        "agents": DEMO_ROSTER,
    }
    return data


def demo_database(configured: DatabaseConfig | None, run: demo_runs.DemoRun) -> DatabaseConfig:
    """The database given, else $INBOX_MONITOR_DATABASE_URL's, else an embedded one in the run's directory."""
    if configured is not None:
        return configured
    default = DatabaseConfig()
    return default if default.url() is not None else DatabaseConfig(data_dir=run.pgdata)


class _RunGraphApi(FakeGraphApi):
    """The fake Graph API with ids unique across demo runs (`--keep`, or a configured database,
    keeps several runs in one database)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._run_ids = itertools.count(int(time.time() * 1000))

    def _new_id(self) -> int:
        return next(self._run_ids)


# ----------------------------------------------------------------------------------------------
# What the view shows
# ----------------------------------------------------------------------------------------------


@dataclass
class AccountFigures:
    """One account as /metrics shows it, with its streams' states from the poller."""

    channel: str
    opened: float = 0.0
    answered: float = 0.0
    breached: float = 0.0
    open: float = 0.0
    at_risk: float = 0.0
    open_breached: float = 0.0
    oldest: float = 0.0
    streams: dict[str, str] = field(default_factory=dict)
    responses: list[tuple[str, float]] = field(default_factory=list)
    """(thread kind, seconds) of the waits answered during this run."""


def read_metrics(text: str) -> dict[str, AccountFigures]:
    """Per-account figures from a /metrics exposition (Prometheus text format)."""
    out: dict[str, AccountFigures] = {}
    names = {
        "social_inbox_waits_opened_total": "opened",
        "social_inbox_waits_answered_total": "answered",
        "social_inbox_waits_breached_total": "breached",
        "social_inbox_open_waits": "open",
        "social_inbox_open_waits_at_risk": "at_risk",
        "social_inbox_open_waits_breached": "open_breached",
    }
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            account = sample.labels.get("account")
            if account is None or "channel" not in sample.labels:
                continue
            figures = out.setdefault(account, AccountFigures(sample.labels["channel"]))
            if sample.name in names:
                attr = names[sample.name]
                setattr(figures, attr, getattr(figures, attr) + sample.value)
            elif sample.name == "social_inbox_oldest_open_wait_seconds":
                figures.oldest = max(figures.oldest, sample.value)
    return out


FIGURES_EVERY = 2.0
"""Seconds between two reads of the summary figures from PostgreSQL while the demo runs: the
report's own queries, a few milliseconds on a demo's data; the view redraws four times a second."""
EVERYTHING = datetime(1970, 1, 1, tzinfo=UTC)
"""The summary counts every wait in the demo's data, as a report of any period holding it does."""
DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)
WORDS = Words("en")
"""Shares and durations written as the report writes them (1 decimal: 75.0%)."""


@dataclass(frozen=True)
class SummaryFigures:
    """The demo's figures as of an instant: what `inbox-monitor report` says of the same waits
    (the same queries and definitions, docs/definitions.md), per account and in total."""

    as_of: datetime
    accounts: list[tuple[str, str, Figures]]
    """(account, channel, figures), by account name."""
    total: Figures


async def read_figures(pool: asyncpg.Pool, *, as_of: datetime) -> SummaryFigures:
    """The demo brand's figures as of `as_of`, every wait opened before it."""
    store = ReportStore(pool)
    accounts = await store.accounts([BRAND])
    by_scope = await scope_figures(store, [a["id"] for a in accounts], EVERYTHING, as_of, as_of=as_of)
    return SummaryFigures(
        as_of,
        [(a["name"], a["channel"], by_scope.get((BRAND, a["channel"], a["name"]), Figures())) for a in accounts],
        by_scope.get((None, None, None), Figures()),
    )


@dataclass
class Event:
    seq: int
    at: float
    """Seconds since the demo started."""
    kind: str
    """question, answer, breach, token, alert, log."""
    text: str


class DemoView:
    """Collects what the demo shows: /metrics each second, the poller's events, breaches, logs."""

    def __init__(
        self,
        *,
        speed: float,
        started: float,
        player: TrafficPlayer,
        listen: str,
        data_dir: str,
        targets: dict[tuple[str, str, str], float],
    ) -> None:
        self.speed, self.started, self.player, self.listen = speed, started, player, listen
        self.data_dir = data_dir
        self.targets = targets
        """(channel, thread kind, wait kind) -> target in real seconds."""
        self.accounts: dict[str, AccountFigures] = {}
        self.events: deque[Event] = deque(maxlen=14)
        self.running: Running | None = None
        self.figures: SummaryFigures | None = None
        """The latest figures read from PostgreSQL (`read_figures`)."""
        self.scrape_error: str | None = None
        self.alerts = 0
        self.seq = 0
        self.listeners: list[Callable[[Event], None]] = []
        """Called with each event as it is added (the plain output prints them all; `events` keeps the last few)."""

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def story(self, seconds: float) -> str:
        return seconds_text(seconds * self.speed)

    def add(self, kind: str, text: str) -> Event:
        self.seq += 1
        event = Event(self.seq, self.elapsed, kind, text)
        self.events.append(event)
        for listener in self.listeners:
            listener(event)
        return event

    # -- hooks into the running monitor (PollObserver, breach callback, log handler) -------------

    def attach(self, running: Running) -> None:
        self.running = running
        running.poller.observers.append(self)
        previous = running.scheduler.on_breach

        def on_breach(rows: list[asyncpg.Record]) -> None:
            previous(rows)
            self.breached(rows)

        running.scheduler.on_breach = on_breach

    def _account(self, account_id: int) -> tuple[str, str]:
        assert self.running is not None
        ctx = self.running.engine.accounts[account_id]
        return ctx.name, ctx.channel

    def _text(self, message: str | None) -> str:
        known = self.player.played.texts.get(message or "")
        if known is None:
            return ""
        exchange, text = known
        return f"({exchange.lang}) {text[:60]}"

    def poll_done(
        self, target: PollTarget, result: str, seconds: float, batch: Batch | None, ingest: IngestResult | None
    ) -> None:
        if ingest is None or self.running is None or target.account_id not in self.running.engine.accounts:
            return  # nothing stored, or a peer's stream: peers are never in the inbox's story
        for e in ingest.opened:
            name, _ = self._account(e.account_id)
            self.add("question", f"{name} {e.thread_kind} question {self._text(e.message)}")
        for e in ingest.answered:
            name, _ = self._account(e.account_id)
            wall = e.wall_seconds or 0.0
            self.add(
                "answer",
                f"{name} answered a {e.kind} {e.thread_kind} wait in {seconds_text(wall)} "
                f"(≈ {self.story(wall)} simulated)",
            )

    def breached(self, rows: Iterable[asyncpg.Record]) -> None:
        for row in rows:
            name, channel = self._account(row["account_id"])
            target = self.targets.get((channel, row["thread_kind"], row["kind"]), 0.0)
            self.add(
                "breach",
                f"{name} SLA BREACHED: {row['kind']} {row['thread_kind']} question unanswered "
                f"after {seconds_text(target)} {self._text(row['opened_message'])}",
            )

    async def scrape(self, session: aiohttp.ClientSession) -> None:
        try:
            async with session.get(f"http://{self.listen}/metrics", timeout=aiohttp.ClientTimeout(total=2)) as r:
                text = await r.text()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.scrape_error = f"{type(exc).__name__}: {exc}"
            return
        self.scrape_error = None
        figures = read_metrics(text)
        if self.running is not None:
            for (account, stream), health in self.running.poller.health.items():
                if account in figures:
                    figures[account].streams[stream] = health.status
        self.accounts = figures

    # -- rendering -------------------------------------------------------------------------------

    def totals(self) -> dict[str, float]:
        keys = ("opened", "answered", "breached", "open", "at_risk", "open_breached")
        return {k: sum(getattr(a, k) for a in self.accounts.values()) for k in keys}

    def figure_rows(self) -> list[tuple[str, str, Figures]]:
        """(account, channel, figures) of the latest figures, then ("total", "", figures)."""
        if self.figures is None:
            return []
        return [*self.figures.accounts, ("total", "", self.figures.total)]

    def line(self) -> str:
        """The periodic line of the plain view."""
        t = self.totals()
        streams = ", ".join(
            f"{name}/{stream.split('.')[-1]} {status}"
            for name, a in sorted(self.accounts.items())
            for stream, status in sorted(a.streams.items())
            if status != "ok"
        )
        return (
            f"[{seconds_text(self.elapsed):>6} | simulated {self.story(self.elapsed):>6}] "
            f"waits opened {t['opened']:.0f}, answered {t['answered']:.0f}, breached {t['breached']:.0f}; "
            f"open now {t['open']:.0f} (at risk {t['at_risk']:.0f}, past SLA {t['open_breached']:.0f})"
            + (f"; within SLA {WORDS.percent(self.figures.total.within_sla_share)}" if self.figures else "")
            + (f"; streams not ok: {streams}" if streams else "; all streams ok")
            + (f"; /metrics unreachable: {self.scrape_error}" if self.scrape_error else "")
        )

    def summary(self) -> list[str]:
        """Plain-text summary lines (the end of a run): the figures `inbox-monitor report` gives
        for the same waits as of the same instant."""
        if self.figures is None:
            return ["(no figures: PostgreSQL could not be read)"]
        out = [
            (
                f"Figures as of {self.figures.as_of:%Y-%m-%d %H:%M:%S} UTC, every wait in the demo's data "
                "(the report's definitions: docs/definitions.md; times in wall time, ≈ simulated):"
            ),
            (
                f"{'account':<20} {'channel':<9} {'questions':>9} {'waits':>6} {'answered':>8} "
                f"{'response rate':>13} {'within SLA':>10} {'breaches':>8}  {'median first response':<22} "
                "p90 first response"
            ),
        ]
        for name, channel, f in self.figure_rows():
            out.append(
                f"{name:<20} {channel:<9} {f.questions:>9} {f.waits_opened:>6} {f.answered:>8} "
                f"{WORDS.percent(f.response_rate):>13} {WORDS.percent(f.within_sla_share):>10} {f.breaches:>8}  "
                f"{self.duration(f.median_first_seconds):<22} {self.duration(f.p90_first_seconds)}"
            )
        out.append(
            f"The same figures: inbox-monitor report --as-of {self.figures.as_of:%Y-%m-%dT%H:%M:%SZ} "
            "(a report made later counts the questions whose deadline has passed since as breached)."
        )
        return out

    def duration(self, seconds: float | None) -> str:
        """`1m05s (≈ 1h05m)`: real seconds and their simulated equivalent; – when there is none."""
        return "–" if seconds is None else f"{seconds_text(seconds)} (≈ {self.story(seconds)})"

    def renderable(self) -> Any:
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        header = Text.assemble(
            ("inbox-monitor demo", "bold"),
            f"  ×{self.speed:g} (1 s = {self.story(1)} simulated)  running {seconds_text(self.elapsed)}"
            f"  simulated {self.story(self.elapsed)}  ",
            (f"http://{self.listen}/metrics", "cyan"),
        )
        accounts = Table(title="Questions and waits (from /metrics)", expand=True)
        for col in (
            "account",
            "streams",
            "waits",
            "answered",
            "breached",
            "open",
            "at risk",
            "past SLA",
            "oldest open",
        ):
            accounts.add_column(col, justify="left" if col in ("account", "streams") else "right")
        for name, a in sorted(self.accounts.items()):
            streams = Text()
            for stream, status in sorted(a.streams.items()):
                style = "green" if status == "ok" else "yellow" if status == "new" else "bold red"
                streams.append(f"{stream.split('.')[-1]}:{status} ", style=style)
            accounts.add_row(
                f"{name} ({a.channel})",
                streams,
                f"{a.opened:.0f}",
                f"{a.answered:.0f}",
                Text(f"{a.breached:.0f}", style="red" if a.breached else ""),
                f"{a.open:.0f}",
                Text(f"{a.at_risk:.0f}", style="yellow" if a.at_risk else ""),
                Text(f"{a.open_breached:.0f}", style="bold red" if a.open_breached else ""),
                f"{seconds_text(a.oldest)} (≈ {self.story(a.oldest)})" if a.open else "-",
            )
        as_of = f" as of {self.figures.as_of:%H:%M:%S} UTC" if self.figures else ""
        responses = Table(
            title=f"SLA figures{as_of}, as the report computes them (wall time; ≈ simulated)", expand=True
        )
        for col in ("account", "waits", "answered", "response rate", "within SLA", "breaches", "median first", "p90"):
            responses.add_column(col, justify="left" if col == "account" else "right")
        for name, _, f in self.figure_rows():
            within = f.within_sla_share
            responses.add_row(
                name,
                str(f.waits_opened),
                str(f.answered),
                WORDS.percent(f.response_rate),
                Text(WORDS.percent(within), style="green" if within is not None and within >= 0.9 else "yellow"),
                Text(str(f.breaches), style="red" if f.breaches else ""),
                self.duration(f.median_first_seconds),
                self.duration(f.p90_first_seconds),
            )
        styles = {
            "breach": "bold red",
            "token": "bold magenta",
            "alert": "bold cyan",
            "log": "yellow",
            "answer": "green",
            "question": "",
        }
        events = Text()
        for e in self.events:
            events.append(f"{seconds_text(e.at):>6}  {e.text}\n", style=styles.get(e.kind, ""))
        footer = Text(
            f"Data: {self.data_dir} (this run's own; with --keep, open waits of earlier runs stay open: "
            "nobody answers them any more).\nCtrl-C stops; then `inbox-monitor report` makes a PDF of it.",
            style="dim",
        )
        if self.scrape_error:
            footer.append(f"\n/metrics unreachable: {self.scrape_error}", style="red")
        return Group(header, accounts, responses, Panel(events, title="Events"), footer)


class _ViewLogHandler(logging.Handler):
    """Warnings and errors of the monitor, shown in the view's events instead of on stderr."""

    def __init__(self, view: DemoView) -> None:
        super().__init__(logging.WARNING)
        self.view = view

    def emit(self, record: logging.LogRecord) -> None:
        extra = " ".join(f"{k}={v}" for k, v in vars(record).items() if k in ("account", "stream", "status", "error"))
        self.view.add("log", logs.redact(f"{record.levelname.lower()}: {record.getMessage()} {extra}"[:160]))


# ----------------------------------------------------------------------------------------------
# Prometheus and Alertmanager (--with-prometheus)
# ----------------------------------------------------------------------------------------------


def _check_free(listen: str) -> None:
    """DemoError when HOST:PORT cannot be listened on (another inbox-monitor is there, say)."""
    host, _, port = listen.rpartition(":")
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is fine
        try:
            s.bind((host or "0.0.0.0", int(port)))
        except OSError as exc:
            raise DemoError(
                f"cannot listen on {listen} ({exc.strerror}): is another inbox-monitor running? "
                "Choose another address with --listen HOST:PORT"
            ) from None


def prometheus_available() -> bool:
    return all(shutil.which(b) for b in PROMETHEUS_BINARIES)


def alertmanager_config(text: str, *, slack_url_file: Path, templates: Path, group_wait: str) -> str:
    """The project's alertmanager.yml with the Slack URL file, template path and group wait of the
    demo; DemoError when the file no longer has what is replaced."""
    replacements = [
        ("/etc/alertmanager/secrets/slack-webhook-url", str(slack_url_file)),
        ("templates/*.tmpl", str(templates / "*.tmpl")),
        ("group_wait: 30s", f"group_wait: {group_wait}"),
    ]
    for old, new in replacements:
        if old not in text:
            raise DemoError(f"deploy/prometheus/alertmanager.yml no longer contains {old!r}: update monitor/demo.py")
        text = text.replace(old, new)
    return text


def external_labels(prometheus_yml: str) -> dict[str, str]:
    """The `global.external_labels` of the project's prometheus.yml (the alerts' link bases)."""
    labels: dict[str, str] = {}
    indent: int | None = None
    for line in prometheus_yml.splitlines():
        stripped = line.strip()
        if stripped.startswith("external_labels:"):
            indent = len(line) - len(line.lstrip())
            continue
        if indent is None or not stripped or stripped.startswith("#"):
            continue
        if len(line) - len(line.lstrip()) <= indent:
            break
        key, _, value = stripped.partition(":")
        labels[key.strip()] = value.strip().strip("'\"")
    if not labels:
        raise DemoError("deploy/prometheus/prometheus.yml has no global.external_labels: update monitor/demo.py")
    return labels


def prometheus_config(*, listen: str, alertmanager: str, rules: Path, interval: str, labels: dict[str, str]) -> str:
    """A Prometheus configuration scraping the demo and evaluating the project's rules (JSON is YAML)."""
    labels = {**labels, "inbox_monitor_url": f"http://{listen}"}
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "external_labels": labels},
        "rule_files": [str(rules / "*.yml")],
        "alerting": {
            "alert_relabel_configs": [{"action": "labeldrop", "regex": "|".join(sorted(labels))}],
            "alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}],
        },
        "scrape_configs": [{"job_name": "inbox-monitor", "static_configs": [{"targets": [listen]}]}],
    }
    return json.dumps(config, indent=2)


class PrometheusStack:
    """Prometheus with the project's rules and Alertmanager with its Slack routes, on loopback,
    sending to a local fake Slack; stopped with the demo."""

    def __init__(self, *, listen: str, workdir: Path, speed: float) -> None:
        self.listen, self.workdir, self.speed = listen, workdir, speed
        self.slack = FakeSlack()
        self.processes: list[tuple[str, asyncio.subprocess.Process, Path]] = []
        self.prometheus_url = ""
        self.alertmanager_url = ""

    async def start(self) -> None:
        if not prometheus_available():
            raise DemoError(
                f"--with-prometheus needs the {' and '.join(PROMETHEUS_BINARIES)} binaries "
                "(Debian: apt-get install prometheus prometheus-alertmanager)"
            )
        if not (DEPLOY / "rules").is_dir():
            raise DemoError(f"--with-prometheus needs the project's rules in {DEPLOY} (a source checkout)")
        await self.slack.start()
        url_file = self.workdir / "slack-webhook-url"
        url_file.write_text(self.slack.hook_url() + "\n", encoding="utf-8")
        am_port, prom_port = free_port(), free_port()
        self.alertmanager_url, self.prometheus_url = f"http://127.0.0.1:{am_port}", f"http://127.0.0.1:{prom_port}"
        am_config = self.workdir / "alertmanager.yml"
        am_config.write_text(
            alertmanager_config(
                (DEPLOY / "alertmanager.yml").read_text(encoding="utf-8"),
                slack_url_file=url_file,
                templates=DEPLOY / "templates",
                group_wait="5s",
            ),
            encoding="utf-8",
        )
        prom_config = self.workdir / "prometheus.yml"
        interval = f"{max(1, min(15, round(60 / self.speed)))}s"
        labels = external_labels((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
        prom_config.write_text(
            prometheus_config(
                listen=self.listen,
                alertmanager=f"127.0.0.1:{am_port}",
                rules=DEPLOY / "rules",
                interval=interval,
                labels=labels,
            ),
            encoding="utf-8",
        )
        await self._spawn(
            "alertmanager",
            [
                "prometheus-alertmanager",
                f"--config.file={am_config}",
                f"--storage.path={self.workdir / 'am'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
        )
        await self._spawn(
            "prometheus",
            [
                "prometheus",
                f"--config.file={prom_config}",
                f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--log.level=warn",
            ],
        )
        await self._ready("alertmanager", f"{self.alertmanager_url}/-/ready")
        await self._ready("prometheus", f"{self.prometheus_url}/-/ready")

    async def _spawn(self, name: str, argv: list[str]) -> None:
        output = self.workdir / f"{name}.log"
        with output.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                *argv, stdout=out, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL
            )
        self.processes.append((name, process, output))

    async def _ready(self, name: str, url: str, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        process, output = next((p, o) for n, p, o in self.processes if n == name)
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if process.returncode is not None:
                    break
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.2)
        tail = output.read_text(encoding="utf-8", errors="replace")[-1500:]
        raise DemoError(f"{name} did not become ready within {within:.0f}s:\n{tail}")

    async def stop(self) -> None:
        for _, process, _ in reversed(self.processes):
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), timeout=10)
                except TimeoutError:
                    process.kill()
                    await process.wait()
        await self.slack.stop()


def slack_summary(payload: dict[str, Any]) -> str:
    """The title (or text) of an Alertmanager Slack message, on one line."""
    attachments = payload.get("attachments") or [{}]
    title = attachments[0].get("title") or payload.get("text") or json.dumps(payload)[:120]
    return " ".join(str(title).split())


# ----------------------------------------------------------------------------------------------
# The demo
# ----------------------------------------------------------------------------------------------


PRINTED_KINDS = frozenset({"breach", "token", "alert"})
"""The events the plain output prints as lines (questions and answers only show in the figures)."""


class _Output:
    """The live view on a terminal, or plain lines every few seconds."""

    def __init__(self, view: DemoView, out: IO[str], plain: bool) -> None:
        self.view, self.out, self.plain = view, out, plain
        self._live: Any = None
        self._handler: _ViewLogHandler | None = None
        self._saved_handlers: list[logging.Handler] = []
        self._pending: list[Event] = []
        """Events to print as lines (plain output): kept here, since `view.events` only holds the last few."""
        self._last_line = 0.0

    def _keep(self, event: Event) -> None:
        if event.kind in PRINTED_KINDS:
            self._pending.append(event)

    def __enter__(self) -> _Output:
        if self.plain:
            self.view.listeners.append(self._keep)
        else:
            from rich.console import Console
            from rich.live import Live

            root = logging.getLogger()
            self._saved_handlers = root.handlers[:]
            self._handler = _ViewLogHandler(self.view)
            root.handlers[:] = [self._handler]
            self._live = Live(
                self.view.renderable(),
                console=Console(file=self.out),
                refresh_per_second=4,
                redirect_stderr=False,
                redirect_stdout=False,
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._keep in self.view.listeners:
            self.view.listeners.remove(self._keep)
        if self._live is not None:
            self._live.update(self.view.renderable())
            self._live.__exit__(None, None, None)
            logging.getLogger().handlers[:] = self._saved_handlers

    def print(self, text: str) -> None:
        if self._live is not None:
            self._live.console.print(text, highlight=False, markup=False)
        else:
            print(text, file=self.out, flush=True)

    def refresh(self, *, force_line: bool = False) -> None:
        if self._live is not None:
            self._live.update(self.view.renderable())
            return
        pending, self._pending = self._pending, []
        for e in pending:
            print(f"[{seconds_text(e.at):>6}] {e.text}", file=self.out, flush=True)
        if force_line or self.view.elapsed - self._last_line >= 5:
            self._last_line = self.view.elapsed
            print(self.view.line(), file=self.out, flush=True)


async def run_demo(options: DemoOptions, stop: asyncio.Event, *, out: IO[str] = sys.stdout) -> DemoView:
    """Run the demo until `stop` is set; the view holds the last figures."""
    speed = options.speed
    _check_free(options.listen)
    demo_run, previous = demo_runs.choose(keep=options.keep, now=datetime.now(UTC))
    workdir = Path(tempfile.mkdtemp(prefix="inbox-monitor-demo-"))
    environ = os.environ
    x_api = FakeXApi(window_seconds=900.0 / speed, seed=options.seed)
    graph = _RunGraphApi(app_secret=secrets.token_hex(16))
    tokens = {
        "bearer": secrets.token_urlsafe(24),
        "consumer_key": secrets.token_urlsafe(12),
        "consumer_secret": secrets.token_urlsafe(24),
        "access_token": f"{X_USER_ID}-{secrets.token_urlsafe(16)}",
        "access_token_secret": secrets.token_urlsafe(24),
        "page_token": secrets.token_urlsafe(32),
        "app_secret": graph.app_secret or "",
    }
    for value in tokens.values():
        logs.register_secret(value)
    stack = contextlib.AsyncExitStack()
    async with stack:
        stack.callback(shutil.rmtree, workdir, True)
        await stack.enter_async_context(x_api)
        await stack.enter_async_context(graph)
        x_api.add_bearer_token(tokens["bearer"])
        x_api.add_user_keys(
            UserKeys(
                X_USER_ID,
                tokens["consumer_key"],
                tokens["consumer_secret"],
                tokens["access_token"],
                tokens["access_token_secret"],
            )
        )
        graph.add_page(PAGE_ID, token=tokens["page_token"], name="Demo Shop")
        instagram = FakeInstagram(graph)
        instagram.add_account(PAGE_ID, username=X_HANDLE, ig_user_id=IG_USER_ID)
        token_file = workdir / "facebook-page-token"
        token_file.write_text(tokens["page_token"] + "\n", encoding="utf-8")
        for key, name in ENV.items():
            if key != "page_token":
                environ[name] = tokens[key]
        environ.pop(ENV["page_token"], None)
        environ[f"{ENV['page_token']}_FILE"] = str(token_file)

        data = demo_config_data(
            speed=speed,
            listen=options.listen,
            x_url=x_api.base_url,
            graph_url=graph.url,
            database=demo_database(options.database, demo_run),
        )
        config = parse(data, "<demo configuration>", dict(environ))
        for _, account in config.accounts():  # as `inbox-monitor x-activity subscribe` makes them
            if isinstance(account, XAccount) and account.activity_mode() != "off":
                for kind in subscriptions.wanted(account):
                    x_api.activity.subscribe(kind, account.user_id, subscriptions.TAG)
        demo_runs.save_config(
            demo_run,
            demo_runs.saved_config(data),
            f"Written by `inbox-monitor demo` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC (speed {speed:g}, seed "
            f"{options.seed}):\nits brand, accounts, policies (targets in real seconds) and database. The "
            "commands given no\nconfiguration read the last demo's. Its fake APIs stopped with it: the "
            'accounts are source = "demo"\nhere, read without credentials.',
        )
        targets: dict[tuple[str, str, str], float] = {
            (ch, thread, kind): config.policy(POLICY).targets_for(ch, thread).for_kind(kind)
            for ch in CHANNELS
            for thread in ("public", "private")
            for kind in ("first", "next")
        }
        origin = datetime.now(UTC)
        player = TrafficPlayer(
            seed=options.seed,
            speed=speed,
            origin=origin,
            x=x_api,
            graph=graph,
            x_user_id=X_USER_ID,
            x_handle=X_HANDLE,
            page_id=PAGE_ID,
            salt=secrets.token_hex(4),
            instagram=instagram,
            ig_user_id=IG_USER_ID,
        )
        player.advance(LOOKAHEAD)
        data_dir = "the configured PostgreSQL" if config.database.url() else str(config.database.embedded_dir())
        view = DemoView(
            speed=speed,
            started=time.monotonic(),
            player=player,
            listen=options.listen,
            data_dir=data_dir,
            targets=targets,
        )
        plain = options.plain if options.plain is not None else not out.isatty()
        output = stack.enter_context(_Output(view, out, plain))
        output.print(
            f"inbox-monitor demo: speed ×{speed:g} (1 s = {view.story(1)} simulated), seed {options.seed}; "
            f"fake X API {x_api.base_url}, fake Graph API {graph.url}; /metrics on http://{options.listen}; "
            f"data in {data_dir}"
        )
        output.print(
            f"SLA targets (real seconds): X public {targets[('x', 'public', 'first')]:g}s, "
            f"Facebook comments {targets[('facebook', 'public', 'first')]:g}s, "
            f"DMs and Messenger {targets[('x', 'private', 'first')]:g}s (first responses). "
            f"The Facebook token expires at {seconds_text(TOKEN_EXPIRES_AT / speed)} and is rotated "
            f"at {seconds_text(TOKEN_ROTATED_AT / speed)}."
        )
        prometheus: PrometheusStack | None = None
        if options.with_prometheus:
            prometheus = PrometheusStack(listen=options.listen, workdir=workdir, speed=speed)
            stack.push_async_callback(prometheus.stop)
            await prometheus.start()
            output.print(
                f"Prometheus {prometheus.prometheus_url} (the project's rules), Alertmanager "
                f"{prometheus.alertmanager_url} -> fake Slack {prometheus.slack.url}"
            )

        tasks: list[asyncio.Task[None]] = []

        async def started(running: Running) -> None:
            demo_runs.make_latest(demo_run)  # its data is there: the commands after it read this run's
            tasks.append(asyncio.create_task(_remove_old_runs([demo_run, previous]), name="demo-runs"))
            running.poller.credentials_retry = STORY_CREDENTIALS_RETRY / speed
            view.attach(running)
            tasks.append(asyncio.create_task(_traffic(player, stop), name="demo-traffic"))
            tasks.append(asyncio.create_task(_peer_traffic(player, x_api, stop), name="demo-peers"))
            tasks.append(asyncio.create_task(_token_story(player, graph, token_file, view, stop), name="demo-token"))
            tasks.append(asyncio.create_task(_refresh(view, output, stop), name="demo-view"))
            tasks.append(asyncio.create_task(_figures(view, running.engine.store.pool, stop), name="demo-figures"))
            if prometheus is not None:
                tasks.append(asyncio.create_task(_alerts(prometheus.slack, view, output), name="demo-alerts"))

        async def stopped(store: Store) -> None:
            """Once the monitor has stopped, its store still open: the demo's last figures."""
            if not tasks:  # it never got as far as running (the error goes on up)
                return
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            view.figures = await _final_figures(store, view.figures)

        try:
            await run(config, stop, started=started, stopped=stopped)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        output.refresh(force_line=True)
    for line in view.summary():
        print(line, file=out, flush=True)
    print(
        f"\nThe data stays in {data_dir}. Make an SLA report of it: inbox-monitor report "
        "(PDF; --format html|csv|json): given no --config, the commands read the last demo's "
        f"configuration ({demo_run.config_path}). The next demo starts afresh; --keep goes on with this one.",
        file=out,
        flush=True,
    )
    return view


async def _remove_old_runs(keep: list[demo_runs.DemoRun | None]) -> None:
    """Remove the demo runs before `keep` (this one and the one before it), off the event loop."""
    await asyncio.to_thread(demo_runs.remove_old, keep)


async def _traffic(player: TrafficPlayer, stop: asyncio.Event) -> None:
    """Keep the fakes loaded `LOOKAHEAD` of story time ahead of now."""
    while not stop.is_set():
        player.advance(player.story(datetime.now(UTC)) + LOOKAHEAD)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


async def _peer_traffic(player: TrafficPlayer, x_api: FakeXApi, stop: asyncio.Event) -> None:
    """Keep the peers' questions and replies loaded `LOOKAHEAD` of story time ahead of now, from
    `PEER_HISTORY` before the story's start."""
    loaded = dict.fromkeys(range(len(PEERS)), 0)
    for p in PEERS:
        x_api.add_user(p.user_id, p.handle)
    while not stop.is_set():
        until = player.story(datetime.now(UTC)) + LOOKAHEAD
        for k, p in enumerate(PEERS):
            while (loaded[k] + 1) * p.every - PEER_HISTORY < until:
                i = loaded[k]
                loaded[k] += 1
                customer, handle = str(1950000000000000000 + 1000 * k + i), f"client_{k}_{i}"
                x_api.add_user(customer, handle)
                lang: Lang = "fr" if i % 2 else "en"
                asked = player.real((i + 1) * p.every - PEER_HISTORY)
                question = PUBLIC_QUESTIONS[lang][i % len(PUBLIC_QUESTIONS[lang])]
                qid = x_api.add_tweet(customer, f"@{p.handle} {question}", asked, mentions=[p.user_id])
                if p.answered(i):
                    reply = REPLIES[lang][i % len(REPLIES[lang])]
                    at = asked + timedelta(seconds=p.delay / player.speed)
                    x_api.add_tweet(p.user_id, f"@{handle} {reply}", at, mentions=[customer], reply_to=qid)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


async def _at_story(player: TrafficPlayer, story: float, stop: asyncio.Event) -> bool:
    """Wait until story time `story`; False if the demo stopped first."""
    delay = (player.real(story) - datetime.now(UTC)).total_seconds()
    if delay > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
    return not stop.is_set()


async def _token_story(
    player: TrafficPlayer, graph: FakeGraphApi, token_file: Path, view: DemoView, stop: asyncio.Event
) -> None:
    """The Page token expires, then a new one is written to the token file (no restart)."""
    if not await _at_story(player, TOKEN_EXPIRES_AT, stop):
        return
    graph.expire_token(PAGE_ID)
    view.add(
        "token",
        f"{FB_ACCOUNT}: the Page access token expired (Graph API error 190): its streams "
        "will show credentials_rejected",
    )
    if not await _at_story(player, TOKEN_ROTATED_AT, stop):
        return
    token = secrets.token_urlsafe(32)
    logs.register_secret(token)
    graph.set_token(PAGE_ID, token)
    fresh = token_file.with_suffix(".new")
    fresh.write_text(token + "\n", encoding="utf-8")
    fresh.replace(token_file)
    view.add(
        "token",
        f"{FB_ACCOUNT}: a new Page token was written to ${ENV['page_token']}_FILE; the streams "
        f"recover at their next retry (within {seconds_text(STORY_CREDENTIALS_RETRY / view.speed)}), "
        "without a restart",
    )


async def _refresh(view: DemoView, output: _Output, stop: asyncio.Event) -> None:
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            await view.scrape(session)
            output.refresh()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)


async def _figures(view: DemoView, pool: asyncpg.Pool, stop: asyncio.Event) -> None:
    """Read the summary figures every FIGURES_EVERY seconds while the demo runs."""
    while not stop.is_set():
        try:
            view.figures = await read_figures(pool, as_of=datetime.now(UTC))
        except DATABASE_ERRORS as exc:  # the view keeps the last figures; the monitor logs the outage
            log.debug("demo figures not read: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=FIGURES_EVERY)


async def _final_figures(store: Store, last: SummaryFigures | None) -> SummaryFigures | None:
    """The figures once every poll has stopped: nothing changes them any more, so a report of
    the same data as of the same instant gives exactly these (`last` if PostgreSQL is away)."""
    try:
        # A whole second, so that `report --as-of` with the instant printed gives the same figures.
        return await read_figures(store.pool, as_of=datetime.now(UTC).replace(microsecond=0))
    except DATABASE_ERRORS as exc:
        log.warning("the demo's final figures could not be read: %s", exc)
        return last


async def _alerts(slack: FakeSlack, view: DemoView, output: _Output) -> None:
    """Show each message Alertmanager sends to the (fake) Slack webhook."""
    shown = 0
    while True:
        slack.received.clear()
        for message in slack.messages[shown:]:
            view.alerts += 1
            view.add("alert", f"Slack ← Alertmanager: {slack_summary(message.payload)}")
        shown = len(slack.messages)
        output.refresh()
        await slack.received.wait()
