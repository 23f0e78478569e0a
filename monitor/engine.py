"""The engine: turns a source's batch into stored messages and recomputed waits.

Each transaction reads in the order it runs: lock the threads and load them (store), compute
each thread's waits and flags and what they change (domain), apply the changes (store)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.domain import questions  # its rules compile on first use: not for `report` (see the package)
from monitor.domain.agents import NO_ATTRIBUTION, Attribution
from monitor.domain.changes import IngestResult, StoredThread, ThreadChange, thread_change
from monitor.domain.cost import BillableRead, billing_day
from monitor.domain.items import Rejected, Settled
from monitor.domain.labels import Correction, MessageRef
from monitor.domain.model import Channel, Message, ThreadInfo, ThreadMessageLike
from monitor.domain.outcomes import NO_FLAGS, Flags, ThreadOutcome, WaitRow
from monitor.domain.sla import Policy, evaluate
from monitor.domain.waits import Context, compute_waits
from monitor.runtime import Clock, utcnow
from monitor.store import cost, labels
from monitor.store.peers import PeerStore
from monitor.store.store import Store


@dataclass(frozen=True)
class AccountContext:
    """What the engine needs to know of an account to compute its waits."""

    id: int
    name: str
    brand: str
    channel: Channel
    policy: Policy
    handle: str | None = None
    """The account's public handle (X) or name (Facebook Page), as configured: alert texts name it."""
    attribution: Attribution = NO_ATTRIBUTION
    """Who sent the brand's replies: signature rules, roster, apps (docs/agents.md)."""


def thread_outcome(
    account: AccountContext,
    thread: ThreadInfo,
    messages: Sequence[ThreadMessageLike],
    now: datetime,
    private_replies: Sequence[ThreadMessageLike] = (),
) -> ThreadOutcome:
    """The waits of one thread and its messages' flags under the account's policy (pure). A public
    thread's waits also close at the brand's `private_replies` to its customer where the policy
    says so (`dm_closes_public`)."""
    policy = account.policy
    rules = policy.rules
    private = thread.kind == "private"
    flags: dict[str, Flags] = dict.fromkeys([m.external_id for m in messages], NO_FLAGS)
    own = set(flags)
    if policy.dm_closes_public and not private:
        extra = [m for m in private_replies if m.direction == "outbound" and m.external_id not in own]
        messages = [*messages, *extra]
    texts = {m.external_id: m.text for m in messages}

    def question(m: ThreadMessageLike, context: Context) -> bool:
        if m.label is not None:  # a person's correction overrides the rules
            q, reason = m.label, "corrected"
        elif not m.text_available:  # an encrypted chat: no text to judge, a private message needs a reply
            q, reason = True, questions.ENCRYPTED
        else:
            q, reason = questions.decide(
                m.text,
                private=private,
                after_brand_reply=context.after_brand_reply,
                brand_spoke=context.brand_spoke,
                reply_to_brand=m.reply_to_brand,
                is_retweet=m.is_retweet,
                rules=rules,
            )
        flags[m.external_id] = Flags(q, False, reason)
        return q

    def automatic(m: ThreadMessageLike) -> bool:
        sender = account.attribution.sender(m.text, m.app_id)
        if sender.automatic_app:
            reason: str | None = "app:automatic"
        else:
            reason = questions.automatic_reason(m.text, rules) if m.text_available else None
        flags[m.external_id] = Flags(False, reason is not None, reason, sender.agent, sender.team, sender.app)
        return reason is not None

    rows = []
    for w in compute_waits(messages, needs_reply=question, is_automatic=automatic):
        targets = policy.targets_for(
            account.channel,
            "private" if private else "public",
            [texts[q] for q in w.question_ids],
            thread.customer_handle,
        )
        t = evaluate(policy, w, targets.for_kind(w.kind), now)
        rows.append(
            WaitRow(
                seq=w.seq,
                kind=w.kind,
                opened_at=w.opened_at,
                opened_message=w.opened_by,
                questions=w.questions,
                closed_at=w.closed_at,
                closed_message=w.closed_by,
                target_seconds=t.target_seconds,
                deadline=t.deadline,
                at_risk_at=t.at_risk_at,
                wall_seconds=t.wall_seconds,
                business_seconds=t.business_seconds,
                at_risk_reached_at=t.at_risk_reached_at,
                breached_at=t.breached_at,
            )
        )
    return ThreadOutcome(rows, {k: v for k, v in flags.items() if k in own})


def _decisions_only(outcome: ThreadOutcome) -> ThreadOutcome:
    """A peer's outcome without who signed its replies: a competitor's staff are none of ours to name
    (and what is stored of a peer's flags is the decision alone)."""
    flags = {ext: Flags(f.is_question, f.is_automatic, f.reason) for ext, f in outcome.flags.items()}
    return ThreadOutcome(outcome.waits, flags)


class Engine:
    """Ingests batches for configured accounts, in one transaction each; a peer's batches go to the
    peers' own tables (docs/peers.md), their waits computed by the same `thread_outcome`."""

    def __init__(
        self,
        store: Store,
        accounts: Mapping[int, AccountContext],
        clock: Clock = utcnow,
        *,
        peers: Mapping[int, AccountContext] | None = None,
    ):
        self.store = store
        self.accounts = dict(accounts)
        self.clock = clock
        self.peers = dict(peers or {})
        """Peers by account id, each with its brand's policy: never in `accounts` (the inbox's)."""
        self.peer_store = PeerStore(store.pool)

    async def ingest(
        self,
        account_id: int,
        stream: str,
        messages: Sequence[Message],
        cursor: str | None,
        *,
        rejected: Sequence[Rejected] = (),
        received_at: datetime | None = None,
        settled: Settled | None = None,
        billable: Sequence[BillableRead] = (),
    ) -> IngestResult:
        """Store `messages`, set `rejected` aside (received at `received_at`, default now),
        recompute the threads' waits, mark a retried item `settled`, count what X bills for the
        `billable` reads (once per UTC day each) and save `cursor`, atomically."""
        if account_id in self.peers:
            return await self._ingest_peer(account_id, stream, messages, cursor, rejected=rejected, billable=billable)
        account = self.accounts[account_id]
        now = self.clock()
        result = IngestResult()
        async with self.store.transaction() as tx:
            if messages:
                threads = await tx.lock_batch(
                    account_id, account.channel, messages, dm_closes_public=account.policy.dm_closes_public
                )
                await tx.apply(self._changes(threads, now, result))
            if rejected:
                result.quarantined = await tx.quarantine(
                    account_id, account.channel, stream, rejected, received_at or now
                )
            if settled is not None:
                await tx.settle(settled)
            if billable:
                result.billable = await cost.count_billable(tx.conn, account_id, billing_day(now), billable)
            if cursor is not None:
                await tx.save_cursor(account_id, stream, cursor)
        return result

    async def _ingest_peer(
        self,
        account_id: int,
        stream: str,
        messages: Sequence[Message],
        cursor: str | None,
        *,
        rejected: Sequence[Rejected],
        billable: Sequence[BillableRead],
    ) -> IngestResult:
        """A peer's batch, as `ingest` stores an account's, in the peers' tables; what X bills for
        it counts in the peer's cost like any account's (docs/cost.md)."""
        peer = self.peers[account_id]
        now = self.clock()
        result = IngestResult()
        async with self.peer_store.transaction() as tx:
            if messages:
                threads = await tx.lock_batch(account_id, messages)
                changes = []
                for stored in threads:
                    change = thread_change(
                        stored, _decisions_only(thread_outcome(peer, stored.info, stored.messages, now))
                    )
                    result.add(change)
                    changes.append(change)
                await tx.apply(changes)
            if rejected:
                result.quarantined = await tx.quarantine(account_id, stream, rejected, now)
            if billable:
                result.billable = await cost.count_billable(tx.conn, account_id, billing_day(now), billable)
            if cursor is not None:
                await tx.save_cursor(account_id, stream, cursor)
        return result

    async def correct(self, message: MessageRef, label: bool | None, *, by: str, note: str | None) -> Correction:
        """Store a person's correction of an inbound message's decision (None: back to the rules) and
        recompute its thread's waits with it, in one transaction."""
        async with self.store.transaction() as tx:
            thread_id, before = await labels.relabel(tx, message, label)
            threads = await tx.lock_threads([thread_id], dm_closes_public=self._dm_accounts)
            changes = list(self._changes(threads, self.clock(), IngestResult()))
            await tx.apply(changes)
            after = changes[0].flags[message.external_id]
            return await labels.record(tx, message, label, before, after, by=by, note=note)

    async def record_apps(self, account_id: int, apps: Mapping[str, str]) -> int:
        """Remember which app sent these messages (external id -> Meta app id, from webhook echoes)
        and recompute the threads of those already stored, in one transaction; return how many."""
        if not apps:
            return 0
        async with self.store.transaction() as tx:
            thread_ids = await tx.record_apps(account_id, apps)
            if thread_ids:
                threads = await tx.lock_threads(thread_ids)
                await tx.apply(self._changes(threads, self.clock(), IngestResult()))
        return len(thread_ids)

    async def recompute_since(self, since: datetime, *, page: int = 500) -> int:
        """Recompute the waits of every thread with messages since `since`; return threads done."""
        ids = await self.store.threads_since(since, sorted(self.accounts))
        for i in range(0, len(ids), page):
            async with self.store.transaction() as tx:
                threads = await tx.lock_threads(ids[i : i + page], dm_closes_public=self._dm_accounts)
                await tx.apply(self._changes(threads, self.clock(), IngestResult()))
        return len(ids)

    @property
    def _dm_accounts(self) -> set[int]:
        """The accounts whose policy lets a private message close a public wait."""
        return {i for i, a in self.accounts.items() if a.policy.dm_closes_public}

    def _changes(self, threads: Iterable[StoredThread], now: datetime, result: IngestResult) -> Iterator[ThreadChange]:
        """Each thread's outcome and what it changes, counted in `result`, one thread at a time
        (the store writes what one changes while the next is computed)."""
        for stored in threads:
            account = self.accounts[stored.info.account_id]
            outcome = thread_outcome(account, stored.info, stored.messages, now, stored.private_replies)
            change = thread_change(stored, outcome)
            result.add(change)
            yield change
