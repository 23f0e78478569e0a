-- Since when each stream is polled: the base of its staleness while it has never been polled
-- successfully (SocialInboxStreamStale), kept here so that a restart or a takeover does not reset
-- it. The poller writes it the first time it sets out to poll the stream. Rows that exist already
-- are counted from this upgrade (their first poll is not known).
ALTER TABLE poll_state ADD COLUMN IF NOT EXISTS monitored_since timestamptz NOT NULL DEFAULT now();
