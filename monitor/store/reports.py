"""All SQL of the reports: aggregates of the stored waits and messages, and scheduled-run claims.

Reports read stored facts (a wait's open and close instants, its response time in wall and
business seconds, its deadline) and aggregate them in PostgreSQL. A wait counts as of `as_of`,
as docs/definitions.md says (the conditions are those of monitor/store/figures.py).
"""

from __future__ import annotations

import asyncio
import bisect
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from monitor.domain.figures import Hours
from monitor.logs import redact
from monitor.store.db import Connection
from monitor.store.figures import RESPONSE_COLUMN, answered, breached, within_sla

__all__ = ["Hours", "ReportQuery", "ReportRows", "ReportStore", "ScopeRows", "fine_edges"]

_SNAPSHOT_ID = re.compile(r"^[0-9A-Fa-f-]+$")

# Every query filters the waits of a cohort: the accounts' waits opened in [$2, $3).
# $4 is the instant the report is made "as of".
_COHORT = "w.account_id = ANY($1::integer[]) AND w.opened_at >= $2 AND w.opened_at < $3"
# What a wait is as of $4 (docs/definitions.md): the one definition, in monitor/store/figures.py.
_ANSWERED = answered("$4")
_WITHIN = within_sla("$4")
_BREACHED = breached("$4")


_MEASURE_NAMES = ("waits_opened", "questions", "answered", "first_waits", "first_answered", "within_sla", "breaches")
# What every report query counts over a set of waits (`w`), and how it rolls those counts up.
_MEASURES = f"""count(*) AS waits_opened,
               sum(w.questions) AS questions,
               count(*) FILTER (WHERE {_ANSWERED}) AS answered,
               count(*) FILTER (WHERE w.kind = 'first') AS first_waits,
               count(*) FILTER (WHERE w.kind = 'first' AND {_ANSWERED}) AS first_answered,
               count(*) FILTER (WHERE {_WITHIN}) AS within_sla,
               count(*) FILTER (WHERE {_BREACHED}) AS breaches"""


def _rollup(alias: str) -> str:
    return ",\n".join(f"coalesce(sum({alias}.{m}), 0)::bigint AS {m}" for m in _MEASURE_NAMES)


# The previous period's counts: per account in one pass (a hash aggregate on an integer), then
# rolled up to brands, channels and the total over those few rows. `questions`: the inbound
# questions of the waits (a wait gathers every question asked before the reply).
_COUNTS_SQL = f"""
    WITH per_account AS (
        SELECT w.account_id,
               {_MEASURES}
        FROM waits w
        WHERE {_COHORT}
        GROUP BY w.account_id
    )
    SELECT a.brand, a.channel, a.name AS account, GROUPING(a.brand, a.channel, a.name) AS grouping,
           {_rollup("p")}
    FROM per_account p JOIN accounts a ON a.id = p.account_id
    GROUP BY GROUPING SETS ((), (a.brand), (a.brand, a.channel), (a.brand, a.channel, a.name))
"""


# The current period in one pass: counts per local hour (of the period's time zone) and account,
# then rolled up three ways over those few rows: per scope (account, channel, brand, total), per
# local day and channel, per weekday-and-hour cell. $5 holds the period's local hour starts (UTC,
# ascending); $6 and $7 map each hour (1-based, as width_bucket numbers them) to its day index
# and its heat-map cell (weekday * 24 + hour).
_COHORT_SQL = f"""
    WITH cells AS (
        SELECT width_bucket(w.opened_at, $5::timestamptz[]) AS hour, w.account_id,
               {_MEASURES}
        FROM waits w
        WHERE {_COHORT}
        GROUP BY 1, 2
    )
    SELECT 'scope' AS part, a.brand, a.channel, a.name AS account,
           GROUPING(a.brand, a.channel, a.name) AS grouping, NULL::integer AS slot,
               {_rollup("c")}
    FROM cells c JOIN accounts a ON a.id = c.account_id
    GROUP BY GROUPING SETS ((), (a.brand), (a.brand, a.channel), (a.brand, a.channel, a.name))
    UNION ALL
    SELECT 'day', NULL, a.channel, NULL, NULL, ($6::integer[])[c.hour],
               {_rollup("c")}
    FROM cells c JOIN accounts a ON a.id = c.account_id
    GROUP BY a.channel, ($6::integer[])[c.hour]
    UNION ALL
    SELECT 'cell', NULL, NULL, NULL, NULL, ($7::integer[])[c.hour],
               {_rollup("c")}
    FROM cells c
    WHERE c.breaches > 0
    GROUP BY ($7::integer[])[c.hour]
"""


def _first_response_sql(column: str) -> str:
    """Median and P90 of the answered first waits' response times per scope, and their histogram.

    Exact, and equal to percentile_cont, without sorting every value once per scope level (what
    percentile_cont over a rollup does, the costliest part of a year's report):
      1. one pass counts the values per account in fine buckets ($5: increasing edges);
      2. over those counts, each scope's ranks floor/ceil(p * (n - 1)) fall in known buckets,
         at known places in them;
      3. a second pass reads only the values of those buckets, ranks them within their bucket
         and picks the ones at those places; they are interpolated as percentile_cont does.
    Part 'bucket' gives the histogram of everything, mapped to the distribution's buckets ($6)."""
    return f"""
        WITH acc AS (
            SELECT id, name, brand, channel,
                   dense_rank() OVER (ORDER BY brand) AS b, dense_rank() OVER (ORDER BY channel) AS c
            FROM accounts WHERE id = ANY($1::integer[])
        ), hist AS MATERIALIZED (
            SELECT w.account_id, width_bucket(w.{column}, $5::double precision[]) AS fb, count(*) AS n
            FROM waits w
            WHERE {_COHORT} AND w.kind = 'first' AND {_ANSWERED}
            GROUP BY 1, 2
        ), levels AS (
            SELECT coalesce(acc.b, 0) AS b, coalesce(acc.c, 0) AS c, coalesce(h.account_id, 0) AS account_id,
                   GROUPING(acc.b, acc.c, h.account_id) AS grouping, h.fb, sum(h.n)::bigint AS n
            FROM hist h JOIN acc ON acc.id = h.account_id
            GROUP BY GROUPING SETS ((acc.b, acc.c, h.account_id, h.fb), (acc.b, acc.c, h.fb), (acc.b, h.fb), (h.fb))
        ), cum AS (
            SELECT levels.*,
                   (sum(n) OVER (PARTITION BY grouping, b, c, account_id ORDER BY fb) - n)::bigint AS before,
                   (sum(n) OVER (PARTITION BY grouping, b, c, account_id))::bigint AS total
            FROM levels
        ), ranks AS (
            SELECT DISTINCT grouping, b, c, account_id, total, p,
                   floor(p * (total - 1)::double precision)::bigint AS first_row,
                   ceil(p * (total - 1)::double precision)::bigint AS second_row
            FROM cum CROSS JOIN (VALUES (0.5::double precision), (0.9::double precision)) AS ps(p)
        ), targets AS (
            SELECT DISTINCT cum.grouping, cum.b, cum.c, cum.account_id, cum.fb, r.row,
                   r.row - cum.before AS place
            FROM cum JOIN (SELECT grouping, b, c, account_id, first_row AS row FROM ranks
                           UNION SELECT grouping, b, c, account_id, second_row FROM ranks) AS r
              ON r.grouping = cum.grouping AND r.b = cum.b AND r.c = cum.c AND r.account_id = cum.account_id
             AND r.row >= cum.before AND r.row < cum.before + cum.n
        ), wanted AS (
            -- Which fine buckets hold a value to pick: a mask read by index (one lookup per row).
            SELECT array_agg(t.fb IS NOT NULL ORDER BY i) AS mask
            FROM generate_series(0, cardinality($5::double precision[])) AS i
            LEFT JOIN (SELECT DISTINCT fb FROM targets) AS t ON t.fb = i
        ), candidates AS MATERIALIZED (
            SELECT v.account_id, v.fb, v.value
            FROM (SELECT w.account_id, width_bucket(w.{column}, $5::double precision[]) AS fb, w.{column} AS value
                  FROM waits w
                  WHERE {_COHORT} AND w.kind = 'first' AND {_ANSWERED}) AS v
            WHERE (SELECT mask FROM wanted)[v.fb + 1]
        ), picked AS (
            SELECT grouping, b, c, account_id, row, value
            FROM (
                SELECT t.grouping, t.b, t.c, t.account_id, t.row, t.place, x.value,
                       row_number() OVER (PARTITION BY t.grouping, t.b, t.c, t.account_id, t.row
                                          ORDER BY x.value) - 1 AS i
                FROM targets t
                JOIN acc ON (t.b = 0 OR acc.b = t.b) AND (t.c = 0 OR acc.c = t.c)
                        AND (t.account_id = 0 OR acc.id = t.account_id)
                JOIN candidates x ON x.account_id = acc.id AND x.fb = t.fb
            ) AS ranked
            WHERE i = place
        ), percentiles AS (
            SELECT r.grouping, r.b, r.c, r.account_id,
                   array_agg(CASE WHEN r.first_row = r.second_row THEN lo.value
                                  ELSE lo.value + ((r.p * (r.total - 1)::double precision - r.first_row)
                                                   * (hi.value - lo.value)) END ORDER BY r.p) AS first_percentiles
            FROM ranks r
            JOIN picked lo ON lo.grouping = r.grouping AND lo.b = r.b AND lo.c = r.c
             AND lo.account_id = r.account_id AND lo.row = r.first_row
            JOIN picked hi ON hi.grouping = r.grouping AND hi.b = r.b AND hi.c = r.c
             AND hi.account_id = r.account_id AND hi.row = r.second_row
            GROUP BY r.grouping, r.b, r.c, r.account_id
        )
        SELECT 'scope' AS part, (SELECT min(brand) FROM acc WHERE acc.b = percentiles.b) AS brand,
               (SELECT min(channel) FROM acc WHERE acc.c = percentiles.c) AS channel,
               (SELECT name FROM acc WHERE acc.id = percentiles.account_id) AS account,
               grouping, first_percentiles, NULL::integer AS bucket, NULL::bigint AS waits
        FROM percentiles
        UNION ALL
        SELECT 'bucket', NULL, NULL, NULL, NULL, NULL, ($6::integer[])[fb + 1], sum(n)::bigint
        FROM hist
        GROUP BY ($6::integer[])[fb + 1]
    """


_LONGEST_SQL = f"""
    WITH top AS (
        SELECT w.thread_id, w.seq, w.account_id, w.kind, w.opened_at, w.opened_message,
               w.target_seconds, w.deadline,
               CASE WHEN {_ANSWERED} THEN w.closed_at END AS closed_at,
               CASE WHEN {_ANSWERED} THEN w.wall_seconds
                    ELSE extract(epoch FROM $4 - w.opened_at)::double precision END AS waited_seconds,
               CASE WHEN {_ANSWERED} THEN w.business_seconds END AS business_seconds
        FROM waits w
        WHERE {_COHORT}
        ORDER BY waited_seconds DESC, w.opened_at, w.thread_id, w.seq
        LIMIT $5
    )
    SELECT top.*, a.brand, a.channel, a.name AS account, t.kind AS thread_kind, t.customer_handle,
           coalesce(m.url, t.url) AS url, m.reason
    FROM top
    JOIN accounts a ON a.id = top.account_id
    JOIN threads t ON t.id = top.thread_id
    LEFT JOIN messages m ON m.account_id = top.account_id AND m.external_id = top.opened_message
    ORDER BY top.waited_seconds DESC, top.opened_at, top.thread_id, top.seq
"""


_ENCRYPTED_SQL = f"""
    SELECT count(*)::bigint AS waits
    FROM waits w
    JOIN messages m ON m.account_id = w.account_id AND m.external_id = w.opened_message
    WHERE {_COHORT} AND NOT m.text_available
"""


def _agents_sql(column: str) -> str:
    """The waits answered by each agent's replies (docs/agents.md): per team and agent, and per team
    (`team_total`), their count, how many were answered by their deadline, and the median and P90
    of their response times (first and next waits alike). Unsigned replies are `signed` false."""
    return f"""
        WITH answers AS (
            SELECT m.agent IS NOT NULL AS signed, CASE WHEN m.agent IS NOT NULL THEN m.team END AS team,
                   m.agent, w.{column} AS seconds, ({_WITHIN}) AS within
            FROM waits w
            JOIN messages m ON m.account_id = w.account_id AND m.external_id = w.closed_message
            WHERE {_COHORT} AND {_ANSWERED}
        )
        SELECT signed, team, agent, GROUPING(agent) = 1 AS team_total, count(*) AS answers,
               count(*) FILTER (WHERE within) AS within_sla,
               percentile_cont(ARRAY[0.5, 0.9]::double precision[]) WITHIN GROUP (ORDER BY seconds) AS percentiles
        FROM answers
        GROUP BY GROUPING SETS ((signed, team, agent), (signed, team))
        ORDER BY signed DESC, team NULLS LAST, team_total DESC, answers DESC, agent
    """


@dataclass(frozen=True)
class ReportQuery:
    """What a report reads: these accounts' waits opened in [previous_start, end), as of `as_of`.

    The current period is [start, end); the one it is compared with is [previous_start, start).
    Both are cut at `as_of`: what had not happened yet is not counted.
    """

    account_ids: Sequence[int]
    previous_start: datetime
    start: datetime
    end: datetime
    as_of: datetime
    timezone: str
    hours: Hours
    bucket_edges: Sequence[float]
    """Upper edges of the first-response distribution's buckets, in seconds, increasing."""
    hour_starts: Sequence[datetime]
    """Each local hour of the current period: its start (UTC, ascending), then the period's end."""
    hour_days: Sequence[int]
    """For each hour, the index of its local day in the period."""
    hour_cells: Sequence[int]
    """For each hour, its heat-map cell: weekday (0 = Monday) * 24 + local hour."""
    longest: int = 10


@dataclass(frozen=True)
class ReportRows:
    """The aggregates of one report, read in one snapshot of the database."""

    first_responses: list[asyncpg.Record]
    """part 'scope' (first_percentiles per scope), 'bucket' (waits per distribution bucket)."""
    cohort: list[asyncpg.Record]
    """part 'scope' (per scope), 'day' (slot: day index, per channel), 'cell' (slot: heat-map cell)."""
    previous_counts: list[asyncpg.Record]
    previous_first_responses: list[asyncpg.Record]
    longest: list[asyncpg.Record]
    encrypted: list[asyncpg.Record]
    """One row: `waits`, those of the current period opened by an encrypted chat (no text)."""
    agents: list[asyncpg.Record]
    """Per team and agent, and per team (`team_total`): the waits their replies answered."""


def fine_edges(coarse: Sequence[float]) -> tuple[list[float], list[int]]:
    """Fine bucket edges for the percentiles (1 % apart from 1 s to 90 days, and the coarse edges),
    and for each fine bucket (0 = below the first edge) the coarse bucket it lies in."""
    edges = {float(e) for e in coarse}
    x = 1.0
    while x < 90 * 86400:
        edges.add(x)
        x *= 1.01
    fine = sorted(edges)
    to_coarse = [0] + [bisect.bisect_right(coarse, lower) for lower in fine]
    return fine, to_coarse


@dataclass(frozen=True)
class ScopeRows:
    """The figures of some accounts' waits opened in one span, per scope, read in one snapshot."""

    counts: list[asyncpg.Record]
    """Counts per scope (brand, channel, account; None where rolled up)."""
    first_responses: list[asyncpg.Record]
    """part 'scope' (first_percentiles per scope), 'bucket' (waits per distribution bucket)."""


Query = Callable[[Connection], Awaitable[list[asyncpg.Record]]]


class ReportStore:
    """Report aggregates and scheduled-run claims; every report query runs here."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def accounts(self, brands: Sequence[str] | None = None) -> list[asyncpg.Record]:
        """Accounts (id, name, brand, channel) of these brands (all when None), by brand and name;
        peers are not the brands' accounts."""
        async with self.pool.acquire() as conn:
            return await conn.fetch(
                """
                SELECT id, name, brand, channel FROM accounts
                WHERE NOT peer AND ($1::text[] IS NULL OR brand = ANY($1::text[]))
                ORDER BY brand, channel, name
                """,
                None if brands is None else list(brands),
            )

    async def brands(self) -> list[str]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT DISTINCT brand FROM accounts WHERE NOT peer ORDER BY 1")
        return [r["brand"] for r in rows]

    async def read(self, q: ReportQuery) -> ReportRows:
        """Every aggregate of a report, in parallel on several connections sharing one snapshot."""
        column = RESPONSE_COLUMN[q.hours]
        ids = list(q.account_ids)
        end = min(q.end, q.as_of)
        start = min(q.start, end)
        previous_start = min(q.previous_start, start)
        current = (ids, start, end, q.as_of)
        previous = (ids, previous_start, start, q.as_of)
        first_responses = _first_response_sql(column)
        edges, to_coarse = fine_edges(q.bucket_edges)

        def fetch(sql: str, *args: object) -> Query:
            return lambda conn: conn.fetch(sql, *args)

        # The heaviest first: with few connections, they start first.
        queries: list[Query] = [
            fetch(first_responses, *current, edges, to_coarse),
            fetch(_COHORT_SQL, *current, list(q.hour_starts), list(q.hour_days), list(q.hour_cells)),
            fetch(_COUNTS_SQL, *previous),
            fetch(first_responses, *previous, edges, to_coarse),
            fetch(_LONGEST_SQL, *current, q.longest),
            fetch(_ENCRYPTED_SQL, ids, start, end),
            fetch(_agents_sql(column), *current),
        ]
        results = await self._in_one_snapshot(queries)
        return ReportRows(*results)

    async def figures(
        self,
        account_ids: Sequence[int],
        start: datetime,
        end: datetime,
        *,
        as_of: datetime,
        hours: Hours,
        bucket_edges: Sequence[float],
    ) -> ScopeRows:
        """The report's figures of these accounts' waits opened in [start, end), as of `as_of`:
        the same queries as a report's previous period, for whoever shows figures outside a report."""
        args = (list(account_ids), start, end, as_of)
        edges, to_coarse = fine_edges(bucket_edges)
        counts, firsts = await self._in_one_snapshot(
            [
                lambda conn: conn.fetch(_COUNTS_SQL, *args),
                lambda conn: conn.fetch(_first_response_sql(RESPONSE_COLUMN[hours]), *args, edges, to_coarse),
            ]
        )
        return ScopeRows(counts, firsts)

    async def _in_one_snapshot(self, queries: Sequence[Query]) -> list[list[asyncpg.Record]]:
        """Run `queries` concurrently; all see the same data (an exported snapshot)."""
        async with self.pool.acquire() as lead, lead.transaction(isolation="repeatable_read", readonly=True):
            await lead.execute("SET LOCAL work_mem = '128MB'")
            if self.pool.get_max_size() < 2 or len(queries) < 2:
                return [await query(lead) for query in queries]
            snapshot = await lead.fetchval("SELECT pg_export_snapshot()")
            if not isinstance(snapshot, str) or not _SNAPSHOT_ID.match(snapshot):
                raise RuntimeError(f"unexpected snapshot id {snapshot!r}")

            # At most half the pool besides the lead: the pollers keep connections to work with.
            room = asyncio.Semaphore(max(1, self.pool.get_max_size() // 2))

            async def on_snapshot(query: Query) -> list[asyncpg.Record]:
                async with (
                    room,
                    self.pool.acquire() as conn,
                    conn.transaction(isolation="repeatable_read", readonly=True),
                ):
                    await conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                    await conn.execute("SET LOCAL work_mem = '128MB'")
                    return await query(conn)

            # The lead connection keeps the snapshot alive; it runs the first query itself.
            return list(await asyncio.gather(queries[0](lead), *(on_snapshot(q) for q in queries[1:])))

    # --- scheduled runs ----------------------------------------------------------------------

    async def register_schedule(self, name: str, now: datetime) -> datetime:
        """Remember when a schedule was first seen (kept if it already was); return that instant."""
        async with self.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO report_schedules (name, first_seen_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                name,
                now,
            )
            seen: datetime = await conn.fetchval("SELECT first_seen_at FROM report_schedules WHERE name = $1", name)
        return seen

    async def claim_run(
        self, schedule: str, occurrence: datetime, owner: str, *, now: datetime, stale_after: timedelta
    ) -> list[str] | None:
        """Claim an occurrence; None if another process has it (or it is done).

        A claim still 'running' after `stale_after` is taken over (its process died): the
        deliveries it had made are returned, for the new owner to skip."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                """
                INSERT INTO report_runs (schedule, occurrence, owner, claimed_at)
                VALUES ($1, $2, $3, $4)
                ON CONFLICT (schedule, occurrence) DO UPDATE SET
                    owner = EXCLUDED.owner, claimed_at = EXCLUDED.claimed_at,
                    attempts = report_runs.attempts + 1
                WHERE report_runs.status = 'running' AND report_runs.claimed_at < $5
                RETURNING delivered
                """,
                schedule,
                occurrence,
                owner,
                now,
                now - stale_after,
            )
        return None if row is None else list(row["delivered"])

    async def mark_delivered(self, schedule: str, occurrence: datetime, owner: str, delivery: str) -> None:
        """Record that one delivery of a claimed occurrence was made."""
        async with self.pool.acquire() as conn:
            await conn.execute(
                """
                UPDATE report_runs SET delivered = array_append(delivered, $4)
                WHERE schedule = $1 AND occurrence = $2 AND owner = $3 AND NOT ($4 = ANY(delivered))
                """,
                schedule,
                occurrence,
                owner,
                delivery,
            )

    async def finish_run(
        self, schedule: str, occurrence: datetime, owner: str, *, now: datetime, error: str | None
    ) -> None:
        """Close a claimed occurrence: done, or failed with the reason."""
        async with self.pool.acquire() as conn:
            await conn.execute(
                """
                UPDATE report_runs SET status = CASE WHEN $5::text IS NULL THEN 'done' ELSE 'failed' END,
                    finished_at = $4, error = $5
                WHERE schedule = $1 AND occurrence = $2 AND owner = $3
                """,
                schedule,
                occurrence,
                owner,
                now,
                None if error is None else redact(error),
            )

    async def runs(self, schedule: str) -> list[asyncpg.Record]:
        """The recorded occurrences of a schedule, newest first."""
        async with self.pool.acquire() as conn:
            return await conn.fetch("SELECT * FROM report_runs WHERE schedule = $1 ORDER BY occurrence DESC", schedule)
