"""Scripted traffic for the fake APIs: customers post at given times, the brand replies after given
delays or never. Channel-neutral: each fake turns posts into its own objects (tweets, DM events,
comments, Messenger messages), and the script alone says what the waits must be.

`SimClock` runs time faster for the fakes and the code under test alike, so a 15-minute rate
window or a day of traffic passes in seconds of a test.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from monitor.runtime import REAL_TIME

QUESTIONS = (
    "my order never arrived, can you check?",
    "Bonjour, toujours pas de réponse à ma réclamation ?",
    "how do I reset my password?",
    "still waiting for my refund, can someone help me please?",
    "Est-ce que vous livrez en Belgique ?",
    "Vous pouvez m'aider svp, je n'arrive pas à me connecter",
    "the app keeps crashing since the update, any fix?",
    "Comment je fais pour changer mon adresse de livraison ?",
)
EDITS = (
    "my order never arrived, can you check? (order 123456)",
    "Bonjour, toujours pas de réponse à ma réclamation, vous pouvez regarder ?",
)
REPLIES = (
    "Hi, we're looking into it and will follow up by DM.",
    "Bonjour, nous regardons cela tout de suite et revenons vers vous en message privé.",
)


@dataclass(frozen=True)
class Post:
    """A customer's message at `at`; the brand's reply `reply_after` later (None: never).

    Posts with the same `thread` land in one thread (default: each post is its own thread, a new
    public conversation or a private conversation of its own).
    """

    key: str
    customer_id: str
    customer_handle: str
    at: datetime
    text: str
    reply_after: timedelta | None = None
    reply_text: str = REPLIES[0]
    private: bool = False
    edit_after: timedelta | None = None
    """The customer edits the post this long after posting (X edits, Facebook edits)."""
    edit_text: str | None = None
    thread: str = ""

    @property
    def thread_of(self) -> str:
        return self.thread or self.key

    @property
    def reply_at(self) -> datetime | None:
        return None if self.reply_after is None else self.at + self.reply_after

    @property
    def edited_at(self) -> datetime | None:
        return None if self.edit_after is None else self.at + self.edit_after


@dataclass(frozen=True)
class ExpectedWait:
    """A wait the script implies: opened by post `opened_by`, closed by the reply to `closed_by`."""

    thread: str
    opened_by: str
    opened_at: datetime
    closed_by: str | None
    closed_at: datetime | None

    @property
    def wall_seconds(self) -> float | None:
        return None if self.closed_at is None else (self.closed_at - self.opened_at).total_seconds()


@dataclass
class Scenario:
    """Posts in time order, and what they imply."""

    posts: list[Post] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.posts.sort(key=lambda p: (p.at, p.key))

    @property
    def start(self) -> datetime:
        return self.posts[0].at

    @property
    def end(self) -> datetime:
        """The time of the last event (post, edit or reply)."""
        times = [t for p in self.posts for t in (p.at, p.reply_at, p.edited_at) if t is not None]
        return max(times)

    def expected_waits(self) -> list[ExpectedWait]:
        """Every post is a question; a wait opens at the earliest unanswered one of a thread and
        closes at the thread's first reply at or after it (a reply answers its whole thread)."""
        out: list[ExpectedWait] = []
        threads: dict[str, list[Post]] = {}
        for p in self.posts:
            threads.setdefault(p.thread_of, []).append(p)
        for thread, posts in threads.items():
            events = sorted(
                [(p.at, 0, p.key) for p in posts] + [(p.reply_at, 1, p.key) for p in posts if p.reply_at is not None]
            )
            opened: tuple[datetime, str] | None = None
            for at, kind, key in events:
                if kind == 0 and opened is None:
                    opened = (at, key)
                elif kind == 1 and opened is not None:
                    out.append(ExpectedWait(thread, opened[1], opened[0], key, at))
                    opened = None
            if opened is not None:
                out.append(ExpectedWait(thread, opened[1], opened[0], None, None))
        return sorted(out, key=lambda w: (w.opened_at, w.opened_by))


def generate(
    *,
    seed: int,
    count: int,
    start: datetime,
    span: timedelta,
    reply_delays: Sequence[timedelta | None],
    prefix: str = "p",
    private_share: float = 0.0,
    edit_share: float = 0.0,
    customers: int = 200,
    mention: str = "",
    step: timedelta = timedelta(seconds=1),
) -> Scenario:
    """`count` questions spread over [start, start + span) at distinct multiples of `step`;
    each gets the next delay of `reply_delays` (cycled; None: never answered). Private posts each
    come from a customer of their own, so every post is its own thread."""
    rng = random.Random(seed)
    slots = int(span / step)
    if count > slots:
        raise ValueError(f"more posts than {step} steps in the span")
    offsets = sorted(rng.sample(range(slots), count))
    posts = []
    for i, offset in enumerate(offsets):
        private = rng.random() < private_share
        customer = 7_000_000_000 + (10_000 + i if private else rng.randrange(customers))
        edit = rng.random() < edit_share
        text = rng.choice(QUESTIONS)
        posts.append(
            Post(
                key=f"{prefix}{i}",
                customer_id=str(customer),
                customer_handle=f"customer_{customer % 100_000}",
                at=start + offset * step,
                text=f"{mention} {text}".strip(),
                reply_after=reply_delays[i % len(reply_delays)],
                reply_text=rng.choice(REPLIES),
                private=private,
                edit_after=timedelta(seconds=rng.randrange(5, 600)) if edit else None,
                edit_text=f"{mention} {rng.choice(EDITS)}".strip() if edit else None,
            )
        )
    return Scenario(posts)


class SimClock:
    """Simulated time running `speed` times faster than the real one, from `start`.

    `now()` (aware datetime) and `time()` (epoch seconds) for clocks; `sleep(seconds)` and
    `wait(event, seconds)` for waiting simulated seconds (a `runtime.Timer`); concurrent sleepers
    share one timeline.
    """

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        self.start = start.astimezone(UTC)
        self.speed = speed
        self._origin = time.monotonic()

    def time(self) -> float:
        return self.start.timestamp() + (time.monotonic() - self._origin) * self.speed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        """Until `event` is set or `seconds` of simulated time have passed (a `runtime.Timer`)."""
        return await REAL_TIME.wait(event, max(0.0, seconds) / self.speed)

    async def until(self, when: datetime) -> None:
        """Sleep until the simulated time reaches `when`."""
        await self.sleep((when - self.now()).total_seconds())
