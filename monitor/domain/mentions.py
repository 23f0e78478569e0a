"""An @mention of an Instagram account that only a webhook names (no Graph API list has it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

MentionKind = Literal["comment", "media"]
"""`comment`: the account is @mentioned in a comment; `media`: in a media's caption."""


@dataclass(frozen=True, slots=True)
class Mention:
    """Where an @mention is: the comment or the media the Graph API reads it from."""

    kind: MentionKind
    object_id: str
    """The comment's id (`comment`) or the media's (`media`)."""
    media_id: str | None = None
    """The media the comment is on, when the delivery says."""
    received_at: datetime | None = None
    """When the delivery came (stored ones only)."""

    @property
    def key(self) -> str:
        """Its key in the mentions stream's active set: `c:<comment id>` or `m:<media id>`."""
        return f"{self.kind[0]}:{self.object_id}"
