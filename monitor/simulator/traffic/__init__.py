"""Scripted traffic for the fake APIs: what customers and the brand write, when, and the waits that
implies. The fakes speak the wire formats; the demo, the benchmarks and the tests script them from here.

The package holds the canned texts by kind and language (`texts`), the waits a script implies
(`waits`), X scenarios loaded into the fake X API (`scenario`), a Facebook Page's traffic on the fake
Graph API (`page`) and the demo's live traffic on both (`live`).
"""

from monitor.simulator.traffic.live import (
    HOUR,
    MINUTE,
    PLACES,
    PRIVATE,
    Exchange,
    Place,
    Played,
    Step,
    TrafficPlayer,
    plan,
    plan_minute,
)
from monitor.simulator.traffic.page import Traffic, script_page
from monitor.simulator.traffic.scenario import LoadedPost, Post, Scenario, generate, load_on_x
from monitor.simulator.traffic.texts import (
    COURTESY,
    EDITS,
    FIRST_NAMES,
    FOLLOW_UPS,
    LANGS,
    PAGE_POSTS,
    PRAISE,
    PRIVATE_QUESTIONS,
    PUBLIC_QUESTIONS,
    REPLIES,
    THANKS_BACK,
    Lang,
    Texts,
    mixed,
)
from monitor.simulator.traffic.waits import ExpectedWait, ThreadWaits, WaitKind

__all__ = [
    "COURTESY",
    "EDITS",
    "FIRST_NAMES",
    "FOLLOW_UPS",
    "HOUR",
    "LANGS",
    "MINUTE",
    "PAGE_POSTS",
    "PLACES",
    "PRAISE",
    "PRIVATE",
    "PRIVATE_QUESTIONS",
    "PUBLIC_QUESTIONS",
    "REPLIES",
    "THANKS_BACK",
    "Exchange",
    "ExpectedWait",
    "Lang",
    "LoadedPost",
    "Place",
    "Played",
    "Post",
    "Scenario",
    "Step",
    "Texts",
    "ThreadWaits",
    "Traffic",
    "TrafficPlayer",
    "WaitKind",
    "generate",
    "load_on_x",
    "mixed",
    "plan",
    "plan_minute",
    "script_page",
]
