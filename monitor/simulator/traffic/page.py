"""A Facebook Page's scripted traffic on the fake Graph API: Messenger conversations, the Page's
posts, visitor posts and comments, with the waits the script implies."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from monitor.simulator.graph_api import FakeGraphApi, Person
from monitor.simulator.traffic import texts
from monitor.simulator.traffic.waits import ExpectedWait, ThreadWaits

_PRIVATE_QUESTIONS = texts.mixed(texts.PRIVATE_QUESTIONS)
_PUBLIC_QUESTIONS = texts.mixed(texts.PUBLIC_QUESTIONS)
_FOLLOW_UPS = texts.mixed(texts.FOLLOW_UPS)
_PRAISE = texts.mixed(texts.PRAISE)
_COURTESY = texts.mixed(texts.COURTESY)
_REPLIES = texts.mixed(texts.REPLIES)
_PAGE_POSTS = texts.mixed(texts.PAGE_POSTS)


@dataclass
class Traffic:
    """What `script_page` put on a Page: the threads with their expected waits, and the ids of
    the messages a monitor should store (history older than `start` excluded)."""

    threads: dict[tuple[str, str], list[ExpectedWait]] = field(default_factory=dict)
    """("messenger", conversation id) | ("comment", top-level comment id) | ("post", post id)."""
    messages: set[str] = field(default_factory=set)
    thread_of: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Message id -> its thread (as in `threads`)."""
    end: datetime | None = None
    """When the last scripted item appears."""


class _Thread:
    """One thread of the script: its messages go into `traffic`, its waits follow from them."""

    def __init__(self, traffic: Traffic, key: tuple[str, str]) -> None:
        self.traffic, self.key = traffic, key
        self.waits = ThreadWaits(key[1])
        traffic.threads[key] = self.waits.waits

    def seen(self, mid: str, at: datetime) -> None:
        self.traffic.messages.add(mid)
        self.traffic.thread_of[mid] = self.key
        if self.traffic.end is None or at > self.traffic.end:
            self.traffic.end = at

    def question(self, mid: str, at: datetime) -> None:
        self.seen(mid, at)
        self.waits.question(mid, at)

    def reply(self, mid: str, at: datetime) -> None:
        self.seen(mid, at)
        self.waits.reply(mid, at)

    def done(self) -> None:
        self.waits.done()


def script_page(
    api: FakeGraphApi,
    page_id: str,
    *,
    start: datetime,
    span: timedelta,
    seed: int = 0,
    conversations: int = 300,
    posts: int = 50,
    comments: int = 1000,
    history: bool = True,
) -> Traffic:
    """Script a Page's traffic between `start` and about `start + span` (+ reply delays).

    Messenger: a question, then a reply after a delay (seconds to 2 h), or never; sometimes a second
    message before the reply, a courtesy after it, a follow-up question and a second reply.
    Posts: a fifth are visitor posts (the question); the others collect top-level questions,
    praise, replies by the Page, customers' replies to the Page's replies (3 levels) - about
    `comments` comments in all, some hours after their post. With `history`, older conversations
    and posts (before `start - 10 days`) that a monitor must not read, one old conversation and one
    old post that come back to life during the span, and a post deleted during the span.
    """
    rng = random.Random(f"{seed}:{page_id}")
    traffic = Traffic()
    s0 = math.floor(start.timestamp())
    total = int(span.total_seconds())

    def at(ts: float) -> datetime:
        return datetime.fromtimestamp(int(ts), UTC)

    def delay() -> int:
        return rng.randint(30, 600) if rng.random() < 0.6 else rng.randint(600, 7200)

    def customer() -> Person:
        n = rng.randrange(10**12)
        return Person(f"{n:015d}", f"Client {n % 10000}")

    # Messenger ----------------------------------------------------------------------------------
    for _ in range(conversations):
        cid = api.add_conversation(page_id, customer())
        th = _Thread(traffic, ("messenger", cid))
        t = s0 + rng.randrange(total)
        th.question(api.add_message(cid, at(t), rng.choice(_PRIVATE_QUESTIONS)), at(t))
        pattern = rng.random()
        if pattern < 0.15:  # never answered
            th.done()
            continue
        if pattern < 0.30:  # a second message before the reply
            t2 = t + rng.randint(5, 25)
            th.question(api.add_message(cid, at(t2), rng.choice(_PRIVATE_QUESTIONS)), at(t2))
        r = t + 30 + delay()
        th.reply(api.add_message(cid, at(r), rng.choice(_REPLIES), from_page=True), at(r))
        if 0.30 <= pattern < 0.45:  # a courtesy: no new wait
            k = r + rng.randint(5, 120)
            th.seen(api.add_message(cid, at(k), rng.choice(_COURTESY)), at(k))
        elif pattern >= 0.70:  # a follow-up question, answered or not
            q = r + rng.randint(60, 1800)
            th.question(api.add_message(cid, at(q), rng.choice(_FOLLOW_UPS)), at(q))
            if pattern < 0.88:
                r2 = q + delay()
                th.reply(api.add_message(cid, at(r2), rng.choice(_REPLIES), from_page=True), at(r2))
        th.done()

    # Posts and comments -------------------------------------------------------------------------
    post_ids: list[tuple[str, int]] = []
    written = 0
    for i in range(posts):
        t = s0 + rng.randrange(max(1, int(total * 0.7)))
        if i % 5 != 4:
            post_ids.append((api.add_post(page_id, at(t), rng.choice(_PAGE_POSTS)), t))
            continue
        who = customer()  # a visitor post: the post is the question
        pid = api.add_post(page_id, at(t), rng.choice(_PUBLIC_QUESTIONS), author=who)
        th = _Thread(traffic, ("post", pid))
        th.question(pid, at(t))
        if rng.random() < 0.8:
            r = t + delay()
            th.reply(api.add_comment(pid, at(r), rng.choice(_REPLIES)), at(r))
            written += 1
            if rng.random() < 0.4:
                q = r + rng.randint(60, 3600)
                th.question(api.add_comment(pid, at(q), rng.choice(_FOLLOW_UPS), author=who), at(q))
                r2 = q + delay()
                th.reply(api.add_comment(pid, at(r2), rng.choice(_REPLIES)), at(r2))
                written += 2
        th.done()
    while written < comments and post_ids:
        pid, t_post = rng.choice(post_ids)
        who = customer()
        t = t_post + rng.randint(60, max(120, min(total, 6 * 3600)))
        kind = rng.random()
        if kind < 0.2:  # praise, sometimes thanked: no wait
            c = api.add_comment(pid, at(t), rng.choice(_PRAISE), author=who)
            th = _Thread(traffic, ("comment", c))
            th.seen(c, at(t))
            written += 1
            if rng.random() < 0.5:
                r = t + delay()
                th.seen(api.add_comment(pid, at(r), texts.THANKS_BACK["fr"][0], parent=c), at(r))
                written += 1
            continue
        c = api.add_comment(pid, at(t), rng.choice(_PUBLIC_QUESTIONS), author=who)
        th = _Thread(traffic, ("comment", c))
        th.question(c, at(t))
        written += 1
        if kind < 0.35:  # never answered
            th.done()
            continue
        if kind < 0.5:  # the customer adds to it before the reply
            t2 = t + rng.randint(10, 25)
            th.question(api.add_comment(pid, at(t2), rng.choice(_FOLLOW_UPS), author=who, parent=c), at(t2))
            written += 1
        r = t + 30 + delay()
        reply = api.add_comment(pid, at(r), rng.choice(_REPLIES), parent=c)
        th.reply(reply, at(r))
        written += 1
        if kind >= 0.75:  # a reply to the Page's reply (third level), then maybe another answer
            q = r + rng.randint(60, 1800)
            th.question(api.add_comment(pid, at(q), rng.choice(_FOLLOW_UPS), author=who, parent=reply), at(q))
            written += 1
            if kind < 0.92:
                r2 = q + delay()
                th.reply(api.add_comment(pid, at(r2), rng.choice(_REPLIES), parent=c), at(r2))
                written += 1
        th.done()

    if history:
        _history(api, page_id, traffic, rng, s0, total, at, customer)
    return traffic


def _history(
    api: FakeGraphApi,
    page_id: str,
    traffic: Traffic,
    rng: random.Random,
    s0: int,
    total: int,
    at: Callable[[float], datetime],
    customer: Callable[[], Person],
) -> None:
    old = s0 - 10 * 86400
    for _ in range(20):  # old conversations, never read
        cid = api.add_conversation(page_id, customer())
        t = old - rng.randrange(30 * 86400)
        api.add_message(cid, at(t), rng.choice(_PRIVATE_QUESTIONS))
        api.add_message(cid, at(t + 600), rng.choice(_REPLIES), from_page=True)
    # An old conversation comes back during the span: only the new messages count.
    who = customer()
    cid = api.add_conversation(page_id, who)
    api.add_message(cid, at(old - 5 * 86400), rng.choice(_PRIVATE_QUESTIONS))
    api.add_message(cid, at(old - 5 * 86400 + 900), rng.choice(_REPLIES), from_page=True)
    th = _Thread(traffic, ("messenger", cid))
    t = s0 + total // 2
    th.question(api.add_message(cid, at(t), rng.choice(_FOLLOW_UPS)), at(t))
    th.reply(api.add_message(cid, at(t + 420), rng.choice(_REPLIES), from_page=True), at(t + 420))
    th.done()
    # Old posts with old comments, never read; one of them gets a new question during the span.
    for i in range(5):
        t = old - (20 + i) * 86400
        pid = api.add_post(page_id, at(t), rng.choice(_PAGE_POSTS))
        for j in range(3):
            api.add_comment(pid, at(t + 3600 * (j + 1)), rng.choice(_PUBLIC_QUESTIONS), author=customer())
        if i == 0:
            q = s0 + total // 3
            c = api.add_comment(pid, at(q), rng.choice(_PUBLIC_QUESTIONS), author=customer())
            th = _Thread(traffic, ("comment", c))
            th.question(c, at(q))
            r = q + 1500
            th.reply(api.add_comment(pid, at(r), rng.choice(_REPLIES), parent=c), at(r))
            th.done()
    # A post that is deleted during the span, before anyone comments.
    pid = api.add_post(page_id, at(s0 + 60), rng.choice(_PAGE_POSTS))
    api.delete_post(pid, at(s0 + total // 4))
