"""The engine: turns a source's batch into stored messages and recomputed waits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.domain.items import Rejected
from monitor.domain.model import Channel, Message, ThreadMessageLike
from monitor.domain.questions import automatic_reason, decide
from monitor.domain.sla import Policy, evaluate
from monitor.domain.waits import Context, compute_waits
from monitor.runtime import Clock, utcnow
from monitor.store import labels
from monitor.store.labels import Correction, MessageRef
from monitor.store.store import Compute, IngestResult, Settled, Store, ThreadInfo, ThreadOutcome, WaitRow


@dataclass(frozen=True)
class AccountContext:
    """What the engine needs to know of an account to compute its waits."""

    id: int
    name: str
    brand: str
    channel: Channel
    policy: Policy


def thread_outcome(
    account: AccountContext, thread: ThreadInfo, messages: list[ThreadMessageLike], now: datetime
) -> ThreadOutcome:
    """The waits of one thread and its messages' flags under the account's policy (pure)."""
    policy = account.policy
    rules = policy.rules
    private = thread.kind == "private"
    flags: dict[str, tuple[bool, bool, str | None]] = {m.external_id: (False, False, None) for m in messages}
    texts = {m.external_id: m.text for m in messages}

    def question(m: ThreadMessageLike, context: Context) -> bool:
        if m.label is not None:  # a person's correction overrides the rules
            q, reason = m.label, "corrected"
        else:
            q, reason = decide(m.text, private=private, after_brand_reply=context.after_brand_reply,
                               brand_spoke=context.brand_spoke, reply_to_brand=m.reply_to_brand,
                               is_retweet=m.is_retweet, rules=rules)
        flags[m.external_id] = (q, False, reason)
        return q

    def automatic(m: ThreadMessageLike) -> bool:
        reason = automatic_reason(m.text, rules)
        flags[m.external_id] = (False, reason is not None, reason)
        return reason is not None

    rows = []
    for w in compute_waits(messages, needs_reply=question, is_automatic=automatic):
        targets = policy.targets_for(
            account.channel, "private" if private else "public",
            [texts[q] for q in w.question_ids], thread.customer_handle,
        )
        t = evaluate(policy, w, targets.for_kind(w.kind), now)
        rows.append(WaitRow(
            seq=w.seq, kind=w.kind, opened_at=w.opened_at, opened_message=w.opened_by,
            questions=w.questions, closed_at=w.closed_at, closed_message=w.closed_by,
            target_seconds=t.target_seconds, deadline=t.deadline, at_risk_at=t.at_risk_at,
            wall_seconds=t.wall_seconds, business_seconds=t.business_seconds,
            at_risk_reached_at=t.at_risk_reached_at, breached_at=t.breached_at,
        ))
    return ThreadOutcome(rows, flags)


class Engine:
    """Ingests batches for configured accounts, in one transaction each."""

    def __init__(self, store: Store, accounts: Mapping[int, AccountContext], clock: Clock = utcnow):
        self.store = store
        self.accounts = dict(accounts)
        self.clock = clock

    def _compute(self) -> Compute:
        now = self.clock()
        return lambda thread, messages: thread_outcome(
            self.accounts[thread.account_id], thread, messages, now
        )

    async def ingest(
        self, account_id: int, stream: str, messages: Sequence[Message], cursor: str | None, *,
        rejected: Sequence[Rejected] = (), received_at: datetime | None = None,
        settled: Settled | None = None,
    ) -> IngestResult:
        """Store `messages`, set `rejected` aside (received at `received_at`, default now),
        recompute the threads' waits, mark a retried item `settled` and save `cursor`, atomically."""
        channel = self.accounts[account_id].channel
        return await self.store.ingest(account_id, channel, stream, messages, cursor, self._compute(),
                                       rejected=rejected, received_at=received_at or self.clock(),
                                       settled=settled)

    async def correct(self, message: MessageRef, label: bool | None, *, by: str, note: str | None) -> Correction:
        """Store a person's correction of an inbound message's decision (None: back to the rules) and
        recompute its thread's waits with it, in one transaction."""
        return await labels.correct(self.store.pool, message, label, by=by, note=note, compute=self._compute())

    async def recompute_since(self, since: datetime, *, page: int = 500) -> int:
        """Recompute the waits of every thread with messages since `since`; return threads done."""
        ids = await self.store.threads_since(since, sorted(self.accounts))
        for i in range(0, len(ids), page):
            await self.store.recompute(ids[i:i + page], self._compute())
        return len(ids)
