"""An Instagram account's scripted traffic on the fake Graph API (monitor/simulator/instagram.py):
comments on its media, @mentions and tags on other accounts' media, direct messages, with the
brand's answers at known delays and the waits the script implies."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from monitor.domain.mentions import Mention
from monitor.simulator.graph_api import (
    COURTESY,
    FOLLOW_UPS,
    PAGE_POSTS,
    PRAISE,
    PRIVATE_QUESTIONS,
    PUBLIC_QUESTIONS,
    REPLIES,
    ExpectedWait,
    Person,
)
from monitor.simulator.instagram import FakeInstagram

Thread = tuple[str, ...]
"""("igcomment", media id, customer) | ("igdm", conversation id): what the monitor's thread key is made of."""

WEBHOOK_DELAY = timedelta(seconds=3)
"""How long after an @mention its webhook delivery comes."""


@dataclass
class IgTraffic:
    """What `script_account` put on the fake: the threads with their expected waits, the ids of
    the messages a monitor should store, and the @mentions its webhooks name (with when)."""

    threads: dict[Thread, list[ExpectedWait]] = field(default_factory=dict)
    messages: set[str] = field(default_factory=set)
    thread_of: dict[str, Thread] = field(default_factory=dict)
    mentions: list[Mention] = field(default_factory=list)
    """Each with `received_at`, the time of its webhook delivery."""
    end: datetime | None = None
    """When the last scripted item appears."""


class _Thread:
    """One thread of the script: its messages go into the traffic, its waits follow from them (a
    wait opens at the first unanswered question, later ones join it, the brand's next answer closes it)."""

    def __init__(self, traffic: IgTraffic, key: Thread) -> None:
        self.traffic, self.key = traffic, key
        self.waits: list[ExpectedWait] = []
        self.open: tuple[datetime, str, int] | None = None
        traffic.threads[key] = self.waits

    def seen(self, mid: str, at: datetime) -> None:
        self.traffic.messages.add(mid)
        self.traffic.thread_of[mid] = self.key
        if self.traffic.end is None or at > self.traffic.end:
            self.traffic.end = at

    def question(self, mid: str, at: datetime) -> None:
        self.seen(mid, at)
        self.open = (at, mid, 1) if self.open is None else (self.open[0], self.open[1], self.open[2] + 1)

    def reply(self, mid: str, at: datetime) -> None:
        self.seen(mid, at)
        if self.open is not None:
            self._close(mid, at)

    def done(self) -> None:
        if self.open is not None:
            self._close(None, None)

    def _close(self, mid: str | None, at: datetime | None) -> None:
        assert self.open is not None
        opened_at, opened_by, questions = self.open
        kind = "first" if not self.waits else "next"
        self.waits.append(ExpectedWait(kind, opened_at, opened_by, questions, at, mid))
        self.open = None


def script_account(
    ig: FakeInstagram,
    ig_user_id: str,
    *,
    start: datetime,
    span: timedelta,
    seed: int = 0,
    comments: int = 500,
    mentions: int = 500,
    dms: int = 500,
) -> IgTraffic:
    """Script about `comments` comments on the account's media, `mentions` messages under media and
    comments that @mention or tag it, and `dms` direct messages, between `start` and about
    `start + span` (+ reply delays). Questions are answered after a delay (half a minute to two
    hours) or never; some customers add to their question before the answer, thank the brand after
    it (private: no new wait) or ask again (a `next` wait)."""
    rng = random.Random(f"{seed}:{ig_user_id}")
    traffic = IgTraffic()
    user = ig.accounts[ig_user_id]
    s0 = int(start.timestamp())
    total = int(span.total_seconds())

    def at(ts: float) -> datetime:
        return datetime.fromtimestamp(int(ts), UTC)

    def delay() -> int:
        return rng.randint(30, 600) if rng.random() < 0.6 else rng.randint(600, 7200)

    def customer() -> Person:
        return ig.person(f"client_{rng.randrange(10**8):08d}")

    def moment(share: float = 1.0) -> int:
        return s0 + rng.randrange(max(1, int(total * share)))

    # Comments on the account's media.
    media = [
        (ig.add_media(ig_user_id, at(t), rng.choice(PAGE_POSTS)), t) for t in sorted(moment(0.7) for _ in range(12))
    ]
    written = 0
    while written < comments:
        mid, t_media = rng.choice(media)
        who = customer()
        t = t_media + rng.randint(60, max(120, min(total, 6 * 3600)))
        th = _Thread(traffic, ("igcomment", mid, who.id))
        kind = rng.random()
        if kind < 0.15:  # praise, sometimes thanked: no wait
            c = ig.add_comment(mid, at(t), rng.choice(PRAISE), author=who)
            th.seen(c, at(t))
            written += 1
            if rng.random() < 0.5:
                r = t + delay()
                th.seen(ig.add_comment(mid, at(r), "Merci à vous !", parent=c), at(r))
                written += 1
            continue
        c = ig.add_comment(mid, at(t), rng.choice(PUBLIC_QUESTIONS), author=who)
        th.question(c, at(t))
        written += 1
        if kind < 0.3:  # never answered
            th.done()
            continue
        if kind < 0.45:  # a second comment before the answer
            t2 = t + rng.randint(10, 25)
            th.question(ig.add_comment(mid, at(t2), rng.choice(FOLLOW_UPS), author=who), at(t2))
            written += 1
        r = t + 30 + delay()
        if kind < 0.6:  # answered by a comment that names the customer
            th.reply(ig.add_comment(mid, at(r), f"@{who.username} {rng.choice(REPLIES)}"), at(r))
        else:
            th.reply(ig.add_comment(mid, at(r), rng.choice(REPLIES), parent=c), at(r))
        written += 1
        if kind >= 0.7:  # asks again under the answer, answered or not
            q = r + rng.randint(60, 1800)
            th.question(ig.add_comment(mid, at(q), rng.choice(FOLLOW_UPS), author=who, parent=c), at(q))
            written += 1
            if kind < 0.9:
                r2 = q + delay()
                th.reply(ig.add_comment(mid, at(r2), rng.choice(REPLIES), parent=c), at(r2))
                written += 1
        elif kind >= 0.65:  # another customer asks under this one: answered by name
            other = customer()
            q = r + rng.randint(60, 600)
            th2 = _Thread(traffic, ("igcomment", mid, other.id))
            th2.question(ig.add_comment(mid, at(q), rng.choice(PUBLIC_QUESTIONS), author=other, parent=c), at(q))
            r2 = q + delay()
            reply = ig.add_comment(mid, at(r2), f"@{other.username} {rng.choice(REPLIES)}", parent=c)
            th2.reply(reply, at(r2))
            th2.done()
            written += 2
        th.done()

    # @mentions and tags on other accounts' media.
    written = 0
    while written < mentions:
        who = customer()
        t = moment()
        kind = rng.random()
        question = f"@{user.username} {rng.choice(PUBLIC_QUESTIONS)}"
        if kind < 0.4:  # a comment that @mentions the account, under someone's media
            owner = customer()
            fm = ig.add_foreign_media(ig_user_id, owner, at(t - 3600), "Ma nouvelle tenue ✨", tag=False)
            c = ig.add_comment(fm, at(t), question, author=who)
            traffic.mentions.append(Mention("comment", c, fm, at(t) + WEBHOOK_DELAY))
            th = _Thread(traffic, ("igcomment", fm, who.id))
            reply_under = c
        else:  # a caption that @mentions or tags the account
            tag = kind >= 0.75
            caption = rng.choice(PUBLIC_QUESTIONS) if tag else question
            c = ig.add_foreign_media(ig_user_id, who, at(t), caption, tag=tag)
            if not tag:
                traffic.mentions.append(Mention("media", c, c, at(t) + WEBHOOK_DELAY))
            th = _Thread(traffic, ("igcomment", c, f"@{who.username}"))
            fm, reply_under = c, None
        th.question(c, at(t))
        written += 1
        if rng.random() < 0.2:  # never answered
            th.done()
            continue
        r = t + 30 + delay()
        th.reply(ig.add_comment(fm, at(r), f"@{who.username} {rng.choice(REPLIES)}", parent=reply_under), at(r))
        written += 1
        if rng.random() < 0.3:  # asks again, answered or not
            q = r + rng.randint(60, 1800)
            th.question(ig.add_comment(fm, at(q), rng.choice(FOLLOW_UPS), author=who, parent=reply_under), at(q))
            written += 1
            if rng.random() < 0.7:
                r2 = q + delay()
                th.reply(ig.add_comment(fm, at(r2), rng.choice(REPLIES), parent=reply_under), at(r2))
                written += 1
        th.done()

    # Direct messages.
    written = 0
    while written < dms:
        conv = ig.add_conversation(ig_user_id, customer())
        th = _Thread(traffic, ("igdm", conv))
        t = moment()
        th.question(ig.add_message(conv, at(t), rng.choice(PRIVATE_QUESTIONS)), at(t))
        written += 1
        pattern = rng.random()
        if pattern < 0.15:  # never answered
            th.done()
            continue
        if pattern < 0.3:  # a second message before the answer
            t2 = t + rng.randint(5, 25)
            th.question(ig.add_message(conv, at(t2), rng.choice(PRIVATE_QUESTIONS)), at(t2))
            written += 1
        r = t + 30 + delay()
        th.reply(ig.add_message(conv, at(r), rng.choice(REPLIES), from_brand=True), at(r))
        written += 1
        if 0.3 <= pattern < 0.45:  # thanks: no new wait
            k = r + rng.randint(5, 120)
            th.seen(ig.add_message(conv, at(k), rng.choice(COURTESY)), at(k))
            written += 1
        elif pattern >= 0.7:  # asks again, answered or not
            q = r + rng.randint(60, 1800)
            th.question(ig.add_message(conv, at(q), rng.choice(FOLLOW_UPS)), at(q))
            written += 1
            if pattern < 0.88:
                r2 = q + delay()
                th.reply(ig.add_message(conv, at(r2), rng.choice(REPLIES), from_brand=True), at(r2))
                written += 1
        th.done()
    return traffic
