-- 0004: a chat user's links, for the cap on open flows per user (store.OperationsStore).
--
-- The broker counts a user's started-but-unfinished flows before it starts another one; this
-- index makes that a range scan over the user's own links (and, through flows_link_id, their
-- flows) instead of a scan of every link ever made.
CREATE INDEX links_user ON links (bot, channel, user_id);
