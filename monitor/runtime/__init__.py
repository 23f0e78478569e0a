"""The runtime of background work: one clock type, one backoff, one supervised step runner, and
the switch that turns waiting off in tests. See docs/architecture.md, "Runtime"."""

from monitor.runtime._backoff import Backoff
from monitor.runtime._clock import Clock, Monotonic, UnixClock, utcnow
from monitor.runtime._health import CRASHED, ERROR_TEXT_MAX, FAILING, NEW, OK, Health
from monitor.runtime._supervised import OnFailure, Step, Supervised
from monitor.runtime._timer import REAL_TIME, RealTime, Sleep, SleepTimer, Timer, is_testing, set_testing

__all__ = [
    "CRASHED",
    "ERROR_TEXT_MAX",
    "FAILING",
    "NEW",
    "OK",
    "REAL_TIME",
    "Backoff",
    "Clock",
    "Health",
    "Monotonic",
    "OnFailure",
    "RealTime",
    "Sleep",
    "SleepTimer",
    "Step",
    "Supervised",
    "Timer",
    "UnixClock",
    "is_testing",
    "set_testing",
    "utcnow",
]
