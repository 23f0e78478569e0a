-- Why each message was judged as it was, and the thread context the decision reads.

-- The rule that decided (inbound: `reply_to_brand`, `question_mark`, `courtesy`, `corrected`, ...;
-- outbound: the automatic-reply rule, or NULL for a human reply). Recomputed with the waits.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS reason text;

-- The message replies to the account itself (X `in_reply_to_user_id`): a customer answering the
-- brand needs a reply whatever its words.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS reply_to_brand boolean NOT NULL DEFAULT false;

UPDATE messages m SET reply_to_brand = true
FROM accounts a
WHERE a.id = m.account_id AND m.channel = 'x' AND m.direction = 'inbound'
  AND m.raw ->> 'in_reply_to_user_id' = a.external_id;
