-- Instagram: the third channel, and the @mentions its webhooks point at.

ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_channel_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_channel_check CHECK (channel IN ('x', 'facebook', 'instagram'));
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_channel_check;
ALTER TABLE messages ADD CONSTRAINT messages_channel_check CHECK (channel IN ('x', 'facebook', 'instagram'));
ALTER TABLE quarantine DROP CONSTRAINT IF EXISTS quarantine_channel_check;
ALTER TABLE quarantine ADD CONSTRAINT quarantine_channel_check CHECK (channel IN ('x', 'facebook', 'instagram'));

-- An @mention of an Instagram account in another user's caption (`media`) or comment (`comment`):
-- the Graph API lists neither, only its `mentions` webhook names them, and Meta does not keep
-- them. The process that receives the delivery writes the row; the account's `instagram.mentions`
-- stream reads the rows received since its cursor and reads each mention from the Graph API (the
-- webhook body is never stored as a message). Rows older than the stream's window are deleted.
CREATE TABLE IF NOT EXISTS instagram_mentions (
    account_id  integer NOT NULL REFERENCES accounts (id),
    kind        text NOT NULL CHECK (kind IN ('comment', 'media')),
    object_id   text NOT NULL,
    media_id    text,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, kind, object_id)
);
CREATE INDEX IF NOT EXISTS instagram_mentions_received ON instagram_mentions (account_id, received_at);
