-- Who sent each brand reply (docs/agents.md): the agent who signed it and their team (signature
-- rules and roster), the configured name of the app that sent it; recomputed with the waits.
ALTER TABLE messages
    ADD COLUMN IF NOT EXISTS agent text,
    ADD COLUMN IF NOT EXISTS team text,
    ADD COLUMN IF NOT EXISTS app text,
    -- The Meta app that sent an outbound message, as its webhook echo said (a fact, not recomputed).
    ADD COLUMN IF NOT EXISTS app_id text;

-- The app of each message a Messenger echo named (`message_echoes`: `message.app_id`). An echo
-- usually arrives before the poll reads its message: the ingest takes the app from here; one that
-- arrives after sets `messages.app_id` and the thread is recomputed.
CREATE TABLE IF NOT EXISTS message_apps (
    account_id  integer NOT NULL REFERENCES accounts (id),
    external_id text NOT NULL,
    app_id      text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, external_id)
);
