"""Freshness (issue 12): how soon /metrics shows what happened on the API, measured end to end.

Usage: python bench/bench_freshness.py [--poll 5] [--accounts 20] [--questions 150] [--breach-accounts 5]
                                       [--breach-questions 50] [--target 10] [--window 90] [--scrape 0.05]
                                       [--snapshot S] [--webhooks] [--stream] [--seed 1]

One `inbox-monitor run` process (PostgreSQL: $BENCH_DATABASE_URL or a throw-away embedded one) polls
X accounts on the fake X API (monitor/simulator/x_api.py) every `--poll` seconds, with its default
snapshot interval unless `--snapshot` is given. Customers post questions (each a new mention, so
each opens a wait of its own) at random instants over `--window` seconds, so at random phases
relative to the polls; nobody answers. Meanwhile /metrics is scraped every `--scrape` seconds and
parsed; per account the bench knows how many questions it posted, so the first scrape at which a
series reaches N is when the N-th question (deadline) became visible.

  question -> visible: from a question's created_at (the instant the fake starts serving it) to
    (a) social_inbox_waits_opened_total{account, kind="first"} counting it, and
    (b) social_inbox_open_waits{account, kind="first"} showing it;
    `--accounts` accounts with a long target (no breach). Target: p99 <= poll interval + 2 s.
  deadline -> breach counted: `--breach-accounts` more accounts whose policy has a round-the-clock
    first-response target of `--target` seconds; from each wait's deadline (created_at + target)
    to social_inbox_waits_breached_total counting it. Target: <= 2 s.

With `--webhooks`, X also delivers each question to /webhooks/x (a signed Account Activity
delivery, as X sends it, right after the fake starts serving the tweet): the stream polls at once,
whatever `--poll` says. Target then: p99 <= 2 s.

With `--stream`, every account is on the X Activity API's persistent stream (subscriptions made on
the fake as `inbox-monitor x-activity subscribe` makes them): the fake announces each question on
the stream as it starts serving it, and the event makes the stream poll at once. Target (issue 19,
with `--poll 600`): p99 <= 1 s.

A figure is the time at which the first scrape showing the change had been read: an upper bound,
too high by at most the scrape resolution reported next to it (the time between the start of the
scrape before it and the end of it). For context the bench also splits (a) into question -> fetched
(the fake's record of the first poll that returned it) and fetched -> counted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import math
import random
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from common import database_url, report, start_monitor, x_account
from prometheus_client.parser import text_string_to_metric_families

from monitor.simulator.net import free_port
from monitor.simulator.traffic import PUBLIC_QUESTIONS, mixed
from monitor.simulator.x_api import MENTIONS, TWEETS, FakeXApi

OPENED = "social_inbox_waits_opened_total"
OPEN = "social_inbox_open_waits"
BREACHED = "social_inbox_waits_breached_total"
POLLS = "social_inbox_poll_total"


WEBHOOK_SECRET = "bench-consumer-secret"


def config(
    port: int,
    api: str,
    poll: float,
    visible: list[str],
    breach: list[str],
    target: int,
    snapshot: float | None,
    webhooks: bool = False,
    stream: bool = False,
) -> str:
    server = f'listen = "127.0.0.1:{port}"\n' + (f'snapshot_interval = "{snapshot:g}s"\n' if snapshot else "")
    if webhooks:
        server += '[server.webhooks]\nx_consumer_secret_env = "X_WEBHOOK_SECRET"\n'
    head = f"""
[server]
{server}
[policies.default]
public = {{ first = "1h", next = "2h" }}
private = {{ first = "1h", next = "2h" }}
business_hours_only = false
[policies.short]
public = {{ first = "{target}s", next = "{target}s" }}
private = {{ first = "{target}s", next = "{target}s" }}
business_hours_only = false
[[brands]]
name = "fresh"
"""
    return head + "".join(
        x_account(name, user_id(name), api, poll, "short" if name in breach else "default", stream=stream)
        for name in visible + breach
    )


def user_id(name: str) -> str:
    kind, number = name.split("-")
    return str((20_000 if kind == "late" else 10_000) + int(number))


def quantiles(values: list[float]) -> str:
    """p50 / p99 / max (nearest rank), in seconds."""
    if not values:
        return "no sample"
    s = sorted(values)

    def rank(p: float) -> float:
        return s[max(0, math.ceil(p * len(s)) - 1)]

    return f"{rank(0.5):.2f} / {rank(0.99):.2f} / {s[-1]:.2f} s (n={len(s)})"


@dataclass
class Series:
    """One account's series of interest, and when each count was first seen."""

    value: float = 0.0
    seen: list[float] = field(default_factory=list)
    """seen[k]: end of the first scrape at which the series was > k."""

    def update(self, value: float, at: float) -> None:
        while len(self.seen) < value:
            self.seen.append(at)
        self.value = value


@dataclass
class Watch:
    """What the scrapes saw."""

    series: dict[tuple[str, str], Series] = field(default_factory=dict)
    resolution: list[float] = field(default_factory=list)
    failures: int = 0

    def get(self, name: str, account: str) -> Series:
        return self.series.setdefault((name, account), Series())


async def scrape(session: aiohttp.ClientSession, url: str) -> dict[tuple[str, str], float]:
    """{(sample name, account): value} of the kind="first" wait series, and of the mentions polls."""
    async with session.get(url) as response:
        text = await response.text()
    wanted = (OPENED, OPEN, BREACHED, POLLS)
    # Parse only the families of interest (the rest is process and pipeline state).
    lines = [line for line in text.splitlines() if any(name.removesuffix("_total") in line for name in wanted)]
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families("\n".join(lines) + "\n"):
        for s in family.samples:
            first_waits = s.name in (OPENED, OPEN, BREACHED) and s.labels.get("kind") == "first"
            mention_polls = (
                s.name == POLLS and s.labels.get("stream") == "x.mentions" and s.labels.get("result") == "ok"
            )
            if first_waits or mention_polls:
                out[(s.name, s.labels["account"])] = s.value
    return out


async def watch(session: aiohttp.ClientSession, url: str, period: float, state: Watch, stop: asyncio.Event) -> None:
    previous_start: float | None = None
    while not stop.is_set():
        start = time.time()
        try:
            values = await scrape(session, url)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
            state.failures += 1
            values = None
        end = time.time()
        if values is not None:
            for (name, account), value in values.items():
                state.get(name, account).update(value, end)
            if previous_start is not None:
                state.resolution.append(end - previous_start)
            previous_start = start
        await asyncio.sleep(max(0.0, period - (time.time() - start)))  # the scrape period, not a wait


async def until(condition: object, timeout: float, what: str, proc: asyncio.subprocess.Process) -> None:  # noqa: ASYNC109 - the deadline is the loop's own
    """Wait for `condition()` (a coroutine function or a function) with a deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"inbox-monitor exited with status {proc.returncode} while waiting for {what}")
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            value = condition()  # type: ignore[operator]
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass(frozen=True)
class Posted:
    account: str
    tweet_id: int
    at: float


async def post(
    api: FakeXApi,
    plan: list[tuple[float, str]],
    origin: float,
    rng: random.Random,
    out: list[Posted],
    deliver: Callable[[str, int], Awaitable[None]] | None = None,
) -> None:
    """Post each planned question at its instant (offset from `origin`), created at the moment it is
    posted; with `deliver`, X's webhook delivery follows each one."""
    pending: set[asyncio.Task[None]] = set()
    for n, (offset, account) in enumerate(plan):
        await asyncio.sleep(max(0.0, origin + offset - time.time()))  # the posting schedule
        customer = str(50_000_000 + n)
        api.add_user(customer, f"customer{n}")
        at = round(time.time(), 3)  # the wire format has milliseconds
        text = f"@brand{user_id(account)} {rng.choice(mixed(PUBLIC_QUESTIONS))}"
        tid = api.add_tweet(customer, text, at, mentions=[user_id(account)])
        out.append(Posted(account, tid, at))
        if deliver is not None:
            task = asyncio.create_task(deliver(user_id(account), tid))
            pending.add(task)
            task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)


def delivery(user: str, tweet: int) -> tuple[bytes, dict[str, str]]:
    """An Account Activity delivery of one mention, signed as X signs it."""
    body = json.dumps({"for_user_id": user, "tweet_create_events": [{"id_str": str(tweet)}]}).encode()
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()
    return body, {
        "Content-Type": "application/json",
        "x-twitter-webhooks-signature": "sha256=" + base64.b64encode(digest).decode(),
    }


async def run(args: argparse.Namespace, url: str) -> list[tuple[str, str]]:
    rng = random.Random(args.seed)
    visible = [f"acc-{i:03d}" for i in range(args.accounts)]
    breach = [f"late-{i:03d}" for i in range(args.breach_accounts)]
    async with FakeXApi(limits={MENTIONS: 10**9, TWEETS: 10**9}) as api:
        base = api.url
        api.add_bearer_token("tok")
        for name in visible + breach:
            api.add_user(user_id(name), f"brand{user_id(name)}")
            if args.stream:  # as `inbox-monitor x-activity subscribe` makes them
                for kind in ("post.mention.create", "post.reply.create", "post.create"):
                    api.activity.subscribe(kind, user_id(name), "inbox-monitor")
        port = free_port()
        data = Path(tempfile.mkdtemp(prefix="imfresh-"))
        cfg = data / "bench.toml"
        cfg.write_text(
            config(port, base, args.poll, visible, breach, args.target, args.snapshot, args.webhooks, args.stream)
        )
        log = data / "run.log"
        proc = await start_monitor(cfg, url, log, X_WEBHOOK_SECRET=WEBHOOK_SECRET)
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        state = Watch()
        stop = asyncio.Event()
        posted: list[Posted] = []
        timeout = aiohttp.ClientTimeout(total=5)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:

                async def ready() -> bool:
                    async with session.get(f"http://127.0.0.1:{port}/readyz") as r:
                        return r.status == 200

                await until(ready, 120, "/readyz", proc)
                watcher = asyncio.create_task(watch(session, metrics_url, args.scrape, state, stop))
                # Every account has polled its mentions once (the first polls are spread over a tenth of a poll).
                await until(
                    lambda: all(state.get(POLLS, a).value >= 1 for a in visible + breach),
                    60,
                    "a first poll of every account",
                    proc,
                )
                if args.stream:
                    await until(lambda: api.activity.open_streams >= 1, 60, "the X Activity stream open", proc)
                plan = sorted(
                    [(rng.uniform(0, args.window), rng.choice(visible)) for _ in range(args.questions)]
                    + [(rng.uniform(0, args.window), rng.choice(breach)) for _ in range(args.breach_questions)]
                )
                print(f"posting {len(plan)} questions over {args.window:g} s", flush=True)

                async def deliver(user: str, tweet: int) -> None:
                    body, headers = delivery(user, tweet)
                    async with session.post(f"http://127.0.0.1:{port}/webhooks/x", data=body, headers=headers) as r:
                        if r.status != 200 or (await r.json()).get("status") != "ok":  # not rate_limited either
                            raise RuntimeError(f"the webhook answered {r.status}: {await r.text()}")

                await post(api, plan, time.time() + 1.0, rng, posted, deliver if args.webhooks else None)
                expected: dict[str, int] = {}
                for p in posted:
                    expected[p.account] = expected.get(p.account, 0) + 1

                def complete() -> bool:
                    return all(
                        state.get(OPENED, a).value >= expected.get(a, 0)
                        and state.get(OPEN, a).value >= expected.get(a, 0)
                        for a in visible
                    ) and all(state.get(BREACHED, a).value >= expected.get(a, 0) for a in breach)

                snapshot = args.snapshot or 10.0
                tail = 30 + 3 * args.poll + 2 * snapshot + args.target
                try:
                    await until(complete, tail, "every question and breach in /metrics", proc)
                except TimeoutError as exc:
                    print(exc, flush=True)
                stop.set()
                await watcher
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), timeout=60)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()

    fetched: dict[str, float] = {}
    for r in api.requests_to(MENTIONS):
        for i in r.ids:
            fetched.setdefault(i, r.at)
    by_account: dict[str, list[Posted]] = {}
    for p in posted:
        by_account.setdefault(p.account, []).append(p)
    counted, shown, to_fetch, fetch_to_count, breached = [], [], [], [], []
    missing = {"opened": 0, "open": 0, "breached": 0}
    for account, items in by_account.items():
        items.sort(key=lambda p: p.at)
        if account in breach:
            seen = state.get(BREACHED, account).seen
            for k, p in enumerate(items):
                if k < len(seen):
                    breached.append(seen[k] - (p.at + args.target))
                else:
                    missing["breached"] += 1
            continue
        opened, open_ = state.get(OPENED, account).seen, state.get(OPEN, account).seen
        for k, p in enumerate(items):
            if k < len(opened):
                counted.append(opened[k] - p.at)
                if str(p.tweet_id) in fetched:
                    to_fetch.append(fetched[str(p.tweet_id)] - p.at)
                    fetch_to_count.append(opened[k] - fetched[str(p.tweet_id)])
            else:
                missing["opened"] += 1
            if k < len(open_):
                shown.append(open_[k] - p.at)
            else:
                missing["open"] += 1
    text = log.read_text(errors="replace")
    errors = sum(1 for line in text.splitlines() if "level=error" in line or "Traceback" in line)
    asked = sum(1 for p in posted if p.account not in breach)
    snap = f"{args.snapshot:g} s" if args.snapshot else "the default (10 s)"
    goal = 1.0 if args.stream else 2.0 if args.webhooks else args.poll + 2
    limit = "1 s (stream)" if args.stream else "2 s (webhooks)" if args.webhooks else "poll interval + 2 s"
    hooks = ", a webhook delivery per question" if args.webhooks else ""
    if args.stream:
        hooks = (
            f", the X Activity stream ({api.activity.connections} connection(s), {len(api.activity.delivered)} events)"
        )

    def verdict(values: list[float], limit: float, lost: int) -> str:
        if not values:
            return "no sample"
        p99 = sorted(values)[max(0, math.ceil(0.99 * len(values)) - 1)]
        ok = p99 <= limit and lost == 0
        return f"{'yes' if ok else 'NO'} (p99 {p99:.2f} s, limit {limit:g} s{f', {lost} never seen' if lost else ''})"

    res = state.resolution
    resolution = f"{sorted(res)[len(res) // 2] * 1000:.0f} / {max(res) * 1000:.0f} ms" if res else "no scrape"
    return [
        (
            "setup",
            (
                f"poll every {args.poll:g} s (±10 % jitter){hooks}, snapshot_interval {snap}; {asked} questions to "
                f"{args.accounts} accounts and {len(posted) - asked} unanswered ones to {args.breach_accounts} "
                f"accounts with a {args.target} s round-the-clock target, posted at random over {args.window:g} s"
            ),
        ),
        ("(a) question → counted in waits_opened_total: p50 / p99 / max (upper bound)", quantiles(counted)),
        ("(a) of which question → fetched by a poll of the fake: p50 / p99 / max", quantiles(to_fetch)),
        ("(a) of which fetched → counted: p50 / p99 / max (upper bound)", quantiles(fetch_to_count)),
        (f"(a) p99 ≤ {limit}", verdict(counted, goal, missing["opened"])),
        ("(b) question → shown in open_waits: p50 / p99 / max (upper bound)", quantiles(shown)),
        (f"(b) p99 ≤ {limit}", verdict(shown, goal, missing["open"])),
        ("deadline → counted in waits_breached_total: p50 / p99 / max (upper bound)", quantiles(breached)),
        ("deadline → counted: p99 ≤ 2 s", verdict(breached, 2.0, missing["breached"])),
        (
            (
                f"scrape every {args.scrape * 1000:g} ms: resolution (figures above are upper bounds by at most this), "
                "median / max"
            ),
            resolution,
        ),
        ("failed scrapes / error lines in the monitor's log", f"{state.failures} / {errors}"),
    ]


def main() -> list[tuple[str, str]]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--poll", type=float, default=5.0, help="poll interval of every account (s)")
    parser.add_argument("--accounts", type=int, default=20, help="accounts for question -> visible")
    parser.add_argument("--questions", type=int, default=150, help="questions to those accounts")
    parser.add_argument("--breach-accounts", type=int, default=5, help="accounts for deadline -> breach counted")
    parser.add_argument("--breach-questions", type=int, default=50, help="unanswered questions to those accounts")
    parser.add_argument("--target", type=int, default=10, help="their first-response target (s)")
    parser.add_argument("--window", type=float, default=90.0, help="questions are posted over this many seconds")
    parser.add_argument("--scrape", type=float, default=0.05, help="scrape period of /metrics (s)")
    parser.add_argument(
        "--snapshot", type=float, default=None, help="server.snapshot_interval (s); default: the app's default"
    )
    parser.add_argument(
        "--webhooks", action="store_true", help="X delivers each question to /webhooks/x too (the stream polls at once)"
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="every account on the X Activity API's persistent stream (its events make the stream poll at once)",
    )
    parser.add_argument("--seed", type=int, default=1)
    args, _ = parser.parse_known_args()
    if args.target < 1.1 * args.poll + 1 and not (args.webhooks or args.stream):
        print(
            f"note: a target of {args.target} s is shorter than a poll interval (+10 % jitter) and an ingest: "
            "some waits are stored after their deadline and counted late by design",
            flush=True,
        )
    with database_url() as url:
        return report(asyncio.run(run(args, url)))


if __name__ == "__main__":
    main()
