"""Graph object ids: checked before they go into a request's path or a cursor."""

from __future__ import annotations

import re

GRAPH_ID_MAX_DIGITS = 20
"""Graph ids are 64-bit numbers sent as strings: at most 20 digits (a post id is two of them,
`<page id>_<post id>`). Anything longer is not an id."""
_GRAPH_ID = re.compile(rf"[0-9]{{1,{GRAPH_ID_MAX_DIGITS}}}(?:_[0-9]{{1,{GRAPH_ID_MAX_DIGITS}}})?")


def is_graph_id(value: str) -> bool:
    """A Graph object id: a number (a Page, a person) or `<number>_<number>` (a post, a comment)."""
    return _GRAPH_ID.fullmatch(value) is not None
