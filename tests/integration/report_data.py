"""A scripted dataset for the report tests, and the report's figures computed from the script alone.

The expectations here never read the database nor call the report code: they follow the
methodology from the scripted conversations (when each question was asked and answered), with
a small business-hours calculator of their own.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.config import Config, parse
from monitor.domain.model import Direction, Message, ThreadKind
from monitor.engine import AccountContext, Engine
from monitor.simulator import traffic
from monitor.store.store import AccountRow, Store

TZ = "Europe/Paris"
PARIS = ZoneInfo(TZ)
# The report's period is ISO week 2026-W10 (2–8 March, no DST change), compared with 2026-W09.
PREVIOUS_START = datetime(2026, 2, 23, tzinfo=PARIS).astimezone(UTC)
START = datetime(2026, 3, 2, tzinfo=PARIS).astimezone(UTC)
END = datetime(2026, 3, 9, tzinfo=PARIS).astimezone(UTC)
AS_OF = datetime(2026, 3, 9, 10, 0, tzinfo=PARIS).astimezone(UTC)
OPEN_HOURS = (time(9), time(18))  # Monday to Friday, Paris time: the "office" policy's calendar

QUESTIONS = {"private": traffic.mixed(traffic.PRIVATE_QUESTIONS), "public": traffic.mixed(traffic.PUBLIC_QUESTIONS)}
PRAISE = traffic.PRAISE["fr"][0]
COURTESY = traffic.COURTESY["fr"][0]
REPLY = traffic.REPLIES["fr"][0]

CONFIG = {
    "policies": {
        "office": {
            "public": {"first": "30m", "next": "1h"},
            "private": {"first": "1h", "next": "2h"},
            "calendar": {"timezone": TZ, "hours": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}},
        },
        "always": {
            "public": {"first": "20m", "next": "40m"},
            "private": {"first": "45m", "next": "90m"},
            "business_hours_only": False,
        },
    },
    "brands": [
        {
            "name": "acme",
            "accounts": [
                {"name": "acme-x", "channel": "x", "user_id": "11", "source": "demo", "policy": "office"},
                {"name": "acme-fb", "channel": "facebook", "page_id": "12", "source": "demo", "policy": "office"},
            ],
        },
        {
            "name": "globex",
            "accounts": [
                {"name": "globex-x", "channel": "x", "user_id": "21", "source": "demo", "policy": "always"},
            ],
        },
    ],
}
ACCOUNTS = {
    "acme-x": ("acme", "x", "office"),
    "acme-fb": ("acme", "facebook", "office"),
    "globex-x": ("globex", "x", "always"),
}
TARGETS = {  # policy -> (thread kind, wait kind) -> seconds
    "office": {
        ("public", "first"): 1800,
        ("public", "next"): 3600,
        ("private", "first"): 3600,
        ("private", "next"): 7200,
    },
    "always": {
        ("public", "first"): 1200,
        ("public", "next"): 2400,
        ("private", "first"): 2700,
        ("private", "next"): 5400,
    },
}


def config() -> Config:
    return parse(CONFIG, environ={})


# --- the script ---------------------------------------------------------------------------------


@dataclass
class ScriptedWait:
    account: str
    thread_kind: str
    kind: str
    opened_at: datetime
    closed_at: datetime | None
    url: str
    customer: str
    questions: int = 1


@dataclass
class Script:
    messages: dict[str, list[Message]] = field(default_factory=dict)
    waits: list[ScriptedWait] = field(default_factory=list)


DELAYS = [90, 240, 600, 1500, 2400, 5400, 4 * 3600, 9 * 3600, 20 * 3600, 3 * 86400]


def script(seed: int = 7, conversations: int = 45) -> Script:
    """Conversations on the three accounts over both weeks (and a little after), seeded."""
    rng = random.Random(seed)
    out = Script()
    span = (AS_OF + timedelta(hours=6) - PREVIOUS_START).total_seconds()
    for account in ACCOUNTS:
        msgs: list[Message] = []
        for n in range(conversations):
            t0 = PREVIOUS_START + timedelta(seconds=int(rng.random() * span))
            customer = f"cust{n:03d}"
            private = account.endswith("-fb") and rng.random() < 0.5
            kind: ThreadKind = "private" if private else "public"
            key = f"{account}:{n}"
            ids = iter(range(100))

            def msg(
                at: datetime,
                direction: Direction,
                text: str,
                key: str = key,
                customer: str = customer,
                kind: ThreadKind = kind,
                ids: Iterable[int] = ids,
                account: str = account,
            ) -> Message:
                ext = f"{key}:{next(iter(ids))}"
                url = f"https://example.com/{account}/{ext}"
                return Message(
                    ext,
                    key,
                    kind,
                    direction,
                    at,
                    text,
                    customer if direction == "inbound" else "brand",
                    customer if direction == "inbound" else None,
                    url,
                )

            if not private and rng.random() < 0.12:  # praise: no wait
                msgs.append(msg(t0, "inbound", PRAISE))
                continue
            at, wait_kind = t0, "first"
            for _ in range(3):  # up to three waits in a thread
                first_q = msg(at, "inbound", rng.choice(QUESTIONS[kind]))
                msgs.append(first_q)
                if rng.random() < 0.2:  # a second question joins the same wait
                    extra = at + timedelta(seconds=rng.randint(30, 600))
                    msgs.append(msg(extra, "inbound", rng.choice(QUESTIONS[kind])))
                    first_answer_after, questions = extra, 2
                else:
                    first_answer_after, questions = at, 1
                closed: datetime | None = None
                if rng.random() < 0.85:
                    closed = first_answer_after + timedelta(seconds=rng.choice(DELAYS) + rng.randint(0, 300))
                    msgs.append(msg(closed, "outbound", REPLY))
                out.waits.append(
                    ScriptedWait(account, kind, wait_kind, at, closed, first_q.url or "", customer, questions)
                )
                if closed is None:
                    break
                if private and rng.random() < 0.5:  # a courtesy after the reply is not a question
                    msgs.append(msg(closed + timedelta(seconds=40), "inbound", COURTESY))
                    break
                if rng.random() < 0.7:
                    break
                at, wait_kind = closed + timedelta(seconds=rng.randint(300, 7200)), "next"
        out.messages[account] = msgs
    # Two edges, scripted by hand: answered after the report's instant; asked in the previous
    # period and answered in this one.
    for account, kind, asked, answered in (
        ("acme-x", "public", datetime(2026, 3, 8, 22, 0, tzinfo=PARIS), datetime(2026, 3, 9, 11, 0, tzinfo=PARIS)),
        ("acme-fb", "private", datetime(2026, 3, 1, 23, 50, tzinfo=PARIS), datetime(2026, 3, 2, 9, 10, tzinfo=PARIS)),
    ):
        key = f"{account}:edge:{asked:%d}"
        url = f"https://example.com/{account}/{key}:q"
        out.messages[account] += [
            Message(f"{key}:q", key, kind, "inbound", asked, QUESTIONS[kind][0], "edge", "edge", url),
            Message(f"{key}:r", key, kind, "outbound", answered, REPLY, "brand", None, url),
        ]
        out.waits.append(
            ScriptedWait(account, kind, "first", asked.astimezone(UTC), answered.astimezone(UTC), url, "edge")
        )
    return out


async def load(store: Store, data: Script, cfg: Config, now: datetime = AS_OF) -> Engine:
    """Register the accounts and ingest the script through the engine (the production path)."""
    ids = await store.sync_accounts(
        AccountRow(a.name, brand, a.channel, "1", None, a.policy) for brand, a in cfg.accounts()
    )
    contexts = {
        ids[a.name]: AccountContext(ids[a.name], a.name, brand, a.channel, cfg.policy(a.policy))
        for brand, a in cfg.accounts()
    }
    engine = Engine(store, contexts, clock=lambda: now)
    for account, msgs in data.messages.items():
        await engine.ingest(ids[account], "script", msgs, None)
    return engine


# --- the expectations ---------------------------------------------------------------------------


def _open_intervals(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Business intervals of the office calendar (UTC) overlapping [start, end)."""
    out = []
    day = start.astimezone(PARIS).date() - timedelta(days=1)
    while datetime.combine(day, time(0), PARIS) < end:
        if day.weekday() < 5:
            a = datetime.combine(day, OPEN_HOURS[0], PARIS).astimezone(UTC)
            b = datetime.combine(day, OPEN_HOURS[1], PARIS).astimezone(UTC)
            lo, hi = max(a, start), min(b, end)
            if lo < hi:
                out.append((lo, hi))
        day += timedelta(days=1)
    return out


def business_seconds(policy: str, start: datetime, end: datetime) -> float:
    if policy == "always":
        return (end - start).total_seconds()
    return sum((b - a).total_seconds() for a, b in _open_intervals(start, end))


def deadline(policy: str, start: datetime, target: float) -> datetime:
    if policy == "always":
        return start + timedelta(seconds=target)
    left = target
    for a, b in _open_intervals(start, start + timedelta(days=30)):
        span = (b - a).total_seconds()
        if span >= left:
            return a + timedelta(seconds=left)
        left -= span
    raise AssertionError("no deadline within 30 days")


def percentile_cont(values: list[float], p: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    if not values:
        return None
    v = sorted(values)
    pos = p * (len(v) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


@dataclass(frozen=True)
class Expected:
    questions: int
    waits_opened: int
    answered: int
    first_waits: int
    first_answered: int
    median_first_seconds: float | None
    p90_first_seconds: float | None
    within_sla: int
    breaches: int


@dataclass(frozen=True)
class Facts:
    """A scripted wait with what the methodology derives from it as of AS_OF."""

    wait: ScriptedWait
    brand: str
    channel: str
    answered: bool
    wall: float | None
    business: float | None
    target: float
    deadline: datetime
    within: bool
    breached: bool


def facts(data: Script, *, start: datetime, end: datetime, as_of: datetime = AS_OF) -> list[Facts]:
    out = []
    for w in data.waits:
        if not (start <= w.opened_at < min(end, as_of)):
            continue
        brand, channel, policy = ACCOUNTS[w.account]
        target = TARGETS[policy][(w.thread_kind, w.kind)]
        due = deadline(policy, w.opened_at, target)
        answered = w.closed_at is not None and w.closed_at <= as_of
        closed = w.closed_at if answered else None
        out.append(
            Facts(
                w,
                brand,
                channel,
                answered,
                (closed - w.opened_at).total_seconds() if closed else None,
                business_seconds(policy, w.opened_at, closed) if closed else None,
                target,
                due,
                within=closed is not None and closed <= due,
                breached=due <= as_of and (w.closed_at is None or w.closed_at > due),
            )
        )
    return out


def expected(
    data: Script,
    *,
    start: datetime,
    end: datetime,
    hours: str,
    brand: str | None = None,
    channel: str | None = None,
    account: str | None = None,
    as_of: datetime = AS_OF,
) -> Expected:
    def keep(a: str) -> bool:
        b, c, _ = ACCOUNTS[a]
        return (brand is None or b == brand) and (channel is None or c == channel) and (account in (None, a))

    fs = [f for f in facts(data, start=start, end=end, as_of=as_of) if keep(f.wait.account)]
    firsts = [f for f in fs if f.wait.kind == "first"]
    times = [(f.business if hours == "business" else f.wall) for f in firsts if f.answered]
    return Expected(
        questions=sum(f.wait.questions for f in fs),
        waits_opened=len(fs),
        answered=sum(f.answered for f in fs),
        first_waits=len(firsts),
        first_answered=len(times),
        median_first_seconds=percentile_cont([t for t in times if t is not None], 0.5),
        p90_first_seconds=percentile_cont([t for t in times if t is not None], 0.9),
        within_sla=sum(f.within for f in fs),
        breaches=sum(f.breached for f in fs),
    )


def local_day(at: datetime) -> date:
    return at.astimezone(PARIS).date()
