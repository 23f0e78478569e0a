"""An Instagram account's scripted traffic on the fake Graph API (monitor/simulator/instagram.py):
comments on its media, @mentions and tags on other accounts' media and direct messages, with the
brand's answers at known delays and the waits the script implies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.domain.mentions import Mention
from monitor.simulator.graph_api import Person
from monitor.simulator.instagram import FakeInstagram
from monitor.simulator.traffic import texts
from monitor.simulator.traffic.page import (
    ScriptClock,
    ScriptedThread,
    Traffic,
    script_again,
    script_praise,
    script_private,
)

_PUBLIC_QUESTIONS = texts.mixed(texts.PUBLIC_QUESTIONS)
_FOLLOW_UPS = texts.mixed(texts.FOLLOW_UPS)
_REPLIES = texts.mixed(texts.REPLIES)
_POSTS = texts.mixed(texts.PAGE_POSTS)

WEBHOOK_DELAY = timedelta(seconds=3)
"""How long after an @mention its webhook delivery comes."""


@dataclass
class InstagramTraffic(Traffic):
    """What `script_instagram` put on the fake. Threads are ("igcomment", "<media id>:<customer>")
    (a customer's comments under a media and the brand's answers to them) and ("igdm", conversation
    id): their thread key is `<kind>:<id>`."""

    mentions: list[Mention] = field(default_factory=list)
    """The @mentions its webhooks name, each with `received_at`, the time of its delivery."""


@dataclass(frozen=True)
class Sizes:
    """How much a script writes: about so many comments on the account's media, messages under
    media and comments that @mention or tag it, and direct messages."""

    comments: int = 500
    mentions: int = 500
    dms: int = 500


def script_instagram(
    ig: FakeInstagram, ig_user_id: str, *, start: datetime, span: timedelta, seed: int = 0, sizes: Sizes = Sizes()
) -> InstagramTraffic:
    """Script about `sizes` comments on the account's media, messages under media and comments that
    @mention or tag it, and direct messages, between `start` and about `start + span` (+ reply
    delays). Questions are answered after a delay (half a minute to two hours) or never; some
    customers add to their question before the answer, thank the brand after it (private: no new
    wait) or ask again (a `next` wait); some answers name the customer (`@username ...`), some
    answer another customer who asked under a comment."""
    clock = ScriptClock.of(f"{seed}:{ig_user_id}", start, span)
    rng, s0, total, at, delay = clock.rng, clock.s0, clock.total, clock.at, clock.delay
    traffic = InstagramTraffic()
    user = ig.accounts[ig_user_id]

    def customer() -> Person:
        return ig.person(f"client_{rng.randrange(10**8):08d}")

    def thread(media_id: str, who: str) -> ScriptedThread:
        return ScriptedThread(traffic, ("igcomment", f"{media_id}:{who}"))

    # Comments on the account's media.
    times = sorted(s0 + rng.randrange(max(1, int(total * 0.7))) for _ in range(12))
    media = [(ig.add_media(ig_user_id, at(t), rng.choice(_POSTS)), t) for t in times]
    written = 0
    while written < sizes.comments:
        mid, t_media = rng.choice(media)
        who = customer()
        t = t_media + rng.randint(60, max(120, min(total, 6 * 3600)))
        th = thread(mid, who.id)
        kind = rng.random()
        if kind < 0.15:  # praise, sometimes thanked: no wait

            def comment(ts: int, text: str, parent: str | None, mid: str = mid, who: Person = who) -> str:
                return ig.add_comment(mid, at(ts), text, author=None if parent else who, parent=parent)

            written += script_praise(clock, t, comment, th)
            continue
        c = ig.add_comment(mid, at(t), rng.choice(_PUBLIC_QUESTIONS), author=who)
        th.question(c, at(t))
        written += 1
        if kind < 0.3:  # never answered
            th.done()
            continue
        if kind < 0.45:  # a second comment before the answer
            t2 = t + rng.randint(10, 25)
            th.question(ig.add_comment(mid, at(t2), rng.choice(_FOLLOW_UPS), author=who), at(t2))
            written += 1
        r = t + 30 + delay()
        if kind < 0.6:  # answered by a comment that names the customer
            th.reply(ig.add_comment(mid, at(r), f"@{who.username} {rng.choice(_REPLIES)}"), at(r))
        else:
            th.reply(ig.add_comment(mid, at(r), rng.choice(_REPLIES), parent=c), at(r))
        written += 1
        if kind >= 0.7:  # asks again under the answer, answered or not

            def again(ts: int, text: str, brand: bool, mid: str = mid, who: Person = who, c: str = c) -> str:
                return ig.add_comment(mid, at(ts), text, author=None if brand else who, parent=c)

            written += script_again(clock, th, r, again, kind < 0.9)
        elif kind >= 0.65:  # another customer asks under this one: answered by name
            other = customer()
            q = r + rng.randint(60, 600)
            th2 = thread(mid, other.id)
            th2.question(ig.add_comment(mid, at(q), rng.choice(_PUBLIC_QUESTIONS), author=other, parent=c), at(q))
            r2 = q + delay()
            th2.reply(ig.add_comment(mid, at(r2), f"@{other.username} {rng.choice(_REPLIES)}", parent=c), at(r2))
            th2.done()
            written += 2
        th.done()

    # @mentions and tags on other accounts' media.
    written = 0
    while written < sizes.mentions:
        who = customer()
        t = s0 + rng.randrange(total)
        kind = rng.random()
        question = f"@{user.username} {rng.choice(_PUBLIC_QUESTIONS)}"
        reply_under: str | None = None
        if kind < 0.4:  # a comment that @mentions the account, under someone's media
            fm = ig.add_foreign_media(ig_user_id, customer(), at(t - 3600), rng.choice(_POSTS), tag=False)
            c = reply_under = ig.add_comment(fm, at(t), question, author=who)
            traffic.mentions.append(Mention("comment", c, fm, at(t) + WEBHOOK_DELAY))
            th = thread(fm, who.id)
        else:  # a caption that @mentions or tags the account
            tag = kind >= 0.75
            fm = c = ig.add_foreign_media(
                ig_user_id, who, at(t), rng.choice(_PUBLIC_QUESTIONS) if tag else question, tag=tag
            )
            if not tag:
                traffic.mentions.append(Mention("media", c, c, at(t) + WEBHOOK_DELAY))
            th = thread(fm, f"@{who.username}")
        th.question(c, at(t))
        written += 1
        if rng.random() < 0.2:  # never answered
            th.done()
            continue
        r = t + 30 + delay()
        th.reply(ig.add_comment(fm, at(r), f"@{who.username} {rng.choice(_REPLIES)}", parent=reply_under), at(r))
        written += 1
        if rng.random() < 0.3:  # asks again, answered or not

            def under(
                ts: int, text: str, brand: bool, fm: str = fm, who: Person = who, c: str | None = reply_under
            ) -> str:
                return ig.add_comment(fm, at(ts), text, author=None if brand else who, parent=c)

            written += script_again(clock, th, r, under, lambda: rng.random() < 0.7)
        th.done()

    # Direct messages.
    written = 0
    while written < sizes.dms:
        conv = ig.add_conversation(ig_user_id, customer())

        def say(ts: int, text: str, brand: bool, conv: str = conv) -> str:
            return ig.add_message(conv, at(ts), text, from_brand=brand)

        written += script_private(ScriptedThread(traffic, ("igdm", conv)), rng, s0 + rng.randrange(total), say, delay)
    return traffic
