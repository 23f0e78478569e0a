"""The cursor of an X stream: the newest id stored, and at most one gap left to fill (see
docs/sources.md, "X" > "Cursors")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

from monitor.sources.x.payloads import X_ID_LIMIT, is_x_id

MAX_ID = X_ID_LIMIT - 1
"""X ids are snowflakes: 64-bit signed integers, so at most 19 decimal digits (2**63 - 1)."""
MAX_TOKEN_CHARS = 512
"""Longest pagination token followed or kept in a cursor; X's are a few dozen characters, and a
token goes into the next request's URL (servers refuse request lines over ~8 KB)."""


def is_id(text: str) -> bool:
    """An X id that a cursor may hold: a decimal snowflake of 1 to 19 digits, 1 to MAX_ID."""
    return is_x_id(text) and int(text) > 0


def is_token(text: str) -> bool:
    """A pagination token fit to follow and to keep: 1 to MAX_TOKEN_CHARS printable ASCII
    characters without a space."""
    return 0 < len(text) <= MAX_TOKEN_CHARS and text.isascii() and text.isprintable() and " " not in text


def valid_ids(ids: Iterable[int]) -> list[int]:
    """The ids that are X ids (a hostile page may hold a 30-digit one): only these move a cursor."""
    return [i for i in ids if 0 < i <= MAX_ID]


@dataclass(frozen=True)
class Cursor:
    """Where a stream stands: every item up to `newest` is stored, except the items after
    `since` and before `resume` when `gap` (docs/sources.md, "X" > "Cursors"). Ids are checked by
    `is_id`, `resume` by `is_token`: anything else raises ValueError."""

    newest: str | None = None
    gap: bool = False
    since: str | None = None
    resume: str | None = None

    def __post_init__(self) -> None:
        for name, value in (("newest", self.newest), ("since", self.since)):
            if value is not None and not is_id(value):
                raise ValueError(f"not a cursor of an X stream: its {name} is not an X id ({value[:40]!r})")
        if self.resume is not None and not is_token(self.resume):
            raise ValueError(f"not a cursor of an X stream: its resume is not a token ({self.resume[:40]!r})")

    def encode(self) -> str | None:
        """The text stored: the newest id alone, or `newest=&since=&resume=` with a gap."""
        if not self.gap:
            return self.newest
        return urlencode({"newest": self.newest or "", "since": self.since or "", "resume": self.resume or ""})

    @classmethod
    def decode(cls, text: str | None) -> Cursor:
        """A stored cursor (None or empty: nothing read yet); ValueError when it is not one."""
        if not text:
            return cls()
        if text.isascii() and text.isdigit():
            return cls(text)
        fields = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
        if set(fields) != {"newest", "since", "resume"}:
            raise ValueError(f"not a cursor of an X stream: {text[:80]!r}")
        return cls(fields["newest"] or None, True, fields["since"] or None, fields["resume"] or None)
