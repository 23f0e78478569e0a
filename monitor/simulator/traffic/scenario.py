"""X scenarios: customers post at given times, the brand replies after given delays or never;
`load_on_x` turns a scenario into tweets and DMs on the fake X API, and the script alone says
what the waits must be."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.simulator.traffic.texts import EDITS, PRIVATE_QUESTIONS, PUBLIC_QUESTIONS, REPLIES, mixed
from monitor.simulator.traffic.waits import ExpectedWait, ThreadWaits
from monitor.simulator.x_api import FakeXApi

_QUESTIONS = {True: mixed(PRIVATE_QUESTIONS), False: mixed(PUBLIC_QUESTIONS)}
"""The questions of private and of public posts."""
_REPLIES = mixed(REPLIES)
_EDITS = mixed(EDITS)


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
    reply_text: str = REPLIES["en"][0]
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
        threads: dict[str, list[Post]] = {}
        for p in self.posts:
            threads.setdefault(p.thread_of, []).append(p)
        out: list[ExpectedWait] = []
        for thread, posts in threads.items():
            events = sorted(
                [(p.at, 0, p.key) for p in posts] + [(p.reply_at, 1, p.key) for p in posts if p.reply_at is not None]
            )
            waits = ThreadWaits(thread)
            for at, is_reply, key in events:
                (waits.reply if is_reply else waits.question)(key, at)
            out += waits.done()
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
        text = rng.choice(_QUESTIONS[private])
        posts.append(
            Post(
                key=f"{prefix}{i}",
                customer_id=str(customer),
                customer_handle=f"customer_{customer % 100_000}",
                at=start + offset * step,
                text=f"{mention} {text}".strip(),
                reply_after=reply_delays[i % len(reply_delays)],
                reply_text=rng.choice(_REPLIES),
                private=private,
                edit_after=timedelta(seconds=rng.randrange(5, 600)) if edit else None,
                edit_text=f"{mention} {rng.choice(_EDITS)}".strip() if edit else None,
            )
        )
    return Scenario(posts)


@dataclass(frozen=True)
class LoadedPost:
    """What a scenario post became on the fake X API: its ids, and the thread key a source should use."""

    question_id: str
    reply_id: str | None
    edit_id: str | None
    thread_key: str


def load_on_x(api: FakeXApi, scenario: Scenario, *, brand_id: str, brand_handle: str) -> dict[str, LoadedPost]:
    """Turn a scenario into tweets on the fake X API (public posts mention the brand, replies
    answer them) and DMs (private posts); return what each post became, by post key."""
    api.add_user(brand_id, brand_handle)
    out: dict[str, LoadedPost] = {}
    for post in scenario.posts:
        api.add_user(post.customer_id, post.customer_handle)
        if post.private:
            qid = api.add_dm(post.customer_id, brand_id, post.text, post.at)
            rid = None
            if post.reply_at is not None:
                rid = api.add_dm(brand_id, post.customer_id, post.reply_text, post.reply_at)
            out[post.key] = LoadedPost(str(qid), str(rid) if rid else None, None, api.dm_events[qid].conversation_id)
            continue
        text = post.text if post.text.startswith("@") else f"@{brand_handle} {post.text}"
        qid = api.add_tweet(post.customer_id, text, post.at, mentions=[brand_id])
        eid = None
        if post.edited_at is not None:
            edit = post.edit_text or post.text
            edit = edit if edit.startswith("@") else f"@{brand_handle} {edit}"
            eid = api.edit_tweet(qid, edit, post.edited_at)
        rid = None
        if post.reply_at is not None:
            rid = api.add_tweet(
                brand_id,
                f"@{post.customer_handle} {post.reply_text}",
                post.reply_at,
                mentions=[post.customer_id],
                reply_to=qid,
            )
        out[post.key] = LoadedPost(
            str(qid), str(rid) if rid else None, str(eid) if eid else None, f"{qid}:{post.customer_id}"
        )
    return out
