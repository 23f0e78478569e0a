"""Built-in demo traffic: customers ask, the brand answers after a while, or never.

The traffic is a pure function of (seed, account, time), so a restart re-reads exactly what it
would have read, and the cursor (an instant) is all the state there is.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from monitor.domain.model import Channel, Message, ThreadKind
from monitor.runtime import Clock, utcnow
from monitor.simulator.traffic.texts import LANGS, PRAISE, PRIVATE_QUESTIONS, PUBLIC_QUESTIONS, REPLIES, signed
from monitor.sources.base import NO_BUDGET, Batch, CheckResult, RateBudget

SLOT_SECONDS = 10.0
MAX_DELAY = timedelta(hours=3)
FIRST_WINDOW = timedelta(minutes=30)


def demo_messages(
    account: str, channel: Channel, seed: int, start: datetime, end: datetime, per_minute: float
) -> list[Message]:
    """Messages with created_at in (start, end] for one demo account."""
    out: list[Message] = []
    first_slot = int((start - MAX_DELAY).timestamp() // SLOT_SECONDS)
    last_slot = int(end.timestamp() // SLOT_SECONDS)
    p = per_minute * SLOT_SECONDS / 60.0
    for slot in range(first_slot, last_slot + 1):
        rng = random.Random(f"{seed}:{account}:{slot}")
        n = int(p) + (1 if rng.random() < p - int(p) else 0)
        for i in range(n):
            out.extend(m for m in _conversation(rng, account, channel, slot, i) if start < m.created_at <= end)
    return out


def _conversation(rng: random.Random, account: str, channel: Channel, slot: int, i: int) -> list[Message]:
    lang = rng.choice(LANGS)
    t0 = datetime.fromtimestamp(slot * SLOT_SECONDS + rng.random() * SLOT_SECONDS, UTC)
    t0 = t0.replace(microsecond=t0.microsecond // 1000 * 1000)
    customer = f"{rng.randrange(10**9):09d}"
    key = f"{slot}-{i}"
    private = channel == "facebook" and rng.random() < 0.5
    praise = not private and rng.random() < 0.2
    questions = PRIVATE_QUESTIONS if private else PUBLIC_QUESTIONS
    text = rng.choice(PRAISE[lang]) if praise else rng.choice(questions[lang])
    kind: ThreadKind = "private" if private else "public"
    thread = f"demo:{key}:{customer}"
    url = f"https://{'x.com/i/web/status' if channel == 'x' else 'facebook.com'}/{account}-{key}"
    msgs = [Message(f"{account}-{key}-q", thread, kind, "inbound", t0, text, customer, f"customer_{customer[:4]}", url)]
    if praise or rng.random() < 0.15:  # some questions are never answered
        return msgs
    delay = timedelta(seconds=min(rng.lognormvariate(6.0, 1.0), MAX_DELAY.total_seconds() - 60))
    msgs.append(
        Message(
            f"{account}-{key}-r",
            thread,
            kind,
            "outbound",
            t0 + delay,
            signed(REPLIES[lang][0], slot + i),
            "brand",
            account,
            url,
        )
    )
    return msgs


class DemoSource:
    """A Source over the demo traffic of one account."""

    stream = "demo"

    def __init__(
        self, account: str, channel: Channel, *, seed: int = 1, per_minute: float = 2.0, clock: Clock = utcnow
    ) -> None:
        self.account = account
        self.channel = channel
        self.seed = seed
        self.per_minute = per_minute
        self.clock = clock

    async def fetch(self, cursor: str | None) -> Batch:
        end = self.clock()
        start = datetime.fromisoformat(cursor) if cursor else end - FIRST_WINDOW
        messages = demo_messages(self.account, self.channel, self.seed, start, end, self.per_minute)
        return Batch(messages, end.isoformat())

    def rate_budget(self) -> RateBudget:
        return NO_BUDGET

    async def check(self) -> CheckResult:
        """Always ok: the traffic is generated here, no API is called."""
        return CheckResult("ok", "demo", "generated traffic, no API called")

    async def close(self) -> None:
        return None
