"""What every Graph stream shares: its budget, the items it sets aside, one `Batch` per poll."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from monitor.domain.items import Rejected
from monitor.domain.model import Message
from monitor.sources.base import BadPayload, Batch, CheckResult, RateBudget, SourceError, check_failure
from monitor.sources.graph.bounds import MAX_ACTIVE_POSTS, MAX_CALLS_PER_MINUTE, MAX_CURSOR_CHARS
from monitor.sources.graph.budget import Cut, FetchBudget
from monitor.sources.graph.client import GraphClient, Json
from monitor.sources.graph.errors import ObjectGone
from monitor.sources.graph.paging import Listing, parse_listing

log = logging.getLogger(__name__)

PASS_ENDS = {
    "repeat": "the Graph API gave a paging cursor it had given before",
    "too_long": f"a paging cursor is longer than {MAX_CURSOR_CHARS} characters",
    "capped": "a list went on past its page limit",
    "rate": f"the stream made {MAX_CALLS_PER_MINUTE} calls in a minute",
    "active": f"more than {MAX_ACTIVE_POSTS} active posts",
}
"""Why a poll did not read a list to its end (logged when it starts happening)."""


class GraphStream:
    """One stream of a Page on the Graph API (a `Source`): the client it shares with the Page's
    other streams, a per-poll budget of calls and items, the items a fetch set aside and the
    receive time of its last answer. Subclasses read their lists in `_fetch`."""

    stream = ""

    def __init__(self, client: GraphClient, page_id: str) -> None:
        self.client = client
        self.page_id = page_id
        self.budget = FetchBudget(client.clock)
        self._unfinished = False
        """A list was left for the next poll (`MAX_PAGES_PER_POLL`): poll again at once."""
        self._ends: set[tuple[str, str]] = set()
        self._ends_logged: set[tuple[str, str]] = set()
        self._rejected: list[Rejected] = []
        self._received_at = client.clock()

    def rate_budget(self) -> RateBudget:
        return self.client.rate_budget()

    def _check_call(self) -> tuple[str, dict[str, str]]:
        """The one call `check` makes, as cheap as the stream's first read allows: the path and
        its parameters. By default the Page node itself; streams ask for their own list."""
        return self.page_id, {"fields": "id"}

    async def check(self) -> CheckResult:
        """One call with the stream's token (`_check_call`), nothing stored."""
        path, params = self._check_call()
        endpoint = f"GET /{path}"
        try:
            await self.client.get(path, params)
        except ObjectGone as exc:
            return CheckResult("not_found", endpoint, f"{exc} (page_id {self.page_id})")
        except SourceError as exc:
            return check_failure(exc, endpoint, self.client.clock())
        return CheckResult("ok", endpoint)

    async def _get(self, path: str, params: Mapping[str, str]) -> Json:
        self.budget.spend()
        body = await self.client.get(path, params)
        self._received_at = self.client.clock()
        return body

    async def _page(self, path: str, params: Mapping[str, str], *, check: bool = True) -> Listing:
        """One page of a list; with `check`, the poll may stop here (`Cut`) and go on later."""
        if check:
            self.budget.check()
        listing = parse_listing(await self._get(path, params))
        self.budget.items += len(listing.items)
        return listing

    def _ended(self, reason: str, what: str) -> None:
        """Note why a list stopped before its end ("later": it goes on at the next poll)."""
        if reason == "later":
            self._unfinished = True
        elif reason != "end":
            self._ends.add((reason, what))

    async def _fetch(self, cursor: str | None) -> tuple[list[Message], str, Cut | None]:
        """The messages read and the cursor to save; the `Cut` that stopped the poll, if one did."""
        raise NotImplementedError

    async def fetch(self, cursor: str | None) -> Batch:
        self.budget.start()
        self._unfinished = False
        self._ends = set()
        self._rejected = []
        try:
            messages, new_cursor, cut = await self._fetch(cursor)
        except BadPayload as exc:
            raise BadPayload(str(exc), endpoint=exc.endpoint or self.stream) from None
        if cut is not None and not cut.more:
            self._ended("rate", "calls")
        for reason, what in sorted(self._ends - self._ends_logged):
            log.warning(
                "Graph list not read to its end",
                extra={"page_id": self.page_id, "stream": self.stream, "list": what, "reason": PASS_ENDS[reason]},
            )
        self._ends_logged = self._ends
        wait = self.client.next_poll_after()
        more = (cut.more if cut is not None else self._unfinished) and not wait
        if cut is not None and cut.wait:
            wait = max(wait or 0.0, cut.wait)
        return Batch(
            messages,
            new_cursor,
            more=more,
            next_poll_after=wait,
            calls=self.budget.calls,
            rejected=list(self._rejected),
        )

    async def close(self) -> None:
        return None  # the session is shared and closed by its owner
