-- Whether a message's text is known: false for an end-to-end encrypted chat (XChat), whose events
-- give sender, conversation and time but never the text (body is then ''). Reports, `explain` and
-- the dashboards say so instead of showing an empty text; no question rule reads it.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS text_available boolean NOT NULL DEFAULT true;
