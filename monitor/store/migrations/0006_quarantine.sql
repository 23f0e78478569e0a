-- Items of a page that could not become messages (a tweet without created_at, a comment whose
-- parent is not an object): set aside with why, in the transaction that stores the rest of the
-- page and moves the cursor. `inbox-monitor quarantine retry` parses them again.
CREATE TABLE quarantine (
    id          bigserial PRIMARY KEY,
    account_id  integer NOT NULL REFERENCES accounts (id),
    channel     text NOT NULL CHECK (channel IN ('x', 'facebook')),
    stream      text NOT NULL,
    -- `kind:external id`, or `kind#digest of raw` when the id could not be read: the same bad item
    -- read again is the same row.
    item_key    text NOT NULL,
    kind        text NOT NULL,
    external_id text,
    reason      text NOT NULL,
    detail      text NOT NULL,
    raw         jsonb NOT NULL,
    -- What parsing the item again needs besides it (its conversation or post, usernames).
    context     jsonb NOT NULL DEFAULT '{}'::jsonb,
    received_at timestamptz NOT NULL,
    retried_at  timestamptz,
    resolved_at timestamptz,
    UNIQUE (account_id, stream, item_key)
);
-- What is still set aside, by account: `inbox-monitor quarantine` and its retry.
CREATE INDEX quarantine_unresolved ON quarantine (account_id, id) WHERE resolved_at IS NULL;

-- A message whose creation time was ahead of its receive time (by more than the allowed skew) is
-- stored at its receive time; this is the time the platform gave (NULL for every other message).
ALTER TABLE messages ADD COLUMN future_created_at timestamptz;
