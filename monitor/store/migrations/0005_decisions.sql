-- Why each message was judged as it was, the thread context the decision reads, and people's
-- corrections of decisions.

-- The rule that decided (inbound: `reply_to_brand`, `question_mark`, `courtesy`, `corrected`, ...;
-- outbound: the automatic-reply rule, or NULL for a human reply). Recomputed with the waits.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS reason text;

-- The message replies to the account itself (X `in_reply_to_user_id`; Facebook: a reply to one of
-- the Page's comments): a customer answering the brand needs a reply whatever its words.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS reply_to_brand boolean NOT NULL DEFAULT false;

UPDATE messages m SET reply_to_brand = true
FROM accounts a
WHERE a.id = m.account_id AND m.channel = 'x' AND m.direction = 'inbound'
  AND m.raw ->> 'in_reply_to_user_id' = a.external_id;

-- Facebook: a comment that replies to one of the Page's own comments replies to the brand.
UPDATE messages m SET reply_to_brand = true
FROM messages p
WHERE m.channel = 'facebook' AND m.direction = 'inbound' AND p.account_id = m.account_id
  AND p.direction = 'outbound' AND p.external_id = m.raw -> 'parent' ->> 'id';

-- A person's correction of a decision (`inbox-monitor mark`, POST /api/messages/{id}/label): true
-- needs a reply, false does not, NULL the rules decide. The latest row of `message_labels`, kept
-- here so that every ingest and recompute reads it with the thread's messages (no join).
ALTER TABLE messages ADD COLUMN IF NOT EXISTS label boolean;

-- Every correction, in order: who, when, why, and the decision before and after it. A row whose
-- `label` is NULL gives the message back to the rules ("unmark").
CREATE TABLE IF NOT EXISTS message_labels (
    id              bigserial PRIMARY KEY,
    message_id      bigint NOT NULL REFERENCES messages (id),
    account_id      integer NOT NULL REFERENCES accounts (id),
    label           boolean,
    labelled_by     text NOT NULL,
    labelled_at     timestamptz NOT NULL DEFAULT now(),
    note            text,
    old_is_question boolean NOT NULL,
    old_reason      text,
    new_is_question boolean NOT NULL,
    new_reason      text
);
CREATE INDEX IF NOT EXISTS message_labels_message ON message_labels (message_id, id);
CREATE INDEX IF NOT EXISTS message_labels_account ON message_labels (account_id, id);
