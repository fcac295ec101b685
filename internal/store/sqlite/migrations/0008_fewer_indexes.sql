-- 0008: fewer index pages written per link and per flow. Every index on a table is one more
-- page each insert, update or delete of a row dirties, and one more WAL frame at commit.

-- Retention walks links and flows by rowid instead of through indexes on their expiry and use
-- times: the rowid is the order rows were made in, so the oldest rows, the ones the janitor
-- deletes, are at the start of each table's own b-tree. A batch reads the oldest rows up to a
-- bounded window and deletes the spent and expired ones among them (statements.go, purgeSQL).
-- These four indexes cost a page on every link made, every link spent, every flow started and
-- every flow consumed, and served only the janitor.
DROP INDEX links_expires;
DROP INDEX links_used;
DROP INDEX flows_expires;
DROP INDEX flows_consumed;

-- The operators' list filters identities through one index, (bot, provider, status, id)
-- (0002's identities_admin_bot_provider_status), instead of seven, one per combination of
-- the three filters. In it each combination, a group, is one range in id order; a filtered
-- page reads the rows of the groups the filter matches (identity_counts lists them) between
-- the cursor and a bound about a page away, and sorts them (admin_list.go, filterSpans). Six
-- pages fewer written per identity linked or unlinked, and per change of its status.
DROP INDEX identities_admin_bot;
DROP INDEX identities_admin_provider;
DROP INDEX identities_admin_status;
DROP INDEX identities_admin_bot_provider;
DROP INDEX identities_admin_bot_status;
DROP INDEX identities_admin_provider_status;
