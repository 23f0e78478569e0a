"""The saved cursors of the Facebook streams: small JSON objects, times in UNIX seconds, with the
pass a poll left unfinished (docs/sources.md, "Cursors")."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.sources.graph.client import Json
from monitor.sources.graph.cursor import ActivePost, PostsCursor, SweepPass, dump, load
from monitor.sources.graph.paging import ListPass

__all__ = ["ActivePost", "CommentsCursor", "MessengerCursor", "MessengerPass", "SweepPass"]


@dataclass
class MessengerPass:
    """A pass over the conversation list that a poll left unfinished (the next one goes on)."""

    stop: int
    """Conversations updated before this end the pass (UNIX seconds)."""
    started: int
    """When the pass began (our clock): what moved to the top since is read again after it."""
    round: int = 0
    """0: the pass down to the floor; 1, 2, ...: re-reads of the head that moved meanwhile."""
    list: ListPass = field(default_factory=ListPass)
    done: dict[str, int] = field(default_factory=dict)
    """Conversations of the page at `list.after` already read, with their `updated_time`."""

    def dumps(self) -> Json:
        return {
            "stop": self.stop,
            "started": self.started,
            "round": self.round,
            "list": self.list.dumps(),
            "done": self.done,
        }

    @classmethod
    def loads(cls, data: object) -> MessengerPass | None:
        if not isinstance(data, dict):
            return None
        stop, started, rnd, done = (data.get(k) for k in ("stop", "started", "round", "done"))
        listing = ListPass.loads(data.get("list"))
        if (
            not isinstance(stop, int)
            or not isinstance(started, int)
            or not isinstance(rnd, int)
            or listing is None
            or not isinstance(done, dict)
            or not all(isinstance(v, int) for v in done.values())
        ):
            return None
        return cls(stop, started, rnd, listing, done)


@dataclass
class MessengerCursor:
    """`{"v":1,"watermark":...,"pass":{...}}` ("pass" absent when none is unfinished)."""

    watermark: int
    """The highest conversation `updated_time` read (UNIX seconds)."""
    reading: MessengerPass | None = None

    def dumps(self) -> str:
        data: Json = {"watermark": self.watermark}
        if self.reading is not None:
            data["pass"] = self.reading.dumps()
        return dump(data)

    @classmethod
    def loads(cls, text: str | None) -> MessengerCursor | None:
        data = load(text)
        if data is None or not isinstance(data.get("watermark"), int):
            return None
        return cls(data["watermark"], MessengerPass.loads(data.get("pass")))

    def clamp(self, ceiling: int) -> None:
        """No time beyond `ceiling` (a cursor saved before watermarks were bounded)."""
        self.watermark = min(self.watermark, ceiling)
        if self.reading is not None:
            self.reading.stop = min(self.reading.stop, ceiling)
            if self.reading.list.top is not None:
                self.reading.list.top = min(self.reading.list.top, ceiling)


CommentsCursor = PostsCursor
"""`facebook.comments`: the Page's posts (feed), active posts and sweeps."""
