"""Live traffic for the demo: French and English customers write to a brand on X and Facebook, the
brand answers after realistic delays, or never.

Traffic is planned in *story time* (seconds of the simulated day) and played at `speed` times real
time: at speed 60 one real second is one simulated minute. Every message carries a real UTC
timestamp (`origin + story / speed`), the clock the engine and the deadline schedule use, so
waits, breaches and response times are measured exactly as in production; only their scale is
compressed (the demo divides its SLA targets by the same speed).

The plan is a pure function of (seed, place, minute of story): it can be made ahead in chunks, and
the same seed plays the same story. Customer ids also take a per-run `salt`, so that two demo runs
on one database do not mistake each other's customers for returning ones. The fakes serve only
what exists at their clock's time, so the whole future of a chunk is loaded at once and unfolds as
real time passes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from monitor.simulator.graph_api import FakeGraphApi, Person
from monitor.simulator.traffic import texts
from monitor.simulator.traffic.texts import Lang
from monitor.simulator.x_api import FakeXApi

Place = Literal["x_mention", "x_dm", "messenger", "comment"]
StepKind = Literal["question", "reply", "courtesy", "praise"]
PLACES: tuple[Place, ...] = ("x_mention", "x_dm", "messenger", "comment")
PRIVATE: frozenset[Place] = frozenset({"x_dm", "messenger"})

MINUTE = 60.0
HOUR = 3600.0
_PAGE_POSTS = texts.mixed(texts.PAGE_POSTS)


@dataclass(frozen=True)
class Profile:
    """How one place behaves: questions per story minute, share never answered, reply delays."""

    per_minute: float
    never: float
    """Share of questions the brand never answers."""
    median_delay: float
    """Median reply delay in story seconds (log-normal, clipped to [2 min, 4 h])."""
    praise: float = 0.0
    """Share of exchanges that are praise, not questions (public places only)."""


PROFILES: dict[Place, Profile] = {
    # X: good brands answer in minutes; the SLA promise is 30 minutes.
    "x_mention": Profile(per_minute=0.25, never=0.15, median_delay=12 * MINUTE, praise=0.15),
    "x_dm": Profile(per_minute=0.08, never=0.10, median_delay=20 * MINUTE),
    # Facebook Pages: slower, and many questions never get an answer.
    "messenger": Profile(per_minute=0.15, never=0.25, median_delay=40 * MINUTE),
    "comment": Profile(per_minute=0.15, never=0.30, median_delay=45 * MINUTE, praise=0.2),
}


@dataclass(frozen=True)
class Step:
    """One message of an exchange, `offset` story seconds after the exchange starts."""

    offset: float
    kind: StepKind
    text: str

    @property
    def from_brand(self) -> bool:
        return self.kind == "reply"


@dataclass(frozen=True)
class Exchange:
    """One customer's conversation with the brand at one place."""

    key: str
    place: Place
    lang: Lang
    customer_id: str
    customer_name: str
    at: float
    """Story seconds since the origin."""
    steps: tuple[Step, ...]

    @property
    def private(self) -> bool:
        return self.place in PRIVATE

    @property
    def questions(self) -> int:
        return sum(1 for s in self.steps if s.kind == "question")

    @property
    def unanswered(self) -> bool:
        """True when the last question has no reply after it (a wait that stays open)."""
        last_question = max((i for i, s in enumerate(self.steps) if s.kind == "question"), default=-1)
        return last_question >= 0 and not any(s.from_brand for s in self.steps[last_question:])


def _delay(rng: random.Random, median: float) -> float:
    value = rng.lognormvariate(math.log(median), 0.8)
    return min(max(value, 2 * MINUTE), 4 * HOUR)


def plan_minute(seed: int, place: Place, minute: int, salt: str = "") -> list[Exchange]:
    """The exchanges that start at `place` during story minute `minute` (may be negative)."""
    profile = PROFILES[place]
    rng = random.Random(f"{seed}:{place}:{minute}")
    ids = random.Random(f"{seed}:{place}:{minute}:{salt}")
    count = int(profile.per_minute) + (1 if rng.random() < profile.per_minute % 1 else 0)
    out = []
    for i in range(count):
        lang: Lang = rng.choice(texts.LANGS)
        at = minute * MINUTE + rng.random() * MINUTE
        n = ids.randrange(10**15, 10**16)
        name = f"{rng.choice(texts.FIRST_NAMES)} {chr(65 + n % 26)}."
        steps: list[Step] = []
        if place not in PRIVATE and rng.random() < profile.praise:
            steps.append(Step(0.0, "praise", rng.choice(texts.PRAISE[lang])))
        else:
            questions = texts.PRIVATE_QUESTIONS if place in PRIVATE else texts.PUBLIC_QUESTIONS
            steps.append(Step(0.0, "question", rng.choice(questions[lang])))
            t = 0.0
            if rng.random() < 0.2:  # a second message before any reply joins the same wait
                t += rng.uniform(1, 5) * MINUTE
                steps.append(Step(t, "question", rng.choice(texts.FOLLOW_UPS[lang])))
            if rng.random() >= profile.never:
                t += _delay(rng, profile.median_delay)
                steps.append(Step(t, "reply", texts.signed(rng.choice(texts.REPLIES[lang]), minute + i)))
                after = rng.random()
                if after < 0.25:  # a thank-you: no new wait
                    steps.append(Step(t + rng.uniform(1, 10) * MINUTE, "courtesy", rng.choice(texts.COURTESY[lang])))
                elif after < 0.45:  # a follow-up question: a `next` wait, answered or not
                    t += rng.uniform(5, 30) * MINUTE
                    steps.append(Step(t, "question", rng.choice(texts.FOLLOW_UPS[lang])))
                    if rng.random() >= profile.never:
                        reply = texts.signed(rng.choice(texts.REPLIES[lang]), minute + i + 1)
                        steps.append(Step(t + _delay(rng, profile.median_delay), "reply", reply))
        out.append(Exchange(f"{place}:{minute}:{i}", place, lang, str(n), name, at, tuple(steps)))
    return out


def plan(seed: int, place: Place, start: float, end: float, salt: str = "") -> list[Exchange]:
    """Exchanges starting in story time [start, end), in time order."""
    out = [
        e
        for m in range(math.floor(start / MINUTE), math.ceil(end / MINUTE))
        for e in plan_minute(seed, place, m, salt)
        if start <= e.at < end
    ]
    return sorted(out, key=lambda e: (e.at, e.key))


@dataclass
class Played:
    """What the player has put on the fakes so far."""

    exchanges: list[Exchange] = field(default_factory=list)
    texts: dict[str, tuple[Exchange, str]] = field(default_factory=dict)
    """Message id on the fake -> (its exchange, its text): lets the demo's view say what a
    question was."""


class TrafficPlayer:
    """Loads the planned traffic into the fake X API and the fake Graph API, ahead of time.

    `advance(until)` loads every exchange starting before story time `until` (a chunk at a
    time, from `history` story seconds before the origin); the fakes reveal each message when
    the real clock reaches it.
    """

    def __init__(
        self,
        *,
        seed: int,
        speed: float,
        origin: datetime,
        x: FakeXApi,
        graph: FakeGraphApi,
        x_user_id: str,
        x_handle: str,
        page_id: str,
        salt: str = "",
        history: float = 30 * MINUTE,
        places: tuple[Place, ...] = PLACES,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.seed, self.speed, self.origin = seed, speed, origin.astimezone(UTC)
        self.x, self.graph = x, graph
        self.x_user_id, self.x_handle, self.page_id = x_user_id, x_handle, page_id
        self.salt = salt
        self.places = places
        self.loaded_until = -history
        self.played = Played()
        self._page_posts: list[tuple[float, str]] = []
        x.add_user(x_user_id, x_handle)

    def real(self, story: float) -> datetime:
        """The real instant of a story time."""
        return self.origin + timedelta(seconds=story / self.speed)

    def story(self, now: datetime) -> float:
        """The story time of a real instant."""
        return (now - self.origin).total_seconds() * self.speed

    def advance(self, until: float) -> list[Exchange]:
        """Load the exchanges starting before story time `until`; return them."""
        if until <= self.loaded_until:
            return []
        start, self.loaded_until = self.loaded_until, until
        new = sorted(
            (e for place in self.places for e in plan(self.seed, place, start, until, self.salt)),
            key=lambda e: (e.at, e.key),
        )
        for exchange in new:
            self._load(exchange)
        self.played.exchanges.extend(new)
        return new

    def _load(self, e: Exchange) -> None:
        loaders: dict[Place, Callable[[Exchange], None]] = {
            "x_mention": self._mention,
            "x_dm": self._dm,
            "messenger": self._messenger,
            "comment": self._comment,
        }
        loaders[e.place](e)

    def _times(self, e: Exchange) -> Iterator[tuple[Step, datetime]]:
        for step in e.steps:
            yield step, self.real(e.at + step.offset)

    def _note(self, message_id: str, e: Exchange, text: str) -> None:
        self.played.texts[message_id] = (e, text)

    def _mention(self, e: Exchange) -> None:
        handle = f"{e.customer_name.split()[0].lower()}_{e.customer_id[-4:]}"
        self.x.add_user(e.customer_id, handle)
        last: int | None = None
        for step, at in self._times(e):
            if step.from_brand:
                tid = self.x.add_tweet(
                    self.x_user_id, f"@{handle} {step.text}", at, mentions=[e.customer_id], reply_to=last
                )
            else:
                tid = self.x.add_tweet(
                    e.customer_id, f"@{self.x_handle} {step.text}", at, mentions=[self.x_user_id], reply_to=last
                )
            self._note(str(tid), e, step.text)
            last = tid

    def _dm(self, e: Exchange) -> None:
        self.x.add_user(e.customer_id, f"{e.customer_name.split()[0].lower()}_{e.customer_id[-4:]}")
        for step, at in self._times(e):
            sender, recipient = (self.x_user_id, e.customer_id) if step.from_brand else (e.customer_id, self.x_user_id)
            self._note(str(self.x.add_dm(sender, recipient, step.text, at)), e, step.text)

    def _messenger(self, e: Exchange) -> None:
        conversation = self.graph.add_conversation(self.page_id, Person(e.customer_id, e.customer_name))
        for step, at in self._times(e):
            mid = self.graph.add_message(conversation, at, step.text, from_page=step.from_brand)
            self._note(mid, e, step.text)

    def _post_for(self, story: float) -> str:
        """The Page's latest post at story time `story`: the Page posts every 3 story hours."""
        slot = math.floor(story / (3 * HOUR))
        while not self._page_posts or self._page_posts[-1][0] < slot:
            n = slot if not self._page_posts else int(self._page_posts[-1][0]) + 1
            at = self.real(n * 3 * HOUR - 20 * MINUTE)
            post = self.graph.add_post(self.page_id, at, _PAGE_POSTS[n % len(_PAGE_POSTS)])
            self._page_posts.append((n, post))
        return next(post for n, post in reversed(self._page_posts) if n <= slot)

    def _comment(self, e: Exchange) -> None:
        post = self._post_for(e.at)
        person = Person(e.customer_id, e.customer_name)
        top: str | None = None
        for step, at in self._times(e):
            if step.from_brand:
                cid = self.graph.add_comment(post, at, step.text, parent=top)
            else:
                cid = self.graph.add_comment(post, at, step.text, author=person, parent=top)
            top = top or cid
            self._note(cid, e, step.text)
