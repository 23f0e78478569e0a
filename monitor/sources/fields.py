"""Reading the fields of one item of a page: a malformed field raises ItemError naming the field
and the place (`data[1].created_at: missing`), never its content."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from monitor.domain.items import ItemError, Rejected, RejectReason

T = TypeVar("T")


def _chars(text: str) -> str:
    return f"{len(text)} character{'' if len(text) == 1 else 's'}"


def _kind(value: object) -> str:
    """What a value is, for a detail: its JSON type and size, not its content."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"a string of {_chars(value)}"
    return {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


class Fields:
    """One item of a page (a JSON object) and where it is, for its field readers."""

    def __init__(self, item: object, where: str) -> None:
        if not isinstance(item, dict):
            raise ItemError("bad_item", f"{where}: not an object but {_kind(item)}")
        self.item: dict[str, Any] = item
        self.where = where

    def fail(self, reason: RejectReason, key: str, what: str) -> ItemError:
        return ItemError(reason, f"{self.where}.{key}: {what}")

    def identify(self, valid: Callable[[str], bool], what: str, *, named: str | None = None) -> str:
        """The item's `id` (bad_id unless `valid` accepts it); with `named`, details name the item
        `named <id>` from now on instead of by its place."""
        value = self.id("id", "bad_id", valid, what)
        assert value is not None
        if named is not None:
            self.where = f"{named} {value}"
        return value

    def text(self, key: str, reason: RejectReason, *, required: bool = True) -> str | None:
        """A string field; None when absent or null and not `required`."""
        value = self.item.get(key)
        if value is None:
            if required:
                raise self.fail(reason, key, "missing" if key not in self.item else "null")
            return None
        if not isinstance(value, str):
            raise self.fail(reason, key, f"not a string but {_kind(value)}")
        return value

    def id(
        self, key: str, reason: RejectReason, valid: Callable[[str], bool], what: str, *, required: bool = True
    ) -> str | None:
        """A string field that `valid` accepts as an id (`what` names the form expected)."""
        value = self.text(key, reason, required=required)
        if value is not None and not valid(value):
            raise self.fail(reason, key, f"not {what} ({_chars(value)})")
        return value

    def time(
        self, key: str, *, missing: RejectReason = "missing_created_at", bad: RejectReason = "bad_created_at"
    ) -> datetime:
        """An ISO 8601 time with a zone, in UTC."""
        value = self.item.get(key)
        if value is None:
            raise self.fail(missing, key, "missing" if key not in self.item else "null")
        if not isinstance(value, str):
            raise self.fail(bad, key, f"not a time but {_kind(value)}")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(bad, key, f"not an ISO 8601 time ({_chars(value)})") from None
        if parsed.tzinfo is None:
            raise self.fail(bad, key, "a time without a zone")
        try:
            return parsed.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00:00+01:00 has no UTC equivalent
            raise self.fail(bad, key, "a time out of range") from None

    def nested(self, key: str, reason: RejectReason) -> Fields | None:
        """An object field (`from`, `parent`); None when absent or null."""
        value = self.item.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(reason, key, f"not an object but {_kind(value)}")
        return Fields(value, f"{self.where}.{key}")

    def items(self, key: str, reason: RejectReason) -> list[Any]:
        """A list field; empty when absent or null."""
        value = self.item.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(reason, key, f"not a list but {_kind(value)}")
        return value


def parse_item(
    item: object, kind: str, valid: Callable[[str], bool], what: str, read: Callable[[str, Fields], T]
) -> T | Rejected:
    """`read(id, fields)` of an item of `kind` whose `id` `valid` accepts (`what` names its form),
    or the item set aside (`kind` it is, and its id when that could be read)."""
    object_id: str | None = None
    try:
        fields = Fields(item, kind)
        object_id = fields.identify(valid, what, named=kind)
        return read(object_id, fields)
    except ItemError as exc:
        return exc.rejected(item, kind, object_id)
