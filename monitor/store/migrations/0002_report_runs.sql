-- Reports: which scheduled report occurrences ran (one claim per occurrence, across processes),
-- and an index for the report queries, which select waits by the instant they opened.

-- When each configured schedule was first seen: occurrences before that were never missed.
CREATE TABLE report_schedules (
    name          text PRIMARY KEY,
    first_seen_at timestamptz NOT NULL
);

-- One row per occurrence of a schedule, inserted by the process that claims it. A claim whose
-- process died (still 'running' long after) may be taken over; `delivered` lists the deliveries
-- already made, so a takeover does not send them twice.
CREATE TABLE report_runs (
    schedule    text NOT NULL,
    occurrence  timestamptz NOT NULL,
    owner       text NOT NULL,
    claimed_at  timestamptz NOT NULL,
    attempts    integer NOT NULL DEFAULT 1,
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    delivered   text[] NOT NULL DEFAULT '{}',
    finished_at timestamptz,
    error       text,
    PRIMARY KEY (schedule, occurrence)
);

-- The waits a report covers: those opened in the period (and in the one it is compared with).
CREATE INDEX waits_account_opened ON waits (account_id, opened_at);
