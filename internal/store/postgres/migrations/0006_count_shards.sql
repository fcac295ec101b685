-- 0006: the totals per bot, provider and status, spread over 32 rows each. With one row per
-- combination, every transaction that linked a new account of a provider locked that row until
-- its commit, so the links of one provider completed one at a time, across every instance. An
-- identity now counts in the row of its id's shard (id % 32; an identity's id never changes),
-- and consecutive ids, made together, fall in different rows. A row may go below zero (an
-- identity counted in shard 0 before this migration, then deleted, counts -1 in its own
-- shard): only the sum over the shards is a total, which IdentityTotals reads.
ALTER TABLE identity_counts ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE identity_counts DROP CONSTRAINT identity_counts_pkey;
ALTER TABLE identity_counts ADD PRIMARY KEY (bot, provider, status, shard);

-- An identity that changes bot, provider or status moves one count to another; as before, the
-- two rows are touched in key order, so concurrent writers queue instead of deadlocking.
CREATE OR REPLACE FUNCTION identity_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO identity_counts AS c (bot, provider, status, shard, n)
			VALUES (NEW.bot, NEW.provider, NEW.status, NEW.id % 32, 1)
			ON CONFLICT (bot, provider, status, shard) DO UPDATE SET n = c.n + 1;
	ELSIF TG_OP = 'DELETE' THEN
		INSERT INTO identity_counts AS c (bot, provider, status, shard, n)
			VALUES (OLD.bot, OLD.provider, OLD.status, OLD.id % 32, -1)
			ON CONFLICT (bot, provider, status, shard) DO UPDATE SET n = c.n - 1;
	ELSIF (OLD.bot, OLD.provider, OLD.status) IS DISTINCT FROM (NEW.bot, NEW.provider, NEW.status) THEN
		IF (OLD.bot, OLD.provider, OLD.status) < (NEW.bot, NEW.provider, NEW.status) THEN
			INSERT INTO identity_counts AS c (bot, provider, status, shard, n)
				VALUES (OLD.bot, OLD.provider, OLD.status, OLD.id % 32, -1)
				ON CONFLICT (bot, provider, status, shard) DO UPDATE SET n = c.n - 1;
			INSERT INTO identity_counts AS c (bot, provider, status, shard, n)
				VALUES (NEW.bot, NEW.provider, NEW.status, NEW.id % 32, 1)
				ON CONFLICT (bot, provider, status, shard) DO UPDATE SET n = c.n + 1;
		ELSE
			INSERT INTO identity_counts AS c (bot, provider, status, shard, n)
				VALUES (NEW.bot, NEW.provider, NEW.status, NEW.id % 32, 1)
				ON CONFLICT (bot, provider, status, shard) DO UPDATE SET n = c.n + 1;
			INSERT INTO identity_counts AS c (bot, provider, status, shard, n)
				VALUES (OLD.bot, OLD.provider, OLD.status, OLD.id % 32, -1)
				ON CONFLICT (bot, provider, status, shard) DO UPDATE SET n = c.n - 1;
		END IF;
	END IF;
	RETURN NULL;
END;
$$;
