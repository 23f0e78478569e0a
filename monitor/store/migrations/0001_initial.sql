-- inbox-monitor schema: accounts, threads, messages, waits, poll state.

CREATE TABLE accounts (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    brand       text NOT NULL,
    channel     text NOT NULL CHECK (channel IN ('x', 'facebook')),
    external_id text NOT NULL,
    handle      text,
    policy      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Where a reply is expected: X (conversation, customer), a DM or Messenger conversation,
-- a top-level Facebook comment.
CREATE TABLE threads (
    id              bigserial PRIMARY KEY,
    account_id      integer NOT NULL REFERENCES accounts (id),
    thread_key      text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('public', 'private')),
    customer_id     text,
    customer_handle text,
    url             text,
    UNIQUE (account_id, thread_key)
);

CREATE TABLE messages (
    id            bigserial PRIMARY KEY,
    account_id    integer NOT NULL REFERENCES accounts (id),
    channel       text NOT NULL CHECK (channel IN ('x', 'facebook')),
    external_id   text NOT NULL,
    thread_id     bigint NOT NULL REFERENCES threads (id),
    direction     text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    author_id     text,
    author_handle text,
    body          text NOT NULL,
    url           text,
    is_retweet    boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    ingested_at   timestamptz NOT NULL DEFAULT now(),
    is_question   boolean NOT NULL DEFAULT false,
    is_automatic  boolean NOT NULL DEFAULT false,
    raw           jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- One row per message and monitored account: a tweet mentioning two brands is in both inboxes.
    UNIQUE (account_id, external_id)
);
CREATE INDEX messages_thread ON messages (thread_id);
CREATE INDEX messages_account_created ON messages (account_id, created_at);

-- A question waiting for a reply; rows are recomputed from the thread's messages.
CREATE TABLE waits (
    thread_id          bigint NOT NULL REFERENCES threads (id),
    seq                integer NOT NULL CHECK (seq >= 0),
    account_id         integer NOT NULL REFERENCES accounts (id),
    kind               text NOT NULL CHECK (kind IN ('first', 'next')),
    opened_at          timestamptz NOT NULL,
    opened_message     text NOT NULL,
    closed_at          timestamptz,
    closed_message     text,
    questions          integer NOT NULL CHECK (questions > 0),
    target_seconds     double precision NOT NULL,
    deadline           timestamptz NOT NULL,
    at_risk_at         timestamptz NOT NULL,
    wall_seconds       double precision,
    business_seconds   double precision,
    at_risk_reached_at timestamptz,
    breached_at        timestamptz,
    breach_counted_at  timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (thread_id, seq),
    CHECK (closed_at IS NULL OR closed_at >= opened_at)
);
-- Open waits by account and deadline: gauges, the live dashboard, the deadline schedule.
CREATE INDEX waits_open ON waits (account_id, deadline) WHERE closed_at IS NULL;
-- Closed waits by close time: histograms, reports.
CREATE INDEX waits_closed ON waits (closed_at) WHERE closed_at IS NOT NULL;
-- The schedule of upcoming breaches and at-risk instants: waits not answered in time whose
-- breach (at-risk instant) has not been marked yet. Answered-in-time waits leave these indexes.
CREATE INDEX waits_breach_due ON waits (deadline)
    WHERE breach_counted_at IS NULL AND (closed_at IS NULL OR closed_at > deadline);
CREATE INDEX waits_at_risk_due ON waits (at_risk_at)
    WHERE at_risk_reached_at IS NULL AND (closed_at IS NULL OR closed_at > at_risk_at);

-- What each poller has read (the cursor is saved in the transaction that stores the messages)
-- and how its last polls went.
CREATE TABLE poll_state (
    account_id           integer NOT NULL REFERENCES accounts (id),
    stream               text NOT NULL,
    cursor               text,
    cursor_updated_at    timestamptz,
    last_poll_at         timestamptz,
    last_success_at      timestamptz,
    status               text NOT NULL DEFAULT 'new'
                         CHECK (status IN ('new', 'ok', 'failing', 'rate_limited', 'credentials_rejected')),
    last_error           text,
    consecutive_failures integer NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, stream)
);
