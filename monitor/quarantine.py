"""`inbox-monitor quarantine retry`: parse the items set aside again with this version's code.

Those that now parse go through the engine as a poll's messages would (stored once, waits
recomputed) and their row is marked resolved, in one transaction per item; the others stay set
aside, with the reason this version gives. Cursors are not touched.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from monitor.config import AnyAccount, InstagramAccount, XAccount
from monitor.domain.items import Parsed, Settled
from monitor.engine import Engine
from monitor.sources import facebook, instagram, x
from monitor.sources.base import BadPayload
from monitor.store.quarantine import QuarantinedItem, QuarantineStore

RETRY_PAGE = 500
"""Items read at a time: a large quarantine is retried in bounded memory."""


@dataclass
class RetryResult:
    retried: int = 0
    resolved: int = 0
    messages_new: int = 0
    still: dict[str, int] = field(default_factory=dict)
    """Reason -> items still set aside."""


def reparse(account: AnyAccount, item: QuarantinedItem) -> Parsed:
    """What this version's parser makes of a quarantined item (received when it was)."""
    if isinstance(account, XAccount):
        return x.parse_rejected(
            item.stream,
            item.kind,
            item.raw,
            item.context,
            user_id=account.user_id,
            handle=account.handle,
            received_at=item.received_at,
        )
    parse = facebook.parse_rejected
    if isinstance(account, InstagramAccount):
        parse = functools.partial(instagram.parse_rejected, ig_user_id=account.ig_user_id)
    return parse(item.kind, item.raw, item.context, page_id=account.page_id, received_at=item.received_at)


async def retry(engine: Engine, quarantine: QuarantineStore, accounts: Mapping[int, AnyAccount]) -> RetryResult:
    """Retry every unresolved item of these accounts (by account id) set aside before the call
    (not the ones this retry sets aside: this code has just parsed them)."""
    result = RetryResult()
    ceiling = await quarantine.last_id()
    for account_id, account in accounts.items():
        after = 0
        while items := await quarantine.unresolved(account_id, after_id=after, up_to=ceiling, limit=RETRY_PAGE):
            for item in items:
                after = item.id
                try:
                    parsed = reparse(account, item)
                except (ValueError, BadPayload):  # a kind (or context) this version cannot read
                    parsed = Parsed()
                    still = True
                else:  # the item itself, or only items nested in it (a conversation's messages)?
                    still = any(r.kind == item.kind for r in parsed.rejected)
                ingest = await engine.ingest(
                    account_id,
                    item.stream,
                    parsed.messages,
                    None,
                    rejected=parsed.rejected,
                    received_at=item.received_at,
                    settled=Settled(item.id, resolved=not still),
                )
                result.retried += 1
                result.messages_new += ingest.messages_new
                if still:
                    reason = next((r.reason for r in parsed.rejected if r.kind == item.kind), item.reason)
                    result.still[reason] = result.still.get(reason, 0) + 1
                else:
                    result.resolved += 1
    return result
