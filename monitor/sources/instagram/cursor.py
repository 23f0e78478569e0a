"""The saved cursor of `instagram.mentions` (docs/instagram.md, "Cursors"); `instagram.comments`
saves a `PostsCursor`, `instagram.dm` a `MessengerCursor`, as their Facebook counterparts do."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.sources.graph.client import Json
from monitor.sources.graph.cursor import ActivePost, dump, dump_active, load, load_active
from monitor.sources.graph.paging import ListPass


@dataclass
class MentionsCursor:
    """`{"v":1,"refs":...,"active":{"c:<comment-id>"|"m:<media-id>":[last,0(,pass)]},"tags":pass}`
    ("tags" absent when no read of the tagged media is unfinished)."""

    refs: int
    """The newest receive time of the webhook mentions taken (UNIX seconds)."""
    active: dict[str, ActivePost] = field(default_factory=dict)
    """The mentions read again at every poll (the brand's answers come later)."""
    tags: ListPass | None = None
    """A read of the tagged media that a poll left unfinished."""

    def dumps(self) -> str:
        data: Json = {"refs": self.refs, "active": dump_active(self.active)}
        if self.tags is not None:
            data["tags"] = self.tags.dumps()
        return dump(data)

    @classmethod
    def loads(cls, text: str | None) -> MentionsCursor | None:
        data = load(text)
        if data is None:
            return None
        refs, active = data.get("refs"), load_active(data.get("active"))
        if not isinstance(refs, int) or active is None:
            return None
        return cls(refs, active, ListPass.loads(data.get("tags")))

    def clamp(self, ceiling: int) -> None:
        """No time beyond `ceiling`."""
        self.refs = min(self.refs, ceiling)
        for mention in self.active.values():
            mention.last = min(mention.last, ceiling)
