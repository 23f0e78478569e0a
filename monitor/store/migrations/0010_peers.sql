-- Peers: competitors of a brand on X, read with recent search and compared with it in the report
-- (docs/peers.md). Their threads, messages and waits live in tables of their own: nothing of a
-- peer is in the inbox (its gauges, alerts, dashboards and report tables read `threads`,
-- `messages` and `waits` only).

-- A peer has a row in `accounts` for what every polled stream has (its lease, its poll state, its
-- items set aside), marked `peer`: the inbox's lists of accounts leave it out.
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS peer boolean NOT NULL DEFAULT false;

-- Where the peer's reply is expected: (conversation, customer), as on the brand's own X account.
CREATE TABLE peer_threads (
    id          bigserial PRIMARY KEY,
    account_id  integer NOT NULL REFERENCES accounts (id),
    thread_key  text NOT NULL,
    customer_id text,
    url         text,
    UNIQUE (account_id, thread_key)
);

-- Public posts: customers' questions to the peer, and the peer's replies. No handle of the
-- customer is kept (its id threads the conversation); the raw post is, to parse it again.
CREATE TABLE peer_messages (
    id                bigserial PRIMARY KEY,
    account_id        integer NOT NULL REFERENCES accounts (id),
    external_id       text NOT NULL,
    thread_id         bigint NOT NULL REFERENCES peer_threads (id),
    direction         text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    author_id         text,
    body              text NOT NULL,
    url               text,
    is_retweet        boolean NOT NULL DEFAULT false,
    reply_to_brand    boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL,
    future_created_at timestamptz,
    ingested_at       timestamptz NOT NULL DEFAULT now(),
    is_question       boolean NOT NULL DEFAULT false,
    is_automatic      boolean NOT NULL DEFAULT false,
    reason            text,
    raw               jsonb NOT NULL DEFAULT '{}'::jsonb,
    UNIQUE (account_id, external_id)
);
CREATE INDEX peer_messages_thread ON peer_messages (thread_id);

-- The peer's waits, computed from its threads' messages by the domain code that computes the
-- brand's, under the brand's policy; the same columns as `waits`, so that a figure is written once
-- (monitor/store/figures.py) for both. Never marked breached by the deadline schedule: a peer never
-- alerts.
CREATE TABLE peer_waits (
    thread_id          bigint NOT NULL REFERENCES peer_threads (id),
    seq                integer NOT NULL CHECK (seq >= 0),
    account_id         integer NOT NULL REFERENCES accounts (id),
    kind               text NOT NULL CHECK (kind IN ('first', 'next')),
    opened_at          timestamptz NOT NULL,
    opened_message     text NOT NULL,
    questions          integer NOT NULL CHECK (questions > 0),
    closed_at          timestamptz,
    closed_message     text,
    target_seconds     double precision NOT NULL,
    deadline           timestamptz NOT NULL,
    at_risk_at         timestamptz NOT NULL,
    wall_seconds       double precision,
    business_seconds   double precision,
    at_risk_reached_at timestamptz,
    breached_at        timestamptz,
    PRIMARY KEY (thread_id, seq),
    CHECK (closed_at IS NULL OR closed_at >= opened_at)
);
-- The report and the dashboard select a peer's waits by the instant they opened.
CREATE INDEX peer_waits_account_opened ON peer_waits (account_id, opened_at);

-- Posts read for each peer in a UTC day (X bills reads per post, deduplicated per UTC day), and the
-- day's budget. A request reserves the posts it may return before it is sent and gives back what
-- did not come: the count never falls below what X may bill, across restarts and processes.
CREATE TABLE peer_reads (
    account_id integer NOT NULL REFERENCES accounts (id),
    day        date NOT NULL,
    reads      integer NOT NULL DEFAULT 0 CHECK (reads >= 0),
    budget     integer NOT NULL CHECK (budget > 0),
    requests   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, day)
);
