-- What X bills for each account (docs/cost.md). `billable_reads` holds the resources billed on
-- recent UTC days, one row each, so that a read of the same resource the same day (a later poll,
-- another process, a restart) is not counted twice: X bills it once per UTC day. Days older than
-- the store's BILLABLE_KEEP_DAYS are deleted. `billable_daily` keeps the counts per day for good:
-- the `cost` command, the report and the budget read it.
CREATE TABLE IF NOT EXISTS billable_reads (
    account_id integer NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    day date NOT NULL,
    kind text NOT NULL,
    resource_id text NOT NULL,
    PRIMARY KEY (account_id, day, kind, resource_id)
);

CREATE TABLE IF NOT EXISTS billable_daily (
    account_id integer NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    day date NOT NULL,
    kind text NOT NULL,
    count bigint NOT NULL,
    PRIMARY KEY (account_id, day, kind)
);
