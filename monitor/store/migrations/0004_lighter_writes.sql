-- Every ingest writes messages and waits: keep only what their writes must maintain.

-- No query reads waits by close time (histograms are observed at ingest, reports select waits by
-- account and opening time): the index only cost every answered wait an extra index write.
DROP INDEX IF EXISTS waits_closed;

-- A wait's account is its thread's (threads.account_id references accounts already, and the
-- wait references its thread): the second foreign key only cost a lookup per written wait.
ALTER TABLE waits DROP CONSTRAINT IF EXISTS waits_account_id_fkey;

-- Messages by creation time serve `recompute --since` only. Messages arrive nearly in time order,
-- so a block-range index finds a period's messages for a fraction of a B-tree's cost per insert.
DROP INDEX IF EXISTS messages_account_created;
CREATE INDEX IF NOT EXISTS messages_created_brin ON messages USING brin (created_at);
